//! [`Waiting`]: the wakers of a group's waiting children, so that a cancellation can wake
//! them: a slab a child enters at its first `Pending` and leaves, by the index it keeps, when it
//! ends (a keyed map was measured slower for children that wait, and for fail-fast).
//!
//! Beside them, what the group learns of its children off the spawn path: how many local
//! children wait, the `start()` children not ready yet, and why a spawned child was stopped
//! apart from its group (its handle's cancel, the runtime shutting down), for its handle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use tokio::task::Id;
use tokio::time::Instant;

use super::chunked_slab::ChunkedSlab;

/// A child's index among the waiting, or none yet.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// A waiting child: its waker and id, and what a snapshot shows of it beyond those, kept only
/// for a named child or in a group that watches for stalls (otherwise no clock read, no
/// allocation).
struct Entry {
    waker: Waker,
    id: Option<Id>,
    seen: Option<Box<Seen>>,
}

struct Seen {
    name: Option<Arc<str>>,
    /// When it first waited and when it was last polled; `None` unless the group watches.
    since: Option<Instant>,
    polled: Option<Instant>,
    /// Reported stalled already (once per child).
    stalled: bool,
}

/// A waiting child as a snapshot shows it.
pub(super) struct WaitingChild {
    pub(super) id: Option<Id>,
    pub(super) name: Option<Arc<str>>,
    pub(super) since: Option<Instant>,
    pub(super) polled: Option<Instant>,
    pub(super) stalled: bool,
}

impl WaitingChild {
    fn of(entry: &Entry) -> Self {
        let seen = entry.seen.as_deref();
        WaitingChild {
            id: entry.id,
            name: seen.and_then(|seen| seen.name.clone()),
            since: seen.and_then(|seen| seen.since),
            polled: seen.and_then(|seen| seen.polled),
            stalled: seen.is_some_and(|seen| seen.stalled),
        }
    }
}

type Slab = ChunkedSlab<Entry>;

/// The waiting children's wakers, and what snapshots and handles read beside them.
#[derive(Default)]
pub(super) struct Waiting {
    slab: Mutex<Slab>,
    /// Local children that have waited and not ended. Written by the scope alone (it polls
    /// and drops them), so a load and a store, not a locked add; read by snapshots.
    locals: AtomicUsize,
    /// `start()` children that have not signalled readiness.
    starts: Mutex<Starts>,
    /// Why a spawned child was cancelled through its handle, by task id, for that handle.
    reasons: Mutex<Reasons>,
    /// `reasons.len()`, so that a child's drop need not lock an empty map.
    reasons_kept: AtomicUsize,
    /// Tokio dropped a child unfinished that neither the group nor its handle had stopped:
    /// its runtime shut down.
    runtime_shut_down: AtomicBool,
}

/// Handles' reasons a group keeps, at most, beyond those of children still running. A handle
/// has no destructor (one measured 1.5% slower spawn and join, and forgetting the reason when
/// the result is taken made the join path longer too), so a reason goes only when newer ones
/// push it out, oldest first, once its child is gone; or with the group.
pub(super) const REASONS_KEPT: usize = 1024;

/// The reasons kept for handles, and how many of their children are gone.
#[derive(Default)]
struct Reasons {
    by_id: BTreeMap<Id, HandleReason>,
    gone: usize,
}

/// A reason kept for a handle.
struct HandleReason {
    reason: Option<Arc<str>>,
    child_gone: bool,
}

#[derive(Default)]
struct Starts {
    next: u64,
    entries: Vec<(u64, Starting)>,
}

/// A `start()` child not ready yet, as a snapshot shows it.
#[derive(Clone)]
pub(super) struct Starting {
    pub(super) id: Option<Id>,
    /// Its handle's cell, when it was queued behind the limit (see `Task::cell_key`).
    pub(super) key: Option<usize>,
    pub(super) since: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Waiting {
    /// Stores a child's waker at its first `Pending`, and gives its index; with `watch` (the
    /// group watches for stalls) also when it first waited.
    pub(super) fn register(&self, waker: &Waker, name: Option<&Arc<str>>, watch: bool) -> u32 {
        let now = watch.then(Instant::now);
        let seen = (watch || name.is_some()).then(|| {
            Box::new(Seen {
                name: name.cloned(),
                since: now,
                polled: now,
                stalled: false,
            })
        });
        let entry = Entry {
            waker: waker.clone(),
            id: tokio::task::try_id(),
            seen,
        };
        lock(&self.slab)
            .insert(entry)
            .expect("fewer than 2^32 - 1 children waiting in one group")
    }

    /// A watched child that waits again: when it was polled.
    pub(super) fn touch(&self, index: u32) {
        let now = Instant::now();
        let mut slab = lock(&self.slab);
        if let Some(entry) = slab.get_mut(index) {
            if let Some(seen) = entry.seen.as_deref_mut() {
                seen.polled = Some(now);
            }
        }
    }

    /// Forgets the child at `index`.
    pub(super) fn remove(&self, index: u32) {
        let removed = lock(&self.slab).remove(index);
        // The waker is dropped outside the lock.
        drop(removed);
    }

    /// Takes every stored waker out, leaving none.
    pub(super) fn take(&self) -> impl Iterator<Item = Waker> {
        let taken = std::mem::take(&mut *lock(&self.slab));
        taken.into_values().map(|entry| entry.waker)
    }

    /// The waiting children idle for `after` or more at `now` that were not reported yet,
    /// marked reported (only children timed by a watching group).
    pub(super) fn newly_stalled(&self, now: Instant, after: Duration) -> Vec<WaitingChild> {
        let mut slab = lock(&self.slab);
        let mut stalled = Vec::new();
        for entry in slab.iter_mut() {
            let Some(seen) = entry.seen.as_deref_mut() else {
                continue;
            };
            let Some(polled) = seen.polled else { continue };
            if !seen.stalled && now.saturating_duration_since(polled) >= after {
                seen.stalled = true;
                stalled.push(WaitingChild::of(entry));
            }
        }
        stalled.sort_by_key(|child| (child.since, child.id));
        stalled
    }

    /// The children waiting now, oldest first (when timed), then by id.
    pub(super) fn children(&self) -> Vec<WaitingChild> {
        let mut children: Vec<WaitingChild> =
            lock(&self.slab).iter().map(WaitingChild::of).collect();
        children.sort_by_key(|child| (child.since, child.id));
        children
    }

    /// A local child returned `Pending` for the first time (called by the scope's poll only).
    #[inline]
    pub(super) fn local_waits(&self) {
        let n = self.locals.load(Ordering::Relaxed);
        self.locals.store(n + 1, Ordering::Relaxed);
    }

    /// A local child that had waited ended (dropped by the scope only).
    #[inline]
    pub(super) fn local_ended(&self) {
        let n = self.locals.load(Ordering::Relaxed);
        self.locals.store(n.saturating_sub(1), Ordering::Relaxed);
    }

    /// Local children waiting now.
    pub(super) fn locals(&self) -> usize {
        self.locals.load(Ordering::Relaxed)
    }

    /// A `start()` child was spawned and is not ready yet; the token to forget it by.
    pub(super) fn starting(&self, id: Option<Id>, key: Option<usize>) -> u64 {
        let since = Instant::now();
        let mut starts = lock(&self.starts);
        let token = starts.next;
        starts.next += 1;
        starts.entries.push((token, Starting { id, key, since }));
        token
    }

    /// The `start()` child of `token` is ready, or its caller is gone.
    pub(super) fn started(&self, token: u64) {
        let mut starts = lock(&self.starts);
        if let Some(at) = starts.entries.iter().position(|(t, _)| *t == token) {
            starts.entries.swap_remove(at);
        }
    }

    /// The `start()` children not ready yet, oldest first.
    pub(super) fn starts(&self) -> Vec<Starting> {
        let mut starts: Vec<Starting> = lock(&self.starts)
            .entries
            .iter()
            .map(|(_, start)| start.clone())
            .collect();
        starts.sort_by_key(|start| start.since);
        starts
    }

    /// The handle of child `id` cancels it, for `reason`: kept before the abort, so that the
    /// child's drop knows it was not the runtime. The first reason wins.
    pub(super) fn handle_cancelled(&self, id: Id, reason: Option<Arc<str>>) {
        let mut reasons = lock(&self.reasons);
        reasons.by_id.entry(id).or_insert(HandleReason {
            reason,
            child_gone: false,
        });
        self.kept(reasons.by_id.len());
    }

    /// Tokio dropped child `id` unfinished, and not for its group's abort: its handle
    /// cancelled it (kept already), or the runtime shut down.
    pub(super) fn dropped_unfinished(&self, id: Option<Id>) {
        if self.keeps_reasons() {
            let mut guard = lock(&self.reasons);
            let reasons = &mut *guard;
            if let Some(entry) = id.and_then(|id| reasons.by_id.get_mut(&id)) {
                if !entry.child_gone {
                    entry.child_gone = true;
                    reasons.gone += 1;
                }
                if reasons.gone > REASONS_KEPT {
                    // The oldest (task ids grow) of those whose child is gone: a running
                    // child's entry tells its drop that the handle stopped it. One pass per
                    // `REASONS_KEPT / 2` ended children.
                    let evict = reasons.gone - REASONS_KEPT / 2;
                    let old: Vec<Id> = (reasons.by_id.iter())
                        .filter(|(_, entry)| entry.child_gone)
                        .map(|(id, _)| *id)
                        .take(evict)
                        .collect();
                    for id in old {
                        reasons.by_id.remove(&id);
                    }
                    reasons.gone -= evict;
                }
                self.kept(reasons.by_id.len());
                return;
            }
        }
        self.runtime_shut_down.store(true, Ordering::Relaxed);
    }

    /// Whether the runtime of one of its children shut down, dropping it unfinished.
    pub(super) fn runtime_shut_down(&self) -> bool {
        self.runtime_shut_down.load(Ordering::Relaxed)
    }

    /// Why the handle of child `id` cancelled it, if it did: `Some(reason)`.
    pub(super) fn handle_reason(&self, id: Id) -> Option<Option<Arc<str>>> {
        if !self.keeps_reasons() {
            return None;
        }
        lock(&self.reasons)
            .by_id
            .get(&id)
            .map(|entry| entry.reason.clone())
    }

    /// How many handles' reasons are kept.
    #[cfg(test)]
    pub(super) fn reasons_kept(&self) -> usize {
        lock(&self.reasons).by_id.len()
    }

    fn keeps_reasons(&self) -> bool {
        self.reasons_kept.load(Ordering::Relaxed) != 0
    }

    fn kept(&self, len: usize) {
        self.reasons_kept.store(len, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::REASONS_KEPT;
    use crate::TaskError;

    #[test]
    fn a_group_keeps_a_bounded_number_of_handle_reasons_once_their_children_are_gone() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let tg = crate::TaskGroup::new();
        let kept = || tg.shared.waiting.reasons_kept();
        runtime.block_on(async {
            let first = tg.spawn(std::future::pending::<()>());
            first.cancel_with("first");
            tokio::task::yield_now().await;
            assert_eq!(kept(), 1);
            assert!(first.cancel_reason().is_some());
            assert_eq!(first.result(), Err(TaskError::Cancelled));
            // Read or dropped unread, a handle's reason is kept, but never more than the bound
            // once the children are gone (a handle has no destructor to forget it).
            for _ in 0..REASONS_KEPT * 3 {
                tg.spawn(std::future::pending::<()>())
                    .cancel_with("dropped unread");
                tokio::task::yield_now().await;
            }
            assert!(kept() <= REASONS_KEPT, "{} kept", kept());
            assert!(kept() >= REASONS_KEPT / 2, "{} kept", kept());
            // A running child keeps its entry: its drop must see that its handle stopped it.
            let running: Vec<_> = (0..REASONS_KEPT + 1)
                .map(|_| tg.spawn(std::future::pending::<()>()))
                .collect();
            for task in &running {
                task.cancel();
            }
            assert!(kept() > REASONS_KEPT);
            // Once they are gone, theirs are pushed out in turn (in passes, not per cancel).
            while running.iter().any(|task| !task.is_finished()) {
                tokio::task::yield_now().await;
            }
            assert!(kept() <= REASONS_KEPT, "{} kept", kept());
            assert!(!tg.shared.waiting.runtime_shut_down());
        });
    }
}
