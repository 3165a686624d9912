//! [`Task`]: the handle of one child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::cell::TaskCell;
use super::shared::Shared;
use crate::task_error::TaskError;
use crate::task_output::Outcome;

/// The handle of one child task, returned by [`TaskGroup::spawn`](crate::TaskGroup::spawn).
///
/// Inside the scope, `task.await` waits for this one child. After the scope has returned, every
/// task is resolved and [`result`](Task::result) gives its value or says why there is none.
/// Dropping a `Task` does not cancel the child: the group still owns it. A spawned child's
/// result lives in its tokio task, as with a `JoinHandle`, so a `Task` kept after the child
/// finished keeps that task's allocation (the size of its future: 128 bytes for a small one)
/// until the handle is dropped or its result taken.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup_core::TaskGroup;
///
/// let tg = TaskGroup::new();
/// let task = tg
///     .run(async {
///         Ok::<_, std::io::Error>(tg.spawn(async { Ok::<_, std::io::Error>(6 * 7) }))
///     })
///     .await
///     .unwrap();
/// assert_eq!(task.result().unwrap(), 42);
/// # }
/// ```
pub struct Task<T> {
    repr: Repr<T>,
    name: Option<Arc<str>>,
}

enum Repr<T> {
    /// A child on the runtime: tokio's task holds its result, so that a child costs one
    /// allocation. `group` is `None` once the result was taken.
    Spawned {
        handle: tokio::task::JoinHandle<Outcome<T>>,
        group: Option<Arc<Shared>>,
    },
    /// A local child, a child queued behind the limit, or a refused spawn.
    Cell(Arc<TaskCell<T>>),
}

fn joined<T>(joined: Result<Outcome<T>, tokio::task::JoinError>) -> Result<T, TaskError> {
    match joined {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Some(error))) => Err(*error),
        Ok(Err(None)) => Err(TaskError::Cancelled),
        Err(error) if error.is_cancelled() => Err(TaskError::Cancelled),
        // Polls and the recording of the ending are caught by the child: only the future's
        // destructor can panic here, when the task is aborted.
        Err(error) => Err(TaskError::Panicked(
            crate::TaskPanic::from_payload(&*error.into_panic())
                .message()
                .to_owned(),
        )),
    }
}

/// Whether a spawned child has finished, waiting for tokio to store its output once the scope
/// has returned: the child releases the group's count when its future is dropped, a few
/// instructions before tokio stores the output on the thread that ran it. (An executor that
/// polled the scope inside the child's wake-up, on that same thread, would wait forever here;
/// tokio's never does.)
fn finished<T>(handle: &tokio::task::JoinHandle<T>, group: &Shared) -> bool {
    if handle.is_finished() {
        return true;
    }
    if !group.is_closed() {
        return false;
    }
    while !handle.is_finished() {
        std::thread::yield_now();
    }
    true
}

impl<T> Task<T> {
    pub(crate) fn spawned(
        handle: tokio::task::JoinHandle<Outcome<T>>,
        group: Arc<Shared>,
        name: Option<Arc<str>>,
    ) -> Self {
        Task {
            repr: Repr::Spawned {
                handle,
                group: Some(group),
            },
            name,
        }
    }

    pub(crate) fn with_cell(cell: Arc<TaskCell<T>>, name: Option<Arc<str>>) -> Self {
        Task {
            repr: Repr::Cell(cell),
            name,
        }
    }

    /// The value, or why there is none. Call it after the scope has returned; inside the scope
    /// an unfinished task gives [`TaskError::Pending`] (await the task instead).
    pub fn result(self) -> Result<T, TaskError> {
        match self.repr {
            Repr::Cell(cell) => cell.take(),
            Repr::Spawned { group: None, .. } => Err(TaskError::Taken),
            Repr::Spawned {
                mut handle,
                group: Some(group),
            } => {
                if !finished(&handle, &group) {
                    return Err(TaskError::Pending);
                }
                let mut cx = Context::from_waker(Waker::noop());
                // Unconstrained: a finished handle must not report `Pending` for lack of budget.
                match Pin::new(&mut tokio::task::unconstrained(&mut handle)).poll(&mut cx) {
                    Poll::Ready(out) => joined(out),
                    Poll::Pending => Err(TaskError::Pending),
                }
            }
        }
    }

    /// Whether the task has finished (with a value, a failure, a panic, or by cancellation).
    pub fn is_finished(&self) -> bool {
        match &self.repr {
            Repr::Spawned {
                handle,
                group: Some(group),
            } => finished(handle, group),
            Repr::Spawned { handle, .. } => handle.is_finished(),
            Repr::Cell(cell) => cell.is_done(),
        }
    }

    /// Cancels this child at its next `.await`. It is not a failure: the group goes on, and
    /// the task's result becomes [`TaskError::Cancelled`] unless it had already finished.
    pub fn cancel(&self) {
        match &self.repr {
            Repr::Spawned { handle, .. } => handle.abort(),
            Repr::Cell(cell) => cell.request_cancel(),
        }
    }

    /// The tokio id of the task (`None` if it never started, was queued behind the group's
    /// limit, or is a local task).
    pub fn id(&self) -> Option<tokio::task::Id> {
        match &self.repr {
            Repr::Spawned { handle, .. } => Some(handle.id()),
            Repr::Cell(_) => None,
        }
    }

    /// The name given with [`TaskGroup::spawn_named`](crate::TaskGroup::spawn_named).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().repr {
            Repr::Cell(cell) => cell.poll_take(cx),
            Repr::Spawned { group: None, .. } => Poll::Ready(Err(TaskError::Taken)),
            Repr::Spawned { handle, group } => match Pin::new(handle).poll(cx) {
                Poll::Ready(out) => {
                    *group = None;
                    Poll::Ready(joined(out))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_four_words_at_most() {
        // Held handles count in the memory per task (docs/PERFORMANCE.md).
        assert!(std::mem::size_of::<Task<()>>() <= 32);
    }
}
