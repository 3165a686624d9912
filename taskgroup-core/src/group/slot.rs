//! A slot of the limit changing hands: a child holding one, freeing it, and the next waiter
//! starting.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::limit::{Freed, QueuedFuture};
use super::shared::{Shared, lock};
use crate::task_output::Outcome;

thread_local! {
    /// Groups whose slot was freed while this thread was already freeing one (see
    /// [`Shared::free_slot`]); `None` when no call is under way.
    static FREEING: RefCell<Option<Vec<Arc<Shared>>>> = const { RefCell::new(None) };
    /// This thread is dropping a limit's line: the children dropped never started, so the
    /// task running here is not theirs.
    static DROPPING_LINE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the child being dropped on this thread is one from a limit's line, never started.
pub(super) fn dropping_line() -> bool {
    DROPPING_LINE.try_with(Cell::get).unwrap_or(false)
}

/// Marks the thread as dropping a limit's line until dropped (nested marks restore the outer).
struct LineMark(bool);

impl LineMark {
    fn new() -> Self {
        LineMark(DROPPING_LINE.try_with(|d| d.replace(true)).unwrap_or(false))
    }
}

impl Drop for LineMark {
    fn drop(&mut self) {
        let _ = DROPPING_LINE.try_with(|d| d.set(self.0));
    }
}

impl Shared {
    /// Drops the children queued behind the limit, each on its own: a destructor's panic is a
    /// [`TaskPanic`](crate::TaskPanic) leaf and the rest are still dropped. Their handles
    /// resolve as cancelled. Shielded children stay in line unless the scope is gone.
    pub(super) fn drop_queue(&self) {
        let Some(limiter) = &self.limiter else { return };
        let keep_shields = !self.is_abandoned();
        let mut queued = lock(limiter).take_queue(keep_shields).into_iter();
        let _mark = LineMark::new();
        // One `catch_unwind` for the whole line; after a panic, the rest are still dropped.
        while let Err(payload) = catch_unwind(AssertUnwindSafe(|| queued.by_ref().for_each(drop))) {
            self.record_panic(&*payload);
        }
    }

    /// A child that held one of the limit's slots ended: start the next waiting one.
    ///
    /// A runtime that is shutting down drops what it is given to spawn at once, which frees
    /// the slot again from inside this call: such nested calls are queued on the thread and
    /// run by the outermost one, so that a long queue does not recurse.
    pub(super) fn free_slot(self: &Arc<Self>) {
        /// Ends the outermost call's turn, also if a dropped future panics.
        struct Done;
        impl Drop for Done {
            fn drop(&mut self) {
                let _ = FREEING.try_with(|freeing| freeing.borrow_mut().take());
            }
        }
        let nested = FREEING
            .try_with(|freeing| {
                let mut freeing = freeing.borrow_mut();
                match &mut *freeing {
                    Some(later) => {
                        later.push(Arc::clone(self));
                        true
                    }
                    None => {
                        *freeing = Some(Vec::new());
                        false
                    }
                }
            })
            .unwrap_or(false);
        if nested {
            return;
        }
        let _done = Done;
        let mut next = Some(Arc::clone(self));
        while let Some(group) = next {
            group.pass_slot();
            next = FREEING
                .try_with(|freeing| freeing.borrow_mut().as_mut().and_then(Vec::pop))
                .ok()
                .flatten();
        }
    }

    fn pass_slot(self: &Arc<Self>) {
        let Some(limiter) = &self.limiter else { return };
        if self.load().is_refusing() {
            // A spawn that raced the stop may have queued after the queue was dropped.
            self.drop_queue();
        }
        let freed = lock(limiter).free();
        match freed {
            // A cancel requested while it was queued is seen at its first poll.
            Freed::Start(next) => drop(next.runtime.spawn(HoldsSlot {
                child: next.future,
                _slot: SlotGuard(Arc::clone(self)),
            })),
            Freed::GrantedLocal => self.wake_scope(),
            Freed::Idle => {}
        }
    }

    /// The number of local children granted a slot since the scope last asked.
    pub(super) fn take_local_grants(&self) -> usize {
        self.limiter
            .as_ref()
            .map_or(0, |limiter| lock(limiter).take_local_grants())
    }
}

pin_project_lite::pin_project! {
    /// A child holding one of the limit's slots until it is dropped.
    pub(super) struct HoldsSlot {
        #[pin]
        pub(super) child: QueuedFuture,
        // Dropped after the child (whose unit of the count is released first): harmless,
        // since waiting children hold units of their own, so nobody waits once the count is
        // zero.
        pub(super) _slot: SlotGuard,
    }
}

/// Frees a slot of the limit when dropped.
pub(super) struct SlotGuard(pub(super) Arc<Shared>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.free_slot();
    }
}

impl Future for HoldsSlot {
    type Output = Outcome<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<()>> {
        self.project().child.poll(cx)
    }
}
