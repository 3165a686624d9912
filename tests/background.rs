//! Background children (issue 14, part 4): `tg.spawn_background(fut)` never keeps the scope
//! open; once the body and every other child have ended it is cancelled (given the grace
//! period, if any) and reaped, and its failure still fails the group. On tokio's paused clock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use common::*;
use taskgroup::{CancelReason, Member, Policy, SpawnError, TaskError, TaskGroup, TaskPanic};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Ticks every millisecond until cancelled.
async fn ticker(ticks: Arc<AtomicU32>) -> Res<()> {
    loop {
        sleep_ms(1).await;
        ticks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sets `flag` when dropped: shows a future was dropped (aborted) rather than left running.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn background_child_does_not_keep_the_scope_open() {
    let ticks = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let tg = TaskGroup::new();
    let (reporter, worker) = tg
        .run(async {
            let reporter = tg.spawn_background(ticker(Arc::clone(&ticks)));
            let worker = tg.spawn(async {
                sleep_ms(10).await;
                Res::Ok(7)
            });
            Body::Ok((reporter, worker))
        })
        .await
        .unwrap();
    assert_eq!(start.elapsed(), ms(10), "the scope ended with the worker");
    assert_eq!(worker.result(), Ok(7));
    assert!((9..=10).contains(&ticks.load(Ordering::SeqCst)));
    assert_eq!(reporter.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn background_children_alone_end_with_the_body() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let pending = tg
        .run(async {
            let a = tg.spawn_background(std::future::pending::<()>());
            let b = tg.spawn_background_named("idle", std::future::pending::<()>());
            sleep_ms(3).await;
            Body::Ok((a, b))
        })
        .await
        .unwrap();
    assert_eq!(start.elapsed(), ms(3));
    assert_eq!(pending.0.result(), Err(TaskError::Cancelled));
    assert_eq!(pending.1.name(), Some("idle"));
    assert_eq!(pending.1.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn background_failure_fails_the_group_and_cancels_the_rest() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_background_named("heartbeat", async {
                sleep_ms(5).await;
                Err::<(), _>(value_error("peer lost"))
            });
            tg.spawn(async {
                sleep_ms(100).await;
                Res::Ok(())
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), ms(5), "fail-fast cancelled the worker");
    assert_eq!(eg.len(), 1, "{eg:?}");
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(
        leaf.downcast_ref::<ValueError>(),
        Some(&value_error("peer lost"))
    );
    assert_eq!(leaf.task().and_then(|t| t.name()), Some("heartbeat"));
    let Some(CancelReason::Failed { task, error_type }) = eg.stopped_by() else {
        panic!("stopped by the background child: {:?}", eg.stopped_by());
    };
    assert_eq!(task.as_ref().and_then(|t| t.name()), Some("heartbeat"));
    assert_eq!(*error_type, "ValueError");
}

#[tokio::test(start_paused = true)]
async fn background_panic_is_a_task_panic_leaf() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_background(async {
                sleep_ms(1).await;
                if true {
                    panic!("reporter broke");
                }
            });
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let panic = eg
        .leaves()
        .next()
        .unwrap()
        .downcast_ref::<TaskPanic>()
        .cloned();
    assert!(
        panic.is_some_and(|p| p.message() == "reporter broke"),
        "{eg:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn background_reason_is_scope_finished() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let tg = TaskGroup::builder().grace(ms(20)).build();
    let stop = tg.background_token();
    let reporter = {
        let seen = Arc::clone(&seen);
        tg.spawn_background(async move {
            stop.cancelled().await;
            *seen.lock().unwrap() = taskgroup::cancel_reason();
            Res::Ok(())
        })
    };
    tg.run(async { Body::Ok(()) }).await.unwrap();
    assert!(matches!(
        *seen.lock().unwrap(),
        Some(CancelReason::ScopeFinished)
    ));
    assert_eq!(
        reporter.result(),
        Ok(()),
        "it ended by itself within the grace"
    );
}

#[tokio::test(start_paused = true)]
async fn background_grace_lets_it_finish_then_aborts_the_stubborn() {
    let flushed = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tg = TaskGroup::builder().grace(ms(50)).build();
    let stop = tg.background_token();
    let (flusher, stubborn) = tg
        .run(async {
            let flusher = {
                let flushed = Arc::clone(&flushed);
                tg.spawn_background(async move {
                    stop.cancelled().await;
                    sleep_ms(10).await; // the flush
                    flushed.store(true, Ordering::SeqCst);
                    Res::Ok(())
                })
            };
            let stubborn = {
                let guard = SetOnDrop(Arc::clone(&dropped));
                tg.spawn_background(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                })
            };
            tg.spawn(sleep_ms(5));
            Body::Ok((flusher, stubborn))
        })
        .await
        .unwrap();
    assert!(flushed.load(Ordering::SeqCst));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the stubborn one was aborted"
    );
    assert_eq!(
        start.elapsed(),
        ms(55),
        "the worker's 5 ms, then the whole grace"
    );
    assert_eq!(flusher.result(), Ok(()));
    assert_eq!(stubborn.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn background_failure_during_its_grace_is_reported() {
    let tg = TaskGroup::builder().grace(ms(50)).build();
    let stop = tg.background_token();
    let eg = tg
        .run(async {
            tg.spawn_background(async move {
                stop.cancelled().await;
                Err::<(), _>(value_error("could not flush"))
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert!(eg.contains::<ValueError>());
}

#[tokio::test(start_paused = true)]
async fn background_spawn_after_the_scope_is_refused() {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    tg.run(async { Body::Ok(()) }).await.unwrap();
    let late = spawner.spawn_background(async { Res::Ok(1) });
    assert_eq!(
        late.result(),
        Err(TaskError::NotStarted(SpawnError::Closed))
    );
    assert!(spawner.background_token().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn background_spawn_is_refused_once_the_group_fails() {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let (eg, late) = {
        let settled = tg
            .run_settled(async {
                tg.spawn(async { Err::<(), _>(value_error("boom")) });
                // A shielded child runs on after the failure: its background spawn is refused.
                Body::Ok(tg.spawn_shielded(async move {
                    sleep_ms(1).await;
                    Res::Ok(spawner.spawn_background(async { Res::Ok(()) }))
                }))
            })
            .await;
        (settled.errors.unwrap(), settled.value.unwrap())
    };
    assert!(eg.contains::<ValueError>());
    assert_eq!(
        late.result().unwrap().result(),
        Err(TaskError::NotStarted(SpawnError::Failing))
    );
}

#[tokio::test(start_paused = true)]
async fn background_child_spawning_ordinary_work_keeps_the_scope_open() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let job = Arc::new(std::sync::Mutex::new(None));
    {
        let job = Arc::clone(&job);
        tg.spawn_background(async move {
            sleep_ms(2).await;
            // Work it hands to the group is ordinary work: the scope waits for it.
            *job.lock().unwrap() = Some(spawner.spawn(async {
                sleep_ms(20).await;
                Res::Ok("done")
            }));
            std::future::pending::<()>().await;
        });
    }
    tg.run(async {
        tg.spawn(sleep_ms(5));
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(start.elapsed(), ms(22));
    assert_eq!(job.lock().unwrap().take().unwrap().result(), Ok("done"));
}

#[tokio::test(start_paused = true)]
async fn background_child_with_a_nested_group_is_reaped() {
    let inner_dropped = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tg = TaskGroup::new();
    {
        let inner_dropped = Arc::clone(&inner_dropped);
        tg.spawn_background(async move {
            let inner = TaskGroup::new();
            inner
                .run(async {
                    let guard = SetOnDrop(inner_dropped);
                    inner.spawn(async move {
                        let _guard = guard;
                        std::future::pending::<()>().await;
                    });
                    Body::Ok(())
                })
                .await
        });
    }
    tg.run(async {
        sleep_ms(4).await;
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(start.elapsed(), ms(4));
    assert!(
        inner_dropped.load(Ordering::SeqCst),
        "the grandchild is gone when the scope returns"
    );
}

#[tokio::test(start_paused = true)]
async fn background_cancel_of_the_group_reaches_it() {
    let tg = TaskGroup::new();
    let reporter = tg.spawn_background(std::future::pending::<()>());
    let err = tg
        .run(async {
            let worker = tg.spawn(std::future::pending::<()>());
            sleep_ms(1).await;
            tg.cancel_with("shutdown");
            Body::Ok(worker)
        })
        .await;
    // A cancelled group whose body returned: the body's value, no failure.
    let worker = err.unwrap();
    assert_eq!(worker.result(), Err(TaskError::Cancelled));
    assert_eq!(reporter.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn background_success_wins_nothing_under_first_ok() {
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let (bg, worker) = tg
        .run(async {
            let bg = tg.spawn_background(async { Res::Ok("bg") });
            let worker = tg.spawn(async {
                sleep_ms(10).await;
                Res::Ok("worker")
            });
            Body::Ok((bg, worker))
        })
        .await
        .unwrap();
    assert_eq!(bg.result(), Ok("bg"));
    assert_eq!(
        worker.result(),
        Ok("worker"),
        "not cancelled by the background success"
    );
}

#[tokio::test(start_paused = true)]
async fn background_takes_no_slot_of_the_limit() {
    let start = Instant::now();
    let tg = TaskGroup::builder().limit(1).build();
    tg.run(async {
        tg.spawn_background(std::future::pending::<()>());
        tg.spawn(sleep_ms(3));
        tg.spawn(sleep_ms(3));
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        start.elapsed(),
        ms(6),
        "the two workers ran one after the other"
    );
}

#[tokio::test(start_paused = true)]
async fn background_deadline_times_out_with_the_group() {
    let tg = TaskGroup::builder().timeout(ms(10)).build();
    let bg = tg.spawn_background(std::future::pending::<()>());
    let eg = tg
        .run(async {
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<taskgroup::TimedOut>());
    assert!(matches!(
        bg.cancel_reason(),
        Some(CancelReason::Enclosing(outer)) if matches!(*outer, CancelReason::TimedOut)
    ));
    assert_eq!(bg.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn background_dropped_scope_aborts_it_mid_teardown() {
    let dropped = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::builder().grace(ms(1_000)).build();
    {
        let guard = SetOnDrop(Arc::clone(&dropped));
        tg.spawn_background(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
    }
    // The scope closes at once and waits for the background child's grace: drop it then.
    let outcome = tokio::time::timeout(ms(10), tg.run(async { Body::Ok(()) })).await;
    assert!(outcome.is_err(), "still in the teardown's grace");
    // The abort reaches the child at its next wake-up, within a scheduler turn.
    for _ in 0..10 {
        if dropped.load(Ordering::SeqCst) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn background_group_dropped_unrun_aborts_it() {
    let dropped = Arc::new(AtomicBool::new(false));
    {
        let tg = TaskGroup::new();
        let guard = SetOnDrop(Arc::clone(&dropped));
        tg.spawn_background(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
    }
    for _ in 0..10 {
        if dropped.load(Ordering::SeqCst) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_many_on_two_threads_never_hang_or_leak() {
    for round in 0..200u32 {
        let tg = TaskGroup::new();
        let spawner = tg.spawner();
        let ticks = Arc::new(AtomicU32::new(0));
        let handles = tg
            .run(async {
                let mut handles = Vec::new();
                for i in 0..8 {
                    let spawner = spawner.clone();
                    let ticks = Arc::clone(&ticks);
                    // Background spawns from ordinary children racing the scope's close.
                    handles.push(tg.spawn_value(async move {
                        if i % 2 == 0 {
                            tokio::task::yield_now().await;
                        }
                        // In an Option: a bare handle would be awaited by mistake.
                        Some(spawner.spawn_background(async move {
                            ticks.fetch_add(1, Ordering::SeqCst);
                            std::future::pending::<()>().await;
                        }))
                    }));
                }
                Body::Ok(handles)
            })
            .await
            .unwrap();
        for handle in handles {
            // Each background child was spawned while its spawner was alive, so the scope
            // saw it and cancelled it.
            let child = handle.result().unwrap().unwrap();
            assert_eq!(child.result(), Err(TaskError::Cancelled), "round {round}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn background_in_the_dsl() {
    let ticks = Arc::new(AtomicU32::new(0));
    let done = taskgroup::task_group!(|tg| {
        tg.spawn_background(ticker(Arc::clone(&ticks)));
        tg.spawn(async {
            sleep_ms(3).await;
            Res::Ok(())
        });
        "done"
    })
    .unwrap();
    assert_eq!(done, "done");
    assert!(ticks.load(Ordering::SeqCst) >= 2);
}

#[tokio::test(start_paused = true)]
async fn background_reason_during_the_groups_grace_is_the_groups() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let tg = TaskGroup::builder().grace(ms(20)).build();
    let stop = tg.background_token();
    {
        let seen = Arc::clone(&seen);
        tg.spawn_background(async move {
            stop.cancelled().await;
            *seen.lock().unwrap() = taskgroup::cancel_reason();
            Res::Ok(())
        });
    }
    let eg = tg
        .run(async {
            tg.spawn_named("worker", async {
                sleep_ms(3).await;
                Err::<(), _>(value_error("worker broke"))
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<ValueError>());
    let seen = seen.lock().unwrap().take();
    let Some(CancelReason::Enclosing(outer)) = seen else {
        panic!("stopped by the group's failure: {seen:?}");
    };
    let CancelReason::Failed { task, .. } = *outer else {
        panic!("{outer:?}");
    };
    assert_eq!(task.as_ref().and_then(|t| t.name()), Some("worker"));
}

#[tokio::test(start_paused = true)]
async fn background_nested_group_reads_the_enclosing_reason_during_grace() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let tg = TaskGroup::builder().grace(ms(20)).build();
    let token = tg.token();
    let eg = {
        let seen = Arc::clone(&seen);
        tg.run(async {
            tg.spawn(async move {
                let inner = TaskGroup::new();
                inner
                    .run(async {
                        inner.spawn(async move {
                            token.cancelled().await;
                            // Cancelled by the enclosing group's token during its grace.
                            *seen.lock().unwrap() = taskgroup::cancel_reason();
                        });
                        Body::Ok(())
                    })
                    .await
            });
            tg.spawn(async {
                sleep_ms(1).await;
                Err::<(), _>(value_error("sibling broke"))
            });
            Body::Ok(())
        })
        .await
        .unwrap_err()
    };
    assert!(eg.contains::<ValueError>());
    assert!(
        matches!(
            seen.lock().unwrap().as_ref(),
            Some(CancelReason::Enclosing(outer)) if matches!(**outer, CancelReason::Failed { .. })
        ),
        "{:?}",
        seen.lock().unwrap()
    );
}
