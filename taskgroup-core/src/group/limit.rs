//! The concurrency limit: at most `limit` children of a group run at once, spawned and local
//! alike; the others wait in spawn order, unpolled.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;

use super::child::{Child, RecordedInside};
use super::local_node::{LocalChild, Run};
use super::shield::Shielding;
use crate::task_output::Outcome;

/// What a snapshot reads of a spawned child in line, through the queued future itself (its
/// name, its handle's cancel request, its cell): nothing is stored for it on the spawn path.
pub(super) trait InLine {
    fn name(&self) -> Option<&Arc<str>>;
    fn cancel_requested(&self) -> bool;
    /// Its handle's cell (see `cell::key`).
    fn key(&self) -> usize;
}

#[cfg(feature = "tracing")]
impl<C: InLine> InLine for tracing::instrument::Instrumented<C> {
    fn name(&self) -> Option<&Arc<str>> {
        self.inner().name()
    }
    fn cancel_requested(&self) -> bool {
        self.inner().cancel_requested()
    }
    fn key(&self) -> usize {
        self.inner().key()
    }
}

/// A spawned child in line: the one reference to its node (the handle's cell and the child,
/// one allocation) that polls the child, held inside the [`Child`] that keeps its unit of the
/// group's count.
pub(super) type QueuedNode = LocalChild<dyn Run + Send + Sync>;

/// A child with its span, under the `tracing` feature.
#[cfg(feature = "tracing")]
pub(super) type Traced<C> = tracing::instrument::Instrumented<C>;
/// A child with its span, under the `tracing` feature.
#[cfg(not(feature = "tracing"))]
pub(super) type Traced<C> = C;

pin_project_lite::pin_project! {
    /// The future of a spawned child in line: not boxed, so that a queued child is two
    /// allocations once started (its node and its tokio task), as a JoinSet's child is.
    #[project = QueuedProj]
    pub(super) enum QueuedFuture {
        Plain { #[pin] child: Traced<Child<QueuedNode, RecordedInside>> },
        Shielded { #[pin] child: Traced<Child<QueuedNode, Shielding<RecordedInside>>> },
    }
}

impl Future for QueuedFuture {
    type Output = Outcome<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<()>> {
        match self.project() {
            QueuedProj::Plain { child } => child.poll(cx),
            QueuedProj::Shielded { child } => child.poll(cx),
        }
    }
}

impl InLine for QueuedFuture {
    fn name(&self) -> Option<&Arc<str>> {
        match self {
            QueuedFuture::Plain { child } => child.name(),
            QueuedFuture::Shielded { child } => child.name(),
        }
    }
    fn cancel_requested(&self) -> bool {
        match self {
            QueuedFuture::Plain { child } => child.cancel_requested(),
            QueuedFuture::Shielded { child } => child.cancel_requested(),
        }
    }
    fn key(&self) -> usize {
        match self {
            QueuedFuture::Plain { child } => child.key(),
            QueuedFuture::Shielded { child } => child.key(),
        }
    }
}

/// A spawned child waiting for a slot: not on the runtime yet.
pub(super) struct Queued {
    pub(super) future: QueuedFuture,
    pub(super) runtime: tokio::runtime::Handle,
}

/// A child in line, as a snapshot shows it.
pub(super) struct InLineChild {
    /// 1 for the next to start.
    pub(super) place: usize,
    /// Local (its future is the group's), or spawned.
    pub(super) local: bool,
    /// Shielded: it keeps its place when the group stops.
    pub(super) shielded: bool,
    pub(super) name: Option<Arc<str>>,
    pub(super) cancel_requested: bool,
    pub(super) key: Option<usize>,
    /// Since when, in a group that watches for stalls.
    pub(super) since: Option<Instant>,
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
    /// The group watches for stalls: a waiter's arrival is timed (no clock read otherwise).
    timed: bool,
    /// When each waiter came, beside `queue` (as long as it once `timed`; empty otherwise, so
    /// that the line's entries stay small).
    arrivals: VecDeque<Option<Instant>>,
}

impl<Q> Limiter<Q> {
    pub(super) fn new(limit: usize) -> Self {
        Limiter {
            running: 0,
            limit,
            queue: VecDeque::new(),
            local_grants: 0,
            timed: false,
            arrivals: VecDeque::new(),
        }
    }

    /// Times the waiters from now on (a group that watches for stalls, when its scope starts).
    pub(super) fn time_arrivals(&mut self) {
        if !self.timed {
            self.timed = true;
            self.arrivals = self.queue.iter().map(|_| None).collect();
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

    #[inline]
    pub(super) fn enqueue(&mut self, waiter: Waiter<Q>) {
        self.queue.push_back(waiter);
        if self.timed {
            self.arrivals.push_back(Some(Instant::now()));
        }
    }

    /// A slot's holder ended: the slot passes to the oldest waiter, or becomes free.
    pub(super) fn free(&mut self) -> Freed<Q> {
        if self.timed {
            self.arrivals.pop_front();
        }
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
        let arrivals = std::mem::take(&mut self.arrivals);
        if !keep_shields {
            return queue;
        }
        let kept = |waiter: &Waiter<Q>| matches!(waiter, Waiter::Shielded(_));
        if self.timed {
            self.arrivals = queue
                .iter()
                .zip(arrivals)
                .filter(|(waiter, _)| kept(waiter))
                .map(|(_, since)| since)
                .collect();
        }
        let (kept, taken) = queue.into_iter().partition(kept);
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

impl Limiter {
    /// The children in line, next first (for snapshots, under the group's lock).
    pub(super) fn line(&self) -> Vec<InLineChild> {
        let arrivals = self.arrivals.iter().copied().chain(std::iter::repeat(None));
        self.queue
            .iter()
            .zip(arrivals)
            .enumerate()
            .map(|(at, (waiter, since))| {
                let (local, shielded, child) = match waiter {
                    Waiter::Spawned(queued) => (false, false, Some(&queued.future)),
                    Waiter::Shielded(queued) => (false, true, Some(&queued.future)),
                    Waiter::Local => (true, false, None),
                };
                InLineChild {
                    place: at + 1,
                    local,
                    shielded,
                    name: child.and_then(|child| child.name().cloned()),
                    cancel_requested: child.is_some_and(|child| child.cancel_requested()),
                    key: child.map(|child| child.key()),
                    since,
                }
            })
            .collect()
    }
}
