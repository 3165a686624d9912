//! [`Child`]: the future a spawned child runs on tokio, and the guard that ends its accounting
//! however it ends.
// Polls and drops its future through `InPlace`'s unsafe methods, and holds its group as a raw
// strong count named by the group's index, keeping both contracts with its guard.
#![allow(unsafe_code)]

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::current::Lend;
use super::ending::{Ending, conclude};
use super::in_place::InPlace;
use super::index;
use super::limit::InLine;
use super::shared::Shared;
use super::wakers::NO_SLOT;
use crate::task_error::TaskError;
use crate::task_output::{Outcome, TaskOutput};

/// What a child's future carries besides the user's future: its name (a field only in named
/// children's futures), and whether the child records its own ending in the group.
pub(super) trait ChildKind: Send + 'static {
    /// False for a queued child, whose node's [`CellChild`](super::in_cell::CellChild) records
    /// it.
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

/// The kind of a child queued behind the limit: its node records how it ended.
pub(super) struct RecordedInside;

impl ChildKind for RecordedInside {
    const RECORDS: bool = false;
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

/// The group's index when the child's accounting is done (never handed out by `index`).
const ENDED: u32 = u32::MAX;

// A child is `Send` whatever its group reference: the raw count it holds stands for an
// `Arc<Shared>`, which is `Send` only because `Shared` is `Send + Sync`.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Shared>();
};

/// Ends a child's accounting however it ends: completion, abort, panic or runtime shutdown.
/// Besides a named child's name it is eight bytes, so that a small child fits tokio's smallest
/// task cell: the group by its index, whose strong count the child holds (the `Arc`'s, kept
/// as a raw count), and the child's waker slot.
pub(super) struct ChildGuard<N: ChildKind> {
    /// The group's index (see `index`) while the child's future is alive; `ENDED` once the
    /// child has ended in a poll, its future dropped, its accounting done and its count of
    /// the group given back.
    group: u32,
    /// Its index among the group's waiting children, or `NO_SLOT`.
    slot: u32,
    name: N,
}

impl<N: ChildKind> ChildGuard<N> {
    fn is_alive(&self) -> bool {
        self.group != ENDED
    }

    /// The group's address, while the child is alive.
    fn address(&self) -> *const Shared {
        debug_assert!(self.is_alive());
        // SAFETY: the child holds a strong count of its group until it sets `ENDED`, so the
        // index is taken, and names the group.
        unsafe { index::address(self.group) }
    }

    /// The group, while the child is alive.
    fn shared(&self) -> &Shared {
        // SAFETY: the child's strong count keeps the group alive at that address for as long
        // as `self` is borrowed.
        unsafe { &*self.address() }
    }

    /// The child's count of its group, taken out for the last time: the child is ended.
    fn take(&mut self) -> Option<Arc<Shared>> {
        if !self.is_alive() {
            return None;
        }
        // SAFETY: the address came from `Arc::as_ptr` of the group, whose count the child
        // took with `Arc::into_raw` (see `Child::new`); it is given back once, since the
        // child is marked ended before anything else runs (the poll's lent `Arc` is turned
        // back into the count before the poll returns).
        let shared = unsafe { Arc::from_raw(self.address()) };
        self.group = ENDED;
        Some(shared)
    }
}

/// The end of a child's accounting: its waker forgotten, its limit slot and its unit of the
/// group's count given back.
fn end<N: ChildKind>(shared: &Arc<Shared>, slot: u32) {
    // After an abort the wakers were taken; a child registered later stays until the group is
    // dropped, which is soon: no lock per cancelled child.
    if slot != NO_SLOT && !shared.is_aborted() {
        shared.waiting.remove(slot);
    }
    // Every child a limited group starts itself holds one of its running slots; a queued
    // child's slot is its `HoldsSlot`'s.
    if N::RECORDS && shared.limiter.is_some() {
        shared.free_slot();
    }
    shared.release();
}

impl<N: ChildKind> Drop for ChildGuard<N> {
    fn drop(&mut self) {
        let slot = self.slot;
        if let Some(shared) = self.take() {
            end::<N>(&shared, slot);
        }
    }
}

pin_project_lite::pin_project! {
    /// A child on the runtime: the user's future, the group's index and the child's waker
    /// slot (plus the name of a named child), so that a future of up to 16 bytes fits tokio's
    /// smallest task cell. Its output is the task's result, which tokio keeps for the handle.
    /// The future is dropped by the child itself, as soon as it ends, so that a panic in its
    /// destructor is the child's panic, in the group and in the handle alike.
    pub(super) struct Child<F, N>
    where
        N: ChildKind,
    {
        // Alive exactly while the guard is (its group not `ENDED`).
        #[pin]
        future: InPlace<F>,
        guard: ChildGuard<N>,
    }

    impl<F, N> PinnedDrop for Child<F, N>
    where
        N: ChildKind,
    {
        fn drop(this: Pin<&mut Self>) {
            // Reached with the future still there when tokio drops an unfinished child: an
            // abort (from its handle, or the group's seen at a poll), or the runtime shutting
            // down. A child that ended in a poll has dropped its future already. The guard,
            // dropped after this, ends the accounting.
            let this = this.project();
            if !this.guard.is_alive() {
                return;
            }
            let shared = this.guard.shared();
            // Not its group's abort: its handle's cancel or the runtime (for the handle).
            if N::RECORDS && (N::SHIELDED || !shared.is_aborted()) {
                shared.waiting.dropped_unfinished(tokio::task::try_id());
            }
            // SAFETY: alive (the guard is), and the child is being dropped: never polled again.
            if let Err(payload) = drop_in_place(this.future) {
                let panic = Ending::<()>::panicked(&*payload);
                let _ = conclude(shared, panic, this.guard.name.name(), tokio::task::try_id);
                // Tokio catches it: the handle reads the panic, as the group does.
                if !std::thread::panicking() {
                    resume_unwind(payload);
                }
            }
        }
    }
}

/// Drops a child's future in place; the payload if its destructor panicked.
fn drop_in_place<F>(future: Pin<&mut InPlace<F>>) -> Result<(), Box<dyn Any + Send>> {
    // SAFETY: each caller drops an alive future once and never polls it again (see the
    // callers: the guard is marked ended, or the child dropped, right after).
    catch_unwind(AssertUnwindSafe(|| unsafe { future.drop_in_place() }))
}

impl<F, N: ChildKind> Child<F, N> {
    pub(super) fn new(future: F, shared: Arc<Shared>, name: N) -> Self {
        let group = shared.index();
        // The child's strong count, kept raw: given back by the guard (see `ChildGuard`).
        let _ = Arc::into_raw(shared);
        Child {
            future: InPlace::new(future),
            guard: ChildGuard {
                group,
                slot: NO_SLOT,
                name,
            },
        }
    }
}

/// A queued child is read in line through its node (see `limit`).
impl<F: InLine, N: ChildKind> InLine for Child<F, N> {
    fn name(&self) -> Option<&Arc<str>> {
        self.alive().and_then(InLine::name)
    }
    fn cancel_requested(&self) -> bool {
        self.alive().is_some_and(InLine::cancel_requested)
    }
    fn key(&self) -> usize {
        self.alive().map_or(0, InLine::key)
    }
}

impl<F, N: ChildKind> Child<F, N> {
    /// The future, while it is alive.
    fn alive(&self) -> Option<&F> {
        // SAFETY: alive while the guard is.
        self.guard.is_alive().then(|| unsafe { self.future.get() })
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
        if !guard.is_alive() {
            return Poll::Ready(Err(None));
        }
        let address = guard.address();
        // SAFETY: alive, so the group is (see `ChildGuard::shared`), for the whole poll.
        let shared = unsafe { &*address };
        if !N::SHIELDED && shared.is_aborted() {
            // Tokio reads a cancellation and drops the child, whose `Drop` drops the future: a
            // panic in its destructor is then the child's, in the group and in the handle.
            return Poll::Ready(Err(None));
        }
        // Groups created while this child is polled are nested in its group: the child's
        // count is lent to the thread for the poll, and kept again after.
        // SAFETY: the child's own count (see `ChildGuard::take`), as an `Arc` for the poll
        // only: turned back into the count below, before anything else can take it.
        let mut lent = Some(unsafe { Arc::from_raw(address) });
        let lend = Lend::new(&mut lent);
        // SAFETY: alive (the guard is); dropped only below, once.
        let polled = catch_unwind(AssertUnwindSafe(|| unsafe {
            this.future.as_mut().poll(cx)
        }));
        drop(lend);
        if let Some(lent) = lent {
            let kept = Arc::into_raw(lent);
            debug_assert!(std::ptr::eq(kept, address));
        }
        let ending = match polled {
            Ok(Poll::Pending) => {
                // A shield is not woken by an abort: its waker need not be known.
                if !N::SHIELDED {
                    register(guard, shared, cx);
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => Ending::of(output),
            Err(payload) => Ending::panicked(&*payload),
        };
        // Drop the future before recording the ending: a panic in its destructor is the
        // child's panic (the first panic wins). The guard is marked ended right after.
        let ending = ending.after(drop_in_place(this.future.as_mut()));
        let Some(shared) = guard.take() else {
            return Poll::Ready(Err(None));
        };
        let result =
            match ending {
                // A queued child's success is its node's to record.
                Ending::Value(value) if !N::RECORDS => Ok(value),
                ending => conclude(&shared, ending, guard.name.name(), tokio::task::try_id)
                    .map_err(|error| match error {
                        TaskError::Cancelled => None,
                        error => Some(Box::new(error)),
                    }),
            };
        end::<N>(&shared, guard.slot);
        Poll::Ready(result)
    }
}

/// A child whose poll returned `Pending` for the first time makes its waker known to the
/// group, so that a cancellation can wake it (once: a tokio task's waker stays valid). In a
/// group that watches for stalls, a later `Pending` records the poll.
fn register<N: ChildKind>(guard: &mut ChildGuard<N>, shared: &Shared, cx: &Context<'_>) {
    let watch = shared.config.stall.is_some();
    if guard.slot != NO_SLOT {
        if watch {
            shared.waiting.touch(guard.slot);
        }
        return;
    }
    let slot = shared
        .waiting
        .register(cx.waker(), guard.name.name(), watch);
    // An abort that came before the registration did not see this waker.
    if shared.is_aborted() {
        cx.waker().wake_by_ref();
    }
    guard.slot = slot;
}

#[cfg(test)]
mod tests;
