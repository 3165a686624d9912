//! Handing a local child to the scope: futures polled on the scope's own task, which may
//! borrow (and, in a [`Local`](super::Local) group, need not be `Send`).

use std::future::Future;
use std::sync::Arc;

use super::TaskGroup;
use super::cell::TaskCell;
use super::in_cell::LocalCellChild;
use super::limit::Waiter;
use super::local_node::{LocalChild, Node};
use super::locality::Locality;
use super::shared::lock;
use super::slot::SlotGuard;
use super::spawn::refused;
use super::task::Task;
use crate::task_output::TaskOutput;

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Hands a local child to the scope, or to the limit's line. Local children are not
    /// units of the state word: the scope keeps them, and a push checks the group under the
    /// same lock the scope holds for its final close check, so none is pushed after the close.
    pub(super) fn local_child<F>(
        &self,
        future: F,
        erase: impl FnOnce(
            Arc<Node<<F::Output as TaskOutput>::Ok, LocalCellChild<F>>>,
        ) -> Arc<K::Boxed<'env>>,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + 'env,
        F::Output: TaskOutput,
    {
        let mut incoming = lock(&self.incoming);
        if self.shared.load().is_refusing() {
            drop(incoming);
            drop(future);
            return refused(self.shared.refusal(), None);
        }
        let (mut child, cell) =
            LocalChild::new(future, Arc::clone(&self.shared), TaskCell::with_tail, erase);
        if let Some(limiter) = &self.shared.limiter {
            let mut limiter = lock(limiter);
            if !limiter.try_take() {
                // Queued in the line in the same lock, so a grant finds it there.
                limiter.enqueue(Waiter::Local);
                lock(&self.waiting_locals).push_back(child);
                return Task::with_cell_ref(cell);
            }
            drop(limiter);
            child.hold(SlotGuard(Arc::clone(&self.shared)));
        }
        let first = incoming.push(child);
        drop(incoming);
        // The scope polls every new local child at once: one wake-up per batch is enough.
        if first {
            self.shared.wake_scope();
        }
        Task::with_cell_ref(cell)
    }
}
