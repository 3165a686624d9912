//! [`Waiting`]: the wakers of a group's waiting children, so that a cancellation can wake
//! them, keyed by tokio task id so that a child carries no index of its own (a small child
//! then fits tokio's smallest task cell).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use tokio::task::Id;
use tokio::time::Instant;

/// Tokio's task ids are distinct integers: a multiplication spreads them, no need for SipHash.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The waiting children's wakers. A child's waker is stored at its first `Pending` (a tokio
/// task's waker stays valid for the task's life, so once is enough) and removed when the child
/// ends; `len` mirrors the map's size so that a child that never waited ends without the lock.
#[derive(Default)]
pub(super) struct Waiting {
    wakers: Mutex<HashMap<Id, Entry, BuildHasherDefault<IdHasher>>>,
    len: AtomicUsize,
}

/// A waiting child: its waker, and for snapshots its name and since when it waits.
struct Entry {
    waker: Waker,
    name: Option<Arc<str>>,
    since: Instant,
    /// Its latest `Pending` poll, kept only when the group watches for stalls.
    polled: Instant,
    /// Reported stalled already (once per child).
    stalled: bool,
}

/// A waiting child as a snapshot shows it.
pub(super) struct WaitingChild {
    pub(super) id: Id,
    pub(super) name: Option<Arc<str>>,
    pub(super) since: Instant,
    pub(super) polled: Instant,
    pub(super) stalled: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Waiting {
    /// Stores the waker of task `id` unless one that wakes the same task is there; with
    /// `watch` (the group watches for stalls), also when it was polled.
    pub(super) fn register(&self, id: Id, waker: &Waker, name: Option<&Arc<str>>, watch: bool) {
        let mut wakers = lock(&self.wakers);
        match wakers.get_mut(&id) {
            Some(known) => {
                if !known.waker.will_wake(waker) {
                    known.waker = waker.clone();
                }
                if watch {
                    known.polled = Instant::now();
                }
            }
            None => {
                let now = Instant::now();
                let entry = Entry {
                    waker: waker.clone(),
                    name: name.cloned(),
                    since: now,
                    polled: now,
                    stalled: false,
                };
                wakers.insert(id, entry);
                self.len.store(wakers.len(), Ordering::Relaxed);
            }
        }
    }

    /// The waiting children idle for `after` or more at `now` that were not reported yet,
    /// marked reported.
    pub(super) fn newly_stalled(&self, now: Instant, after: Duration) -> Vec<WaitingChild> {
        let mut wakers = lock(&self.wakers);
        let mut stalled = Vec::new();
        for (id, entry) in wakers.iter_mut() {
            if !entry.stalled && now.saturating_duration_since(entry.polled) >= after {
                entry.stalled = true;
                stalled.push(WaitingChild {
                    id: *id,
                    name: entry.name.clone(),
                    since: entry.since,
                    polled: entry.polled,
                    stalled: true,
                });
            }
        }
        stalled.sort_by_key(|child| (child.since, child.id));
        stalled
    }

    /// The children waiting now, oldest first.
    pub(super) fn children(&self) -> Vec<WaitingChild> {
        let mut children: Vec<WaitingChild> = lock(&self.wakers)
            .iter()
            .map(|(id, entry)| WaitingChild {
                id: *id,
                name: entry.name.clone(),
                since: entry.since,
                polled: entry.polled,
                stalled: entry.stalled,
            })
            .collect();
        children.sort_by_key(|child| (child.since, child.id));
        children
    }

    /// Forgets task `id`'s waker; no lock when no child waits. A child that stored its
    /// waker sees the count it raised itself.
    pub(super) fn remove(&self, id: Id) {
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut wakers = lock(&self.wakers);
        if wakers.remove(&id).is_some() {
            self.len.store(wakers.len(), Ordering::Relaxed);
        }
    }

    /// Takes every stored waker out, leaving none.
    pub(super) fn take(&self) -> impl Iterator<Item = Waker> {
        let taken = std::mem::take(&mut *lock(&self.wakers));
        self.len.store(0, Ordering::Relaxed);
        taken.into_values().map(|entry| entry.waker)
    }
}
