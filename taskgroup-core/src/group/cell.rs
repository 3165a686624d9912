//! [`TaskCell`]: the result slot of a child whose result tokio does not hold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::task_error::TaskError;

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
    /// The child is shielded: the group's abort does not stop it (see `shield`).
    shielded: bool,
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
            shielded: false,
        }
    }

    /// The cell of a shielded child queued behind the limit.
    pub(crate) fn shielded() -> Self {
        TaskCell {
            shielded: true,
            ..Self::new()
        }
    }

    pub(crate) fn is_shielded(&self) -> bool {
        self.shielded
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

    pub(crate) fn is_done(&self) -> bool {
        !matches!(*self.lock(), Slot::Pending { .. })
    }

    pub(crate) fn take(&self) -> Result<T, TaskError> {
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

    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
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
