//! Blocking children (issue 14, part 1): `tg.spawn_blocking(|| ...)` runs a closure on tokio's
//! blocking pool as a child of the group. The closures here block on std channels that the
//! test releases, so every ordering is forced, never left to timing.

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::Poll;

use common::*;
use taskgroup::{Member, Policy, SpawnError, TaskError, TaskGroup, TaskPanic};
use tokio::sync::oneshot;

type Body<T> = Result<T, Member>;

/// Polls `future` once: whether it is still pending.
async fn still_pending<F: Future>(future: Pin<&mut F>) -> bool {
    let mut future = Some(future);
    std::future::poll_fn(|cx| {
        let pending = future.take().is_some_and(|f| f.poll(cx).is_pending());
        Poll::Ready(pending)
    })
    .await
}

/// A closure's handshake: it says it started, then waits until the test lets it go.
struct Gate {
    started: Option<oneshot::Sender<()>>,
    go: mpsc::Receiver<()>,
}

impl Gate {
    fn new() -> (Gate, oneshot::Receiver<()>, mpsc::Sender<()>) {
        let (started_tx, started_rx) = oneshot::channel();
        let (go_tx, go_rx) = mpsc::channel();
        let gate = Gate {
            started: Some(started_tx),
            go: go_rx,
        };
        (gate, started_rx, go_tx)
    }

    /// On the blocking thread: signal the start, then block until released.
    fn pass(mut self) {
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
        self.go.recv().expect("the test lets the closure go");
    }
}

#[tokio::test]
async fn blocking_failure_cancels_async_siblings() {
    let sibling_dropped = DropCounter::default();
    let tg = TaskGroup::new();
    let (sibling, blocker) = {
        let sibling_dropped = sibling_dropped.clone();
        tg.run_settled(async {
            let sibling = tg.spawn(sibling_dropped.track(std::future::pending::<()>()));
            let blocker = tg.spawn_blocking(|| Err::<(), _>(value_error("disk on fire")));
            Body::Ok((sibling, blocker))
        })
        .await
        .value
        .expect("the body returned")
    };
    assert_eq!(sibling.result(), Err(TaskError::Cancelled));
    assert!(matches!(
        blocker.result(),
        Err(TaskError::Failed {
            type_name: "ValueError",
            ..
        })
    ));
    sibling_dropped.assert_all_dropped();
    // The failure itself is the group's.
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(std::future::pending::<()>());
            tg.spawn_blocking(|| Err::<(), _>(value_error("disk on fire")));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(
        leaf.downcast_ref::<ValueError>(),
        Some(&value_error("disk on fire"))
    );
    assert!(
        leaf.task().and_then(|t| t.id()).is_some(),
        "the leaf names its task"
    );
}

#[tokio::test]
async fn blocking_scope_waits_for_a_closure_that_ignores_cancellation() {
    let (gate, started, go) = Gate::new();
    let done = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let (cancelled_tx, cancelled_rx) = oneshot::channel();
    let mut scope = pin!(tg.run(async {
        let done = Arc::clone(&done);
        let stubborn = tg.spawn_blocking(move || {
            gate.pass();
            done.store(true, Ordering::SeqCst);
            Ok::<_, ValueError>(7)
        });
        started.await.unwrap();
        tg.spawn(async { Err::<(), _>(value_error("sibling failed")) });
        // The body is cancelled at its next pending await, once the failure is recorded.
        let _ = cancelled_tx.send(());
        std::future::pending::<()>().await;
        Body::Ok(stubborn)
    }));
    tokio::select! {
        _ = scope.as_mut() => panic!("the scope returned while the closure was blocked"),
        sent = cancelled_rx => sent.unwrap(),
    }
    // The failure has cancelled everything it can; the closure is still blocked.
    for _ in 0..10 {
        tokio::task::yield_now().await;
        assert!(
            still_pending(scope.as_mut()).await,
            "the scope waits for the closure"
        );
    }
    assert!(!done.load(Ordering::SeqCst));
    go.send(()).unwrap();
    let eg = scope.await.unwrap_err();
    assert!(
        done.load(Ordering::SeqCst),
        "the closure finished before the scope returned"
    );
    assert_eq!(eg.len(), 1, "only the sibling failed: {eg:?}");
}

#[tokio::test]
async fn blocking_value_of_a_closure_that_ran_on_after_the_cancel_is_kept() {
    let (gate, started, go) = Gate::new();
    let tg = TaskGroup::new();
    let task = tg
        .run(async {
            let task = tg.spawn_blocking(move || {
                gate.pass();
                Ok::<_, ValueError>("committed")
            });
            started.await.unwrap();
            tg.cancel();
            go.send(()).unwrap();
            Body::Ok(task)
        })
        .await
        .expect("a cancel after the body returned is not an error");
    assert_eq!(task.result(), Ok("committed"));
}

#[tokio::test]
async fn blocking_panic_becomes_a_task_panic_leaf() {
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let sibling = tg.spawn(std::future::pending::<()>());
            let panicker = tg.spawn_blocking(|| -> Res<()> { panic!("blocking boom") });
            Body::Ok((sibling, panicker))
        })
        .await;
    let eg = settled.errors.expect("the panic fails the group");
    assert_eq!(eg.len(), 1);
    let panic = eg
        .leaves()
        .next()
        .unwrap()
        .downcast_ref::<TaskPanic>()
        .cloned();
    assert_eq!(
        panic.map(|p| p.message().to_owned()).as_deref(),
        Some("blocking boom")
    );
    let (sibling, panicker) = settled.value.unwrap();
    assert_eq!(
        sibling.result(),
        Err(TaskError::Cancelled),
        "a panic cancels siblings"
    );
    assert_eq!(
        panicker.result(),
        Err(TaskError::Panicked("blocking boom".to_owned()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_value_through_the_handle_inside_and_after_the_scope() {
    let tg = TaskGroup::new();
    let (inside, after, unit) = tg
        .run(async {
            let inside = tg.spawn_blocking(|| "21".parse::<u32>()).await? * 2;
            let after = tg.spawn_blocking(|| Ok::<_, std::io::Error>(vec![1, 2, 3]));
            let unit = tg.spawn_blocking(|| ());
            Ok::<_, TaskError>((inside, after, unit))
        })
        .await
        .unwrap();
    assert_eq!(inside, 42);
    assert_eq!(after.result().unwrap(), [1, 2, 3]);
    assert_eq!(unit.result(), Ok(()));
}

#[tokio::test]
async fn blocking_child_takes_a_slot_of_the_limit() {
    let (gate, started, go) = Gate::new();
    let blocking_done = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::builder().limit(1).build();
    let saw_blocking_done = tg
        .run(async {
            let flag = Arc::clone(&blocking_done);
            tg.spawn_blocking(move || {
                gate.pass();
                flag.store(true, Ordering::SeqCst);
            });
            let flag = Arc::clone(&blocking_done);
            let after = tg.spawn(async move { Ok::<_, ValueError>(flag.load(Ordering::SeqCst)) });
            assert_eq!(after.id(), None, "queued behind the blocking child");
            started.await.unwrap();
            for _ in 0..10 {
                tokio::task::yield_now().await;
                assert!(!after.is_finished(), "the slot is the blocking child's");
            }
            go.send(()).unwrap();
            after.await
        })
        .await
        .unwrap();
    assert!(
        saw_blocking_done,
        "the queued child ran only after the closure returned"
    );
}

#[tokio::test]
async fn blocking_child_waits_for_a_slot_before_its_closure_starts() {
    let ran = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::builder().limit(1).build();
    tg.run(async {
        let (release, hold) = oneshot::channel::<()>();
        let holder = tg.spawn(async move {
            let _ = hold.await;
        });
        let flag = Arc::clone(&ran);
        let blocking = tg.spawn_blocking(move || {
            flag.fetch_add(1, Ordering::SeqCst);
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0, "no slot, no start");
        release.send(()).unwrap();
        holder.await?;
        blocking.await?;
        Ok::<_, TaskError>(())
    })
    .await
    .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn blocking_child_queued_when_the_group_fails_never_starts() {
    let ran = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::builder().limit(1).build();
    let (queued, eg) = {
        let flag = Arc::clone(&ran);
        let settled = tg
            .run_settled(async {
                let (fail, failing) = oneshot::channel::<()>();
                tg.spawn(async move {
                    let _ = failing.await;
                    Err::<(), _>(value_error("first"))
                });
                let queued = tg.spawn_blocking(move || flag.store(true, Ordering::SeqCst));
                fail.send(()).unwrap();
                Body::Ok(queued)
            })
            .await;
        (settled.value.unwrap(), settled.errors.unwrap())
    };
    assert!(eg.contains::<ValueError>());
    assert_eq!(queued.result(), Err(TaskError::Cancelled));
    assert!(
        !ran.load(Ordering::SeqCst),
        "a closure that never started never runs"
    );
}

#[tokio::test]
async fn blocking_task_cancel_does_not_stop_a_running_closure_and_the_scope_waits() {
    let (gate, started, go) = Gate::new();
    let done = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let mut scope = pin!(tg.run(async {
        let flag = Arc::clone(&done);
        let task = tg.spawn_blocking(move || {
            gate.pass();
            flag.store(true, Ordering::SeqCst);
        });
        started.await.unwrap();
        task.cancel();
        Ok::<_, TaskError>(task.await)
    }));
    let mut polls = 0;
    while still_pending(scope.as_mut()).await {
        polls += 1;
        tokio::task::yield_now().await;
        if polls == 20 {
            break;
        }
    }
    assert_eq!(polls, 20, "the scope waits for the running closure");
    assert!(!done.load(Ordering::SeqCst));
    go.send(()).unwrap();
    let awaited = scope.await.unwrap();
    assert!(
        done.load(Ordering::SeqCst),
        "the closure ran to its end first"
    );
    assert_eq!(
        awaited,
        Err(TaskError::Cancelled),
        "its handle says cancelled"
    );
}

#[tokio::test]
async fn blocking_closure_sees_the_group_stop_through_its_token() {
    let (gate, started, go) = Gate::new();
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let token = tg.token();
    let saw = tg
        .run(async {
            let saw = tg.spawn_blocking(move || {
                gate.pass();
                Ok::<_, ValueError>(token.is_cancelled())
            });
            started.await.unwrap();
            tg.cancel();
            go.send(()).unwrap();
            Body::Ok(saw)
        })
        .await
        .unwrap();
    assert_eq!(saw.result(), Ok(true));
}

#[test]
fn blocking_spawn_outside_a_runtime_is_refused_and_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let flag = Arc::clone(&ran);
    let task = tg.spawn_blocking(move || flag.store(true, Ordering::SeqCst));
    assert_eq!(
        task.result(),
        Err(TaskError::NotStarted(SpawnError::NoRuntime))
    );
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn blocking_spawn_on_a_closed_group_is_refused() {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    tg.run(async { Body::Ok(()) }).await.unwrap();
    let task = spawner.spawn_blocking(|| ());
    assert_eq!(
        task.result(),
        Err(TaskError::NotStarted(SpawnError::Closed))
    );
}

#[tokio::test]
async fn blocking_children_leave_no_task_behind() {
    let baseline = alive();
    let tg = TaskGroup::builder().limit(3).build();
    let total = tg
        .run(async {
            let tasks: Vec<_> = (0..20u64)
                .map(|i| tg.spawn_blocking(move || Ok::<_, ValueError>(i)))
                .collect();
            let mut total = 0;
            for task in tasks {
                total += task.await?;
            }
            Ok::<_, TaskError>(total)
        })
        .await
        .unwrap();
    assert_eq!(total, 190);
    assert_no_tasks_beyond(baseline).await;
}
