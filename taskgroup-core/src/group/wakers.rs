//! [`WakerSlab`]: the wakers of a group's waiting children, so that a cancellation can wake
//! them.

use std::task::Waker;

/// A slab of wakers: a child registers when its first poll returns `Pending` and gets an index
/// it removes itself by when it ends.
#[derive(Default)]
pub(super) struct WakerSlab {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl WakerSlab {
    pub(super) fn insert(&mut self, waker: Waker) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(waker);
                i
            }
            None => {
                self.slots.push(Some(waker));
                self.slots.len() - 1
            }
        }
    }

    pub(super) fn remove(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.take().is_some() {
                self.free.push(i);
            }
        }
    }

    /// Every registered waker.
    pub(super) fn into_wakers(self) -> impl Iterator<Item = Waker> {
        self.slots.into_iter().flatten()
    }
}
