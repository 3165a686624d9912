//! The group whose child (or scope) this thread is polling right now, so that a group created
//! there is nested in it (see [`Shared`]'s hold on its enclosing group), and whether that
//! child is a shielded one.

use std::cell::Cell;
use std::sync::Arc;

use super::shared::Shared;

thread_local! {
    static CURRENT: Cell<Option<Arc<Shared>>> = const { Cell::new(None) };
    /// The address of the group whose shielded child this thread is polling (0: none), so
    /// that a group made inside the shield is shielded with it.
    static SHIELDING: Cell<usize> = const { Cell::new(0) };
}

/// Swaps `slot` with the thread's current group.
#[inline]
fn swap(slot: &mut Option<Arc<Shared>>) {
    let _ = CURRENT.try_with(|current| {
        let previous = current.replace(slot.take());
        *slot = previous;
    });
}

/// The group being polled on this thread, if any.
fn enclosing_group() -> Option<Arc<Shared>> {
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

/// The group being polled on this thread, and whether the poll is its shielded child's: a
/// group made there is nested in it but shielded from its cancellation.
pub(super) fn enclosing() -> (Option<Arc<Shared>>, bool) {
    let group = enclosing_group();
    let shielded = group.as_ref().is_some_and(|group| {
        SHIELDING
            .try_with(|shielding| shielding.get() == address(group))
            .unwrap_or(false)
    });
    (group, shielded)
}

/// A group's address, to compare with [`SHIELDING`] (the group is alive while it is compared).
pub(super) fn address(group: &Arc<Shared>) -> usize {
    Arc::as_ptr(group).addr()
}

/// Marks the thread as polling a shielded child of the group at `address`, until dropped.
/// Nested marks restore the outer one.
pub(super) struct ShieldMark(usize);

impl ShieldMark {
    pub(super) fn new(address: usize) -> Self {
        ShieldMark(SHIELDING.try_with(|s| s.replace(address)).unwrap_or(0))
    }
}

impl Drop for ShieldMark {
    fn drop(&mut self) {
        let _ = SHIELDING.try_with(|s| s.set(self.0));
    }
}

/// Lends a group to the thread for one poll, and takes it back when dropped, however the poll
/// ends: the lender's `Arc` moves into the thread-local and back, with no reference counting
/// per poll. While lent, the slot holds the previous current group.
pub(super) struct Lend<'a>(&'a mut Option<Arc<Shared>>);

impl<'a> Lend<'a> {
    #[inline]
    pub(super) fn new(slot: &'a mut Option<Arc<Shared>>) -> Self {
        swap(slot);
        Lend(slot)
    }
}

impl Drop for Lend<'_> {
    #[inline]
    fn drop(&mut self) {
        swap(self.0);
    }
}
