//! Beyond asyncio (SPEC §5): policies, the concurrency limit, Trio's start(), borrowing local
//! tasks, completion order, gather, and grace periods.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use taskgroup::{
    Member, Policy, SpawnError, StartError, TaskError, TaskGroup, TaskPanic, as_completed, gather,
    on_cancel,
};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

async fn fail_after(ms: u64, msg: &str) -> Res<()> {
    sleep_ms(ms).await;
    Err(value_error(msg))
}

// ---------------------------------------------------------------------------------------------
// Policies

#[tokio::test(start_paused = true)]
async fn policy_wait_all_collects_every_failure_without_cancelling() {
    // The seed's narrative for the multiple-exceptions program: "Caught 3 exceptions".
    let finished = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let f = finished.clone();
    let eg = tg
        .run(async {
            tg.spawn(fail_after(200, "Task 1 failed"));
            tg.spawn(fail_after(300, "Task 2 failed"));
            tg.spawn(fail_after(100, "Task 3 failed"));
            tg.spawn(async move {
                sleep_ms(400).await;
                f.fetch_add(1, Ordering::SeqCst);
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let messages: Vec<String> = eg.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        ["Task 3 failed", "Task 1 failed", "Task 2 failed"]
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the sibling was not cancelled"
    );
}

#[tokio::test(start_paused = true)]
async fn policy_first_ok_returns_the_first_success_and_cancels_the_rest() {
    let start = Instant::now();
    let counter = DropCounter::default();
    let mut handles = None;
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    tg.run(async {
        let slow = tg.spawn(counter.track(async {
            sleep_ms(1_000).await;
            Res::Ok("slow")
        }));
        let failing = tg.spawn(async {
            sleep_ms(10).await;
            Res::<&str>::Err(value_error("mirror down"))
        });
        let fast = tg.spawn(async {
            sleep_ms(50).await;
            Res::Ok("fast")
        });
        handles = Some((slow, failing, fast));
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    let (slow, failing, fast) = handles.unwrap();
    assert_eq!(fast.result().unwrap(), "fast");
    assert_eq!(slow.result().unwrap_err(), TaskError::Cancelled);
    assert!(matches!(failing.result(), Err(TaskError::Failed { .. })));
    counter.assert_all_dropped();
}

#[tokio::test(start_paused = true)]
async fn policy_first_ok_with_every_child_failing_gives_the_group() {
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let eg = tg
        .run(async {
            tg.spawn(fail_after(20, "b"));
            tg.spawn(fail_after(10, "a"));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let messages: Vec<String> = eg.iter().map(ToString::to_string).collect();
    assert_eq!(messages, ["a", "b"]);
}

#[tokio::test(start_paused = true)]
async fn policy_first_ok_with_queued_children_failing_gives_the_group() {
    // Queued behind the limit, a failure, a panic or a cancel is still no win.
    let tg = TaskGroup::builder()
        .policy(Policy::FirstOk)
        .limit(1)
        .build();
    let mut cancelled = None;
    let eg = tg
        .run(async {
            tg.spawn(fail_after(10, "a"));
            tg.spawn(fail_after(0, "b"));
            tg.spawn(async {
                if true {
                    panic!("c");
                }
                Res::Ok(())
            });
            let t = tg.spawn(sleep_ms(5));
            t.cancel();
            cancelled = Some(t);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 3);
    assert!(eg.contains::<TaskPanic>());
    assert_eq!(
        cancelled.unwrap().result().unwrap_err(),
        TaskError::Cancelled
    );
}

#[tokio::test(start_paused = true)]
async fn policy_first_ok_refuses_spawns_after_the_win() {
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let spawner = tg.spawner();
    tg.run(async {
        tg.spawn(async { Res::Ok(1) }).await.unwrap();
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        spawner.try_spawn(async {}).unwrap_err().0,
        SpawnError::Finished
    );
}

#[test]
fn policy_parses_from_its_dsl_names() {
    assert_eq!("wait_all".parse::<Policy>().unwrap(), Policy::WaitAll);
    assert_eq!("first_ok".parse::<Policy>().unwrap(), Policy::FirstOk);
    assert_eq!("fail_fast".parse::<Policy>().unwrap(), Policy::FailFast);
    let err = "fast".parse::<Policy>().unwrap_err();
    assert!(err.contains("fail_fast"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Limit

/// Counts running children and remembers the most seen at once.
#[derive(Clone, Default)]
struct Gauge {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl Gauge {
    async fn hold(&self, ms: u64) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        sleep_ms(ms).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

#[tokio::test(start_paused = true)]
async fn limit_never_more_than_n_children_run() {
    let gauge = Gauge::default();
    let start = Instant::now();
    let tg = TaskGroup::builder().limit(3).build();
    let tasks = tg
        .run(async {
            let tasks: Vec<_> = (0..10)
                .map(|i| {
                    let gauge = gauge.clone();
                    tg.spawn(async move {
                        gauge.hold(100).await;
                        Res::Ok(i)
                    })
                })
                .collect();
            Body::Ok(tasks)
        })
        .await
        .unwrap();
    assert_eq!(gauge.max(), 3);
    // 10 tasks, 3 at a time, 100 ms each: 4 waves.
    assert_eq!(start.elapsed(), Duration::from_millis(400));
    let values: Vec<i32> = tasks.into_iter().map(|t| t.result().unwrap()).collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_holds_under_load_on_multi_thread() {
    let gauge = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let tg = TaskGroup::builder().limit(4).build();
    let spawner = tg.spawner();
    tg.run(async {
        for _ in 0..2_000 {
            let gauge = gauge.clone();
            let spawner = spawner.clone();
            tg.spawn(async move {
                let n = gauge.0.fetch_add(1, Ordering::SeqCst) + 1;
                gauge.1.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                // some children spawn a grandchild, also under the limit
                if n % 7 == 0 {
                    spawner.spawn(async {});
                }
                gauge.0.fetch_sub(1, Ordering::SeqCst);
            });
        }
        Body::Ok(())
    })
    .await
    .unwrap();
    assert!(gauge.1.load(Ordering::SeqCst) <= 4);
    assert_eq!(gauge.0.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn limit_spawn_does_not_block_the_body() {
    let tg = TaskGroup::builder().limit(1).build();
    let start = Instant::now();
    tg.run(async {
        for _ in 0..5 {
            tg.spawn(sleep_ms(1_000));
        }
        // All five spawns returned at once, while only one child can run.
        assert_eq!(start.elapsed(), Duration::ZERO);
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn limit_queued_futures_of_a_cancelled_group_never_run() {
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = DropCounter::default();
    let mut queued = Vec::new();
    let tg = TaskGroup::builder().limit(2).build();
    let eg = tg
        .run(async {
            tg.spawn(fail_after(10, "first"));
            tg.spawn(sleep_ms(1_000));
            for _ in 0..5 {
                let ran = ran.clone();
                queued.push(tg.spawn(counter.track(async move {
                    ran.fetch_add(1, Ordering::SeqCst);
                })));
            }
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    counter.assert_all_dropped();
    for t in queued {
        assert_eq!(t.result().unwrap_err(), TaskError::Cancelled);
    }
}

#[tokio::test(start_paused = true)]
async fn limit_cancelling_a_queued_task_frees_nothing_and_skips_it() {
    let ran = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::builder().limit(1).build();
    let mut skipped = None;
    tg.run(async {
        tg.spawn(sleep_ms(100));
        let r = ran.clone();
        let t = tg.spawn(async move {
            r.fetch_add(1, Ordering::SeqCst);
        });
        t.cancel();
        let r = ran.clone();
        tg.spawn(async move {
            r.fetch_add(10, Ordering::SeqCst);
        });
        skipped = Some(t);
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 10);
    assert_eq!(skipped.unwrap().result().unwrap_err(), TaskError::Cancelled);
}

#[test]
fn limit_zero_is_refused_with_an_error() {
    let err = TaskGroup::builder().try_limit(0).unwrap_err();
    assert_eq!(err.to_string(), "a concurrency limit must be at least 1");
}

// ---------------------------------------------------------------------------------------------
// start()

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_returns_the_bound_address_of_a_real_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tg = TaskGroup::new();
    let reply = tg
        .run(async {
            let addr = tg
                .start(|ready| async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    ready.started(listener.local_addr()?);
                    let (mut socket, _) = listener.accept().await?;
                    socket.write_all(b"hello from the server").await?;
                    Ok::<_, std::io::Error>(())
                })
                .await?;
            let mut client = tokio::net::TcpStream::connect(addr).await?;
            let mut reply = String::new();
            client.read_to_string(&mut reply).await?;
            Body::Ok(reply)
        })
        .await
        .unwrap();
    assert_eq!(reply, "hello from the server");
}

#[tokio::test(start_paused = true)]
async fn start_failure_before_readiness_comes_back_from_start() {
    let tg = TaskGroup::new();
    let caught = tg
        .run(async {
            let err = tg
                .start(|_ready: taskgroup::Ready<u16>| async {
                    sleep_ms(10).await;
                    Res::<()>::Err(value_error("port in use"))
                })
                .await
                .unwrap_err();
            Body::Ok(err)
        })
        .await
        .unwrap(); // not grouped: the scope succeeds
    match caught {
        StartError::Failed(member) => assert_eq!(member.to_string(), "port in use"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn start_failure_after_readiness_is_grouped() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            let v = tg
                .start(|ready| async move {
                    ready.started(7);
                    sleep_ms(10).await;
                    Res::<()>::Err(value_error("crashed later"))
                })
                .await?;
            assert_eq!(v, 7);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.iter().next().unwrap().to_string(), "crashed later");
}

#[tokio::test(start_paused = true)]
async fn start_child_that_never_signals_is_an_error() {
    let tg = TaskGroup::new();
    let err = tg
        .run(async {
            Body::Ok(
                tg.start(|_ready: taskgroup::Ready<()>| async { Res::Ok(()) })
                    .await
                    .unwrap_err(),
            )
        })
        .await
        .unwrap();
    assert!(matches!(err, StartError::NotSignalled));
    assert!(err.to_string().contains("ready.started"));
}

#[tokio::test(start_paused = true)]
async fn start_on_a_closed_group_is_refused() {
    let tg = TaskGroup::new();
    tg.run(async { Body::Ok(()) }).await.unwrap();
    let err = tg
        .start(|ready| async move { ready.started(()) })
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::Refused(SpawnError::Closed)));
}

// ---------------------------------------------------------------------------------------------
// Local tasks

#[tokio::test(start_paused = true)]
async fn local_tasks_borrow_locals_and_mutate_state() {
    let config = String::from("shared config");
    let mut log: Vec<String> = Vec::new();
    let log_ref = &mut log;
    // The group holds its borrows until it is dropped: `task_group!` scopes it in a block.
    let parallel = {
        let tg = TaskGroup::new();
        tg.run(async {
            let parallel = tg.spawn(async {
                sleep_ms(30).await;
                Res::Ok("parallel done")
            });
            tg.spawn_local(async {
                sleep_ms(10).await;
                log_ref.push(format!("local saw {}", config.len()));
                Res::Ok(())
            });
            Body::Ok(parallel)
        })
        .await
        .unwrap()
    };
    assert_eq!(log, ["local saw 13"]);
    assert_eq!(parallel.result().unwrap(), "parallel done");
}

#[tokio::test(start_paused = true)]
async fn local_failure_cancels_spawned_siblings_under_the_same_policy() {
    let counter = DropCounter::default();
    let borrowed = String::from("abc");
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(counter.track(sleep_ms(5_000)));
            tg.spawn_local(async {
                sleep_ms(10).await;
                if borrowed.len() == 3 {
                    return Res::<()>::Err(value_error("local failed"));
                }
                Ok(())
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.iter().next().unwrap().to_string(), "local failed");
    counter.assert_all_dropped();
}

#[tokio::test(start_paused = true)]
async fn local_tasks_are_cancelled_by_a_spawned_failure_and_by_cancel() {
    let mut state = 0;
    let eg = {
        let tg = TaskGroup::new();
        tg.run(async {
            tg.spawn_local(on_cancel(
                async {
                    sleep_ms(5_000).await;
                },
                || {},
            ));
            let t = tg.spawn_local(async {
                sleep_ms(5_000).await;
                state += 1;
            });
            tg.spawn(fail_after(10, "boom"));
            Body::Ok(t)
        })
        .await
        .unwrap_err()
    };
    assert_eq!(eg.len(), 1);
    assert_eq!(state, 0);
}

#[tokio::test(start_paused = true)]
async fn local_task_results_values_and_panics() {
    let mut handles = None;
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let eg = tg
        .run(async {
            let twenty = tg.spawn_local(async { Res::Ok(20) });
            let value = tg.spawn_local(async move {
                // a local child awaiting a sibling
                Res::Ok(twenty.await.unwrap() + 1)
            });
            let cancelled = tg.spawn_local(sleep_ms(1_000));
            let panicked = tg.spawn_local(async {
                sleep_ms(5).await;
                if true {
                    panic!("local panic");
                }
                Res::Ok(())
            });
            sleep_ms(10).await;
            cancelled.cancel();
            handles = Some((value, cancelled, panicked));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let (value, cancelled, panicked) = handles.unwrap();
    assert_eq!(value.result().unwrap(), 21);
    assert_eq!(cancelled.result().unwrap_err(), TaskError::Cancelled);
    assert_eq!(
        panicked.result().unwrap_err(),
        TaskError::Panicked("local panic".into())
    );
    assert!(eg.contains::<TaskPanic>());
}

#[tokio::test(start_paused = true)]
async fn local_cancel_reaches_a_waiting_child_at_once() {
    let start = Instant::now();
    let mut cancelled = None;
    let tg = TaskGroup::new();
    tg.run(async {
        let t = tg.spawn_local(sleep_ms(60_000));
        // Polled twice by now: first with the scope's waker, then with its own.
        sleep_ms(10).await;
        sleep_ms(10).await;
        t.cancel();
        cancelled = Some(t);
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(20));
    assert_eq!(
        cancelled.unwrap().result().unwrap_err(),
        TaskError::Cancelled
    );
}

#[tokio::test(start_paused = true)]
async fn local_spawn_after_close_never_runs() {
    let mut ran = false;
    let t = {
        let tg = TaskGroup::new();
        tg.run(async { Body::Ok(()) }).await.unwrap();
        tg.spawn_local(async {
            ran = true;
        })
    };
    assert_eq!(
        t.result().unwrap_err(),
        TaskError::NotStarted(SpawnError::Closed)
    );
    assert!(!ran);
}

// ---------------------------------------------------------------------------------------------
// Completion order and gather

#[tokio::test(start_paused = true)]
async fn completed_yields_in_completion_order_with_indices() {
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let order = tg
        .run(async {
            let tasks: Vec<_> = [40u64, 10, 30, 20]
                .into_iter()
                .map(|ms| {
                    tg.spawn(async move {
                        sleep_ms(ms).await;
                        if ms == 30 {
                            return Err(value_error("thirty"));
                        }
                        Res::Ok(ms)
                    })
                })
                .collect();
            let mut completed = as_completed(tasks);
            assert_eq!(completed.remaining(), 4);
            let mut order = Vec::new();
            while let Some((index, result)) = completed.next().await {
                order.push((index, result.is_ok()));
            }
            Body::Ok(order)
        })
        .await;
    // The failure is in the group (wait_all), and the stream still saw every task.
    let eg = order.unwrap_err();
    assert_eq!(eg.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn completed_order_of_successes() {
    let tg = TaskGroup::new();
    let order = tg
        .run(async {
            let tasks: Vec<_> = [40u64, 10, 30, 20]
                .into_iter()
                .map(|ms| {
                    tg.spawn(async move {
                        sleep_ms(ms).await;
                        Res::Ok(ms)
                    })
                })
                .collect();
            let mut completed = as_completed(tasks);
            let mut order = Vec::new();
            while let Some((index, result)) = completed.next().await {
                order.push((index, result.unwrap()));
            }
            Body::Ok(order)
        })
        .await
        .unwrap();
    assert_eq!(order, [(1, 10), (3, 20), (2, 30), (0, 40)]);
}

#[tokio::test(start_paused = true)]
async fn gather_returns_values_in_input_order() {
    let values = gather([30u64, 10, 20].map(|ms| async move {
        sleep_ms(ms).await;
        Res::Ok(ms * 2)
    }))
    .await
    .unwrap();
    assert_eq!(values, [60, 20, 40]);
}

#[tokio::test(start_paused = true)]
async fn gather_fails_fast_with_the_group() {
    let counter = DropCounter::default();
    let start = Instant::now();
    let futures: Vec<_> = (0..4u64)
        .map(|i| {
            counter.track(async move {
                sleep_ms(100 * (i + 1)).await;
                if i == 1 {
                    return Err(value_error("second"));
                }
                Res::Ok(i)
            })
        })
        .collect();
    let eg = gather(futures).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(eg.len(), 1);
    counter.assert_all_dropped();
}

// ---------------------------------------------------------------------------------------------
// Grace

#[tokio::test(start_paused = true)]
async fn grace_children_see_the_token_then_are_aborted() {
    let start = Instant::now();
    let saw_token = Arc::new(AtomicUsize::new(0));
    let tg = TaskGroup::builder()
        .grace(Duration::from_millis(300))
        .build();
    let token = tg.token();
    let saw = saw_token.clone();
    tg.run(async {
        tg.spawn(async move {
            token.cancelled().await;
            saw.fetch_add(1, Ordering::SeqCst);
            // cleanup that takes longer than the grace period: aborted at 300 ms
            sleep_ms(10_000).await;
        });
        tg.spawn(fail_after(100, "trigger"));
        Body::Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(saw_token.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn grace_scope_returns_early_when_children_finish_cleanup_in_time() {
    let start = Instant::now();
    let tg = TaskGroup::builder().grace(Duration::from_secs(10)).build();
    let token = tg.token();
    tg.run(async {
        tg.spawn(async move {
            token.cancelled().await;
            sleep_ms(50).await;
        });
        tg.spawn(fail_after(100, "trigger"));
        Body::Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(150));
}

#[tokio::test(start_paused = true)]
async fn grace_token_is_cancelled_on_manual_cancel_too() {
    let tg = TaskGroup::builder().grace(Duration::from_secs(1)).build();
    let token = tg.token();
    assert!(!token.is_cancelled());
    tg.cancel();
    assert!(token.is_cancelled());
}

#[test]
fn local_group_takes_non_send_futures() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let shared = Rc::new(RefCell::new(Vec::new()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let parallel = rt.block_on(async {
        let tg = TaskGroup::builder().policy(Policy::WaitAll).build_local();
        tg.run(async {
            for i in 0..3u64 {
                let shared = Rc::clone(&shared);
                tg.spawn_local(async move {
                    sleep_ms(10 * (3 - i)).await;
                    // holds an Rc and a RefCell borrow across no await: not Send
                    shared.borrow_mut().push(i);
                });
            }
            // spawned (parallel) children still work in a local group
            let parallel = tg.spawn(async { Res::Ok("parallel") });
            tg.spawn_local({
                let shared = Rc::clone(&shared);
                async move {
                    sleep_ms(50).await;
                    if shared.borrow().len() == 3 {
                        return Err(value_error("local failure is grouped"));
                    }
                    Res::Ok(())
                }
            });
            Body::Ok(parallel)
        })
        .await
    });
    let eg = parallel.unwrap_err();
    assert_eq!(
        eg.iter().next().unwrap().to_string(),
        "local failure is grouped"
    );
    assert_eq!(*shared.borrow(), [2, 1, 0]);
}

#[test]
fn local_group_cancels_non_send_children_on_failure() {
    use std::rc::Rc;
    let marker = Rc::new(());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let eg = rt.block_on(async {
        let tg = TaskGroup::new_local();
        tg.run(async {
            let held = Rc::clone(&marker);
            tg.spawn_local(async move {
                let _held = held;
                sleep_ms(10_000).await;
            });
            tg.spawn(fail_after(10, "boom"));
            Body::Ok(())
        })
        .await
        .unwrap_err()
    });
    assert_eq!(eg.len(), 1);
    // the cancelled local child dropped its Rc
    assert_eq!(Rc::strong_count(&marker), 1);
}
