//! Groups by a 32-bit index, so that a child names its group in four bytes and keeps its
//! waker's slot in the other four: a small child then fits tokio's smallest task cell.
//!
//! A group takes an index at its first spawn and gives it back when it is dropped. The index
//! leads to the group's address through segments that are made once and never freed nor moved
//! (segment `k` holds `32 << k` entries), so reading it takes no lock: two loads. Only taking
//! and giving back an index locks.
#![allow(unsafe_code)]

use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::shared::{Shared, lock};

/// Entries in the first segment; segment `k` holds `FIRST << k`.
const FIRST: usize = 32;
/// Enough segments for every `u32` index.
const SEGMENTS: usize = 28;

struct Free {
    /// The next index never handed out.
    next: u32,
    /// Indices given back, to hand out again.
    free: Vec<u32>,
}

static FREE: Mutex<Free> = Mutex::new(Free {
    next: 0,
    free: Vec::new(),
});

/// Segment `k`, once made: `FIRST << k` entries, each a group's address or null.
static TABLE: [AtomicPtr<AtomicPtr<Shared>>; SEGMENTS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; SEGMENTS];

/// The segment of `index`, and the place in it.
#[inline]
fn place(index: u32) -> (usize, usize) {
    let at = index as usize + FIRST;
    let segment = (usize::BITS - 1 - at.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (segment, at - (FIRST << segment))
}

/// Gives `group`, alive at that address until [`release`] is called for the index returned,
/// an index. `None` only once every `u32` index is in use.
pub(super) fn take(group: *const Shared) -> Option<u32> {
    let mut free = lock(&FREE);
    let index = match free.free.pop() {
        Some(index) => index,
        None => {
            let index = free.next;
            let (segment, _) = place(index);
            if segment >= SEGMENTS {
                return None;
            }
            free.next = index.checked_add(1)?;
            if TABLE[segment].load(Ordering::Acquire).is_null() {
                let entries: Box<[AtomicPtr<Shared>]> = (0..FIRST << segment)
                    .map(|_| AtomicPtr::new(ptr::null_mut()))
                    .collect();
                // Never freed: the segments stay for the process's life, so an entry's
                // address never dangles. Their size is bounded by the most groups alive at
                // once.
                let entries = Box::leak(entries).as_mut_ptr();
                TABLE[segment].store(entries, Ordering::Release);
            }
            index
        }
    };
    let (segment, at) = place(index);
    let entries = TABLE[segment].load(Ordering::Acquire);
    // SAFETY: the segment was made with `FIRST << segment` entries and is never freed.
    unsafe { &*entries.add(at) }.store(group.cast_mut(), Ordering::Release);
    Some(index)
}

/// The group at `index` is being dropped: its index may be handed out again.
pub(super) fn release(index: u32) {
    let (segment, at) = place(index);
    let entries = TABLE[segment].load(Ordering::Acquire);
    if entries.is_null() {
        return;
    }
    // SAFETY: as in `take`.
    unsafe { &*entries.add(at) }.store(ptr::null_mut(), Ordering::Release);
    lock(&FREE).free.push(index);
}

/// The address of the group at `index`.
///
/// # Safety
/// `index` was given by [`take`] and not released: the caller holds a strong count of the
/// group it names (a child's), which keeps the group, and so its index, alive.
#[inline]
pub(super) unsafe fn address(index: u32) -> *const Shared {
    let (segment, at) = place(index);
    // SAFETY: the caller's index was taken, so its segment exists (made before the index was
    // handed out, and published with `Release` before the group could spawn).
    unsafe {
        let entries = TABLE[segment].load(Ordering::Acquire);
        (*entries.add(at)).load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri too: `cargo +nightly miri test -p taskgroup-core --lib group::index`.
    use super::place;

    #[test]
    fn places_cover_every_index_once_in_growing_segments() {
        assert_eq!(place(0), (0, 0));
        assert_eq!(place(31), (0, 31));
        assert_eq!(place(32), (1, 0));
        assert_eq!(place(95), (1, 63));
        assert_eq!(place(96), (2, 0));
        let (segment, at) = place(u32::MAX);
        assert!(segment < super::SEGMENTS, "{segment}");
        assert!(at < super::FIRST << segment);
        let mut expected = (0, 0);
        for index in 0..10_000 {
            assert_eq!(place(index), expected, "{index}");
            expected.1 += 1;
            if expected.1 == super::FIRST << expected.0 {
                expected = (expected.0 + 1, 0);
            }
        }
    }
}
