//! [`Waiting`]: the wakers of a group's waiting children, so that a cancellation can wake
//! them: a slab a child enters at its first `Pending` and leaves, by the index it keeps, when it
//! ends (a keyed map was measured slower for children that wait, and for fail-fast).
//!
//! Beside them, what the group learns of its children off the spawn path: how many local
//! children wait, the `start()` children not ready yet, and why a spawned child was stopped
//! apart from its group (its handle's cancel, the runtime shutting down), for its handle.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as MapEntry;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use tokio::task::Id;
use tokio::time::Instant;

use crate::cancel_reason::CancelReason;

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

#[derive(Default)]
struct Slab {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

/// The waiting children's wakers, and what snapshots and handles read beside them.
#[derive(Default)]
pub(super) struct Waiting {
    slab: Mutex<Slab>,
    /// Local children that have waited and not ended. Written by the scope alone (it polls
    /// and drops them), so a load and a store, not a locked add; read by snapshots.
    locals: AtomicUsize,
    /// `start()` children that have not signalled readiness.
    starts: Mutex<Starts>,
    /// Why a spawned child was stopped apart from its group, by task id, for its handle.
    reasons: Mutex<BTreeMap<Id, HandleReason>>,
    /// `reasons.len()`, so that a handle's drop need not lock an empty map.
    reasons_kept: AtomicUsize,
}

/// Set once any group keeps a handle's reason: until then a handle's drop loads only this.
static KEEPS_REASONS: AtomicBool = AtomicBool::new(false);

/// A reason kept for a handle, until both the handle and the child are gone.
struct HandleReason {
    reason: CancelReason,
    handle_gone: bool,
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
        let mut slab = lock(&self.slab);
        let index = match slab.free.pop() {
            Some(index) => {
                slab.entries[index] = Some(entry);
                index
            }
            None => {
                slab.entries.push(Some(entry));
                slab.entries.len() - 1
            }
        };
        u32::try_from(index)
            .ok()
            .filter(|&index| index < NO_SLOT)
            .expect("fewer than 2^32 - 1 children waiting in one group")
    }

    /// A watched child that waits again: when it was polled.
    pub(super) fn touch(&self, index: u32) {
        let now = Instant::now();
        let mut slab = lock(&self.slab);
        if let Some(Some(entry)) = slab.entries.get_mut(index as usize) {
            if let Some(seen) = entry.seen.as_deref_mut() {
                seen.polled = Some(now);
            }
        }
    }

    /// Forgets the child at `index`.
    pub(super) fn remove(&self, index: u32) {
        let mut slab = lock(&self.slab);
        let index = index as usize;
        if let Some(slot) = slab.entries.get_mut(index) {
            if slot.take().is_some() {
                slab.free.push(index);
            }
        }
    }

    /// Takes every stored waker out, leaving none.
    pub(super) fn take(&self) -> impl Iterator<Item = Waker> {
        let taken = std::mem::take(&mut *lock(&self.slab));
        taken.entries.into_iter().flatten().map(|entry| entry.waker)
    }

    /// The waiting children idle for `after` or more at `now` that were not reported yet,
    /// marked reported (only children timed by a watching group).
    pub(super) fn newly_stalled(&self, now: Instant, after: Duration) -> Vec<WaitingChild> {
        let mut slab = lock(&self.slab);
        let mut stalled = Vec::new();
        for entry in slab.entries.iter_mut().flatten() {
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
        let mut children: Vec<WaitingChild> = lock(&self.slab)
            .entries
            .iter()
            .flatten()
            .map(WaitingChild::of)
            .collect();
        children.sort_by_key(|child| (child.since, child.id));
        children
    }

    /// A local child returned `Pending` for the first time (called by the scope's poll only).
    pub(super) fn local_waits(&self) {
        let n = self.locals.load(Ordering::Relaxed);
        self.locals.store(n + 1, Ordering::Relaxed);
    }

    /// A local child that had waited ended (dropped by the scope only).
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
        reasons.entry(id).or_insert(HandleReason {
            reason: CancelReason::TaskCancelled { reason },
            handle_gone: false,
            child_gone: false,
        });
        self.kept(reasons.len());
    }

    /// Tokio dropped child `id` unfinished, and not for its group's abort: its handle
    /// cancelled it (kept already) or the runtime shut down (kept now).
    pub(super) fn dropped_unfinished(&self, id: Option<Id>) {
        let Some(id) = id else { return };
        let mut reasons = lock(&self.reasons);
        match reasons.entry(id) {
            MapEntry::Occupied(entry) if entry.get().handle_gone => {
                entry.remove();
            }
            MapEntry::Occupied(mut entry) => entry.get_mut().child_gone = true,
            MapEntry::Vacant(entry) => {
                entry.insert(HandleReason {
                    reason: CancelReason::RuntimeShutdown,
                    handle_gone: false,
                    child_gone: true,
                });
            }
        }
        self.kept(reasons.len());
    }

    /// The handle of child `id` is gone: its reason goes once the child is gone too.
    /// (`finished` covers a child that ended in a poll, which never reports its drop; one
    /// dropped in the instant before tokio marks it finished keeps its entry until the group
    /// is dropped.)
    #[inline]
    pub(super) fn handle_gone(&self, id: impl FnOnce() -> Id, finished: impl FnOnce() -> bool) {
        if !self.keeps_reasons() {
            return;
        }
        let id = id();
        let mut reasons = lock(&self.reasons);
        if let MapEntry::Occupied(mut entry) = reasons.entry(id) {
            if entry.get().child_gone || finished() {
                entry.remove();
            } else {
                entry.get_mut().handle_gone = true;
            }
        }
        self.kept(reasons.len());
    }

    /// Why child `id` was stopped apart from its group, if it was.
    pub(super) fn handle_reason(&self, id: Id) -> Option<CancelReason> {
        if !self.keeps_reasons() {
            return None;
        }
        lock(&self.reasons)
            .get(&id)
            .map(|entry| entry.reason.clone())
    }

    /// How many handles' reasons are kept.
    #[cfg(test)]
    pub(super) fn reasons_kept(&self) -> usize {
        lock(&self.reasons).len()
    }

    #[inline]
    fn keeps_reasons(&self) -> bool {
        KEEPS_REASONS.load(Ordering::Relaxed) && self.reasons_kept.load(Ordering::Relaxed) != 0
    }

    fn kept(&self, len: usize) {
        if len != 0 {
            KEEPS_REASONS.store(true, Ordering::Relaxed);
        }
        self.reasons_kept.store(len, Ordering::Relaxed);
    }
}
