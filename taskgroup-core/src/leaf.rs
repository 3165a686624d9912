//! The leaves of an [`ErrorGroup`](crate::ErrorGroup): one error each, with where it came from.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::box_error::{BoxError, short_type_name};
use crate::foreign::Payload;

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

/// One error in an [`ErrorGroup`](crate::ErrorGroup): the error itself, its type's short name and, when a
/// task raised it, that task's [`TaskInfo`].
///
/// A leaf made from an error whose type is erased keeps it whole and still answers for the
/// type inside: a `Box<dyn Error + Send + Sync>` is its concrete type; an `anyhow::Error`
/// (feature `anyhow`) or `eyre::Report` (feature `eyre`) is an `E` when any error of its
/// chain is one, so an io error under `.context("...")` is still matched by
/// `except* std::io::Error`, and [`type_name`](Self::type_name) is the inner error's
/// (`Error` for an `io::Error`) when taskgroup knows its type (std's, tokio's, its own), else
/// `Error` (a box, `anyhow::Error`, a message such as `anyhow!("...")`) or `Report` (eyre).
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
    error: Payload,
    type_name: &'static str,
    task: Option<TaskInfo>,
    /// Where the leaf sits in the group an [`ExceptStar`](crate::ExceptStar) started from
    /// (0: nowhere), so that a re-raised leaf goes back to its place.
    origin: u64,
    /// When the group recorded it, from the start of its scope, in nanoseconds (saturating);
    /// `NOT_RECORDED` if no group did. Packed: a leaf is moved whole at every split.
    at: u64,
}

/// [`Leaf`]'s `at` before a group records it.
const NOT_RECORDED: u64 = u64::MAX;

impl Leaf {
    /// Wraps an error, recording its type's short name (`std::io::Error` gives `Error`).
    pub fn new<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        Leaf {
            error: Payload::Boxed(Box::new(error)),
            type_name: short_type_name(std::any::type_name::<E>()),
            task: None,
            origin: 0,
            at: NOT_RECORDED,
        }
    }

    /// Wraps an already boxed error under the given type name.
    ///
    /// [`is`](Self::is) and [`downcast_ref`](Self::downcast_ref) see the box's concrete type.
    /// `Member::from(boxed)` does the same with the type name found for you (see
    /// [`Leaf`]); this constructor is for naming the error yourself.
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use taskgroup::{BoxError, Leaf};
    /// let boxed: BoxError = "no such user".into();
    /// let leaf = Leaf::from_boxed(boxed, "LookupError");
    /// assert_eq!(leaf.type_name(), "LookupError");
    /// ```
    pub fn from_boxed(error: BoxError, type_name: &'static str) -> Self {
        Leaf {
            error: Payload::Boxed(error),
            type_name,
            task: None,
            origin: 0,
            at: NOT_RECORDED,
        }
    }

    pub(crate) fn from_payload(error: Payload) -> Self {
        Leaf {
            type_name: error.type_name(),
            error,
            task: None,
            origin: 0,
            at: NOT_RECORDED,
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

    /// When the task group recorded this error, counted from the start of its scope (the
    /// first poll of `run`, or of `task_group!`'s scope; zero for a failure recorded before
    /// it); `None` for a leaf no group recorded, such as one made with [`Leaf::new`]. Times
    /// come from tokio's clock, so they follow a paused clock in tests. The timeline form of
    /// a group prints them: [`ErrorGroup::timeline`](crate::ErrorGroup::timeline).
    pub fn recorded_at(&self) -> Option<Duration> {
        (self.at != NOT_RECORDED).then(|| Duration::from_nanos(self.at))
    }

    /// Keeps the first time a group recorded the leaf: an inner scope's time stays when an
    /// outer group records the nested group again.
    pub(crate) fn stamp(&mut self, at: Duration) {
        if self.at == NOT_RECORDED {
            // Nanoseconds to 584 years; a later time is kept as the largest one.
            self.at = u64::try_from(at.as_nanos())
                .map_or(NOT_RECORDED - 1, |ns| ns.min(NOT_RECORDED - 1));
        }
    }

    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    pub(crate) fn set_origin(&mut self, origin: u64) {
        self.origin = origin;
    }

    pub(crate) fn set_task(&mut self, info: &TaskInfo) {
        if self.task.is_none() {
            self.task = Some(info.clone());
        }
    }

    /// The error itself; for an anyhow or eyre leaf, the outermost error of its chain (the
    /// last context added), whose `source()` leads to the rest.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.error.error()
    }

    /// Gives the boxed error back. An `anyhow::Error` is boxed with
    /// `reallocate_into_boxed_dyn_error_without_backtrace` (the box is the original error, or
    /// its outermost context), an `eyre::Report` with its `From`; to keep them whole, take
    /// them by reference with `as_anyhow` / `as_eyre` (features `anyhow`, `eyre`).
    pub fn into_error(self) -> BoxError {
        self.error.into_boxed()
    }

    /// Whether the error is an `E`: the error itself or, for an anyhow or eyre leaf, any error
    /// of its chain (see [`Leaf`]). This is what `except* E` and
    /// [`ErrorGroup::contains`](crate::ErrorGroup::contains) ask.
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use taskgroup::{BoxError, Member};
    /// let boxed: BoxError = Box::new(std::io::Error::other("refused"));
    /// let member = Member::from(boxed);
    /// assert!(member.is::<std::io::Error>());
    /// assert_eq!(member.type_name(), "Error");
    /// ```
    pub fn is<E: StdError + 'static>(&self) -> bool {
        self.downcast_ref::<E>().is_some()
    }

    /// The error as an `E`, if it is one (as [`is`](Self::is) decides; for an anyhow or eyre
    /// leaf, the first `E` of its chain).
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }

    /// The `anyhow::Error` itself, if the leaf was made from one (its chain, context and
    /// backtrace as the child returned them).
    #[cfg(feature = "anyhow")]
    #[cfg_attr(docsrs, doc(cfg(feature = "anyhow")))]
    pub fn as_anyhow(&self) -> Option<&anyhow::Error> {
        match &self.error {
            Payload::Anyhow(error) => Some(error),
            _ => None,
        }
    }

    /// The `eyre::Report` itself, if the leaf was made from one.
    #[cfg(feature = "eyre")]
    #[cfg_attr(docsrs, doc(cfg(feature = "eyre")))]
    pub fn as_eyre(&self) -> Option<&eyre::Report> {
        match &self.error {
            Payload::Eyre(report) => Some(report),
            _ => None,
        }
    }
}

impl fmt::Display for Leaf {
    /// The error's own `Display`, flags included: `{:#}` of an anyhow leaf is its chain
    /// (`context: cause`), as anyhow prints it.
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
