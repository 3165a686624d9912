//! [`SpawnError`]: why a group refused a child.

use std::fmt;

/// Why a spawn was refused; see [`TaskGroup::try_spawn`](crate::TaskGroup::try_spawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// A child failed and the group is cancelling the others.
    Failing,
    /// The group was cancelled with [`TaskGroup::cancel`](crate::TaskGroup::cancel) or its
    /// scope was dropped.
    Cancelled,
    /// The group's timeout or deadline passed.
    TimedOut,
    /// Under [`Policy::FirstOk`](crate::Policy::FirstOk), a child already succeeded.
    Finished,
    /// The scope has returned; its children are all done.
    Closed,
    /// There is no tokio runtime on this thread.
    NoRuntime,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnError::Failing => {
                "the task group is failing: a child failed and the others are being cancelled"
            }
            SpawnError::Cancelled => "the task group was cancelled",
            SpawnError::TimedOut => "the task group timed out",
            SpawnError::Finished => "the task group already has its first success",
            SpawnError::Closed => "the task group's scope has returned; spawn inside the scope",
            SpawnError::NoRuntime => {
                "no tokio runtime is running on this thread; spawn from inside one"
            }
        })
    }
}

impl std::error::Error for SpawnError {}
