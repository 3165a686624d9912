//! [`InCell`]: a child whose handle reads a [`TaskCell`]: a local child (polled on the scope's
//! own task) or a spawned child queued behind the limit.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::cell::TaskCell;
use super::ending::{Ending, conclude, drop_future};
use super::limit::InLine;
use super::shared::Shared;
use crate::cancel_reason::CancelReason;
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

/// Resolves the handle as cancelled if the child is dropped before it settled, even unpolled.
pub(super) struct SettleOnDrop<T>(Arc<TaskCell<T>>);

impl<T> SettleOnDrop<T> {
    /// Stores the result unless the handle is gone (it is not `Clone`: nobody can read it); a
    /// cancelled child with no reason of its handle's keeps `why()`.
    fn settle(&self, result: Result<T, TaskError>, why: impl FnOnce() -> Option<CancelReason>) {
        if Arc::strong_count(&self.0) > 1 {
            self.0.complete(result, why);
        }
    }
}

impl<T> Drop for SettleOnDrop<T> {
    fn drop(&mut self) {
        // No-op after the child stored its result.
        self.settle(Err(TaskError::Cancelled), || None);
    }
}

pin_project_lite::pin_project! {
    /// The user's future, the cell its handle reads, and the group it records its ending in.
    /// Every drop of the user's future happens here, under `catch_unwind`: a destructor's
    /// panic is this child's panic, in the group and in the handle, and never unwinds the
    /// scope that drops a local child.
    pub(super) struct InCell<F, T> {
        #[pin]
        future: Option<F>,
        cell: SettleOnDrop<T>,
        shared: Arc<Shared>,
        name: Option<Arc<str>>,
        // A local child (polled by the scope, no task id), or a queued one (on the runtime).
        local: bool,
        // The waker a cancel request wakes: the one of the latest `Pending` poll.
        waker: Option<Waker>,
    }

    impl<F, T> PinnedDrop for InCell<F, T> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if *this.local && this.waker.is_some() {
                this.shared.waiting.local_ended();
            }
            if this.future.as_mut().as_pin_mut().is_some() {
                let local = *this.local;
                let id = || if local { None } else { tokio::task::try_id() };
                match drop_future(this.future) {
                    Err(payload) => {
                        let panic = Ending::panicked(&*payload);
                        let ended = conclude(this.shared, panic, this.name.as_ref(), id);
                        this.cell.settle(ended, || None);
                    }
                    // Dropped unfinished: by its group (which has a reason), or, on the
                    // runtime, by the runtime shutting down. A local child is dropped by its
                    // scope, which the group's reason covers.
                    Ok(()) => {
                        let shared = &**this.shared;
                        let local = *this.local;
                        this.cell.settle(Err(TaskError::Cancelled), || {
                            shared
                                .cancel_reason()
                                .or((!local).then_some(CancelReason::RuntimeShutdown))
                        });
                    }
                }
            }
        }
    }
}

impl<F, T> InCell<F, T> {
    /// A local child, polled by the scope.
    pub(super) fn local(future: F, cell: Arc<TaskCell<T>>, shared: Arc<Shared>) -> Self {
        InCell {
            future: Some(future),
            cell: SettleOnDrop(cell),
            shared,
            name: None,
            local: true,
            waker: None,
        }
    }

    /// A spawned child queued behind the limit, inside a [`Child`](super::child::Child).
    pub(super) fn queued(
        future: F,
        cell: Arc<TaskCell<T>>,
        shared: Arc<Shared>,
        name: Option<Arc<str>>,
    ) -> Self {
        InCell {
            future: Some(future),
            cell: SettleOnDrop(cell),
            shared,
            name,
            local: false,
            waker: None,
        }
    }
}

impl<F> Future for InCell<F, <F::Output as TaskOutput>::Ok>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let cell = &*this.cell.0;
        let aborted = this.shared.is_aborted() && !cell.is_shielded();
        let ending = if aborted || cell.cancel_requested() {
            Ending::Cancelled
        } else {
            let Some(future) = this.future.as_mut().as_pin_mut() else {
                return Poll::Ready(());
            };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => {
                    // Only a child that waits needs its waker known, for a cancel request;
                    // the registration re-reads the request, so none is lost. A local
                    // child's waker changes once, after its first poll (see `ReadySet`).
                    if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        if *this.local && this.waker.is_none() {
                            this.shared.waiting.local_waits();
                        }
                        *this.waker = Some(cx.waker().clone());
                        cell.set_local_waker(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
                Ok(Poll::Ready(output)) => Ending::of(output),
                Err(payload) => Ending::panicked(&*payload),
            }
        };
        let ending = ending.after_drop(this.future);
        let shared = &**this.shared;
        let local = *this.local;
        let id = || if local { None } else { tokio::task::try_id() };
        let ended = conclude(shared, ending, this.name.as_ref(), id);
        this.cell.settle(ended, || shared.cancel_reason());
        Poll::Ready(())
    }
}

impl<F, T> InLine for InCell<F, T> {
    fn name(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
    }

    fn cancel_requested(&self) -> bool {
        self.cell.0.cancel_requested()
    }

    fn key(&self) -> usize {
        super::cell::key(&self.cell.0)
    }
}
