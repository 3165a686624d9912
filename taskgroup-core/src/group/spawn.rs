//! Spawning a child: counting it, queueing it behind the limit or putting it on the runtime.

use std::future::Future;
use std::sync::Arc;

use super::cell::{CellRef, TaskCell};
use super::child::{Child, ChildKind, RecordedInside};
use super::in_cell::QueuedCellChild;
use super::limit::{Queued, QueuedFuture, QueuedNode, Waiter};
use super::local_node::{LocalChild, Node, Run};
use super::shared::{Shared, lock};
use super::task::Task;
use crate::spawn_error::SpawnError;
use crate::task_error::TaskError;
use crate::task_output::{Outcome, TaskOutput};

impl Shared {
    /// Starts a child on the runtime, or queues it behind the limit; gives the future back if
    /// the group refuses it.
    pub(super) fn spawn<F>(
        self: &Arc<Self>,
        name: Option<Arc<str>>,
        future: F,
    ) -> Result<Task<<F::Output as TaskOutput>::Ok>, (SpawnError, F)>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle,
            Err(_) => return Err((SpawnError::NoRuntime, future)),
        };
        if let Err(why) = self.acquire() {
            return Err((why, future));
        }
        if let Some(limiter) = &self.limiter {
            let mut limiter = lock(limiter);
            if !limiter.try_take() {
                // Queued: no tokio task yet, so the result goes to a cell the handle shares.
                let (node, cell) = queued_node(future, self, name.clone(), false);
                let child = Child::new(node, Arc::clone(self), RecordedInside);
                #[cfg(feature = "tracing")]
                let child = instrument(child, name.as_deref());
                limiter.enqueue(Waiter::Spawned(Queued {
                    future: QueuedFuture::Plain { child },
                    runtime,
                }));
                return Ok(Task::with_cell_ref(cell));
            }
        }
        // Unnamed children carry no name field: a small future keeps tokio's smallest cell.
        let handle = match &name {
            None => self.start(&runtime, future, ()),
            Some(name) => self.start(&runtime, future, Arc::clone(name)),
        };
        Ok(Task::spawned(handle, Arc::clone(self), name))
    }

    /// Puts a child on the runtime.
    pub(super) fn start<F, N>(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        future: F,
        kind: N,
    ) -> tokio::task::JoinHandle<Outcome<<F::Output as TaskOutput>::Ok>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
        N: ChildKind,
    {
        #[cfg(feature = "tracing")]
        let name = kind.name().cloned();
        let child = Child::new(future, Arc::clone(self), kind);
        #[cfg(feature = "tracing")]
        let child = instrument(child, name.as_deref());
        runtime.spawn(child)
    }
}

/// Spawns, or resolves the handle at once with why the group refused the child.
pub(super) fn spawn_or_resolve<F>(
    shared: &Arc<Shared>,
    name: Option<Arc<str>>,
    future: F,
) -> Task<<F::Output as TaskOutput>::Ok>
where
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    or_refused(shared.spawn(name.clone(), future), name)
}

/// A spawned child queued behind the limit: its node (its handle's cell, then the child, in
/// one allocation), and the handle's reference to the cell. Its name is its cell's.
pub(super) fn queued_node<F>(
    future: F,
    shared: &Arc<Shared>,
    name: Option<Arc<str>>,
    shielded: bool,
) -> (QueuedNode, CellRef<<F::Output as TaskOutput>::Ok>)
where
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    let erase = |node: Arc<Node<_, QueuedCellChild<F>>>| -> Arc<dyn Run + Send + Sync> { node };
    let cell = |tail| TaskCell::queued(tail, name, shielded);
    LocalChild::new(future, Arc::clone(shared), cell, erase)
}

/// The handle of a spawn, or of its refusal (the future dropped unpolled).
pub(super) fn or_refused<T, F>(
    spawned: Result<Task<T>, (SpawnError, F)>,
    name: Option<Arc<str>>,
) -> Task<T> {
    match spawned {
        Ok(task) => task,
        Err((why, future)) => {
            drop(future);
            refused(why, name)
        }
    }
}

/// The handle of a child the group refused.
pub(super) fn refused<T>(why: SpawnError, name: Option<Arc<str>>) -> Task<T> {
    Task::with_cell(Arc::new(
        TaskCell::done(Err(TaskError::NotStarted(why))).named(name),
    ))
}

#[cfg(feature = "tracing")]
pub(super) fn instrument<F>(child: F, name: Option<&str>) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(
        child,
        tracing::info_span!("taskgroup.task", name = name.unwrap_or("")),
    )
}
