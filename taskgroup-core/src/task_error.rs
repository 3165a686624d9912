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
