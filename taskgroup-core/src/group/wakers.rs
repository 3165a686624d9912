//! [`Waiting`]: the wakers of a group's waiting children, so that a cancellation can wake
//! them: a slab a child enters at its first `Pending` and leaves, by the index it keeps, when it
//! ends (a keyed map was measured slower for children that wait, and for fail-fast).

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use tokio::task::Id;
use tokio::time::Instant;

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

/// The waiting children's wakers.
#[derive(Default)]
pub(super) struct Waiting {
    slab: Mutex<Slab>,
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
}
