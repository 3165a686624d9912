//! The runtime contract R1–R11 of SPEC §2, one or more tests per rule, named after it.
//! Cases follow CPython's Lib/test/test_asyncio/test_taskgroups.py where they have a Rust
//! meaning. Timing uses tokio's paused clock, so the sleeps below take no real time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use taskgroup::{
    BodyCancelled, ErrorGroup, Member, Policy, SpawnError, TaskError, TaskGroup, TaskPanic,
    TimedOut, on_cancel,
};
use tokio::sync::{Barrier, oneshot};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

/// A child that panics (typed, so the closure's output is `Res<()>` rather than `!`).
fn explode(message: &'static str) -> Res<()> {
    panic!("{message}")
}

// ---------------------------------------------------------------------------------------------
// R1 Scope: leaving it means every child finished or was cancelled and reaped, on every path.

#[tokio::test(start_paused = true)]
async fn r1_scope_waits_for_every_child() {
    let start = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::new();
    tg.run(async {
        for ms in [100u64, 300, 200] {
            let done = done.clone();
            tg.spawn(async move {
                sleep_ms(ms).await;
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn r1_dropping_the_scope_future_cancels_and_drops_every_child() {
    let baseline = alive();
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    let scope = tg.run(async {
        for _ in 0..5 {
            tg.spawn(counter.track(sleep_ms(10_000)));
        }
        sleep_ms(10_000).await;
        Body::Ok(())
    });
    // tokio::time::timeout drops the scope's future at 50 ms.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), scope)
            .await
            .is_err()
    );
    assert_no_tasks_beyond(baseline).await;
    assert_eq!(counter.created(), 5);
    counter.assert_all_dropped();
    assert_eq!(counter.completed(), 0);
}

#[tokio::test(start_paused = true)]
async fn r1_dropping_the_group_before_run_cancels_its_children() {
    let baseline = alive();
    let counter = DropCounter::default();
    {
        let tg = TaskGroup::new();
        tg.spawn(counter.track(sleep_ms(1_000)));
        tg.spawn(counter.track(sleep_ms(1_000)));
    }
    assert_no_tasks_beyond(baseline).await;
    counter.assert_all_dropped();
    assert_eq!(counter.completed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_no_task_outlives_a_failing_scope_on_multi_thread() {
    let baseline = alive();
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    let err = tg
        .run(async {
            for _ in 0..50 {
                tg.spawn(counter.track(std::future::pending::<()>()));
            }
            tg.spawn(async { Res::<()>::Err(value_error("boom")) });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.len(), 1);
    // Every child's future was dropped before the scope returned.
    counter.assert_all_dropped();
    assert_no_tasks_beyond(baseline).await;
}

// ---------------------------------------------------------------------------------------------
// R2 Spawn: children start at once, in parallel; spawning from children and at the exit.

#[tokio::test(start_paused = true)]
async fn r2_children_run_in_parallel() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let tasks = tg
        .run(async {
            let tasks: Vec<_> = (1..=3)
                .map(|i| {
                    tg.spawn(async move {
                        sleep_ms(1_000).await;
                        Res::Ok(i)
                    })
                })
                .collect();
            Body::Ok(tasks)
        })
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let values: Vec<i32> = tasks.into_iter().map(|t| t.result().unwrap()).collect();
    assert_eq!(values, [1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn r2_child_starts_before_the_body_awaits() {
    let (tx, rx) = oneshot::channel();
    let tg = TaskGroup::new();
    tg.run(async {
        tg.spawn(async move {
            tx.send(()).unwrap();
        });
        // The child runs while the body waits on it: it was started at spawn.
        rx.await.unwrap();
        Body::Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_children_run_on_several_threads_at_once() {
    // Two children that each wait for the other can only finish if both run at once.
    let barrier = Arc::new(Barrier::new(2));
    let tg = TaskGroup::new();
    tg.run(async {
        for _ in 0..2 {
            let barrier = barrier.clone();
            tg.spawn(async move {
                barrier.wait().await;
            });
        }
        Body::Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn r2_children_spawn_children_through_the_spawner() {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let count = Arc::new(AtomicUsize::new(0));
    tg.run(async {
        let count = count.clone();
        tg.spawn(async move {
            for depth in 0..3 {
                let count = count.clone();
                let inner = spawner.clone();
                spawner.spawn(async move {
                    sleep_ms(10 * depth).await;
                    count.fetch_add(1, Ordering::SeqCst);
                    // a grandchild, spawned from a child
                    let count = count.clone();
                    inner.spawn(async move {
                        sleep_ms(10).await;
                        count.fetch_add(1, Ordering::SeqCst);
                    });
                });
            }
        });
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 6);
}

#[tokio::test(start_paused = true)]
async fn r2_spawning_while_the_scope_waits_at_its_exit() {
    // CPython test_taskgroup_24-style: a child spawns a sibling after the body has finished.
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let late = Arc::new(std::sync::Mutex::new(None));
    let late2 = late.clone();
    tg.run(async {
        tg.spawn(async move {
            sleep_ms(100).await;
            let t = spawner.spawn(async {
                sleep_ms(100).await;
                Res::Ok("late sibling")
            });
            *late2.lock().unwrap() = Some(t);
        });
        Body::Ok(())
    })
    .await
    .unwrap();
    let task = late.lock().unwrap().take().unwrap();
    assert_eq!(task.result().unwrap(), "late sibling");
}

// ---------------------------------------------------------------------------------------------
// R3 Results: handles resolve; awaiting one sibling inside the scope.

#[tokio::test(start_paused = true)]
async fn r3_results_after_the_scope() {
    // Handles kept in a local outside the body survive a failing scope, as Python's do.
    let mut handles = None;
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let eg = tg
        .run(async {
            let ok = tg.spawn(async { Res::Ok("value") });
            let failed = tg.spawn(async {
                sleep_ms(10).await;
                Res::<()>::Err(value_error("bad"))
            });
            let cancelled = tg.spawn(async {
                sleep_ms(1_000).await;
                Res::Ok(())
            });
            cancelled.cancel();
            let panicked = tg.spawn(async {
                sleep_ms(5).await;
                explode("kaboom")
            });
            handles = Some((ok, failed, cancelled, panicked));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 2);
    let (ok, failed, cancelled, panicked) = handles.unwrap();
    assert_eq!(ok.result().unwrap(), "value");
    assert_eq!(
        failed.result().unwrap_err(),
        TaskError::Failed {
            type_name: "ValueError",
            message: "bad".into()
        }
    );
    assert_eq!(cancelled.result().unwrap_err(), TaskError::Cancelled);
    assert_eq!(
        panicked.result().unwrap_err(),
        TaskError::Panicked("kaboom".into())
    );
}

#[tokio::test(start_paused = true)]
async fn r3_await_one_sibling_inside_the_scope() {
    let tg = TaskGroup::new();
    let total = tg
        .run(async {
            let a = tg.spawn(async {
                sleep_ms(100).await;
                Res::Ok(40)
            });
            let b = tg.spawn(async {
                sleep_ms(50).await;
                Res::Ok(2)
            });
            let a = a.await.map_err(Member::from)?;
            let b = b.await.map_err(Member::from)?;
            Body::Ok(a + b)
        })
        .await
        .unwrap();
    assert_eq!(total, 42);
}

#[tokio::test(start_paused = true)]
async fn r3_task_reports_finished_id_and_name() {
    let tg = TaskGroup::new();
    let (named, plain) = tg
        .run(async {
            let named = tg.spawn_named("fetcher", async { Res::Ok(1) });
            let plain = tg.spawn(async { Res::Ok(2) });
            assert_eq!(named.name(), Some("fetcher"));
            assert!(named.id().is_some());
            assert_ne!(named.id(), plain.id());
            Body::Ok((named, plain))
        })
        .await
        .unwrap();
    assert!(named.is_finished() && plain.is_finished());
    assert_eq!(plain.name(), None);
}

#[tokio::test(start_paused = true)]
async fn r3_result_inside_scope_is_pending_until_done() {
    let tg = TaskGroup::new();
    tg.run(async {
        let t = tg.spawn(async {
            sleep_ms(100).await;
            Res::Ok(())
        });
        assert!(!t.is_finished());
        assert_eq!(t.result().unwrap_err(), TaskError::Pending);
        Body::Ok(())
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// R4 Fail-fast: the first failure cancels the other children and the body's pending await.

#[tokio::test(start_paused = true)]
async fn r4_first_failure_cancels_siblings() {
    // The seed's multiple-exceptions program: task 3 fails first and cancels 1 and 2.
    async fn failing(id: u32, ms: u64) -> Result<(), RuntimeError> {
        sleep_ms(ms).await;
        Err(RuntimeError(format!("Task {id} failed")))
    }
    let start = Instant::now();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(failing(1, 200));
            tg.spawn(failing(2, 300));
            tg.spawn(failing(3, 100));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(eg.len(), 1);
    assert_eq!(eg.iter().next().unwrap().to_string(), "Task 3 failed");
    assert_eq!(
        eg.to_string(),
        "unhandled errors in a TaskGroup (1 sub-exception)"
    );
}

#[tokio::test(start_paused = true)]
async fn r4_failure_cancels_the_bodys_pending_await() {
    let reached = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(async {
                sleep_ms(10).await;
                Res::<()>::Err(value_error("child"))
            });
            sleep_ms(1_000).await;
            reached.fetch_add(1, Ordering::SeqCst);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the body was not cancelled"
    );
    assert_eq!(eg.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn r4_cancelled_siblings_run_their_drops() {
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    tg.run(async {
        for _ in 0..10 {
            tg.spawn(counter.track(sleep_ms(5_000)));
        }
        tg.spawn(async { Res::<()>::Err(value_error("x")) });
        Body::Ok(())
    })
    .await
    .unwrap_err();
    counter.assert_all_dropped();
    assert_eq!(counter.completed(), 0);
}

#[tokio::test(start_paused = true)]
async fn r4_body_error_before_an_await_cancels_children() {
    // test_taskgroup_07-style: the body raises before awaiting anything.
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(counter.track(sleep_ms(1_000)));
            Body::<()>::Err(value_error("body").into())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert!(eg.contains::<ValueError>());
    counter.assert_all_dropped();
    assert_eq!(counter.completed(), 0);
}

#[tokio::test(start_paused = true)]
async fn r4_body_error_after_an_await_comes_last() {
    // test_taskgroup_08-style: a child failed first, then the body raised during cleanup.
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(async {
                sleep_ms(50).await;
                Result::<(), TypeError>::Err(TypeError("child".into()))
            });
            sleep_ms(10).await;
            Body::<()>::Err(value_error("body").into())
        })
        .await
        .unwrap_err();
    // The body's error cancelled the child before it could fail.
    assert_eq!(eg.len(), 1);
    assert_eq!(eg.iter().next().unwrap().type_name(), "ValueError");
}

// ---------------------------------------------------------------------------------------------
// R5 Collection: completion order, body last, cancelled children are not errors, nesting.

#[tokio::test(start_paused = true)]
async fn r5_failures_in_completion_order_body_last() {
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let eg = tg
        .run(async {
            tg.spawn(async {
                sleep_ms(30).await;
                Res::<()>::Err(value_error("third"))
            });
            tg.spawn(async {
                sleep_ms(10).await;
                Res::<()>::Err(value_error("first"))
            });
            tg.spawn(async {
                sleep_ms(20).await;
                Result::<(), TypeError>::Err(TypeError("second".into()))
            });
            Body::<()>::Err(RuntimeError("body".into()).into())
        })
        .await
        .unwrap_err();
    let messages: Vec<String> = eg.iter().map(ToString::to_string).collect();
    assert_eq!(messages, ["first", "second", "third", "body"]);
}

#[tokio::test(start_paused = true)]
async fn r5_failures_landing_at_the_same_instant_are_all_kept() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            for i in 0..5 {
                tg.spawn(async move {
                    sleep_ms(100).await;
                    Res::<()>::Err(value_error(&format!("e{i}")))
                });
            }
            Body::Ok(())
        })
        .await
        .unwrap_err();
    // All five wake at the same instant; whichever run before the cancellation is seen are
    // reported, and at least the first is.
    assert!((1..=5).contains(&eg.len()));
    assert!(eg.leaves().all(|l| l.is::<ValueError>()));
}

#[tokio::test(start_paused = true)]
async fn r5_nested_scope_failure_nests_as_a_group() {
    async fn inner() -> Result<&'static str, ErrorGroup> {
        let tg = TaskGroup::new();
        tg.run(async {
            tg.spawn(async {
                sleep_ms(10).await;
                Result::<(), RuntimeError>::Err(RuntimeError("Subtask failed".into()))
            });
            Body::Ok("unreachable")
        })
        .await
    }
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(inner());
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    let nested = eg
        .iter()
        .next()
        .unwrap()
        .as_group()
        .expect("a nested group");
    assert_eq!(
        nested.to_string(),
        "unhandled errors in a TaskGroup (1 sub-exception)"
    );
    assert_eq!(nested.iter().next().unwrap().to_string(), "Subtask failed");
}

#[tokio::test(start_paused = true)]
async fn r5_body_question_mark_on_a_nested_scope_nests_it() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            let inner = TaskGroup::new();
            inner
                .run(async {
                    inner.spawn(async { Res::<()>::Err(value_error("deep")) });
                    Body::Ok(())
                })
                .await?;
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert!(eg.iter().next().unwrap().as_group().is_some());
    assert_eq!(eg.leaves().count(), 1);
}

#[tokio::test(start_paused = true)]
async fn r5_errors_record_the_task_they_came_from() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_named("loader", async { Res::<()>::Err(value_error("x")) });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(leaf.task().unwrap().name(), Some("loader"));
}

// ---------------------------------------------------------------------------------------------
// R6 Panics.

#[tokio::test(start_paused = true)]
async fn r6_child_panic_becomes_a_leaf_and_cancels_siblings() {
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(counter.track(sleep_ms(1_000)));
            tg.spawn(async {
                sleep_ms(10).await;
                explode("child exploded")
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let panic = eg
        .leaves()
        .next()
        .unwrap()
        .downcast_ref::<TaskPanic>()
        .unwrap();
    assert_eq!(panic.message(), "child exploded");
    counter.assert_all_dropped();
    assert_eq!(counter.completed(), 0);
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct BadDisplay;

impl std::fmt::Display for BadDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display of BadDisplay")
    }
}

impl std::error::Error for BadDisplay {}

#[tokio::test(start_paused = true)]
async fn r6_a_panic_while_recording_a_failure_is_the_childs_panic() {
    for local in [false, true] {
        let tg = TaskGroup::new();
        let mut task = None;
        let eg = tg
            .run(async {
                let failing = async { Err::<(), _>(BadDisplay) };
                task = Some(if local {
                    tg.spawn_local(failing)
                } else {
                    tg.spawn(failing)
                });
                Body::Ok(())
            })
            .await
            .unwrap_err();
        let panic = eg
            .leaves()
            .next()
            .unwrap()
            .downcast_ref::<TaskPanic>()
            .unwrap();
        assert_eq!(panic.message(), "Display of BadDisplay");
        assert_eq!(
            task.unwrap().result().unwrap_err(),
            TaskError::Panicked("Display of BadDisplay".into())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn r6_body_panic_propagates_after_children_are_reaped() {
    let counter = DropCounter::default();
    let counter2 = counter.clone();
    let outcome = tokio::spawn(async move {
        let tg = TaskGroup::new();
        tg.run(async {
            tg.spawn(counter2.track(sleep_ms(1_000)));
            sleep_ms(10).await;
            if counter2.created() == 1 {
                panic!("body exploded");
            }
            Body::Ok(())
        })
        .await
    })
    .await;
    let err = outcome.unwrap_err();
    assert!(err.is_panic());
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"body exploded"));
    counter.assert_all_dropped();
}

// ---------------------------------------------------------------------------------------------
// R7 Manual cancellation.

#[tokio::test(start_paused = true)]
async fn r7_task_cancel_is_not_a_failure() {
    // The seed's manual-cancel program: a monitor cancels the other tasks; no group results.
    let cancelled = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::new();
    let tasks = tg
        .run(async {
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let cancelled = cancelled.clone();
                    tg.spawn(on_cancel(
                        async {
                            sleep_ms(10_000).await;
                            Res::Ok(())
                        },
                        move || {
                            cancelled.fetch_add(1, Ordering::SeqCst);
                        },
                    ))
                })
                .collect();
            sleep_ms(1_000).await;
            for t in &tasks {
                t.cancel();
            }
            Body::Ok(tasks)
        })
        .await
        .unwrap();
    assert_eq!(cancelled.load(Ordering::SeqCst), 3);
    for t in tasks {
        assert_eq!(t.result().unwrap_err(), TaskError::Cancelled);
    }
}

#[tokio::test(start_paused = true)]
async fn r7_group_cancel_from_a_child_exits_without_error() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let value = tg
        .run(async {
            for _ in 0..3 {
                tg.spawn(sleep_ms(10_000));
            }
            tg.spawn(async move {
                sleep_ms(1_000).await;
                spawner.cancel();
            });
            Body::Ok("body value")
        })
        .await
        .unwrap();
    assert_eq!(value, "body value");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn r7_group_cancel_cancels_the_bodys_pending_await() {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let eg = tg
        .run(async {
            tg.spawn(async move {
                sleep_ms(10).await;
                spawner.cancel();
            });
            sleep_ms(10_000).await;
            Body::Ok(())
        })
        .await
        .unwrap_err();
    // The body never produced a value: the only member says so; nothing failed.
    assert_eq!(eg.len(), 1);
    assert!(eg.contains::<BodyCancelled>());
}

#[tokio::test(start_paused = true)]
async fn r7_cancellation_from_outside_the_scope() {
    // The enclosing task is aborted: the scope's future is dropped and children reaped.
    let baseline = alive();
    let counter = DropCounter::default();
    let counter2 = counter.clone();
    let outer = tokio::spawn(async move {
        let tg = TaskGroup::new();
        tg.run(async {
            for _ in 0..4 {
                tg.spawn(counter2.track(sleep_ms(10_000)));
            }
            Body::Ok(())
        })
        .await
    });
    sleep_ms(100).await;
    outer.abort();
    assert!(outer.await.unwrap_err().is_cancelled());
    assert_no_tasks_beyond(baseline).await;
    assert_eq!(counter.created(), 4);
    counter.assert_all_dropped();
}

// ---------------------------------------------------------------------------------------------
// R8 Shutdown: spawns after failing / cancelled / closed never run.

#[tokio::test(start_paused = true)]
async fn r8_spawn_after_close_never_runs() {
    let ran = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::new();
    tg.run(async { Body::Ok(()) }).await.unwrap();
    let ran2 = ran.clone();
    let task = tg.spawn(async move {
        ran2.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(
        task.result().unwrap_err(),
        TaskError::NotStarted(SpawnError::Closed)
    );
    let (why, _future) = tg.try_spawn(async {}).unwrap_err();
    assert_eq!(why, SpawnError::Closed);
    tokio::task::yield_now().await;
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn r8_spawn_while_failing_never_runs() {
    let ran = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let ran2 = ran.clone();
    let late = tg
        .run(async {
            let failing = tg.spawn(async { Res::<()>::Err(value_error("x")) });
            let _ = failing.await;
            // The body is cancelled at its next await, but this spawn happens before it.
            let late = spawner.spawn(async move {
                ran2.fetch_add(1, Ordering::SeqCst);
            });
            Body::Ok(late)
        })
        .await;
    assert!(late.is_err());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(matches!(
        spawner.try_spawn(async {}).unwrap_err().0,
        SpawnError::Failing
    ));
}

#[tokio::test(start_paused = true)]
async fn r8_spawn_after_cancel_is_refused_with_the_reason() {
    let tg = TaskGroup::new();
    tg.cancel();
    assert_eq!(tg.try_spawn(async {}).unwrap_err().0, SpawnError::Cancelled);
    assert!(tg.is_stopped());
}

#[test]
fn r8_spawn_outside_a_runtime_is_an_error_not_a_panic() {
    let tg = TaskGroup::new();
    assert_eq!(tg.try_spawn(async {}).unwrap_err().0, SpawnError::NoRuntime);
    let task = tg.spawn(async {});
    assert_eq!(
        task.result().unwrap_err(),
        TaskError::NotStarted(SpawnError::NoRuntime)
    );
}

// ---------------------------------------------------------------------------------------------
// R9 Deadlines.

#[tokio::test(start_paused = true)]
async fn r9_timeout_cancels_children_and_reports_timed_out() {
    let start = Instant::now();
    let cancelled = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::builder().timeout(Duration::from_secs(2)).build();
    let eg = tg
        .run(async {
            for _ in 0..3 {
                let cancelled = cancelled.clone();
                tg.spawn(on_cancel(sleep_ms(5_000), move || {
                    cancelled.fetch_add(1, Ordering::SeqCst);
                }));
            }
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(cancelled.load(Ordering::SeqCst), 3);
    assert_eq!(eg.len(), 1);
    let timed_out = eg
        .leaves()
        .next()
        .unwrap()
        .downcast_ref::<TimedOut>()
        .unwrap();
    assert_eq!(timed_out.after(), Some(Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn r9_deadline_at_an_instant() {
    let tg = TaskGroup::builder()
        .deadline(Instant::now() + Duration::from_millis(300))
        .build();
    let eg = tg
        .run(async {
            tg.spawn(sleep_ms(1_000));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<TimedOut>());
}

#[tokio::test(start_paused = true)]
async fn r9_failure_before_the_deadline_wins_over_the_timeout() {
    let tg = TaskGroup::builder().timeout(Duration::from_secs(1)).build();
    let eg = tg
        .run(async {
            tg.spawn(async {
                sleep_ms(100).await;
                Res::<()>::Err(value_error("early"))
            });
            tg.spawn(sleep_ms(5_000));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert!(eg.contains::<ValueError>());
    assert!(!eg.contains::<TimedOut>());
}

#[tokio::test(start_paused = true)]
async fn r9_children_failing_during_the_timeouts_cleanup_are_reported_with_it() {
    // CPython: a timeout around a group whose children fail while being cancelled. With a
    // grace period, children clean up asynchronously, and a failure during it is kept.
    let tg = TaskGroup::builder()
        .timeout(Duration::from_secs(1))
        .grace(Duration::from_millis(500))
        .build();
    let token = tg.token();
    let eg = tg
        .run(async {
            tg.spawn(async move {
                token.cancelled().await;
                sleep_ms(100).await;
                Res::<()>::Err(value_error("cleanup failed"))
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let names: Vec<_> = eg.iter().map(Member::type_name).collect();
    assert_eq!(names, ["ValueError", "TimedOut"]);
}

#[tokio::test(start_paused = true)]
async fn r9_scope_finishing_before_the_deadline_is_fine() {
    let tg = TaskGroup::builder().timeout(Duration::from_secs(1)).build();
    let v = tg
        .run(async {
            let t = tg.spawn(async {
                sleep_ms(10).await;
                Res::Ok(5)
            });
            Body::Ok(t)
        })
        .await
        .unwrap();
    assert_eq!(v.result().unwrap(), 5);
}

// ---------------------------------------------------------------------------------------------
// R10 Cancellation style: abort at the next await, or a grace period with a token.

#[tokio::test(start_paused = true)]
async fn r10_default_cancel_aborts_at_the_next_await_running_drops() {
    let counter = DropCounter::default();
    let steps = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::new();
    let steps2 = steps.clone();
    tg.run(async {
        tg.spawn(counter.track(async move {
            steps2.fetch_add(1, Ordering::SeqCst);
            sleep_ms(1_000).await;
            steps2.fetch_add(1, Ordering::SeqCst);
        }));
        tg.spawn(async {
            sleep_ms(10).await;
            Res::<()>::Err(value_error("x"))
        });
        Body::Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(steps.load(Ordering::SeqCst), 1);
    counter.assert_all_dropped();
}

#[tokio::test(start_paused = true)]
async fn r10_grace_lets_children_clean_up_then_aborts_the_rest() {
    let start = Instant::now();
    let cleaned = Arc::new(AtomicUsize::new(0));
    let counter = DropCounter::default();
    let tg = TaskGroup::builder()
        .grace(Duration::from_millis(500))
        .build();
    let cleaned2 = cleaned.clone();
    let token = tg.token();
    let stubborn = tg
        .run(async {
            // Watches the token and cleans up asynchronously within the grace period.
            tg.spawn(async move {
                token.cancelled().await;
                sleep_ms(100).await;
                cleaned2.fetch_add(1, Ordering::SeqCst);
            });
            // Ignores the token: aborted when the grace period ends.
            let stubborn = tg.spawn(counter.track(sleep_ms(60_000)));
            tg.spawn(async {
                sleep_ms(10).await;
                Res::<()>::Err(value_error("x"))
            });
            Body::Ok(stubborn)
        })
        .await;
    assert!(stubborn.is_err());
    assert_eq!(cleaned.load(Ordering::SeqCst), 1);
    counter.assert_all_dropped();
    assert_eq!(start.elapsed(), Duration::from_millis(510));
}

#[tokio::test(start_paused = true)]
async fn r10_on_cancel_runs_only_on_cancellation() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h1 = hits.clone();
    let h2 = hits.clone();
    let tg = TaskGroup::new();
    let (finished, cancelled) = tg
        .run(async {
            let finished = tg.spawn(on_cancel(async { Res::Ok("done") }, move || {
                h1.fetch_add(1, Ordering::SeqCst);
            }));
            let cancelled = tg.spawn(on_cancel(sleep_ms(1_000), move || {
                h2.fetch_add(100, Ordering::SeqCst);
            }));
            sleep_ms(10).await;
            cancelled.cancel();
            Body::Ok((finished, cancelled))
        })
        .await
        .unwrap();
    assert_eq!(finished.result().unwrap(), "done");
    assert_eq!(cancelled.result().unwrap_err(), TaskError::Cancelled);
    assert_eq!(hits.load(Ordering::SeqCst), 100);
}

// ---------------------------------------------------------------------------------------------
// R11 Runtimes: multi-thread and current-thread, not tied to #[tokio::main].

fn scope_program() -> Result<Vec<u32>, ErrorGroup> {
    // Built by hand, not by an attribute: any runtime the caller makes will do.
    let body = async {
        let tg = TaskGroup::new();
        tg.run(async {
            let tasks: Vec<_> = (0..4u32)
                .map(|i| tg.spawn(async move { Res::Ok(i * i) }))
                .collect();
            Body::Ok(tasks)
        })
        .await
        .map(|tasks| tasks.into_iter().map(|t| t.result().unwrap()).collect())
    };
    body_on_runtime(body)
}

fn body_on_runtime<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(f)
}

#[test]
fn r11_current_thread_runtime_built_by_hand() {
    assert_eq!(scope_program().unwrap(), [0, 1, 4, 9]);
}

#[test]
fn r11_multi_thread_runtime_built_by_hand() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let tg = TaskGroup::new();
        tg.run(async {
            let t = tg.spawn(async { Res::Ok(std::thread::current().id()) });
            Body::Ok(t)
        })
        .await
    });
    assert!(out.unwrap().result().is_ok());
}

#[test]
fn r11_scope_inside_a_spawned_task_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let fut = async {
        let tg = TaskGroup::new();
        tg.run(async {
            tg.spawn(async { Res::Ok(1) });
            Body::Ok(())
        })
        .await
    };
    assert_send(&fut);
}

#[test]
fn r11_runtime_shutdown_with_a_scope_pending_drops_every_child() {
    let counter = DropCounter::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let c = counter.clone();
    rt.spawn(async move {
        let tg = TaskGroup::new();
        tg.run(async {
            for _ in 0..8 {
                tg.spawn(c.track(std::future::pending::<()>()));
            }
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await
    });
    // Let the children start, then shut the runtime down with the scope pending.
    rt.block_on(async {
        while counter.created() < 8 {
            tokio::task::yield_now().await;
        }
    });
    drop(rt);
    counter.assert_all_dropped();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r7_task_cancel_reaches_a_child_waiting_forever_even_right_after_spawn() {
    // Cancelling at once races the child's first poll and its waker registration; the request
    // must reach it however the race goes, or the scope would wait forever.
    for _ in 0..300 {
        let counter = DropCounter::default();
        let tg = TaskGroup::new();
        let task = tg
            .run(async {
                let task = tg.spawn(counter.track(std::future::pending::<()>()));
                task.cancel();
                Body::Ok(task)
            })
            .await
            .unwrap();
        assert_eq!(task.result().unwrap_err(), TaskError::Cancelled);
        counter.assert_all_dropped();
    }
}
