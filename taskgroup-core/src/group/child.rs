//! [`Child`]: the future a spawned child runs on tokio, and the guard that ends its accounting
//! however it ends.
// Polls and drops its future through `InPlace`'s unsafe methods, and holds its group as a raw
// strong count named by the group's index, keeping both contracts with its guard.
#![allow(unsafe_code)]

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::current::Lend;
use super::ending::{Ending, conclude};
use super::in_place::InPlace;
use super::index;
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

/// The group's index when the child's accounting is done (never handed out by `index`).
const ENDED: u32 = u32::MAX;

// A child is `Send` whatever its group reference: the raw count it holds stands for an
// `Arc<Shared>`, which is `Send` only because `Shared` is `Send + Sync`.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Shared>();
};

/// Ends a child's accounting however it ends: completion, abort, panic or runtime shutdown.
/// Besides a named child's name it is eight bytes, so that a small child fits tokio's smallest
/// task cell: the group by its index, whose strong count the child holds (the `Arc`'s, kept
/// as a raw count), and the child's waker slot.
pub(super) struct ChildGuard<N: ChildKind> {
    /// The group's index (see `index`) while the child's future is alive; `ENDED` once the
    /// child has ended in a poll, its future dropped, its accounting done and its count of
    /// the group given back.
    group: u32,
    /// Its index among the group's waiting children, or `NO_SLOT`.
    slot: u32,
    name: N,
}

impl<N: ChildKind> ChildGuard<N> {
    fn is_alive(&self) -> bool {
        self.group != ENDED
    }

    /// The group's address, while the child is alive.
    fn address(&self) -> *const Shared {
        debug_assert!(self.is_alive());
        // SAFETY: the child holds a strong count of its group until it sets `ENDED`, so the
        // index is taken, and names the group.
        unsafe { index::address(self.group) }
    }

    /// The group, while the child is alive.
    fn shared(&self) -> &Shared {
        // SAFETY: the child's strong count keeps the group alive at that address for as long
        // as `self` is borrowed.
        unsafe { &*self.address() }
    }

    /// The child's count of its group, taken out for the last time: the child is ended.
    fn take(&mut self) -> Option<Arc<Shared>> {
        if !self.is_alive() {
            return None;
        }
        // SAFETY: the address came from `Arc::as_ptr` of the group, whose count the child
        // took with `Arc::into_raw` (see `Child::new`); it is given back once, since the
        // child is marked ended before anything else runs (the poll's lent `Arc` is turned
        // back into the count before the poll returns).
        let shared = unsafe { Arc::from_raw(self.address()) };
        self.group = ENDED;
        Some(shared)
    }
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
        let slot = self.slot;
        if let Some(shared) = self.take() {
            end::<N>(&shared, slot);
        }
    }
}

pin_project_lite::pin_project! {
    /// A child on the runtime: the user's future, the group's index and the child's waker
    /// slot (plus the name of a named child), so that a future of up to 16 bytes fits tokio's
    /// smallest task cell. Its output is the task's result, which tokio keeps for the handle.
    /// The future is dropped by the child itself, as soon as it ends, so that a panic in its
    /// destructor is the child's panic, in the group and in the handle alike.
    pub(super) struct Child<F, N>
    where
        N: ChildKind,
    {
        // Alive exactly while the guard is (its group not `ENDED`).
        #[pin]
        future: InPlace<F>,
        guard: ChildGuard<N>,
    }

    impl<F, N> PinnedDrop for Child<F, N>
    where
        N: ChildKind,
    {
        fn drop(this: Pin<&mut Self>) {
            // Reached with the future still there when tokio drops an unfinished child: an
            // abort (from its handle, or the group's seen at a poll), or the runtime shutting
            // down. A child that ended in a poll has dropped its future already. The guard,
            // dropped after this, ends the accounting.
            let this = this.project();
            if !this.guard.is_alive() {
                return;
            }
            let shared = this.guard.shared();
            // Not its group's abort: its handle's cancel or the runtime (for the handle).
            if N::RECORDS && (N::SHIELDED || !shared.is_aborted()) {
                shared.waiting.dropped_unfinished(tokio::task::try_id());
            }
            // SAFETY: alive (the guard is), and the child is being dropped: never polled again.
            if let Err(payload) = drop_in_place(this.future) {
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

/// Drops a child's future in place; the payload if its destructor panicked.
fn drop_in_place<F>(future: Pin<&mut InPlace<F>>) -> Result<(), Box<dyn Any + Send>> {
    // SAFETY: each caller drops an alive future once and never polls it again (see the
    // callers: the guard is marked ended, or the child dropped, right after).
    catch_unwind(AssertUnwindSafe(|| unsafe { future.drop_in_place() }))
}

impl<F, N: ChildKind> Child<F, N> {
    pub(super) fn new(future: F, shared: Arc<Shared>, name: N) -> Self {
        let group = shared.index();
        // The child's strong count, kept raw: given back by the guard (see `ChildGuard`).
        let _ = Arc::into_raw(shared);
        Child {
            future: InPlace::new(future),
            guard: ChildGuard {
                group,
                slot: NO_SLOT,
                name,
            },
        }
    }
}

/// A queued child is read in line through its `InCell` (see `limit`).
impl<F: InLine, N: ChildKind> InLine for Child<F, N> {
    fn name(&self) -> Option<&Arc<str>> {
        self.alive().and_then(InLine::name)
    }
    fn cancel_requested(&self) -> bool {
        self.alive().is_some_and(InLine::cancel_requested)
    }
    fn key(&self) -> usize {
        self.alive().map_or(0, InLine::key)
    }
}

impl<F, N: ChildKind> Child<F, N> {
    /// The future, while it is alive.
    fn alive(&self) -> Option<&F> {
        // SAFETY: alive while the guard is.
        self.guard.is_alive().then(|| unsafe { self.future.get() })
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
        if !guard.is_alive() {
            return Poll::Ready(Err(None));
        }
        let address = guard.address();
        // SAFETY: alive, so the group is (see `ChildGuard::shared`), for the whole poll.
        let shared = unsafe { &*address };
        if !N::SHIELDED && shared.is_aborted() {
            // Tokio reads a cancellation and drops the child, whose `Drop` drops the future: a
            // panic in its destructor is then the child's, in the group and in the handle.
            return Poll::Ready(Err(None));
        }
        // Groups created while this child is polled are nested in its group: the child's
        // count is lent to the thread for the poll, and kept again after.
        // SAFETY: the child's own count (see `ChildGuard::take`), as an `Arc` for the poll
        // only: turned back into the count below, before anything else can take it.
        let mut lent = Some(unsafe { Arc::from_raw(address) });
        let lend = Lend::new(&mut lent);
        // SAFETY: alive (the guard is); dropped only below, once.
        let polled = catch_unwind(AssertUnwindSafe(|| unsafe {
            this.future.as_mut().poll(cx)
        }));
        drop(lend);
        if let Some(lent) = lent {
            let kept = Arc::into_raw(lent);
            debug_assert!(std::ptr::eq(kept, address));
        }
        let ending = match polled {
            Ok(Poll::Pending) => {
                // A shield is not woken by an abort: its waker need not be known.
                if !N::SHIELDED {
                    register(guard, shared, cx);
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => Ending::of(output),
            Err(payload) => Ending::panicked(&*payload),
        };
        // Drop the future before recording the ending: a panic in its destructor is the
        // child's panic (the first panic wins). The guard is marked ended right after.
        let ending = ending.after(drop_in_place(this.future.as_mut()));
        let Some(shared) = guard.take() else {
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
fn register<N: ChildKind>(guard: &mut ChildGuard<N>, shared: &Shared, cx: &Context<'_>) {
    let watch = shared.config.stall.is_some();
    if guard.slot != NO_SLOT {
        if watch {
            shared.waiting.touch(guard.slot);
        }
        return;
    }
    let slot = shared
        .waiting
        .register(cx.waker(), guard.name.name(), watch);
    // An abort that came before the registration did not see this waker.
    if shared.is_aborted() {
        cx.waker().wake_by_ref();
    }
    guard.slot = slot;
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

    #[test]
    fn child_lends_its_group_to_a_group_made_inside_it_and_keeps_it() {
        let sum = runtime().block_on(async {
            let tg = TaskGroup::new();
            tg.run(async {
                let outer = tg.spawn(async {
                    // Made while the child is polled: nested in the child's group, which it
                    // clones from the thread's current group.
                    let inner = TaskGroup::new();
                    let tasks = inner
                        .run(async {
                            let a = inner.spawn(async { Ok::<_, std::io::Error>(1) });
                            let b = inner.spawn(async {
                                tokio::task::yield_now().await;
                                Ok::<_, std::io::Error>(2)
                            });
                            Ok::<_, std::io::Error>((a, b))
                        })
                        .await?;
                    Ok::<_, crate::ErrorGroup>(
                        tasks.0.result().unwrap() + tasks.1.result().unwrap(),
                    )
                });
                tokio::task::yield_now().await;
                Ok::<_, std::io::Error>(outer)
            })
            .await
            .unwrap()
            .result()
            .unwrap()
        });
        assert_eq!(sum, 3);
    }

    #[test]
    fn child_aborted_by_its_group_or_left_to_the_runtime_drops_its_future_once() {
        DROPS_ABORTED.store(0, Ordering::SeqCst);
        let rt = runtime();
        let errors = rt.block_on(async {
            let tg = TaskGroup::new();
            tg.run(async {
                for _ in 0..3 {
                    let held = Aborted(Box::new(0));
                    tg.spawn(async move {
                        let _held = held;
                        pending::<()>().await;
                    });
                }
                // Named and unnamed, waiting when the sibling fails.
                let held = Aborted(Box::new(1));
                tg.spawn_named("named", async move {
                    let _held = held;
                    pending::<()>().await;
                });
                tokio::task::yield_now().await;
                tg.spawn(async { Err::<(), _>(std::io::Error::other("boom")) });
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err()
        });
        assert_eq!(errors.len(), 1);
        assert_eq!(DROPS_ABORTED.load(Ordering::SeqCst), 4);
        // Children of a group whose scope never ran, still waiting when the runtime goes.
        let tg = TaskGroup::new();
        rt.block_on(async {
            for _ in 0..2 {
                let held = Aborted(Box::new(2));
                tg.spawn(async move {
                    let _held = held;
                    pending::<()>().await;
                });
            }
            tokio::task::yield_now().await;
        });
        drop(rt);
        assert_eq!(DROPS_ABORTED.load(Ordering::SeqCst), 6);
        drop(tg);
    }

    #[test]
    fn children_on_two_workers_end_their_accounting_once() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let sum = rt.block_on(async {
            let tg = TaskGroup::builder().limit(3).build();
            tg.run(async {
                let tasks: Vec<_> = (0..8)
                    .map(|i| {
                        tg.spawn(async move {
                            if i % 2 == 0 {
                                tokio::task::yield_now().await;
                            }
                            Ok::<_, std::io::Error>(i)
                        })
                    })
                    .collect();
                Ok::<_, std::io::Error>(tasks)
            })
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.result().unwrap())
            .sum::<i32>()
        });
        assert_eq!(sum, 28);
    }

    #[test]
    fn queued_and_shielded_children_read_and_drop_their_futures_through_the_child() {
        use std::sync::atomic::AtomicBool;
        let released = std::sync::Arc::new(AtomicBool::new(false));
        let wait = |released: std::sync::Arc<AtomicBool>| async move {
            while !released.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
        };
        let (names, shielded, cancelled, errors) = runtime().block_on(async {
            let tg = TaskGroup::builder().limit(1).build();
            let mut names = Vec::new();
            let mut handles = None;
            let errors = tg
                .run(async {
                    tg.spawn(wait(released.clone()));
                    // Queued behind the limit: the snapshot reads them in line, through the
                    // child's future.
                    let queued = tg.spawn_named("queued", wait(released.clone()));
                    tg.spawn_named("second", wait(released.clone()));
                    tokio::task::yield_now().await;
                    names = tg.snapshot().groups[0]
                        .waiting
                        .iter()
                        .filter_map(|child| child.name.as_deref().map(str::to_owned))
                        .collect();
                    // Dropped unstarted, through the child.
                    queued.cancel();
                    // Queued too; once started, a shield runs to its end through the failure.
                    let shielded = tg.spawn_shielded(async {
                        tokio::task::yield_now().await;
                        Ok::<_, std::io::Error>(5)
                    });
                    tg.spawn(async { Err::<(), _>(std::io::Error::other("stop")) });
                    released.store(true, Ordering::SeqCst);
                    handles = Some((shielded, queued));
                    Ok::<_, std::io::Error>(())
                })
                .await
                .unwrap_err();
            let (shielded, queued) = handles.unwrap();
            (names, shielded.result(), queued.result(), errors)
        });
        assert_eq!(names, ["queued", "second"]);
        assert_eq!(shielded, Ok(5));
        assert_eq!(cancelled, Err(TaskError::Cancelled));
        assert_eq!(errors.leaves().next().unwrap().to_string(), "stop");
    }

    static DROPS_ABORTED: AtomicUsize = AtomicUsize::new(0);

    struct Aborted(#[allow(dead_code)] Box<u32>);

    impl Drop for Aborted {
        fn drop(&mut self) {
            DROPS_ABORTED.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A future of 16 bytes, as small as an `async move` block capturing one `usize`.
    struct Sixteen(#[allow(dead_code)] [u64; 2]);

    impl std::future::Future for Sixteen {
        type Output = ();
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            std::task::Poll::Ready(())
        }
    }

    #[test]
    fn a_child_adds_eight_bytes_to_its_future() {
        // Tokio's smallest task cell (128 bytes) takes a future of up to 24 bytes.
        assert_eq!(std::mem::size_of::<super::Child<Sixteen, ()>>(), 24);
    }
}
