//! The concurrency limit: at most `limit` children of a group run at once, spawned and local
//! alike; the others wait in spawn order, unpolled.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::shared::{Shared, lock};
use crate::task_output::Outcome;

/// A spawned child waiting for a slot: not on the runtime yet.
pub(super) struct Queued {
    pub(super) future: Pin<Box<dyn Future<Output = Outcome<()>> + Send>>,
    pub(super) runtime: tokio::runtime::Handle,
}

/// A child waiting for a slot. A local child's future stays with its group (it may borrow and
/// need not be `Send`); the queue holds its place in line.
pub(super) enum Waiter<Q = Queued> {
    Spawned(Q),
    Local,
}

/// What the holder of a freed slot must do.
#[must_use]
pub(super) enum Freed<Q = Queued> {
    /// Start this spawned child: it has the slot now.
    Start(Q),
    /// The slot went to the oldest waiting local child: wake the scope to poll it.
    GrantedLocal,
    /// Nobody waits: the slot is free.
    Idle,
}

/// The slots and the line of waiting children. Pure bookkeeping under the group's lock (the
/// model tests drive it without a runtime).
pub(super) struct Limiter<Q = Queued> {
    running: usize,
    limit: usize,
    queue: VecDeque<Waiter<Q>>,
    /// Slots handed to local children that the scope has not started yet.
    local_grants: usize,
}

impl<Q> Limiter<Q> {
    pub(super) fn new(limit: usize) -> Self {
        Limiter {
            running: 0,
            limit,
            queue: VecDeque::new(),
            local_grants: 0,
        }
    }

    /// Takes a slot if one is free; otherwise the caller queues the child.
    pub(super) fn try_take(&mut self) -> bool {
        if self.running < self.limit {
            self.running += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn enqueue(&mut self, waiter: Waiter<Q>) {
        self.queue.push_back(waiter);
    }

    /// A slot's holder ended: the slot passes to the oldest waiter, or becomes free.
    pub(super) fn free(&mut self) -> Freed<Q> {
        match self.queue.pop_front() {
            Some(Waiter::Spawned(next)) => Freed::Start(next),
            Some(Waiter::Local) => {
                self.local_grants += 1;
                Freed::GrantedLocal
            }
            None => {
                self.running -= 1;
                Freed::Idle
            }
        }
    }

    /// The local children granted a slot since the last call, oldest first.
    pub(super) fn take_local_grants(&mut self) -> usize {
        std::mem::take(&mut self.local_grants)
    }

    /// Everyone waiting, for dropping outside the lock.
    pub(super) fn take_queue(&mut self) -> VecDeque<Waiter<Q>> {
        std::mem::take(&mut self.queue)
    }

    #[cfg(all(test, taskgroup_loom))]
    pub(super) fn running(&self) -> usize {
        self.running
    }
}

thread_local! {
    /// Groups whose slot was freed while this thread was already freeing one (see
    /// [`Shared::free_slot`]); `None` when no call is under way.
    static FREEING: RefCell<Option<Vec<Arc<Shared>>>> = const { RefCell::new(None) };
}

impl Shared {
    /// Drops the children queued behind the limit, each on its own: a destructor's panic is a
    /// [`TaskPanic`](crate::TaskPanic) leaf and the rest are still dropped. Their handles
    /// resolve as cancelled.
    pub(super) fn drop_queue(&self) {
        let Some(limiter) = &self.limiter else { return };
        let queued = lock(limiter).take_queue();
        for waiter in queued {
            self.guarded(|| drop(waiter));
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

/// A child holding one of the limit's slots until it is dropped.
pub(super) struct HoldsSlot<F: ?Sized> {
    pub(super) child: Pin<Box<F>>,
    // Dropped after the child (whose unit of the count is released first): harmless, since
    // waiting children hold units of their own, so nobody waits once the count is zero.
    pub(super) _slot: SlotGuard,
}

/// Frees a slot of the limit when dropped. (Nominally `pub`: it appears in the sealed
/// [`Locality`](super::Locality) trait; nothing outside the crate can name it.)
pub struct SlotGuard(pub(super) Arc<Shared>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.free_slot();
    }
}

impl<F: ?Sized + Future> Future for HoldsSlot<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.child.as_mut().poll(cx)
    }
}
