//! The group whose child (or scope) this thread is polling right now, so that a group created
//! there is nested in it (see [`Shared`]'s hold on its enclosing group).

use std::cell::Cell;
use std::sync::Arc;

use super::shared::Shared;

thread_local! {
    static CURRENT: Cell<Option<Arc<Shared>>> = const { Cell::new(None) };
}

/// Swaps `slot` with the thread's current group.
fn swap(slot: &mut Option<Arc<Shared>>) {
    let _ = CURRENT.try_with(|current| {
        let previous = current.replace(slot.take());
        *slot = previous;
    });
}

/// The group being polled on this thread, if any.
pub(super) fn enclosing_group() -> Option<Arc<Shared>> {
    CURRENT
        .try_with(|current| {
            let group = current.take();
            let copy = group.clone();
            current.set(group);
            copy
        })
        .ok()
        .flatten()
}

/// Lends a group to the thread for one poll, and takes it back when dropped, however the poll
/// ends: the lender's `Arc` moves into the thread-local and back, with no reference counting
/// per poll. While lent, the slot holds the previous current group.
pub(super) struct Lend<'a>(&'a mut Option<Arc<Shared>>);

impl<'a> Lend<'a> {
    pub(super) fn new(slot: &'a mut Option<Arc<Shared>>) -> Self {
        swap(slot);
        Lend(slot)
    }
}

impl Drop for Lend<'_> {
    fn drop(&mut self) {
        swap(self.0);
    }
}
