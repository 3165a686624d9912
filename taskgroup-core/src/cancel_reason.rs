//! [`CancelReason`]: why a group stopped its children, as Trio and AnyIO make every
//! cancellation carry its source.

use std::fmt;
use std::sync::Arc;

use crate::leaf::TaskInfo;

/// Why a task group cancelled (or stopped starting) its children, or why one child was
/// stopped on its own ([`TaskCancelled`](CancelReason::TaskCancelled),
/// [`RuntimeShutdown`](CancelReason::RuntimeShutdown)). The first reason wins: a group
/// stopped by a failure and then by its deadline keeps the failure.
///
/// Read it from inside a child or the body with [`cancel_reason`](crate::cancel_reason)
/// (during a [`grace`](crate::Builder::grace) period, say, to log why the cleanup runs), on
/// the group with [`TaskGroup::cancel_reason`](crate::TaskGroup::cancel_reason), on a
/// cancelled child's handle with [`Task::cancel_reason`](crate::Task::cancel_reason), and on
/// the scope's error with [`ErrorGroup::stopped_by`](crate::ErrorGroup::stopped_by); the
/// timeline form of the error (`{:+#}`) prints it under the group's header.
/// [`TaskError::Cancelled`](crate::TaskError::Cancelled) carries no reason: read it on the
/// handle, before taking the result.
///
/// A handle reads, in this order: the reason given to its own
/// [`cancel_with`](crate::Task::cancel_with) (or [`cancel`](crate::Task::cancel)), its group's
/// reason, then the runtime shutting down.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::{CancelReason, TaskGroup};
///
/// let tg = TaskGroup::new();
/// let idle = tg
///     .run(async {
///         let idle = tg.spawn(std::future::pending::<()>());
///         tg.cancel_with("shutting down");
///         Ok::<_, std::io::Error>(idle)
///     })
///     .await
///     .unwrap();
/// let Some(CancelReason::Cancelled { reason }) = idle.cancel_reason() else { unreachable!() };
/// assert_eq!(reason.as_deref(), Some("shutting down"));
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CancelReason {
    /// A child failed under fail-fast: its task (`None` for the body's own error) and the
    /// error's type name.
    Failed {
        /// The task that failed; `None` when the body failed.
        task: Option<TaskInfo>,
        /// The failure's short type name (`Error` for an `io::Error`).
        error_type: &'static str,
    },
    /// The group's deadline (`timeout` or `deadline`) passed.
    TimedOut,
    /// `tg.cancel()` / `Spawner::cancel()`, or `cancel_with(reason)`.
    Cancelled {
        /// The reason given to `cancel_with`.
        reason: Option<Arc<str>>,
    },
    /// Under `first_ok`, a child succeeded: the rest were no longer needed.
    Won {
        /// The child that won.
        task: Option<TaskInfo>,
    },
    /// The body panicked, or passed on a cancellation (`sibling.await?`).
    Body,
    /// The group's scope future (or the group) was dropped before the scope returned.
    Dropped,
    /// A group this one is nested in was cancelled, for this reason.
    Enclosing(Box<CancelReason>),
    /// A background child (`spawn_background`): the body and every other child had ended, so
    /// the scope no longer needed it.
    ScopeFinished,
    /// This one child was cancelled through its handle
    /// ([`Task::cancel`](crate::Task::cancel), or [`Task::cancel_with`](crate::Task::cancel_with)
    /// and its reason); the group went on. Only that handle reports it.
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{CancelReason, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let idle = tg
    ///     .run(async {
    ///         let idle = tg.spawn(std::future::pending::<()>());
    ///         idle.cancel_with("superseded");
    ///         Ok::<_, std::io::Error>(idle)
    ///     })
    ///     .await
    ///     .unwrap();
    /// let Some(CancelReason::TaskCancelled { reason }) = idle.cancel_reason() else { unreachable!() };
    /// assert_eq!(reason.as_deref(), Some("superseded"));
    /// # }
    /// ```
    TaskCancelled {
        /// The reason given to `cancel_with`; `None` for `cancel`.
        reason: Option<Arc<str>>,
    },
    /// The tokio runtime the child ran on shut down (or refused to start it, shutting down)
    /// while neither its group nor its handle had stopped it: tokio dropped its future. Read
    /// on the child's handle; a local child, polled by the scope, sees its scope dropped
    /// instead ([`Dropped`](CancelReason::Dropped)).
    ///
    /// A spawned child tells it apart when tokio drops it unfinished: its group had not
    /// aborted and its handle had not cancelled it (a cancel through the handle is kept
    /// before the abort), so the runtime did. Nothing is added to the child, whose size is
    /// tokio's task cell: the group notes it, once, and the handle of each of its finished
    /// spawned children reports it, as it reports the group's own reasons, also for a child
    /// that had ended on its own. A child queued behind the limit records it for itself.
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use taskgroup::{CancelReason, TaskGroup};
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let tg = TaskGroup::new();
    /// let idle = runtime.block_on(async { tg.spawn(std::future::pending::<()>()) });
    /// drop(runtime); // drops the child, unfinished
    /// assert!(matches!(idle.cancel_reason(), Some(CancelReason::RuntimeShutdown)));
    /// ```
    RuntimeShutdown,
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::Failed {
                task: Some(task),
                error_type,
            } => write!(f, "{task} failed with {error_type}"),
            CancelReason::Failed {
                task: None,
                error_type,
            } => write!(f, "the body failed with {error_type}"),
            CancelReason::TimedOut => f.write_str("the deadline passed"),
            CancelReason::Cancelled { reason: None } => f.write_str("cancelled"),
            CancelReason::Cancelled {
                reason: Some(reason),
            } => write!(f, "cancelled: {reason}"),
            CancelReason::Won { task: Some(task) } => write!(f, "{task} succeeded first"),
            CancelReason::Won { task: None } => f.write_str("a child succeeded first"),
            CancelReason::Body => f.write_str("the body panicked or passed on a cancellation"),
            CancelReason::Dropped => f.write_str("the scope was dropped before it returned"),
            CancelReason::Enclosing(outer) => write!(f, "an enclosing group stopped: {outer}"),
            CancelReason::ScopeFinished => {
                f.write_str("the scope's other work had ended (a background child)")
            }
            CancelReason::TaskCancelled { reason: None } => {
                f.write_str("cancelled through its handle")
            }
            CancelReason::TaskCancelled {
                reason: Some(reason),
            } => write!(f, "cancelled through its handle: {reason}"),
            CancelReason::RuntimeShutdown => f.write_str("the runtime shut down"),
        }
    }
}
