//! [`CellChild`]: a child whose handle reads a [`TaskCell`], a local child (polled on the
//! scope's own task) or a spawned child queued behind the limit, each in its node (see
//! `local_node`).

use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::cell::TaskCell;
use super::ending::{Ending, conclude, drop_future};
use super::shared::Shared;
use super::slot::dropping_line;
use crate::cancel_reason::CancelReason;
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

pin_project_lite::pin_project! {
    /// The user's future and the group it records its ending in, settling the cell of the
    /// node it lies in (see `local_node`). Every drop of the user's future happens here,
    /// under `catch_unwind`: a destructor's panic is this child's panic, in the group and in
    /// the handle, and never unwinds the scope that drops a local child. Its owner calls
    /// [`end`](CellChild::end) before dropping it.
    ///
    /// `P`: a local child (polled by the scope, no task id), or a queued one (on the
    /// runtime). Its name is its cell's. A type parameter and not a field: a small local
    /// child's node stays within glibc's fast bins (see `local_node`).
    pub(super) struct CellChild<F, P> {
        #[pin]
        future: Option<F>,
        shared: Arc<Shared>,
        _place: PhantomData<P>,
    }
}

/// Where a [`CellChild`] runs.
pub(super) trait Place {
    /// Polled by its scope (a local child), not as a task of the runtime.
    const LOCAL: bool;
}

/// A local child's place: its scope's own task.
pub(super) enum AtScope {}

/// A queued child's place: its own task on the runtime.
pub(super) enum OnRuntime {}

impl Place for AtScope {
    const LOCAL: bool = true;
}

impl Place for OnRuntime {
    const LOCAL: bool = false;
}

/// A local child, polled by the scope.
pub(super) type LocalCellChild<F> = CellChild<F, AtScope>;

/// A spawned child queued behind the limit, polled by its own task once it starts.
pub(super) type QueuedCellChild<F> = CellChild<F, OnRuntime>;

impl<F, P: Place> CellChild<F, P> {
    pub(super) fn new(future: F, shared: Arc<Shared>) -> Self {
        CellChild {
            future: Some(future),
            shared,
            _place: PhantomData,
        }
    }

    const LOCAL: bool = P::LOCAL;

    /// Whether the child is in a task of its own on the runtime: not a local child, nor a
    /// queued one dropped from the line, never started (the task running then is another's).
    fn in_own_task() -> bool {
        !Self::LOCAL && !dropping_line()
    }

    /// The task id a recorded ending carries: its own task's, if it is in one.
    fn id() -> Option<tokio::task::Id> {
        Self::in_own_task().then(tokio::task::try_id).flatten()
    }

    /// Ends the child however it stands, before it is dropped: a future still there is
    /// dropped, and ends the child as cancelled (or panicked, if its destructor panics). The
    /// result goes to `cell` if `handle` (its handle is alive), unless one is there already.
    pub(super) fn end<T, X: ?Sized>(self: Pin<&mut Self>, cell: &TaskCell<T, X>, handle: bool) {
        let settle = |result, why: &dyn Fn() -> Option<CancelReason>| {
            if handle {
                cell.complete(result, why);
            }
        };
        let mut this = self.project();
        if Self::LOCAL && cell.has_waited() {
            this.shared.waiting.local_ended();
        }
        if this.future.as_mut().as_pin_mut().is_some() {
            match drop_future(this.future) {
                Err(payload) => {
                    let panic = Ending::panicked(&*payload);
                    let ended = conclude(this.shared, panic, cell.name_arc(), Self::id);
                    settle(ended, &|| None);
                }
                // Dropped unfinished: by its group (which has a reason), or, on the runtime,
                // by the runtime shutting down. A local child is dropped by its scope, and a
                // queued one from the line by its group, which the group's reason covers.
                Ok(()) => {
                    let shared = &**this.shared;
                    let in_own_task = Self::in_own_task();
                    settle(Err(TaskError::Cancelled), &|| {
                        shared
                            .cancel_reason()
                            .or(in_own_task.then_some(CancelReason::RuntimeShutdown))
                    });
                }
            }
        }
        // No-op after the child stored its result.
        settle(Err(TaskError::Cancelled), &|| None);
    }
}

impl<F, P: Place> CellChild<F, P>
where
    F: Future,
    F::Output: TaskOutput,
{
    /// Polls the child; once it ends, its result goes to `cell` if `handle` (its handle is
    /// alive).
    pub(super) fn poll_in<X: ?Sized>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        cell: &TaskCell<<F::Output as TaskOutput>::Ok, X>,
        handle: bool,
    ) -> Poll<()> {
        let mut this = self.project();
        let aborted = this.shared.is_aborted() && !cell.is_shielded();
        let ending = if aborted || cell.cancel_requested() {
            Ending::Cancelled
        } else {
            let Some(future) = this.future.as_mut().as_pin_mut() else {
                return Poll::Ready(());
            };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => {
                    // Only a child that waits needs its waker known (in its cell), for a
                    // cancel request; the registration re-reads the request, so none is lost.
                    // A queued child's waker is its task's, which never changes; a local
                    // child's changes once, after its first poll (see `ReadySet`), so it is
                    // compared at every wait.
                    let first = cell.waits();
                    if first && Self::LOCAL {
                        this.shared.waiting.local_waits();
                    }
                    if first || Self::LOCAL {
                        cell.set_local_waker(cx.waker());
                    }
                    return Poll::Pending;
                }
                Ok(Poll::Ready(output)) => Ending::of(output),
                Err(payload) => Ending::panicked(&*payload),
            }
        };
        let ending = ending.after_drop(this.future);
        let shared = &**this.shared;
        let ended = conclude(shared, ending, cell.name_arc(), Self::id);
        if handle {
            cell.complete(ended, || shared.cancel_reason());
        }
        Poll::Ready(())
    }
}
