//! [`Task`]: the handle of one child, and what a child's future may return.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::leaf::{Member, TaskInfo};

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
    /// The task panicked; the panic is in the scope's group as a [`TaskPanic`](crate::TaskPanic).
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
    /// Running or queued: who awaits the task and, for a local child, its own waker (to
    /// wake it on a cancel request). Both are dropped when the task finishes.
    Pending {
        waker: Option<Waker>,
        local: Option<Waker>,
    },
    /// The outcome; the error is boxed to keep every cell small.
    Done(Result<T, Box<TaskError>>),
    Taken,
}

/// The result slot shared by a child and its [`Task`] handle.
pub(crate) struct TaskCell<T> {
    slot: Mutex<Slot<T>>,
    cancel_requested: AtomicBool,
    /// Holds one of the group's limited slots (set when the child is put on the runtime).
    started: AtomicBool,
    /// The slot left `Pending`: lets the guard that runs after every child skip the lock.
    settled: AtomicBool,
    /// The group of a spawned child, so that the child's future needs one pointer only.
    pub(crate) owner: Option<Arc<crate::group::Shared>>,
    /// The name given at spawn, for the task's errors.
    pub(crate) name: Option<Arc<str>>,
    /// The child's entry among the group's waiting wakers (`usize::MAX`: none). Only the
    /// child itself reads and writes it.
    pub(crate) waker_slot: std::sync::atomic::AtomicUsize,
}

/// The type-erased part of a [`TaskCell`] that the limit's queue needs.
pub(crate) trait Cancel: Send + Sync {
    fn mark_started(&self);
}

impl<T: Send> Cancel for TaskCell<T> {
    fn mark_started(&self) {
        self.started.store(true, Ordering::Release);
    }
}

impl<T> TaskCell<T> {
    pub(crate) fn new() -> Self {
        TaskCell {
            slot: Mutex::new(Slot::Pending {
                waker: None,
                local: None,
            }),
            cancel_requested: AtomicBool::new(false),
            started: AtomicBool::new(false),
            settled: AtomicBool::new(false),
            owner: None,
            name: None,
            waker_slot: std::sync::atomic::AtomicUsize::new(usize::MAX),
        }
    }

    /// The cell of a child spawned on the runtime.
    pub(crate) fn owned(owner: Arc<crate::group::Shared>, name: Option<Arc<str>>) -> Self {
        TaskCell {
            owner: Some(owner),
            name,
            ..Self::new()
        }
    }

    pub(crate) fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
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

    /// A local child's waker, so that a cancel request can reach it.
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
            return;
        }
        let slot = self.waker_slot.load(Ordering::SeqCst);
        if let (Some(owner), true) = (&self.owner, slot != usize::MAX) {
            owner.wake_child(slot);
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
/// Dropping a `Task` does not cancel the child: the group still owns it.
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
    pub(crate) cell: Arc<TaskCell<T>>,
    pub(crate) info: Option<TaskInfo>,
}

impl<T> Task<T> {
    /// The value, or why there is none. Call it after the scope has returned; inside the scope
    /// an unfinished task gives [`TaskError::Pending`] (await the task instead).
    pub fn result(self) -> Result<T, TaskError> {
        self.cell.take()
    }

    /// Whether the task has finished (with a value, a failure, a panic, or by cancellation).
    pub fn is_finished(&self) -> bool {
        self.cell.is_done()
    }

    /// Cancels this child at its next `.await`. It is not a failure: the group goes on, and
    /// the task's result becomes [`TaskError::Cancelled`] unless it had already finished.
    pub fn cancel(&self) {
        self.cell.request_cancel();
    }

    /// The tokio id of the task (`None` if it never started, is still queued behind the
    /// group's limit, or is a local task).
    pub fn id(&self) -> Option<tokio::task::Id> {
        self.info.as_ref().and_then(|info| info.id)
    }

    /// The name given with [`TaskGroup::spawn_named`](crate::TaskGroup::spawn_named).
    pub fn name(&self) -> Option<&str> {
        self.info.as_ref().and_then(TaskInfo::name)
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_take(cx)
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
