//! The concurrency limit: at most `limit` children of a group run at once, spawned and local
//! alike; the others wait in spawn order, unpolled.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

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
    /// A shielded child: it keeps its place when the group stops (see `shield`).
    Shielded(Q),
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
            Some(Waiter::Spawned(next) | Waiter::Shielded(next)) => Freed::Start(next),
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

    /// Everyone waiting, for dropping outside the lock; with `keep_shields`, shielded children
    /// keep their places.
    pub(super) fn take_queue(&mut self, keep_shields: bool) -> VecDeque<Waiter<Q>> {
        let queue = std::mem::take(&mut self.queue);
        if !keep_shields {
            return queue;
        }
        let (kept, taken) = queue
            .into_iter()
            .partition(|waiter| matches!(waiter, Waiter::Shielded(_)));
        self.queue = kept;
        taken
    }

    /// The limit itself, and how many children wait for a slot (for snapshots).
    pub(super) fn shape(&self) -> (usize, usize) {
        (self.limit, self.queue.len())
    }

    pub(super) fn running(&self) -> usize {
        self.running
    }
}
