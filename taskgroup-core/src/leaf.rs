//! The leaves of an [`ErrorGroup`](crate::ErrorGroup): one error each, with where it came from.

use std::any::TypeId;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::ErrorGroup;

/// A boxed error as stored in a leaf.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Which task an error came from: tokio's task id and the name given at spawn.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub(crate) id: Option<tokio::task::Id>,
    pub(crate) name: Option<Arc<str>>,
}

impl TaskInfo {
    /// The tokio id of the task; `None` for a local task, which has no tokio task of its own.
    pub fn id(&self) -> Option<tokio::task::Id> {
        self.id
    }

    /// The name given with [`TaskGroup::spawn_named`](crate::TaskGroup::spawn_named), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, self.id) {
            (Some(name), Some(id)) => write!(f, "task `{name}` ({id})"),
            (Some(name), None) => write!(f, "task `{name}`"),
            (None, Some(id)) => write!(f, "task {id}"),
            (None, None) => f.write_str("a local task"),
        }
    }
}

/// One error in an [`ErrorGroup`]: the error itself, its type's short name and, when a
/// task raised it, that task's [`TaskInfo`].
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use taskgroup::Leaf;
/// let leaf = Leaf::new(std::io::Error::other("disk full"));
/// assert_eq!(leaf.type_name(), "Error");
/// assert!(leaf.is::<std::io::Error>());
/// assert_eq!(leaf.to_string(), "disk full");
/// ```
pub struct Leaf {
    error: BoxError,
    type_name: &'static str,
    task: Option<TaskInfo>,
}

impl Leaf {
    /// Wraps an error, recording its type's short name (`std::io::Error` gives `Error`).
    pub fn new<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        Leaf {
            error: Box::new(error),
            type_name: short_type_name(std::any::type_name::<E>()),
            task: None,
        }
    }

    /// Wraps an already boxed error under the given type name.
    ///
    /// Use it for errors whose concrete type is erased, such as `anyhow::Error`: convert with
    /// `anyhow_error.reallocate_into_boxed_dyn_error_without_backtrace()`, which keeps the
    /// original error's type so that [`is`](Self::is) and [`downcast_ref`](Self::downcast_ref)
    /// still work (anyhow's plain `.into()` does not).
    pub fn from_boxed(error: BoxError, type_name: &'static str) -> Self {
        Leaf {
            error,
            type_name,
            task: None,
        }
    }

    /// The short name of the error's type, as CPython prints `type(exc).__name__`.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The task that raised this error, if it came from one.
    pub fn task(&self) -> Option<&TaskInfo> {
        self.task.as_ref()
    }

    pub(crate) fn set_task(&mut self, info: &TaskInfo) {
        if self.task.is_none() {
            self.task = Some(info.clone());
        }
    }

    /// The error itself.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// Gives the boxed error back.
    pub fn into_error(self) -> BoxError {
        self.error
    }

    /// Whether the error is of type `E`.
    pub fn is<E: StdError + 'static>(&self) -> bool {
        self.error.is::<E>()
    }

    /// The error as an `E`, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Leaf");
        s.field("type_name", &self.type_name)
            .field("error", &self.error);
        if let Some(task) = &self.task {
            s.field("task", task);
        }
        s.finish()
    }
}

/// `std::any::type_name` without the module path or generic arguments.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// One member of an [`ErrorGroup`]: a single error or a nested group.
///
/// Every `E: std::error::Error + Send + Sync + 'static` converts into a `Member`, which is what
/// lets `?` raise any error into a group. An [`ErrorGroup`] converts into
/// [`Member::Group`], kept whole and never flattened.
#[derive(Debug)]
pub enum Member {
    /// A single error.
    Leaf(Leaf),
    /// A nested group, such as the one an inner scope returned.
    Group(ErrorGroup),
}

impl Member {
    /// The leaf, if this member is one.
    pub fn as_leaf(&self) -> Option<&Leaf> {
        match self {
            Member::Leaf(leaf) => Some(leaf),
            Member::Group(_) => None,
        }
    }

    /// The nested group, if this member is one.
    pub fn as_group(&self) -> Option<&ErrorGroup> {
        match self {
            Member::Group(group) => Some(group),
            Member::Leaf(_) => None,
        }
    }

    /// The short type name: the leaf's, or `ErrorGroup`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Member::Leaf(leaf) => leaf.type_name(),
            Member::Group(_) => "ErrorGroup",
        }
    }

    /// Whether this member is a leaf of type `E`.
    pub fn is<E: StdError + 'static>(&self) -> bool {
        self.as_leaf().is_some_and(Leaf::is::<E>)
    }

    /// The leaf's error as an `E`, if it is one.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.as_leaf().and_then(Leaf::downcast_ref::<E>)
    }

    pub(crate) fn tag_task(&mut self, info: &TaskInfo) {
        if let Member::Leaf(leaf) = self {
            leaf.set_task(info);
        }
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Leaf(leaf) => fmt::Display::fmt(leaf, f),
            Member::Group(group) => fmt::Display::fmt(group, f),
        }
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Member {
    fn from(error: E) -> Self {
        if TypeId::of::<E>() == TypeId::of::<ErrorGroup>() {
            let boxed: BoxError = Box::new(error);
            return match boxed.downcast::<ErrorGroup>() {
                Ok(group) => Member::Group(*group),
                Err(boxed) => Member::Leaf(Leaf::from_boxed(boxed, "ErrorGroup")),
            };
        }
        Member::Leaf(Leaf::new(error))
    }
}

impl From<Leaf> for Member {
    fn from(leaf: Leaf) -> Self {
        Member::Leaf(leaf)
    }
}

/// A child task panicked; the leaf carries the panic message.
#[derive(Debug, Clone)]
pub struct TaskPanic {
    message: String,
}

impl TaskPanic {
    pub(crate) fn from_payload(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        TaskPanic { message }
    }

    /// The panic message (`Box<dyn Any>` when the payload was not a string).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task panicked: {}", self.message)
    }
}

impl StdError for TaskPanic {}

/// The group's timeout or deadline passed before its children finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    pub(crate) after: Option<std::time::Duration>,
}

impl TimedOut {
    /// The timeout that expired, when the group was given one as a duration.
    pub fn after(&self) -> Option<std::time::Duration> {
        self.after
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.after {
            Some(d) => write!(f, "the task group timed out after {d:?}"),
            None => f.write_str("the task group's deadline passed"),
        }
    }
}

impl StdError for TimedOut {}

/// The scope's body was cancelled by [`TaskGroup::cancel`](crate::TaskGroup::cancel) before it
/// produced its value, so the scope has no value to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyCancelled;

impl fmt::Display for BodyCancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task group was cancelled before its body finished")
    }
}

impl StdError for BodyCancelled {}

/// The leaf of a second [`TaskGroup::run`](crate::TaskGroup::run) on the same group, sequential
/// or concurrent: a group runs one scope (CPython: "TaskGroup has already been entered"). The
/// second body is dropped unpolled; the first scope is not disturbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyEntered;

impl fmt::Display for AlreadyEntered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "this task group's scope has already been entered: a group runs one scope; \
             make a new TaskGroup for each scope",
        )
    }
}

impl StdError for AlreadyEntered {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("std::io::error::Error"), "Error");
        assert_eq!(short_type_name("a::b::Wrap<c::D>"), "Wrap");
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
