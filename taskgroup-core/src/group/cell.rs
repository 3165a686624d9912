//! [`TaskCell`]: the result slot of a child whose result tokio does not hold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::cancel_reason::CancelReason;
use crate::task_error::TaskError;

pub(crate) enum Slot<T> {
    /// Running or queued: who awaits the task and the child's own waker (to wake it on a
    /// cancel request). Both are dropped when the task finishes.
    Pending {
        waker: Option<Waker>,
        local: Option<Waker>,
    },
    /// Running or queued, its handle asked it to stop (its own waker was woken then, or is
    /// when it comes): who awaits, and the handle's reason. As small as `Pending`.
    Cancelling {
        waker: Option<Waker>,
        reason: Option<Arc<str>>,
    },
    /// The outcome; the error is boxed to keep every cell small.
    Done(Result<T, Box<TaskError>>),
    /// Ended as cancelled, and why, if known (an `Arc`: its drop stays small and inlined).
    Cancelled(Option<Arc<CancelReason>>),
    Taken,
}

/// A cancelled child's slot: its handle's reason if it asked, else `why()`.
#[cold]
fn cancelled<T>(
    asked: Option<Option<Arc<str>>>,
    why: impl FnOnce() -> Option<CancelReason>,
) -> Slot<T> {
    Slot::Cancelled(
        match asked {
            Some(reason) => Some(CancelReason::TaskCancelled { reason }),
            None => why(),
        }
        .map(Arc::new),
    )
}

/// What identifies a cell (its address), for a snapshot matching a queued child to its handle.
pub(crate) fn key<T, X: ?Sized>(cell: &TaskCell<T, X>) -> usize {
    std::ptr::from_ref(cell).cast::<()>() as usize
}

/// What a cell holds after its slot, which its handle never touches: nothing, or a child's
/// future (see `local_node`), so that a local or queued child is one allocation.
///
/// # Safety
/// Dropping an implementor does nothing (no drop glue), and nothing reaches it through a
/// [`CellRef`]: a handle may then free it on any thread, after the lifetimes in it ended.
#[allow(unsafe_code)]
pub(crate) unsafe trait Tail {}

// SAFETY: `()` has no drop glue and nothing to reach.
#[allow(unsafe_code)]
unsafe impl Tail for () {}

/// A handle's reference to its cell, whatever follows the slot.
pub(crate) struct CellRef<T>(Arc<TaskCell<T, dyn Tail>>);

// SAFETY: through a `CellRef` only the slot part of the cell is reached (a `Mutex` of the
// result, and atomics: `Send` and `Sync` when `T` is `Send`), never the tail; and dropping the
// tail does nothing (a `()`, or a child in its `InPlace`, which its node's one `LocalChild`
// drops wherever that is), so the thread the last handle frees the cell on does not matter.
#[allow(unsafe_code)]
unsafe impl<T: Send> Send for CellRef<T> {}
// SAFETY: as for `Send`: shared access reaches only the slot part.
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for CellRef<T> {}

impl<T> CellRef<T> {
    /// A handle's reference to a cell with nothing after its slot.
    pub(crate) fn plain(cell: Arc<TaskCell<T>>) -> Self {
        CellRef(cell)
    }

    /// A handle's reference to a cell of any tail, whose lifetime is forgotten: a handle only
    /// ever frees the tail, and freeing it touches nothing (see [`Tail`]).
    pub(crate) fn any<'a, X: Tail + 'a>(cell: Arc<TaskCell<T, X>>) -> Self {
        const {
            assert!(
                !std::mem::needs_drop::<X>(),
                "a cell's tail has no drop glue"
            )
        };
        let cell: Arc<TaskCell<T, dyn Tail + 'a>> = cell;
        // SAFETY: the same fat pointer with a longer lifetime on its vtable's type. Through a
        // `CellRef` nothing reaches the tail, and dropping it does nothing (`Tail`'s contract,
        // and no drop glue, checked above), so no code of lifetime `'a` runs after `'a`.
        #[allow(unsafe_code)]
        let cell = unsafe {
            std::mem::transmute::<Arc<TaskCell<T, dyn Tail + 'a>>, Arc<TaskCell<T, dyn Tail>>>(cell)
        };
        CellRef(cell)
    }
}

impl<T> std::ops::Deref for CellRef<T> {
    type Target = TaskCell<T, dyn Tail>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The result slot of a child that tokio does not hold the result of: a local child, a child
/// queued behind the group's limit, or a spawn refused at once.
pub(crate) struct TaskCell<T, X: ?Sized = ()> {
    slot: Mutex<Slot<T>>,
    cancel_requested: AtomicBool,
    /// The slot left `Pending`: lets the guard that runs after every child skip the lock.
    settled: AtomicBool,
    /// The child is shielded: the group's abort does not stop it (see `shield`).
    shielded: bool,
    /// The child has returned `Pending` (written by the child only).
    waited: AtomicBool,
    /// The child's name, for its handle and its recorded ending; boxed, as few children have
    /// one and a local child's node must stay small (see `local_node`).
    name: Option<Box<Arc<str>>>,
    pub(super) tail: X,
}

impl<T> TaskCell<T> {
    pub(crate) fn new() -> Self {
        Self::with_tail(())
    }

    pub(crate) fn done(result: Result<T, TaskError>) -> Self {
        TaskCell {
            slot: Mutex::new(Slot::Done(result.map_err(Box::new))),
            settled: AtomicBool::new(true),
            ..Self::new()
        }
    }
}

impl<T, X> TaskCell<T, X> {
    /// A pending cell followed by `tail`.
    pub(crate) fn with_tail(tail: X) -> Self {
        TaskCell {
            slot: Mutex::new(Slot::Pending {
                waker: None,
                local: None,
            }),
            cancel_requested: AtomicBool::new(false),
            settled: AtomicBool::new(false),
            shielded: false,
            waited: AtomicBool::new(false),
            name: None,
            tail,
        }
    }

    /// A pending cell followed by `tail`, for a child named `name` and, if `shielded`, a
    /// shielded child queued behind the limit: once started, the group's abort does not stop
    /// it.
    pub(crate) fn queued(tail: X, name: Option<Arc<str>>, shielded: bool) -> Self {
        TaskCell {
            shielded,
            ..Self::with_tail(tail).named(name)
        }
    }
}

impl<T, X> TaskCell<T, X> {
    /// The same cell, for a child named `name`.
    pub(crate) fn named(self, name: Option<Arc<str>>) -> Self {
        TaskCell {
            name: name.map(Box::new),
            ..self
        }
    }
}

impl<T, X: ?Sized> TaskCell<T, X> {
    pub(crate) fn name(&self) -> Option<&str> {
        self.name_arc().map(|name| &**name)
    }

    pub(crate) fn name_arc(&self) -> Option<&Arc<str>> {
        self.name.as_deref()
    }

    pub(crate) fn is_shielded(&self) -> bool {
        self.shielded
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst)
    }

    /// The child returned `Pending`: whether for the first time.
    pub(crate) fn waits(&self) -> bool {
        !self.waited.swap(true, Ordering::Relaxed)
    }

    /// Whether the child ever returned `Pending`.
    pub(crate) fn has_waited(&self) -> bool {
        self.waited.load(Ordering::Relaxed)
    }

    /// The child's own waker, so that a cancel request can reach it (at once if one came);
    /// kept as it is if it would wake the same task.
    pub(crate) fn set_local_waker(&self, waker: &Waker) {
        let mut slot = self.lock();
        match &mut *slot {
            Slot::Pending { local, .. }
                if !local.as_ref().is_some_and(|kept| kept.will_wake(waker)) =>
            {
                *local = Some(waker.clone());
            }
            Slot::Cancelling { .. } => {
                drop(slot);
                waker.wake_by_ref();
            }
            _ => {}
        }
    }

    /// Flags the child and wakes it: it sees the flag at its next poll, drops its future and
    /// ends as cancelled, as tokio's `abort` would. A child not polled yet sees it at its
    /// first poll. The first request's reason is kept for the handle.
    pub(crate) fn request_cancel(&self, reason: Option<Arc<str>>) {
        self.cancel_requested.store(true, Ordering::SeqCst);
        let mut slot = self.lock();
        let local = match &mut *slot {
            Slot::Pending { waker, local } => {
                let local = local.take();
                *slot = Slot::Cancelling {
                    waker: waker.take(),
                    reason,
                };
                local
            }
            _ => return,
        };
        drop(slot);
        if let Some(waker) = local {
            waker.wake();
        }
    }

    /// Why the child was stopped: its handle's cancel, or what it ended with.
    pub(crate) fn cancel_reason(&self) -> Option<CancelReason> {
        match &*self.lock() {
            Slot::Cancelling { reason, .. } => Some(CancelReason::TaskCancelled {
                reason: reason.clone(),
            }),
            Slot::Cancelled(why) => why.as_deref().cloned(),
            _ => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        // A poisoned slot only means a waker panicked; the data is still consistent.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores the result unless one is already there, waking an awaiting body. A cancelled
    /// child keeps its handle's reason if it had one, else `why()` (its group's, say).
    pub(crate) fn complete(
        &self,
        result: Result<T, TaskError>,
        why: impl FnOnce() -> Option<CancelReason>,
    ) {
        if self.settled.load(Ordering::Acquire) {
            return;
        }
        let mut slot = self.lock();
        let (waker, local, asked) = match &mut *slot {
            Slot::Pending { waker, local } => (waker.take(), local.take(), None),
            Slot::Cancelling { waker, reason } => (waker.take(), None, Some(reason.take())),
            _ => return,
        };
        self.settled.store(true, Ordering::Release);
        let done = match result {
            Err(TaskError::Cancelled) => cancelled(asked, why),
            result => Slot::Done(result.map_err(Box::new)),
        };
        // What it replaces owns nothing now (its wakers and reason were taken out): forgetting
        // it spares the drop of a whole `Slot` on every child's way out.
        std::mem::forget(std::mem::replace(&mut *slot, done));
        drop(slot);
        // The child's own waker goes too, outside the lock.
        drop(local);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        !matches!(*self.lock(), Slot::Pending { .. } | Slot::Cancelling { .. })
    }

    pub(crate) fn take(&self) -> Result<T, TaskError> {
        let mut slot = self.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(result) => result.map_err(|e| *e),
            Slot::Cancelled(_) => Err(TaskError::Cancelled),
            Slot::Taken => Err(TaskError::Taken),
            pending @ (Slot::Pending { .. } | Slot::Cancelling { .. }) => {
                *slot = pending;
                Err(TaskError::Pending)
            }
        }
    }

    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        let mut slot = self.lock();
        match &mut *slot {
            Slot::Pending { waker, .. } | Slot::Cancelling { waker, .. } => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Slot::Done(_) | Slot::Cancelled(_) => {
                match std::mem::replace(&mut *slot, Slot::Taken) {
                    Slot::Done(result) => Poll::Ready(result.map_err(|e| *e)),
                    Slot::Cancelled(_) => Poll::Ready(Err(TaskError::Cancelled)),
                    _ => Poll::Ready(Err(TaskError::Taken)),
                }
            }
            Slot::Taken => Poll::Ready(Err(TaskError::Taken)),
        }
    }
}
