//! [`Child`]: the future a spawned child runs on tokio, and the guard that ends its accounting
//! however it ends.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::current::Lend;
use super::ending::{Ending, conclude, drop_future};
use super::limit::InLine;
use super::shared::Shared;
use super::wakers::NO_SLOT;
use crate::task_error::TaskError;
use crate::task_output::{Outcome, TaskOutput};

/// What a child's future carries besides the user's future: its name (a field only in named
/// children's futures), and whether the child records its own ending in the group.
pub(super) trait ChildKind: Send + 'static {
    /// False for a queued child, whose inner [`InCell`](super::in_cell::InCell) records it.
    const RECORDS: bool = true;
    /// True for a shielded child: the group's abort does not stop it (see `shield`).
    const SHIELDED: bool = false;
    fn name(&self) -> Option<&Arc<str>>;
}

impl ChildKind for () {
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

impl ChildKind for Arc<str> {
    fn name(&self) -> Option<&Arc<str>> {
        Some(self)
    }
}

/// The kind of a child queued behind the limit: its `InCell` records how it ended.
pub(super) struct RecordedInside;

impl ChildKind for RecordedInside {
    const RECORDS: bool = false;
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

/// Ends a child's accounting however it ends: completion, abort, panic or runtime shutdown.
pub(super) struct ChildGuard<N: ChildKind> {
    /// Its index among the group's waiting children, or `NO_SLOT`.
    slot: u32,
    /// `Some` until the child has ended in a poll (its accounting then done), except while it
    /// is polled (lent to the current-group slot, and put back before the poll returns).
    shared: Option<Arc<Shared>>,
    name: N,
}

/// The end of a child's accounting: its waker forgotten, its limit slot and its unit of the
/// group's count given back.
fn end<N: ChildKind>(shared: &Arc<Shared>, slot: u32) {
    // After an abort the wakers were taken; a child registered later stays until the group is
    // dropped, which is soon: no lock per cancelled child.
    if slot != NO_SLOT && !shared.is_aborted() {
        shared.waiting.remove(slot);
    }
    // Every child a limited group starts itself holds one of its running slots; a queued
    // child's slot is its `HoldsSlot`'s.
    if N::RECORDS && shared.limiter.is_some() {
        shared.free_slot();
    }
    shared.release();
}

impl<N: ChildKind> Drop for ChildGuard<N> {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            end::<N>(shared, self.slot);
        }
    }
}

pin_project_lite::pin_project! {
    /// A child on the runtime: the user's future and the group (plus the name of a named
    /// child), so that a small future fits tokio's smallest task cell. Its output is the
    /// task's result, which tokio keeps for the handle. The future is dropped by the child
    /// itself, as soon as it ends, so that a panic in its destructor is the child's panic, in
    /// the group and in the handle alike.
    pub(super) struct Child<F, N>
    where
        N: ChildKind,
    {
        #[pin]
        future: Option<F>,
        guard: ChildGuard<N>,
    }

    impl<F, N> PinnedDrop for Child<F, N>
    where
        N: ChildKind,
    {
        fn drop(this: Pin<&mut Self>) {
            // Reached with the future still there when tokio drops an unfinished child: an
            // abort (from its handle, or the group's seen at a poll), or the runtime shutting
            // down. A child that ended in a poll has dropped its future already.
            let mut this = this.project();
            // Through `&mut`, not `&`: see the scope's poll.
            if this.future.as_mut().as_pin_mut().is_none() {
                return;
            }
            let Some(shared) = &this.guard.shared else {
                return;
            };
            // Not its group's abort: its handle's cancel or the runtime (for the handle).
            if N::RECORDS && (N::SHIELDED || !shared.is_aborted()) {
                shared.waiting.dropped_unfinished(tokio::task::try_id());
            }
            if let Err(payload) = drop_future(this.future) {
                let panic = Ending::<()>::panicked(&*payload);
                let _ = conclude(shared, panic, this.guard.name.name(), tokio::task::try_id());
                // Tokio catches it: the handle reads the panic, as the group does.
                if !std::thread::panicking() {
                    resume_unwind(payload);
                }
            }
        }
    }
}

impl<F, N: ChildKind> Child<F, N> {
    pub(super) fn new(future: F, shared: Arc<Shared>, name: N) -> Self {
        Child {
            future: Some(future),
            guard: ChildGuard {
                slot: NO_SLOT,
                shared: Some(shared),
                name,
            },
        }
    }
}

/// A queued child is read in line through its `InCell` (see `limit`).
impl<F: InLine, N: ChildKind> InLine for Child<F, N> {
    fn name(&self) -> Option<&Arc<str>> {
        self.future.as_ref().and_then(InLine::name)
    }
    fn cancel_requested(&self) -> bool {
        self.future.as_ref().is_some_and(InLine::cancel_requested)
    }
    fn key(&self) -> usize {
        self.future.as_ref().map_or(0, InLine::key)
    }
}

impl<F, N> Future for Child<F, N>
where
    F: Future,
    F::Output: TaskOutput,
    N: ChildKind,
{
    type Output = Outcome<<F::Output as TaskOutput>::Ok>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let guard = this.guard;
        let aborted = guard
            .shared
            .as_ref()
            .is_none_or(|shared| !N::SHIELDED && shared.is_aborted());
        if aborted {
            // Tokio reads a cancellation and drops the child, whose `Drop` drops the future: a
            // panic in its destructor is then the child's, in the group and in the handle.
            return Poll::Ready(Err(None));
        }
        // Groups created while this child is polled are nested in its group.
        let lent = Lend::new(&mut guard.shared);
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(None));
        };
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        drop(lent);
        let ending = match polled {
            Ok(Poll::Pending) => {
                // A shield is not woken by an abort: its waker need not be known.
                if !N::SHIELDED {
                    register(guard, cx);
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => Ending::of(output),
            Err(payload) => Ending::panicked(&*payload),
        };
        // Drop the future before recording the ending: a panic in its destructor is the
        // child's panic (the first panic wins).
        let ending = ending.after_drop(this.future);
        let Some(shared) = guard.shared.take() else {
            return Poll::Ready(Err(None));
        };
        let result = match ending {
            // A success records nothing, unless it wins a first-ok group (the common case
            // reads no task id and runs no unwind guard).
            Ending::Value(value) if !N::RECORDS || !shared.success_stops() => Ok(value),
            ending => conclude(&shared, ending, guard.name.name(), tokio::task::try_id()).map_err(
                |error| match error {
                    TaskError::Cancelled => None,
                    error => Some(Box::new(error)),
                },
            ),
        };
        end::<N>(&shared, guard.slot);
        Poll::Ready(result)
    }
}

/// A child whose poll returned `Pending` for the first time makes its waker known to the
/// group, so that a cancellation can wake it (once: a tokio task's waker stays valid). In a
/// group that watches for stalls, a later `Pending` records the poll.
fn register<N: ChildKind>(guard: &mut ChildGuard<N>, cx: &Context<'_>) {
    let Some(shared) = &guard.shared else { return };
    let watch = shared.config.stall.is_some();
    if guard.slot != NO_SLOT {
        if watch {
            shared.waiting.touch(guard.slot);
        }
        return;
    }
    guard.slot = shared
        .waiting
        .register(cx.waker(), guard.name.name(), watch);
    // An abort that came before the registration did not see this waker.
    if shared.is_aborted() {
        cx.waker().wake_by_ref();
    }
}

#[cfg(test)]
mod tests {
    //! The paths through which a child drops its future, on a runtime with no drivers (so that
    //! Miri can run them: `cargo +nightly miri test -p taskgroup-core --lib child`).
    use std::future::pending;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::{Policy, TaskError, TaskGroup};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted(#[allow(dead_code)] Box<u32>);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("destructor");
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn child_drops_its_future_once_on_every_path() {
        DROPS.store(0, Ordering::SeqCst);
        let errors = runtime().block_on(async {
            let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
            tg.run(async {
                let held = Counted(Box::new(1));
                tg.spawn(async move {
                    let _held = held;
                    Ok::<_, std::io::Error>(7)
                });
                let on_drop = PanicsOnDrop;
                tg.spawn(async move {
                    let _on_drop = on_drop;
                    Ok::<_, std::io::Error>(())
                });
                let waiting = Counted(Box::new(2));
                let cancelled = tg.spawn(async move {
                    let _waiting = waiting;
                    pending::<()>().await;
                });
                tokio::task::yield_now().await;
                cancelled.cancel();
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err()
        });
        // The completed and the cancelled child dropped their futures once each; the
        // destructor's panic is the second child's.
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
        assert_eq!(errors.len(), 1);
        assert!(
            errors
                .leaves()
                .next()
                .unwrap()
                .to_string()
                .contains("destructor")
        );
    }

    #[test]
    fn child_handles_see_each_ending() {
        runtime().block_on(async {
            let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
            let mut handles = Vec::new();
            let _ = tg
                .run(async {
                    handles.push(tg.spawn(async { Ok::<_, std::io::Error>(1) }));
                    let on_drop = PanicsOnDrop;
                    handles.push(tg.spawn(async move {
                        let _on_drop = on_drop;
                        Ok::<_, std::io::Error>(2)
                    }));
                    let waiting = tg.spawn(async {
                        pending::<()>().await;
                        Ok::<_, std::io::Error>(3)
                    });
                    tokio::task::yield_now().await;
                    waiting.cancel();
                    handles.push(waiting);
                    Ok::<_, std::io::Error>(())
                })
                .await;
            let results: Vec<_> = handles.into_iter().map(|t| t.result()).collect();
            assert_eq!(results[0], Ok(1));
            assert!(matches!(results[1], Err(TaskError::Panicked(_))));
            assert_eq!(results[2], Err(TaskError::Cancelled));
        });
    }
}
