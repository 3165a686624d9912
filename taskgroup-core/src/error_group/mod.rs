//! [`ErrorGroup`]: every failure of a scope as one ordered tree, taken apart by type.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::cancel_reason::CancelReason;
use crate::leaf::{Leaf, TaskInfo};

mod split;

/// The message of the group a scope returns, as CPython's TaskGroup words it.
pub const TASK_GROUP_MESSAGE: &str = "unhandled errors in a TaskGroup";

/// Marker for an [`ErrorGroup`] whose leaves may be of any error type (the default).
#[derive(Debug)]
pub enum AnyError {}

/// A tree of errors: a message and a non-empty ordered list of members, each a single error
/// ([`Leaf`]) or a nested group. It is what a scope returns when children fail, and what
/// `except*` clauses take apart by type.
///
/// `ErrorGroup` (that is `ErrorGroup<AnyError>`) holds leaves of any type. `ErrorGroup<E>` is the
/// typed view that [`split`](ErrorGroup::split) gives back: every leaf in it is an `E`, and
/// [`iter`](ErrorGroup::iter) yields them as `&E`.
///
/// `Display` prints CPython's one line, `{:#}` prints the whole tree as CPython's traceback
/// module does, and `Debug` is structural.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use taskgroup::ErrorGroup;
/// use std::io;
///
/// let eg = ErrorGroup::new(
///     "unhandled errors in a TaskGroup",
///     vec![io::Error::other("disk full").into(), std::fmt::Error.into()],
/// )
/// .unwrap();
/// assert_eq!(eg.to_string(), "unhandled errors in a TaskGroup (2 sub-exceptions)");
///
/// let (io_errors, rest) = eg.split::<io::Error>();
/// let io_errors = io_errors.unwrap();
/// assert_eq!(io_errors.errors().next().unwrap().to_string(), "disk full");
/// assert_eq!(rest.unwrap().len(), 1);
/// ```
pub struct ErrorGroup<E: ?Sized = AnyError> {
    message: Cow<'static, str>,
    members: Vec<Member>,
    /// Its name and why its task group stopped, when it has either: boxed, so that a group
    /// (and so every `Member`) stays small, as a split moves each one.
    about: Option<Box<About>>,
    /// Made by [`reraise`](ErrorGroup::reraise): an `except*` clause puts it back in place.
    reraised: bool,
    _leaves: PhantomData<fn() -> Box<E>>,
}

/// What a group made by a task group says of it beyond its message and members.
struct About {
    /// The name of the group that made it (`TaskGroup::builder().name(..)`, `name =`), if any.
    name: Option<Arc<str>>,
    /// Why the task group that made it stopped its children, if it did.
    stopped_by: Option<CancelReason>,
}

/// [`ErrorGroup::new`] was given no members; CPython refuses an empty group too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmptyGroup;

impl fmt::Display for EmptyGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ErrorGroup needs at least one member; pass a non-empty list")
    }
}

impl StdError for EmptyGroup {}

impl ErrorGroup {
    /// Builds a group, refusing an empty list of members.
    pub fn new(
        message: impl Into<Cow<'static, str>>,
        members: Vec<Member>,
    ) -> Result<Self, EmptyGroup> {
        if members.is_empty() {
            return Err(EmptyGroup);
        }
        Ok(Self::from_parts(message.into(), members))
    }

    pub(crate) fn from_parts(message: Cow<'static, str>, members: Vec<Member>) -> Self {
        debug_assert!(!members.is_empty());
        ErrorGroup {
            message,
            members,
            about: None,
            reraised: false,
            _leaves: PhantomData,
        }
    }

    /// The same group, named after the task group that made it.
    pub(crate) fn named(mut self, name: Option<Arc<str>>) -> Self {
        match (&mut self.about, name) {
            (Some(about), name) => about.name = name,
            (None, None) => {}
            (None, name) => {
                self.about = Some(Box::new(About {
                    name,
                    stopped_by: None,
                }))
            }
        }
        self
    }

    /// The same group, with why its task group stopped.
    pub(crate) fn stopped(mut self, why: Option<CancelReason>) -> Self {
        match (&mut self.about, why) {
            (Some(about), why) => about.stopped_by = why,
            (None, None) => {}
            (None, why) => {
                self.about = Some(Box::new(About {
                    name: None,
                    stopped_by: why,
                }))
            }
        }
        self
    }

    /// The number of direct members (never zero), as [`iter`](Self::iter) yields them; the
    /// same as [`member_count`](ErrorGroup::member_count).
    pub fn len(&self) -> usize {
        self.member_count()
    }

    /// Always `false`: a group has at least one member. Present beside `len`.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The direct members, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Member> {
        self.members.iter()
    }

    /// A new group with this group's message and the given members, as PEP 654's `derive`.
    pub fn derive(&self, members: Vec<Member>) -> Result<ErrorGroup, EmptyGroup> {
        ErrorGroup::new(self.message.clone(), members).map(|group| group.named(self.name_arc()))
    }

    /// Takes the members out, in order.
    pub fn into_members(mut self) -> Vec<Member> {
        std::mem::take(&mut self.members)
    }
}

impl<E: ?Sized> ErrorGroup<E> {
    /// The group's message, without the sub-exception count.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The name of the task group that made this group (given with `name =` or
    /// [`Builder::name`](crate::Builder::name)), if it had one. It is printed after CPython's
    /// message, in brackets, so nested groups can be told apart in logs.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::builder().name("fetchers").build();
    /// let eg = tg
    ///     .run(async { Err::<(), _>(std::io::Error::other("down")) })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(eg.name(), Some("fetchers"));
    /// assert_eq!(eg.to_string(), "unhandled errors in a TaskGroup (1 sub-exception) [fetchers]");
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.about.as_ref().and_then(|about| about.name.as_deref())
    }

    /// The number of direct members (never zero); for the errors at every depth of a typed
    /// group, see [`error_count`](ErrorGroup::error_count).
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The direct members, in order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Every leaf, depth-first and in order.
    pub fn leaves(&self) -> Leaves<'_> {
        Leaves {
            stack: vec![self.members.iter()],
        }
    }

    /// Whether any leaf is an `E`.
    pub fn contains<T: StdError + 'static>(&self) -> bool {
        self.leaves().any(Leaf::is::<T>)
    }

    /// The traceback form of `{:#}` with, before each leaf, when its group recorded it
    /// (`[+12 ms] ValueError: ...`, from the start of that leaf's scope), so that who failed
    /// first is visible; `format!("{eg:+#}")` is the same. Plain `{:#}` stays CPython's.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// let tg = taskgroup::TaskGroup::builder().policy(taskgroup::Policy::WaitAll).build();
    /// let eg = tg
    ///     .run(async {
    ///         tg.spawn(async {
    ///             tokio::time::sleep(Duration::from_millis(30)).await;
    ///             Err::<(), _>(std::io::Error::other("late"))
    ///         });
    ///         tg.spawn(async { Err::<(), _>(std::fmt::Error) });
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// let text = eg.timeline().to_string();
    /// assert!(text.contains("[+0.0 ms] Error: an error occurred when formatting an argument"));
    /// assert!(text.contains("[+30 ms] Error: late"));
    /// # }
    /// ```
    pub fn timeline(&self) -> crate::render::Timeline<'_, E> {
        crate::render::Timeline(self)
    }

    /// Forgets the leaf type.
    pub fn into_untyped(self) -> ErrorGroup {
        self.retyped()
    }

    /// CPython's bare `raise` in an `except*` clause: `Err(eg.reraise())` (or `?` on it) puts
    /// the clause's leaves back where they were, so the scope's error keeps the original
    /// message and nesting, holding the re-raised leaves and those no clause handled. Raising
    /// `eg` itself (`Err(eg)`) is a new raise instead: `ErrorGroup("", [eg, rest])`.
    ///
    /// Only leaves of the group the clauses started from go back in place (any others are
    /// raised as new errors). Outside `except*` the mark does nothing: the group stays the
    /// same group.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::{fmt, io};
    /// use taskgroup::{ErrorGroup, ExceptStar, Member};
    ///
    /// let inner = ErrorGroup::new("inner", vec![io::Error::other("disk").into()]).unwrap();
    /// let eg = ErrorGroup::new("outer", vec![fmt::Error.into(), Member::Group(inner)]).unwrap();
    /// let mut clauses = ExceptStar::new(eg);
    /// let io_errors = clauses.take::<io::Error>().unwrap();
    /// clauses.raise(io_errors.reraise()); // logged, then put back
    /// let left = clauses.finish().unwrap();
    /// assert_eq!(left.to_string(), "outer (2 sub-exceptions)"); // as it was
    /// assert_eq!(left.members()[1].as_group().unwrap().message(), "inner");
    /// ```
    pub fn reraise(self) -> ErrorGroup {
        let mut group = self.retyped();
        group.reraised = true;
        group
    }

    /// Why the task group that made this group stopped its other children, if it did: the
    /// failure that triggered fail-fast (its task and error type), the deadline, a `cancel`.
    /// The timeline form (`{:+#}`, [`timeline`](ErrorGroup::timeline)) prints it under the
    /// group's header. Groups made by hand, or split from one, have none.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{CancelReason, TaskGroup};
    /// let tg = TaskGroup::new();
    /// let eg = tg
    ///     .run(async {
    ///         tg.spawn_named("fetch", async { Err::<(), _>(std::io::Error::other("down")) });
    ///         tg.spawn(std::future::pending::<()>());
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// let Some(CancelReason::Failed { task, error_type }) = eg.stopped_by() else { unreachable!() };
    /// assert_eq!((task.as_ref().unwrap().name(), *error_type), (Some("fetch"), "Error"));
    /// # }
    /// ```
    pub fn stopped_by(&self) -> Option<&CancelReason> {
        self.about
            .as_ref()
            .and_then(|about| about.stopped_by.as_ref())
    }

    pub(crate) fn is_reraised(&self) -> bool {
        self.reraised
    }

    /// The members, to walk or move out of (the group must not be left empty for long).
    pub(crate) fn members_vec(&mut self) -> &mut Vec<Member> {
        &mut self.members
    }

    /// The name, shared.
    pub(crate) fn name_arc(&self) -> Option<Arc<str>> {
        self.about.as_ref().and_then(|about| about.name.clone())
    }

    /// The message and name, to build a group of the same header.
    pub(crate) fn header(&self) -> (Cow<'static, str>, Option<Arc<str>>) {
        (self.message.clone(), self.name_arc())
    }

    /// The same message and members under another leaf type: the typed view that `split`
    /// gives and `into_untyped` forgets. The members move out (`ErrorGroup` has a `Drop`).
    fn retyped<F: ?Sized>(mut self) -> ErrorGroup<F> {
        ErrorGroup {
            message: std::mem::take(&mut self.message),
            members: std::mem::take(&mut self.members),
            about: self.about.take(),
            reraised: self.reraised,
            _leaves: PhantomData,
        }
    }
}

impl<E: StdError + 'static> ErrorGroup<E> {
    /// Every error, depth-first, as `&E`: the typed view of a group that
    /// [`split`](ErrorGroup::split) (or an `except*` clause) produced. Not the direct members,
    /// which [`members`](ErrorGroup::members) gives: the names say what they count.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use taskgroup::{ErrorGroup, Member};
    /// let inner = ErrorGroup::new("inner", vec![Member::from(std::io::Error::other("b"))]).unwrap();
    /// let eg = ErrorGroup::new("outer", vec![Member::from(std::io::Error::other("a")), Member::Group(inner)]).unwrap();
    /// let (io, _) = eg.split::<std::io::Error>();
    /// let io = io.unwrap();
    /// let messages: Vec<String> = io.errors().map(|e| e.to_string()).collect();
    /// assert_eq!(messages, ["a", "b"]);
    /// assert_eq!((io.error_count(), io.member_count()), (2, 2));
    /// ```
    pub fn errors(&self) -> impl Iterator<Item = &E> + '_ {
        self.leaves().filter_map(Leaf::downcast_ref::<E>)
    }

    /// How many errors [`errors`](Self::errors) yields: every leaf, at any depth.
    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    /// The first error, depth-first.
    pub fn first(&self) -> Option<&E> {
        self.errors().next()
    }
}

impl<E: ?Sized> Drop for ErrorGroup<E> {
    fn drop(&mut self) {
        // Unnest iteratively so that dropping a very deep tree cannot overflow the stack.
        let mut pending = std::mem::take(&mut self.members);
        while let Some(member) = pending.pop() {
            if let Member::Group(mut group) = member {
                pending.append(&mut group.members);
            }
        }
    }
}

/// Depth-first iterator over the leaves of an [`ErrorGroup`]; see [`ErrorGroup::leaves`].
pub struct Leaves<'a> {
    stack: Vec<std::slice::Iter<'a, Member>>,
}

impl<'a> Iterator for Leaves<'a> {
    type Item = &'a Leaf;

    fn next(&mut self) -> Option<&'a Leaf> {
        loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                Some(Member::Leaf(leaf)) => return Some(leaf),
                Some(Member::Group(group)) => self.stack.push(group.members.iter()),
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a ErrorGroup {
    type Item = &'a Member;
    type IntoIter = std::slice::Iter<'a, Member>;
    fn into_iter(self) -> Self::IntoIter {
        self.members.iter()
    }
}

/// Only the untyped group is an error, so that `?` nests it whole into an enclosing group. A
/// typed view converts into a [`Member`] too (as its untyped group), so `Err(eg)` in a clause
/// and `?` take it as it is; [`ErrorGroup::into_untyped`] gives the group itself.
impl StdError for ErrorGroup {}

/// One member of an [`ErrorGroup`]: a single error or a nested group.
///
/// Everything that converts into a `Box<dyn Error + Send + Sync>` converts into a `Member`,
/// which is what lets `?` raise any error into a group: every
/// `E: std::error::Error + Send + Sync + 'static`, a `Box<dyn Error + Send + Sync>` itself, an
/// `anyhow::Error` / `eyre::Report` (features `anyhow`, `eyre`) and a message (`String`,
/// `&'static str`). Some are recognised and kept whole:
/// - an [`ErrorGroup`] becomes [`Member::Group`], never flattened (also when boxed, or in an
///   anyhow/eyre error without context);
/// - a [`StartError::Failed`](crate::StartError::Failed) becomes the child's own failure, so that `tg.start(..).await?`
///   raises the original error (an `io::Error` from a bind, say) as Trio's `start` re-raises
///   it; the leaf's [`task`](Leaf::task) is the started child's. Other `StartError`s are
///   leaves of their own;
/// - a `Box<dyn Error + Send + Sync>`, an `anyhow::Error` and an `eyre::Report` are stored as
///   they are and matched by the error inside (see [`Leaf`]);
/// - a message is a leaf of type name `Error`, as `Box::<dyn Error>::from(message)` makes it.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use taskgroup::Member;
/// let member = Member::from(std::io::Error::other("disk full"));
/// assert!(member.is::<std::io::Error>());
/// let message = Member::from("no route");
/// assert_eq!((message.type_name(), message.to_string().as_str()), ("Error", "no route"));
/// ```
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

impl From<Leaf> for Member {
    fn from(leaf: Leaf) -> Self {
        Member::Leaf(leaf)
    }
}
