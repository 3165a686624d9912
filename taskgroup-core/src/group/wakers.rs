//! [`Waiting`]: the wakers of a group's waiting children, so that a cancellation can wake
//! them, keyed by tokio task id so that a child carries no index of its own (a small child
//! then fits tokio's smallest task cell).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use tokio::task::Id;

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
    wakers: Mutex<HashMap<Id, Waker, BuildHasherDefault<IdHasher>>>,
    len: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Waiting {
    /// Stores the waker of task `id` unless one that wakes the same task is there.
    pub(super) fn register(&self, id: Id, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        match wakers.get(&id) {
            Some(known) if known.will_wake(waker) => {}
            _ => {
                wakers.insert(id, waker.clone());
                self.len.store(wakers.len(), Ordering::Relaxed);
            }
        }
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
        taken.into_values()
    }
}
