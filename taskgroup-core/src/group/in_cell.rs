//! [`InCell`]: a child whose handle reads a [`TaskCell`]: a local child (polled on the scope's
//! own task) or a spawned child queued behind the limit.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::cell::TaskCell;
use super::ending::{Ending, conclude, drop_future};
use super::shared::Shared;
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

/// Resolves the handle as cancelled if the child is dropped before it settled, even unpolled.
pub(super) struct SettleOnDrop<T>(Arc<TaskCell<T>>);

impl<T> SettleOnDrop<T> {
    /// Stores the result unless the handle is gone (it is not `Clone`: nobody can read it).
    fn settle(&self, result: Result<T, TaskError>) {
        if Arc::strong_count(&self.0) > 1 {
            self.0.complete(result);
        }
    }
}

impl<T> Drop for SettleOnDrop<T> {
    fn drop(&mut self) {
        // No-op after the child stored its result.
        self.settle(Err(TaskError::Cancelled));
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
        id: fn() -> Option<tokio::task::Id>,
        // The waker a cancel request wakes: the one of the latest `Pending` poll.
        waker: Option<Waker>,
    }

    impl<F, T> PinnedDrop for InCell<F, T> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.future.as_mut().as_pin_mut().is_some() {
                if let Err(payload) = drop_future(this.future) {
                    let panic = Ending::panicked(&*payload);
                    this.cell
                        .settle(conclude(this.shared, panic, this.name.as_ref(), (this.id)()));
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
            id: || None,
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
            id: tokio::task::try_id,
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
        this.cell.settle(conclude(
            this.shared,
            ending,
            this.name.as_ref(),
            (this.id)(),
        ));
        Poll::Ready(())
    }
}
