//! Shielded children: the group's cancellation does not abort them. They run to completion and
//! the scope waits for them; only the scope's own end (its future dropped) aborts them.
//!
//! A shielded child is an ordinary [`Child`] of a kind whose `SHIELDED` flag makes it skip
//! the abort check and the waker slab, so ordinary children pay nothing for shields. Blocking
//! children are shielded children too (see `blocking`).

use std::future::Future;
use std::sync::Arc;

use super::cell::TaskCell;
use super::child::{Child, ChildKind, LIMITED, NO_SLOT, RecordedInside};
use super::in_cell::InCell;
use super::limit::{Queued, Waiter};
use super::shared::{Shared, lock};
#[cfg(feature = "tracing")]
use super::spawn::instrument;
use super::spawn::refused;
use super::task::Task;
use crate::error_group::Member;
use crate::spawn_error::SpawnError;
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

/// The kind of a shielded child: `N`'s, with the group's abort ignored.
pub(super) struct Shielding<N>(pub(super) N);

impl<N: ChildKind> ChildKind for Shielding<N> {
    const RECORDS: bool = N::RECORDS;
    const SHIELDED: bool = true;
    fn name(&self) -> Option<&Arc<str>> {
        self.0.name()
    }
}

/// How the future of a shielded child ended.
pub(super) enum ShieldOutput<O> {
    /// With the child's own output.
    Done(O),
    /// Stopped after all, as a cancellation: its scope is gone, or its work never started.
    Aborted,
}

impl<O: TaskOutput> TaskOutput for ShieldOutput<O> {
    type Ok = O::Ok;

    fn into_result(self) -> Result<O::Ok, Member> {
        match self {
            ShieldOutput::Done(output) => output.into_result(),
            // Recorded as a cancellation, not a failure (see `Ending::of`).
            ShieldOutput::Aborted => Err(Member::from(TaskError::Cancelled)),
        }
    }
}

impl Shared {
    /// Starts a shielded child, as [`Shared::spawn`] starts an ordinary one, or resolves its
    /// handle at once with why the group refused it.
    pub(super) fn spawn_shielded<F>(
        self: &Arc<Self>,
        future: F,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return refused(SpawnError::NoRuntime, None);
        };
        if let Err(why) = self.acquire() {
            return refused(why, None);
        }
        let mut slot = NO_SLOT;
        if let Some(limiter) = &self.limiter {
            let mut limiter = lock(limiter);
            if !limiter.try_take() {
                // The cell is shielded too: once started, the group's abort does not stop it.
                let cell = Arc::new(TaskCell::shielded());
                let child = InCell::queued(future, Arc::clone(&cell), Arc::clone(self), None);
                let child = Child::new(child, Arc::clone(self), NO_SLOT, Shielding(RecordedInside));
                #[cfg(feature = "tracing")]
                let child = instrument(child, None);
                let queued = Queued {
                    future: Box::pin(child),
                    runtime,
                };
                limiter.enqueue(Waiter::Spawned(queued));
                return Task::with_cell(cell, None);
            }
            slot |= LIMITED;
        }
        let handle = self.start(&runtime, future, slot, Shielding(()));
        Task::spawned(handle, Arc::clone(self), None)
    }
}
