//! [`Task`]: the handle of one child, and what a child's future may return.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::group::Shared;
use crate::leaf::Member;

/// What a child's future may return: `Result<T, E>` for any error `E` that converts into a
/// [`Member`] (every `std::error::Error + Send + Sync + 'static`, and `ErrorGroup`), or `()`.
pub trait TaskOutput: Send + 'static {
    /// The value a successful task yields.
    type Ok: Send + 'static;

    /// Splits the output into the success value or the failure to record in the group.
    fn into_result(self) -> Result<Self::Ok, Member>;
}

impl TaskOutput for () {
    type Ok = ();
    fn into_result(self) -> Result<(), Member> {
        Ok(())
    }
}

impl<T: Send + 'static, E: Into<Member> + Send + 'static> TaskOutput for Result<T, E> {
    type Ok = T;
    fn into_result(self) -> Result<T, Member> {
        self.map_err(Into::into)
    }
}

/// Why a [`Task`] has no value.
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
    /// The task was cancelled: by [`Task::cancel`], by the group, or by the scope being dropped.
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

pub(crate) enum Slot<T> {
    /// Running or queued: who awaits the task and the child's own waker (to wake it on a
    /// cancel request). Both are dropped when the task finishes.
    Pending {
        waker: Option<Waker>,
        local: Option<Waker>,
    },
    /// The outcome; the error is boxed to keep every cell small.
    Done(Result<T, Box<TaskError>>),
    Taken,
}

/// The result slot of a child that tokio does not hold the result of: a local child, a child
/// queued behind the group's limit, or a spawn refused at once.
pub(crate) struct TaskCell<T> {
    slot: Mutex<Slot<T>>,
    cancel_requested: AtomicBool,
    /// The slot left `Pending`: lets the guard that runs after every child skip the lock.
    settled: AtomicBool,
}

impl<T> TaskCell<T> {
    pub(crate) fn new() -> Self {
        TaskCell {
            slot: Mutex::new(Slot::Pending {
                waker: None,
                local: None,
            }),
            cancel_requested: AtomicBool::new(false),
            settled: AtomicBool::new(false),
        }
    }

    pub(crate) fn done(result: Result<T, TaskError>) -> Self {
        TaskCell {
            slot: Mutex::new(Slot::Done(result.map_err(Box::new))),
            settled: AtomicBool::new(true),
            ..Self::new()
        }
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst)
    }

    /// The child's own waker, so that a cancel request can reach it.
    pub(crate) fn set_local_waker(&self, waker: Waker) {
        if let Slot::Pending { local, .. } = &mut *self.lock() {
            *local = Some(waker);
        }
        if self.cancel_requested() {
            self.request_cancel();
        }
    }

    /// Flags the child and wakes it: it sees the flag at its next poll, drops its future and
    /// ends as cancelled, as tokio's `abort` would. A child not polled yet sees it at its
    /// first poll.
    pub(crate) fn request_cancel(&self) {
        self.cancel_requested.store(true, Ordering::SeqCst);
        let local = match &*self.lock() {
            Slot::Pending { local, .. } => local.clone(),
            _ => return,
        };
        if let Some(waker) = local {
            waker.wake();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        // A poisoned slot only means a waker panicked; the data is still consistent.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores the result unless one is already there, waking an awaiting body.
    pub(crate) fn complete(&self, result: Result<T, TaskError>) {
        if self.settled.load(Ordering::Acquire) {
            return;
        }
        let mut slot = self.lock();
        if let Slot::Pending { .. } = &*slot {
            self.settled.store(true, Ordering::Release);
            let pending = std::mem::replace(&mut *slot, Slot::Done(result.map_err(Box::new)));
            drop(slot);
            if let Slot::Pending {
                waker: Some(waker), ..
            } = pending
            {
                waker.wake();
            }
        }
    }

    fn is_done(&self) -> bool {
        !matches!(*self.lock(), Slot::Pending { .. })
    }

    fn take(&self) -> Result<T, TaskError> {
        let mut slot = self.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(result) => result.map_err(|e| *e),
            Slot::Taken => Err(TaskError::Taken),
            pending @ Slot::Pending { .. } => {
                *slot = pending;
                Err(TaskError::Pending)
            }
        }
    }

    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        let mut slot = self.lock();
        match &mut *slot {
            Slot::Pending { waker, .. } => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Slot::Done(_) => match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Done(result) => Poll::Ready(result.map_err(|e| *e)),
                _ => Poll::Ready(Err(TaskError::Taken)),
            },
            Slot::Taken => Poll::Ready(Err(TaskError::Taken)),
        }
    }
}

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

/// How a spawned child ends, as its future returns it to tokio: the error is boxed and a
/// cancellation (`None`) allocates nothing, so that the output fits tokio's smallest cell.
pub(crate) type Outcome<T> = Result<T, Option<Box<TaskError>>>;

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
