//! A counting global allocator: the system allocator plus atomic counters, switched on only while
//! the memory scenario measures, so that timing scenarios pay one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// Size classes of 16 bytes; the last one holds every allocation of 1008 bytes or more.
pub const CLASSES: usize = 64;

pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BY_CLASS: [AtomicUsize; CLASSES] = [const { AtomicUsize::new(0) }; CLASSES];

fn class(size: usize) -> usize {
    (size / 16).min(CLASSES - 1)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees carry over; the counters are plain atomics and never touch the memory itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Relaxed) {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
            ALLOCS.fetch_add(1, Relaxed);
            BY_CLASS[class(layout.size())].fetch_add(1, Relaxed);
        }
        // SAFETY: forwarded as is (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        }
        // SAFETY: forwarded as is (see above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Relaxed) {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        // SAFETY: forwarded as is (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A reading of the counters.
#[derive(Clone, Copy)]
pub struct Snapshot {
    pub live_bytes: isize,
    pub allocs: usize,
    pub by_class: [usize; CLASSES],
}

impl Snapshot {
    pub fn now() -> Snapshot {
        Snapshot {
            live_bytes: LIVE_BYTES.load(Relaxed),
            allocs: ALLOCS.load(Relaxed),
            by_class: std::array::from_fn(|i| BY_CLASS[i].load(Relaxed)),
        }
    }
}

/// Counts allocations from now until the guard is dropped.
pub fn counting() -> impl Drop {
    struct Off;
    impl Drop for Off {
        fn drop(&mut self) {
            ON.store(false, Relaxed);
        }
    }
    ON.store(true, Relaxed);
    Off
}
