//! [`TaskError`]: why a task has no value.

use std::error::Error as StdError;
use std::fmt;

/// Why a [`Task`](crate::Task) has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task returned an error; the error itself is in the scope's [`ErrorGroup`](crate::ErrorGroup).
    Failed {
        /// The short type name of the error.
        type_name: &'static str,
        /// The error's message.
        message: String,
    },
    /// The task panicked; the panic is in the scope's group as a [`TaskPanic`](crate::TaskPanic),
    /// unless it came from the future's destructor while the task was being cancelled.
    Panicked(String),
    /// The task was cancelled: by [`Task::cancel`](crate::Task::cancel), by the group, or by the scope being dropped.
    ///
    /// It carries no reason (a unit variant, so that matching on it stays simple): ask the
    /// handle, before taking its result, with [`Task::cancel_reason`](crate::Task::cancel_reason)
    /// (its own cancel, the group's stop, the runtime shutting down); inside a child,
    /// [`cancel_reason`](crate::cancel_reason); or the group
    /// ([`TaskGroup::cancel_reason`](crate::TaskGroup::cancel_reason),
    /// [`ErrorGroup::stopped_by`](crate::ErrorGroup::stopped_by)).
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let task = tg
    ///     .run(async {
    ///         let task = tg.spawn(std::future::pending::<()>());
    ///         task.cancel_with("not needed");
    ///         Ok::<_, std::io::Error>(task)
    ///     })
    ///     .await
    ///     .unwrap();
    /// let why = task.cancel_reason().unwrap(); // first: `result` takes the handle
    /// assert_eq!(task.result(), Err(TaskError::Cancelled));
    /// assert_eq!(why.to_string(), "cancelled through its handle: not needed");
    /// # }
    /// ```
    Cancelled,
    /// The task was spawned after the group stopped accepting tasks, so it never ran.
    NotStarted(crate::SpawnError),
    /// The task has not finished yet (only possible while the scope is still open).
    Pending,
    /// The value was already taken by awaiting the task.
    Taken,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed { type_name, message } if message.is_empty() => {
                write!(f, "task failed with {type_name}")
            }
            TaskError::Failed { type_name, message } => {
                write!(f, "task failed with {type_name}: {message}")
            }
            TaskError::Panicked(message) => write!(f, "task panicked: {message}"),
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::NotStarted(why) => write!(f, "task never started: {why}"),
            TaskError::Pending => f.write_str("task has not finished yet"),
            TaskError::Taken => f.write_str("task's result was already taken"),
        }
    }
}

impl StdError for TaskError {}
