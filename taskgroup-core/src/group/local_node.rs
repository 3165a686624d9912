//! A child whose handle reads a cell, in one allocation: the cell followed by the child itself
//! (a node), and [`LocalChild`], the one reference to the node that polls the child or drops
//! it: the scope's, for a local child; its task's, for a spawned child queued behind the limit.
//! Its handle holds the node as a plain cell (see `cell::CellRef`).
// The child sits in an `UnsafeCell` that only the node's `LocalChild` reaches, and is dropped
// by it in place (`InPlace`); the handle's reference forgets the child's lifetime
// (`CellRef::any`).
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::cell::{CellRef, Tail, TaskCell};
#[cfg(test)]
pub(super) use super::in_cell::LocalCellChild;
use super::in_cell::{CellChild, Place};
use super::in_place::InPlace;
use super::limit::InLine;
use super::shared::Shared;
use super::slot::SlotGuard;
use crate::task_output::TaskOutput;

/// What follows a local or queued child's cell: the child. Never dropped with the node: its
/// `LocalChild` drops it in place, so that a node freed by the last handle, on any thread and
/// after the scope's borrows have ended, touches nothing of the child's.
pub(super) struct NodeTail<C> {
    child: UnsafeCell<InPlace<C>>,
}

// SAFETY: `NodeTail` has no drop glue (`InPlace` never drops its child), and the child is reached
// only through the node's `LocalChild` (see `Run`), never through a `CellRef`.
unsafe impl<C> Tail for NodeTail<C> {}

// SAFETY: the child is reached only through the node's one `LocalChild`, which needs `&mut`
// of itself to poll or drop it: never from two threads at once, and only from where that
// `LocalChild` is, which is `Send` only for a child that is. A handle reaches only the cell.
unsafe impl<C: Send> Sync for NodeTail<C> {}

/// A node: its handle's cell, then the child.
pub(super) type Node<T, C> = TaskCell<T, NodeTail<C>>;

/// A node as its `LocalChild` holds it: a child to poll and to drop, whatever its output, and
/// what a snapshot reads of it in the limit's line (its cell's, never the child's).
pub trait Run {
    /// Polls the child; `handle` says whether its handle is alive to read the result.
    ///
    /// # Safety
    /// Called only by the node's `LocalChild`, through `&mut` of it, and never after
    /// [`end`](Run::end).
    unsafe fn poll_child(&self, cx: &mut Context<'_>, handle: bool) -> Poll<()>;

    /// Ends the child however it stands and drops it.
    ///
    /// # Safety
    /// Called once, only by the node's `LocalChild` as it is dropped.
    unsafe fn end(&self, handle: bool);

    /// The child's name.
    fn name(&self) -> Option<&Arc<str>>;

    /// Whether its handle asked to cancel it.
    fn cancel_requested(&self) -> bool;

    /// What identifies its cell (see `cell::key`).
    fn key(&self) -> usize;
}

impl<F, P> Run for Node<<F::Output as TaskOutput>::Ok, CellChild<F, P>>
where
    F: Future,
    F::Output: TaskOutput,
    P: Place,
{
    unsafe fn poll_child(&self, cx: &mut Context<'_>, handle: bool) -> Poll<()> {
        // SAFETY: only the node's `LocalChild` gets here, with `&mut` of itself (so this is
        // the only reference to the child), before `end` (so the child is not dropped); the
        // node is in an `Arc`, so the child never moves.
        let child = unsafe { self.child().pinned() };
        child.poll_in(cx, self, handle)
    }

    unsafe fn end(&self, handle: bool) {
        /// Drops the child in place, also if ending it panics (a waker of the handle's, say).
        struct DropInPlace<'a, C>(Pin<&'a mut InPlace<C>>);
        impl<C> Drop for DropInPlace<'_, C> {
            fn drop(&mut self) {
                // SAFETY: made once, in `end`, which is called once: the child is dropped here
                // once and never reached again.
                unsafe { self.0.as_mut().drop_in_place() }
            }
        }
        // SAFETY: as in `poll_child`; and this is the last access to the child.
        let mut child = DropInPlace(unsafe { self.child() });
        // SAFETY: not dropped yet: the guard drops it right after.
        unsafe { child.0.as_mut().pinned() }.end(self, handle);
    }

    fn name(&self) -> Option<&Arc<str>> {
        self.name_arc()
    }

    fn cancel_requested(&self) -> bool {
        TaskCell::cancel_requested(self)
    }

    fn key(&self) -> usize {
        super::cell::key(self)
    }
}

impl<T, C> Node<T, C> {
    /// The child, pinned where it lies.
    ///
    /// # Safety
    /// Only for the node's `LocalChild`, through `&mut` of it: the only reference to the child
    /// while it lives.
    #[allow(
        clippy::mut_from_ref,
        reason = "the caller holds the node's only way to the child"
    )]
    unsafe fn child(&self) -> Pin<&mut InPlace<C>> {
        // SAFETY: exclusive (the caller's promise), and the node is in an `Arc`: it never
        // moves.
        unsafe { Pin::new_unchecked(&mut *self.tail.child.get()) }
    }
}

/// The one reference to a node that reaches the child: polls it, and ends and drops it when
/// it is dropped (then gives back the limit's slot it holds, if a local child waited for one).
/// The scope holds a local child's; a queued spawned child's is in the limit's line, then in
/// the child's own task.
pub(super) struct LocalChild<R: ?Sized + Run> {
    node: Arc<R>,
    slot: Option<SlotGuard>,
}

impl<R: ?Sized + Run> LocalChild<R> {
    /// A child, and its handle's cell in the same allocation; `P` says where it runs. `erase`
    /// turns the node into the holder's kind of child (a coercion, made where the concrete
    /// type is known). `cell` makes the cell around the child: `TaskCell::with_tail` for a
    /// local child, `TaskCell::queued` (its name, its shield) for a queued one. Inlined: a
    /// call of its own was measurably slower on the local spawn path (docs/PERFORMANCE.md).
    #[inline]
    pub(super) fn new<'env, F, P: Place>(
        future: F,
        shared: Arc<Shared>,
        cell: impl FnOnce(
            NodeTail<CellChild<F, P>>,
        ) -> Node<<F::Output as TaskOutput>::Ok, CellChild<F, P>>,
        erase: impl FnOnce(Arc<Node<<F::Output as TaskOutput>::Ok, CellChild<F, P>>>) -> Arc<R>,
    ) -> (Self, CellRef<<F::Output as TaskOutput>::Ok>)
    where
        F: Future + 'env,
        F::Output: TaskOutput,
    {
        let node = Arc::new(cell(NodeTail {
            child: UnsafeCell::new(InPlace::new(CellChild::new(future, shared))),
        }));
        // The tail drops nothing (`NodeTail`): the handle may outlive the child's borrows.
        let cell = CellRef::any(Arc::clone(&node));
        let child = LocalChild {
            node: erase(node),
            slot: None,
        };
        (child, cell)
    }

    /// The child waited for a slot of the limit and holds it from now on.
    pub(super) fn hold(&mut self, slot: SlotGuard) {
        self.slot = Some(slot);
    }

    /// Whether the handle can still read the result: it holds the node's only other count.
    fn handle_alive(&self) -> bool {
        Arc::strong_count(&self.node) > 1
    }
}

impl<R: ?Sized + Run> Future for LocalChild<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let handle = self.handle_alive();
        // SAFETY: the node's one `LocalChild`, borrowed mutably; not dropped yet.
        unsafe { self.node.poll_child(cx, handle) }
    }
}

/// A queued spawned child is read in line through its node's cell (see `limit`).
impl<R: ?Sized + Run> InLine for LocalChild<R> {
    fn name(&self) -> Option<&Arc<str>> {
        Run::name(&*self.node)
    }
    fn cancel_requested(&self) -> bool {
        Run::cancel_requested(&*self.node)
    }
    fn key(&self) -> usize {
        Run::key(&*self.node)
    }
}

impl<R: ?Sized + Run> Drop for LocalChild<R> {
    fn drop(&mut self) {
        let handle = self.handle_alive();
        // SAFETY: the node's one `LocalChild`, dropped: this is its last access to the child.
        unsafe { self.node.end(handle) };
        // The node's count, then the slot, go after this.
    }
}

#[cfg(test)]
mod tests;
