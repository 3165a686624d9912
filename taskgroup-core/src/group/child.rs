//! [`Child`]: the future a spawned child runs on tokio, and the guard that ends its accounting
//! however it ends.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::current::Lend;
use super::ending::{Ending, conclude, drop_future};
use super::shared::{Shared, lock};
use crate::task_error::TaskError;
use crate::task_output::{Outcome, TaskOutput};

/// `ChildGuard::slot` of a child with no waker among the group's waiting ones.
pub(super) const NO_SLOT: u32 = u32::MAX >> 1;
/// The bit of `ChildGuard::slot` set when the child holds one of the limit's running slots.
pub(super) const LIMITED: u32 = !NO_SLOT;

/// What a child's future carries besides the user's future: its name (a field only in named
/// children's futures), and whether the child records its own ending in the group.
pub(super) trait ChildKind: Send + 'static {
    /// False for a queued child, whose inner [`InCell`](super::in_cell::InCell) records it.
    const RECORDS: bool = true;
    /// True for a shielded child: the group's abort does not stop it (see `shield`).
    const SHIELDED: bool = false;
    fn name(&self) -> Option<&Arc<str>>;
}

impl ChildKind for () {
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

impl ChildKind for Arc<str> {
    fn name(&self) -> Option<&Arc<str>> {
        Some(self)
    }
}

/// The kind of a child queued behind the limit: its `InCell` records how it ended.
pub(super) struct RecordedInside;

impl ChildKind for RecordedInside {
    const RECORDS: bool = false;
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

/// Ends a child's accounting however it ends: completion, abort, panic or runtime shutdown.
pub(super) struct ChildGuard<N> {
    /// `None` only while the child's future is polled (lent to the current-group slot).
    shared: Option<Arc<Shared>>,
    /// The child's index among the group's waiting wakers (or `NO_SLOT`), and `LIMITED`.
    slot: u32,
    name: N,
}

impl<N> Drop for ChildGuard<N> {
    fn drop(&mut self) {
        let Some(shared) = &self.shared else { return };
        let slot = self.slot & NO_SLOT;
        // After an abort the slab was emptied; a child registered later stays in the new one
        // until the group is dropped, which is soon: no lock per cancelled child.
        if slot != NO_SLOT && !shared.is_aborted() {
            lock(&shared.waiting).remove(slot as usize);
        }
        if self.slot & LIMITED != 0 {
            shared.free_slot();
        }
        shared.release();
    }
}

pin_project_lite::pin_project! {
    /// A child on the runtime: the user's future, the group and a 4-byte slot (plus the name
    /// of a named child), so that a small future fits tokio's smallest task cell. Its output
    /// is the task's result, which tokio keeps for the handle. The future is dropped by the
    /// child itself, as soon as it ends, so that a panic in its destructor is the child's
    /// panic, in the group and in the handle alike.
    pub(super) struct Child<F, N>
    where
        N: ChildKind,
    {
        #[pin]
        future: Option<F>,
        guard: ChildGuard<N>,
    }

    impl<F, N> PinnedDrop for Child<F, N>
    where
        N: ChildKind,
    {
        fn drop(this: Pin<&mut Self>) {
            // Reached with the future still there when tokio drops an unfinished child: an
            // abort (from its handle, or the group's seen at a poll), or the runtime shutting
            // down.
            let this = this.project();
            if this.future.is_none() {
                return;
            }
            if let Err(payload) = drop_future(this.future) {
                if let Some(shared) = &this.guard.shared {
                    let panic = Ending::<()>::panicked(&*payload);
                    let _ = conclude(shared, panic, this.guard.name.name(), tokio::task::try_id());
                }
                // Tokio catches it: the handle reads the panic, as the group does.
                if !std::thread::panicking() {
                    resume_unwind(payload);
                }
            }
        }
    }
}

impl<F, N: ChildKind> Child<F, N> {
    pub(super) fn new(future: F, shared: Arc<Shared>, slot: u32, name: N) -> Self {
        Child {
            future: Some(future),
            guard: ChildGuard {
                shared: Some(shared),
                slot,
                name,
            },
        }
    }
}

impl<F, N> Future for Child<F, N>
where
    F: Future,
    F::Output: TaskOutput,
    N: ChildKind,
{
    type Output = Outcome<<F::Output as TaskOutput>::Ok>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let guard = this.guard;
        let aborted = guard
            .shared
            .as_ref()
            .is_none_or(|shared| !N::SHIELDED && shared.is_aborted());
        if aborted {
            // Tokio reads a cancellation and drops the child, whose `Drop` drops the future: a
            // panic in its destructor is then the child's, in the group and in the handle.
            return Poll::Ready(Err(None));
        }
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(None));
        };
        // Groups created while this child is polled are nested in its group.
        let lent = Lend::new(&mut guard.shared);
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        drop(lent);
        let ending = match polled {
            Ok(Poll::Pending) => {
                // A shield is not woken by an abort: its waker need not be known.
                if !N::SHIELDED {
                    register(guard, cx);
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => Ending::of(output),
            Err(payload) => Ending::panicked(&*payload),
        };
        // Drop the future before recording the ending: a panic in its destructor is the
        // child's panic (the first panic wins).
        let ending = ending.after_drop(this.future);
        let Some(shared) = &guard.shared else {
            return Poll::Ready(Err(None));
        };
        if !N::RECORDS {
            if let Ending::Value(value) = ending {
                return Poll::Ready(Ok(value));
            }
        }
        let result = conclude(shared, ending, guard.name.name(), tokio::task::try_id());
        Poll::Ready(result.map_err(|error| match error {
            TaskError::Cancelled => None,
            error => Some(Box::new(error)),
        }))
    }
}

/// A child whose poll returned `Pending` for the first time makes its waker known to the
/// group, so that a cancellation can wake it.
fn register<N>(guard: &mut ChildGuard<N>, cx: &Context<'_>) {
    let Some(shared) = &guard.shared else { return };
    if guard.slot & NO_SLOT != NO_SLOT {
        return;
    }
    let index = lock(&shared.waiting).insert(cx.waker().clone());
    let index = u32::try_from(index)
        .ok()
        .filter(|&i| i < NO_SLOT)
        .expect("fewer than 2^31 children waiting in one group");
    guard.slot = (guard.slot & LIMITED) | index;
    // An abort that came before the registration did not see this waker.
    if shared.is_aborted() {
        cx.waker().wake_by_ref();
    }
}
