//! [`ChunkedSlab`]: the slab behind the waiting children's wakers, in chunks that never move.
//!
//! A group with many waiting children fills one slot per child. In one growing `Vec`, every
//! doubling copied the whole slab, and past malloc's mmap threshold each copy mapped fresh
//! pages (page faults) and unmapped the old ones. Here the first chunk grows as a `Vec` does,
//! so that a group with a few waiting children stays small, and every later chunk is made at
//! its full size and never grows: nothing is copied, and each chunk is an ordinary heap block
//! that malloc reuses. Free slots form a list through the slots themselves.

/// Slots per chunk (32 KiB of 32-byte entries, below malloc's default mmap threshold).
const CHUNK: usize = 1024;
/// The end of the free list.
const NONE: u32 = u32::MAX;

enum Slot<T> {
    Taken(T),
    Free { next: u32 },
}

/// A slab of `T`s, each at a `u32` index that stays put until it is removed.
pub(super) struct ChunkedSlab<T> {
    chunks: Vec<Vec<Slot<T>>>,
    /// The first free slot, or `NONE`.
    free: u32,
}

impl<T> Default for ChunkedSlab<T> {
    fn default() -> Self {
        ChunkedSlab {
            chunks: Vec::new(),
            free: NONE,
        }
    }
}

impl<T> ChunkedSlab<T> {
    /// Stores `value`; its index, or `None` if the slab holds `u32::MAX - 1` values already.
    pub(super) fn insert(&mut self, value: T) -> Option<u32> {
        if self.free != NONE {
            let index = self.free;
            let slot = self.slot_mut(index)?;
            let Slot::Free { next } = *slot else {
                return None;
            };
            *slot = Slot::Taken(value);
            self.free = next;
            return Some(index);
        }
        let last = self.chunks.len().checked_sub(1);
        let chunk = match last {
            Some(last) if self.chunks[last].len() < CHUNK => last,
            _ => {
                // The first chunk grows on demand; later ones are made whole.
                let capacity = if self.chunks.is_empty() { 0 } else { CHUNK };
                self.chunks.push(Vec::with_capacity(capacity));
                self.chunks.len() - 1
            }
        };
        let index = chunk * CHUNK + self.chunks[chunk].len();
        let index = u32::try_from(index).ok().filter(|&index| index < NONE)?;
        self.chunks[chunk].push(Slot::Taken(value));
        Some(index)
    }

    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        let index = index as usize;
        self.chunks.get_mut(index / CHUNK)?.get_mut(index % CHUNK)
    }

    /// The value at `index`, if one is there.
    pub(super) fn get_mut(&mut self, index: u32) -> Option<&mut T> {
        match self.slot_mut(index)? {
            Slot::Taken(value) => Some(value),
            Slot::Free { .. } => None,
        }
    }

    /// Takes the value at `index` out, if one is there (for the caller to drop, outside any
    /// lock).
    pub(super) fn remove(&mut self, index: u32) -> Option<T> {
        let free = self.free;
        let slot = self.slot_mut(index)?;
        if let Slot::Free { .. } = slot {
            return None;
        }
        let Slot::Taken(value) = std::mem::replace(slot, Slot::Free { next: free }) else {
            return None;
        };
        self.free = index;
        Some(value)
    }

    /// The values, in index order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten().filter_map(|slot| match slot {
            Slot::Taken(value) => Some(value),
            Slot::Free { .. } => None,
        })
    }

    /// The values, mutably, in index order.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks
            .iter_mut()
            .flatten()
            .filter_map(|slot| match slot {
                Slot::Taken(value) => Some(value),
                Slot::Free { .. } => None,
            })
    }

    /// Every value, the slab consumed.
    pub(super) fn into_values(self) -> impl Iterator<Item = T> {
        self.chunks
            .into_iter()
            .flatten()
            .filter_map(|slot| match slot {
                Slot::Taken(value) => Some(value),
                Slot::Free { .. } => None,
            })
    }
}

#[cfg(all(test, not(taskgroup_loom)))]
mod tests {
    use super::*;

    #[test]
    fn indices_stay_put_and_free_slots_are_reused_across_chunks() {
        let mut slab = ChunkedSlab::default();
        let indices: Vec<u32> = (0..3 * CHUNK as u32 + 7)
            .map(|i| slab.insert(i).unwrap())
            .collect();
        assert_eq!(indices, (0..3 * CHUNK as u32 + 7).collect::<Vec<_>>());
        assert_eq!(slab.remove(5), Some(5));
        assert_eq!(slab.remove(5), None, "removed once");
        assert_eq!(slab.remove(CHUNK as u32 + 1), Some(CHUNK as u32 + 1));
        assert_eq!(slab.get_mut(5), None);
        assert_eq!(slab.get_mut(6), Some(&mut 6));
        // Last freed, first reused.
        assert_eq!(slab.insert(100_000), Some(CHUNK as u32 + 1));
        assert_eq!(slab.insert(100_001), Some(5));
        assert_eq!(slab.insert(100_002), Some(3 * CHUNK as u32 + 7));
        assert_eq!(slab.iter().count(), 3 * CHUNK + 8);
        assert_eq!(slab.get_mut(5), Some(&mut 100_001));
        assert_eq!(slab.remove(u32::MAX - 1), None, "out of range");
        let all: Vec<u32> = slab.into_values().collect();
        assert_eq!(all.len(), 3 * CHUNK + 8);
        assert_eq!(all[5], 100_001);
    }

    #[test]
    fn a_small_slab_stays_small() {
        let mut slab = ChunkedSlab::default();
        for i in 0..10u32 {
            slab.insert(i);
        }
        assert_eq!(slab.chunks.len(), 1);
        assert!(slab.chunks[0].capacity() < CHUNK);
    }
}
