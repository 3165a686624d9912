//! Regression tests for the defects an adversarial review found (issue "Trust"): hangs, lost
//! errors and disabled cancellation at the edges of the runtime contract. Each test failed
//! before its fix. Timing uses tokio's paused clock: a hang shows up as the one-hour guard
//! below firing at once, not as a stuck test.

mod common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use taskgroup::{AlreadyEntered, Member, TaskError, TaskGroup, TaskPanic, on_cancel, task_group};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

/// Fails the test if `fut` does not finish within an hour of tokio's (paused) clock.
async fn no_hang<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), fut)
        .await
        .expect("the scope hung")
}

/// Panics when dropped, unless the thread is already panicking.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// A future that is pending forever and panics when dropped, polled or not.
fn pending_then_panic_on_drop(message: &'static str) -> PendingPanicOnDrop {
    PendingPanicOnDrop {
        _bomb: PanicOnDrop(message),
    }
}

struct PendingPanicOnDrop {
    _bomb: PanicOnDrop,
}

impl Future for PendingPanicOnDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// Catches a panic out of a future's poll, as the caller of `run` would see it.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

fn panic_messages(eg: &taskgroup::ErrorGroup) -> Vec<String> {
    eg.leaves()
        .filter_map(|leaf| leaf.downcast_ref::<TaskPanic>())
        .map(|panic| panic.message().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. A group created inside another group holds it open only while it has live children.

#[tokio::test(start_paused = true)]
async fn trust_a_group_returned_from_a_body_does_not_hang_the_outer_scope() {
    let outer = TaskGroup::new();
    let inner = no_hang(outer.run(async { Body::Ok(TaskGroup::new()) }))
        .await
        .unwrap();
    // The returned group still works: it is just a group.
    let n = no_hang(inner.run(async { Body::Ok(7) })).await.unwrap();
    assert_eq!(n, 7);
}

#[tokio::test(start_paused = true)]
async fn trust_a_group_stored_by_a_child_does_not_hang_the_outer_scope() {
    static STORED: OnceLock<Mutex<Vec<TaskGroup<'static>>>> = OnceLock::new();
    struct Service {
        _workers: TaskGroup<'static>,
    }
    let outer = TaskGroup::new();
    let service = no_hang(outer.run(async {
        // One in a static, one in a struct handed back, one moved into a detached task.
        tg_stored_in_a_static(&STORED);
        let built = outer.spawn(async {
            Ok::<_, ValueError>(Service {
                _workers: TaskGroup::new(),
            })
        });
        outer.spawn(async {
            let group = TaskGroup::new();
            drop(tokio::spawn(async move {
                let _kept = group;
                std::future::pending::<()>().await;
            }));
        });
        Body::Ok(built.await?)
    }))
    .await
    .unwrap();
    drop(service);
}

fn tg_stored_in_a_static(slot: &'static OnceLock<Mutex<Vec<TaskGroup<'static>>>>) {
    slot.get_or_init(Default::default)
        .lock()
        .unwrap()
        .push(TaskGroup::new());
}

#[tokio::test(start_paused = true)]
async fn trust_a_group_returned_from_task_group_does_not_hang() {
    let inner: TaskGroup<'static> =
        no_hang(async { task_group!(|_tg| { TaskGroup::new() }).map_err(Member::from) })
            .await
            .unwrap();
    drop(inner);
}

#[tokio::test(start_paused = true)]
async fn trust_a_stored_group_with_a_live_child_still_holds_the_outer_scope() {
    let start = Instant::now();
    let grandchild_done = Arc::new(AtomicBool::new(false));
    let outer = TaskGroup::new();
    let stored = {
        let done = grandchild_done.clone();
        let outer = &outer;
        no_hang(outer.run(async move {
            let child = outer.spawn(async move {
                let inner = TaskGroup::new();
                inner.spawn(async move {
                    sleep_ms(100).await;
                    done.store(true, Ordering::SeqCst);
                });
                Ok::<_, ValueError>(inner)
            });
            Body::Ok(child.await?)
        }))
        .await
        .unwrap()
    };
    // The outer scope waited for the grandchild, but not for the stored group itself.
    assert!(grandchild_done.load(Ordering::SeqCst));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    drop(stored);
}

// ---------------------------------------------------------------------------------------------
// 2. A panicking destructor run while stopping does not leave the group half-stopped.

#[tokio::test(start_paused = true)]
async fn trust_a_queued_child_panicking_on_drop_does_not_disable_fail_fast() {
    let start = Instant::now();
    let tg = TaskGroup::builder().limit(2).build();
    let eg = no_hang(tg.run(async {
        tg.spawn(sleep_ms(3_600_000));
        tg.spawn(async {
            sleep_ms(10).await;
            Err::<(), _>(value_error("fails at 10 ms"))
        });
        tg.spawn(pending_then_panic_on_drop("queued child's destructor"));
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert!(eg.contains::<ValueError>());
    assert_eq!(panic_messages(&eg), ["queued child's destructor"]);
}

#[tokio::test(start_paused = true)]
async fn trust_spawner_cancel_with_a_panicking_queued_child_still_cancels() {
    let start = Instant::now();
    let tg = TaskGroup::builder().limit(2).build();
    let spawner = tg.spawner();
    let eg = no_hang(tg.run(async {
        tg.spawn(sleep_ms(3_600_000));
        tg.spawn(async move {
            sleep_ms(10).await;
            spawner.cancel();
        });
        tg.spawn(pending_then_panic_on_drop("queued"));
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(panic_messages(&eg), ["queued"]);
}

// ---------------------------------------------------------------------------------------------
// 3. A panic while dropping the body or a local child.

#[tokio::test(start_paused = true)]
async fn trust_a_local_child_panicking_on_drop_is_a_leaf_not_an_unwind() {
    let tg = TaskGroup::new();
    let result = no_hang(CatchUnwind(Box::pin(tg.run(async {
        tg.spawn_local(pending_then_panic_on_drop("local child's destructor"));
        tg.spawn(async {
            sleep_ms(10).await;
            Err::<(), _>(value_error("boom"))
        });
        Body::Ok(())
    }))))
    .await;
    let eg = result.expect("no unwind out of run").unwrap_err();
    assert!(eg.contains::<ValueError>());
    assert_eq!(panic_messages(&eg), ["local child's destructor"]);
}

/// Panics when dropped, and lets a busy sibling go half a second later (real time: long
/// enough that a panic that did not wait for the sibling is seen before it is reaped).
struct ReleaseLaterThenPanicOnDrop(Arc<AtomicBool>);

impl Drop for ReleaseLaterThenPanicOnDrop {
    fn drop(&mut self) {
        let release = self.0.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            release.store(true, Ordering::SeqCst);
        });
        panic!("body's destructor");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_a_body_panicking_on_drop_propagates_after_the_children_are_reaped() {
    let release = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let sibling_dropped = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let (r, s, d) = (release.clone(), spinning.clone(), sibling_dropped.clone());
    let result = CatchUnwind(Box::pin(tg.run(async {
        // A sibling busy on another worker: it can be reaped only once the body's destructor
        // has let it go.
        tg.spawn(on_cancel(
            async move {
                s.store(true, Ordering::SeqCst);
                while !r.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                std::future::pending::<()>().await;
            },
            move || d.store(true, Ordering::SeqCst),
        ));
        while !spinning.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        let _bomb = ReleaseLaterThenPanicOnDrop(release.clone());
        tg.spawn(async { Err::<(), _>(value_error("boom")) });
        std::future::pending::<()>().await;
        Body::Ok(())
    })))
    .await;
    let payload = result.expect_err("the body's panic propagates");
    assert_eq!(
        payload.downcast_ref::<&str>().copied(),
        Some("body's destructor")
    );
    assert!(
        sibling_dropped.load(Ordering::SeqCst),
        "the panic came out before the sibling was reaped"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Deadlines saturate.

#[tokio::test(start_paused = true)]
async fn trust_timeout_duration_max_does_not_panic() {
    let tg = TaskGroup::builder()
        .timeout(Duration::MAX)
        .grace(Duration::MAX)
        .build();
    assert_eq!(tg.run(async { Body::Ok(1) }).await.unwrap(), 1);
    let n = task_group!(timeout = Duration::MAX; |tg| {
        tg.spawn(async { sleep_ms(5).await; });
        2
    })
    .unwrap();
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------------------------------------
// 5. A group runs one scope.

#[tokio::test(start_paused = true)]
async fn trust_a_second_sequential_run_is_refused() {
    let tg = TaskGroup::new();
    tg.run(async { Body::Ok(()) }).await.unwrap();
    let polled = AtomicBool::new(false);
    let eg = tg
        .run(async {
            polled.store(true, Ordering::SeqCst);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<AlreadyEntered>());
    assert!(!polled.load(Ordering::SeqCst), "the second body never runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_two_concurrent_runs_one_is_refused_neither_hangs() {
    let tg: Arc<TaskGroup<'static>> = Arc::new(TaskGroup::new());
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let (started, first_runs) = tokio::sync::oneshot::channel::<()>();
    let first = {
        let tg = tg.clone();
        tokio::spawn(async move {
            tg.run(async {
                started.send(()).unwrap();
                let _ = wait.await;
                Body::Ok("first")
            })
            .await
        })
    };
    // The second run starts while the first waits.
    first_runs.await.unwrap();
    let second = tg.run(async { Body::Ok("second") }).await;
    release.send(()).unwrap();
    let first = first.await.unwrap();
    assert_eq!(first.unwrap(), "first");
    assert!(second.unwrap_err().contains::<AlreadyEntered>());
}

// ---------------------------------------------------------------------------------------------
// 6. start() loses no error when its caller goes away.

#[tokio::test(start_paused = true)]
async fn trust_start_caller_gone_after_the_child_failed_the_group_gets_the_error() {
    let tg = TaskGroup::new();
    let eg = no_hang(tg.run(async {
        let mut start = Box::pin(tg.start(|_ready: taskgroup::Ready<u16>| async {
            sleep_ms(5).await;
            Err::<(), _>(value_error("failed before ready"))
        }));
        // Polled once (the child starts), then left alone while the child fails.
        std::future::poll_fn(|cx| {
            let _ = start.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
        sleep_ms(10).await;
        drop(start);
        sleep_ms(10).await;
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(
        leaf.downcast_ref::<ValueError>(),
        Some(&value_error("failed before ready"))
    );
}

#[tokio::test(start_paused = true)]
async fn trust_start_caller_gone_before_ready_cancels_the_child() {
    let start = Instant::now();
    let cancelled = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let flag = cancelled.clone();
    no_hang(tg.run(async {
        let starting = tg.start(|_ready: taskgroup::Ready<u16>| {
            on_cancel(
                async {
                    sleep_ms(100).await;
                    Err::<(), _>(value_error("would have failed"))
                },
                move || flag.store(true, Ordering::SeqCst),
            )
        });
        tokio::select! {
            _ = starting => panic!("the child never signals"),
            () = sleep_ms(10) => {}
        }
        Body::Ok(())
    }))
    .await
    .unwrap();
    assert!(cancelled.load(Ordering::SeqCst), "the child was cancelled");
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

// ---------------------------------------------------------------------------------------------
// 7. A child that returns a cancellation ends as cancelled.

#[tokio::test(start_paused = true)]
async fn trust_a_child_propagating_a_cancellation_is_cancelled_not_failed() {
    let tg = TaskGroup::new();
    let awaiting = no_hang(tg.run(async {
        let t1 = tg.spawn(sleep_ms(3_600_000));
        t1.cancel();
        let t2 = tg.spawn(async move {
            t1.await?;
            Ok::<_, TaskError>(())
        });
        Body::Ok(t2)
    }))
    .await
    .expect("a propagated cancellation is not a failure");
    assert_eq!(awaiting.result(), Err(TaskError::Cancelled));
}

// ---------------------------------------------------------------------------------------------
// 8. Group and handle agree on a completed child whose future panics when dropped.

/// Ready at once with a value; its destructor panics.
struct ReadyThenPanicOnDrop {
    _bomb: PanicOnDrop,
}

impl Future for ReadyThenPanicOnDrop {
    type Output = Result<u32, ValueError>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(1))
    }
}

#[tokio::test(start_paused = true)]
async fn trust_a_completed_child_panicking_on_drop_fails_the_group_and_the_handle() {
    let tg = TaskGroup::new();
    let mut task = None;
    let eg = no_hang(tg.run(async {
        task = Some(tg.spawn(ReadyThenPanicOnDrop {
            _bomb: PanicOnDrop("spawned"),
        }));
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    assert_eq!(panic_messages(&eg), ["spawned"]);
    assert!(matches!(
        task.unwrap().result(),
        Err(TaskError::Panicked(message)) if message == "spawned"
    ));
}

#[tokio::test(start_paused = true)]
async fn trust_a_completed_local_child_panicking_on_drop_fails_the_group_and_the_handle() {
    let tg = TaskGroup::new();
    let mut task = None;
    let eg = no_hang(tg.run(async {
        task = Some(tg.spawn_local(ReadyThenPanicOnDrop {
            _bomb: PanicOnDrop("local"),
        }));
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    assert_eq!(panic_messages(&eg), ["local"]);
    assert!(matches!(
        task.unwrap().result(),
        Err(TaskError::Panicked(message)) if message == "local"
    ));
}

// ---------------------------------------------------------------------------------------------
// 9. The limit bounds every kind of child.

/// Counts the children running at once and the most that ever did.
#[derive(Default)]
struct Running {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Running {
    async fn run_for(&self, ms: u64) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        sleep_ms(ms).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn trust_limit_bounds_local_children() {
    let start = Instant::now();
    let running = Running::default();
    {
        let tg = TaskGroup::builder().limit(1).build();
        no_hang(tg.run(async {
            for _ in 0..4 {
                tg.spawn_local(running.run_for(10));
            }
            Body::Ok(())
        }))
        .await
        .unwrap();
    }
    assert_eq!(running.most.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::from_millis(40));
}

#[tokio::test(start_paused = true)]
async fn trust_limit_bounds_spawned_and_local_children_together() {
    let start = Instant::now();
    let running = Arc::new(Running::default());
    {
        let tg = TaskGroup::builder().limit(2).build();
        no_hang(tg.run(async {
            for i in 0..6 {
                if i % 2 == 0 {
                    let running = running.clone();
                    tg.spawn(async move { running.run_for(10).await });
                } else {
                    tg.spawn_local(running.run_for(10));
                }
            }
            Body::Ok(())
        }))
        .await
        .unwrap();
    }
    assert_eq!(running.most.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(30));
}

// ---------------------------------------------------------------------------------------------
// 10. With a grace period the body cleans up too, and its error is kept (CPython's TG_19).

#[tokio::test(start_paused = true)]
async fn trust_the_body_cleans_up_during_the_grace_period_and_its_error_is_kept() {
    let tg = TaskGroup::builder()
        .grace(Duration::from_millis(100))
        .build();
    let token = tg.token();
    let eg = no_hang(tg.run(async {
        tg.spawn(async {
            sleep_ms(10).await;
            Err::<(), _>(value_error("child crashed"))
        });
        tokio::select! {
            () = sleep_ms(3_600_000) => Body::Ok(()),
            () = token.cancelled() => {
                sleep_ms(5).await;
                Err(RuntimeError("body's cleanup failed".into()).into())
            }
        }
    }))
    .await
    .unwrap_err();
    let kinds: Vec<&str> = eg.iter().map(|m| m.type_name()).collect();
    assert_eq!(
        kinds,
        ["ValueError", "RuntimeError"],
        "the body's error comes last"
    );
}

#[tokio::test(start_paused = true)]
async fn trust_a_body_that_ignores_the_grace_is_dropped_when_it_ends() {
    let start = Instant::now();
    let tg = TaskGroup::builder()
        .grace(Duration::from_millis(100))
        .build();
    let eg = no_hang(tg.run(async {
        tg.spawn(async {
            sleep_ms(10).await;
            Err::<(), _>(value_error("child crashed"))
        });
        sleep_ms(3_600_000).await;
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(110));
    assert_eq!(eg.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn trust_a_body_propagating_a_cancellation_cancels_the_group_without_a_failure() {
    let tg = TaskGroup::new();
    let mut sibling = None;
    let eg = no_hang(tg.run(async {
        sibling = Some(tg.spawn(sleep_ms(3_600_000)));
        let t1 = tg.spawn(sleep_ms(3_600_000));
        t1.cancel();
        t1.await?;
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    // As CPython: the cancellation cancels the siblings and comes back as one, not a failure.
    assert!(eg.contains::<taskgroup::BodyCancelled>());
    assert!(!eg.contains::<TaskError>());
    assert_eq!(sibling.unwrap().result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn trust_an_aborted_child_panicking_on_drop_fails_the_group_and_the_handle() {
    let tg = TaskGroup::new();
    let mut bomb = None;
    let eg = no_hang(tg.run(async {
        bomb = Some(tg.spawn(pending_then_panic_on_drop("aborted child's destructor")));
        tg.spawn(async {
            sleep_ms(10).await;
            Err::<(), _>(value_error("boom"))
        });
        Body::Ok(())
    }))
    .await
    .unwrap_err();
    assert!(eg.contains::<ValueError>());
    assert_eq!(panic_messages(&eg), ["aborted child's destructor"]);
    assert!(matches!(
        bomb.unwrap().result(),
        Err(TaskError::Panicked(message)) if message == "aborted child's destructor"
    ));
}
