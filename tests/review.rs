//! Edges found by an adversarial review of the rebuilt runtime core: each `review_` test
//! below either failed before its fix (the comment says which rule it holds) or guards a risky
//! edge that held (marked EDGE).
//!
//! Timing uses tokio's paused clock; a hang shows up as the one-hour guard firing at once.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

use common::*;
use taskgroup::{Member, Policy, SpawnError, StartError, TaskError, TaskGroup, TimedOut};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

/// Fails the test if `fut` does not finish within an hour of tokio's (paused) clock.
async fn no_hang<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), fut)
        .await
        .expect("the scope hung")
}

// ---------------------------------------------------------------------------------------------
// Under `first_ok`, a `start()` child that fails before it is ready is not a win: its outcome
// is `start`'s caller's, and for the group it ends as neither success nor failure.

#[tokio::test(start_paused = true)]
async fn review_first_ok_a_start_child_failing_before_ready_is_not_a_win() {
    let start = Instant::now();
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let (winner, started) = no_hang(tg.run(async {
        let winner = tg.spawn(async {
            sleep_ms(100).await;
            Res::Ok(7)
        });
        let started = tg
            .start(|_ready: taskgroup::Ready<u16>| async {
                sleep_ms(5).await;
                Err::<(), _>(value_error("failed before ready"))
            })
            .await;
        Body::Ok((winner, started))
    }))
    .await
    .expect("the real winner succeeds");
    assert!(matches!(started, Err(StartError::Failed(_))));
    assert_eq!(
        winner.result(),
        Ok(7),
        "the sibling was cancelled by a 'win' that was a failure"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

// ---------------------------------------------------------------------------------------------
// A group's own timeout, cancel and fail-fast end a scope that a nested group holds open: the
// enclosing group's abort reaches the nested groups that hold it (as Trio's nested cancel
// scopes do), so a nested group returned or stored with live children cannot hang it.

#[tokio::test(start_paused = true)]
async fn review_outer_timeout_ends_a_scope_held_by_a_returned_nested_group() {
    let start = Instant::now();
    let outer = TaskGroup::builder()
        .timeout(Duration::from_millis(10))
        .build();
    let eg = no_hang(outer.run(async {
        // A worker pool handed back to the caller.
        let pool = TaskGroup::new();
        pool.spawn(std::future::pending::<()>());
        Body::Ok(pool)
    }))
    .await
    .expect_err("the deadline passed");
    assert!(eg.contains::<TimedOut>());
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn review_outer_cancel_ends_a_scope_held_by_a_lazily_made_global_pool() {
    static POOL: OnceLock<TaskGroup<'static>> = OnceLock::new();
    let outer = TaskGroup::new();
    no_hang(outer.run(async {
        // A request handler that lazily starts a global worker pool: the pool is made while
        // this scope's body is polled, so it is nested in this one request's scope.
        let pool = POOL.get_or_init(TaskGroup::new);
        pool.spawn(std::future::pending::<()>());
        // The request is done; even cancelling the scope does not let it return.
        outer.cancel();
        Body::Ok(())
    }))
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn review_outer_fail_fast_ends_a_scope_held_by_a_stored_nested_group() {
    static STORED: OnceLock<Mutex<Vec<TaskGroup<'static>>>> = OnceLock::new();
    let outer = TaskGroup::new();
    let eg = no_hang(outer.run(async {
        outer.spawn(async {
            let inner = TaskGroup::new();
            inner.spawn(std::future::pending::<()>());
            STORED
                .get_or_init(Default::default)
                .lock()
                .unwrap()
                .push(inner);
            sleep_ms(10).await;
            Err::<(), _>(value_error("child failed"))
        });
        Body::Ok(())
    }))
    .await
    .expect_err("the child failed");
    assert!(eg.contains::<ValueError>());
}

// ---------------------------------------------------------------------------------------------
// (Race, multi-thread.) `start()`'s caller going away as the child fails loses no error: the
// receiver is closed before it is read, so a late send fails and the child gives its error
// to the group. Probabilistic: sweeps the timing of the drop against the child's send.

#[test]
fn review_start_caller_dropped_as_the_child_fails_loses_no_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut lost = 0;
    const ROUNDS: usize = 4000;
    for round in 0..ROUNDS {
        let outcome = rt.block_on(async {
            let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
            tg.run(async {
                let go = Arc::new(AtomicBool::new(false));
                let spinning = Arc::new(AtomicBool::new(false));
                let (g, s) = (go.clone(), spinning.clone());
                let mut starting =
                    Box::pin(tg.start(move |_ready: taskgroup::Ready<()>| async move {
                        s.store(true, Ordering::SeqCst);
                        while !g.load(Ordering::SeqCst) {
                            std::hint::spin_loop();
                        }
                        Err::<(), _>(value_error("failed before ready"))
                    }));
                // Poll once: the child is spawned (on a worker) and `rx` has a waker.
                std::future::poll_fn(|cx| {
                    let _ = starting.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
                while !spinning.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                go.store(true, Ordering::SeqCst);
                for _ in 0..(round % 400) {
                    std::hint::spin_loop();
                }
                drop(starting);
                Body::Ok(())
            })
            .await
        });
        if outcome.is_ok() {
            lost += 1;
        }
    }
    assert_eq!(
        lost, 0,
        "{lost} of {ROUNDS} failures before readiness were lost"
    );
}

// ---------------------------------------------------------------------------------------------
// EDGE (passes): a Spawner used after the scope closed is refused, also from another thread,
// and the future is dropped unpolled.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_edge_spawner_after_close_is_refused_from_any_thread() {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    no_hang(tg.run(async { Body::Ok(()) })).await.unwrap();
    let polled = Arc::new(AtomicBool::new(false));
    let p = polled.clone();
    let refused = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move {
            spawner
                .try_spawn(async move { p.store(true, Ordering::SeqCst) })
                .map(drop)
                .map_err(|(why, _)| why)
        })
    })
    .join()
    .unwrap();
    assert_eq!(refused, Err(SpawnError::Closed));
    assert!(!polled.load(Ordering::SeqCst));
}

// ---------------------------------------------------------------------------------------------
// A `start()` child that panics before it is ready: as in Trio, the crash is `start()`'s
// (`StartError::Panicked`), not the group's.

#[tokio::test(start_paused = true)]
async fn review_start_child_panicking_before_ready_is_returned_by_start_not_the_group() {
    let tg = TaskGroup::new();
    let (sibling, started) = no_hang(tg.run(async {
        let sibling = tg.spawn(async {
            sleep_ms(100).await;
            Res::Ok(1)
        });
        let started = tg
            .start(|_ready: taskgroup::Ready<u16>| async {
                sleep_ms(5).await;
                if true {
                    panic!("crashed before ready");
                }
            })
            .await;
        Body::Ok((sibling, started))
    }))
    .await
    .expect("a crash before readiness is start()'s, not the group's");
    assert!(
        matches!(&started, Err(StartError::Panicked(panic)) if panic.message() == "crashed before ready"),
        "{started:?}"
    );
    assert_eq!(sibling.result(), Ok(1));
}

// ---------------------------------------------------------------------------------------------
// One scope poll does bounded work on local children: a local child that yields by waking
// itself (`cx.waker().wake_by_ref(); Pending`, as futures-lite's `yield_now` does), or one
// that spawns a successor, cannot starve the body, the deadline or the runtime.

/// Yields once by waking itself at once (futures-lite's `yield_now`).
async fn self_waking_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn review_a_self_yielding_local_child_does_not_starve_the_body_or_spawned_siblings() {
    const CAP: usize = 100_000;
    let others_ran = Arc::new(AtomicBool::new(false));
    let steps_before_others = Arc::new(AtomicUsize::new(CAP));
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let (flag, steps) = (others_ran.clone(), steps_before_others.clone());
    no_hang(tg.run(async {
        tg.spawn_local(async move {
            tokio::task::yield_now().await;
            // A spawned sibling (same current-thread runtime) should get a turn soon.
            let set = flag.clone();
            spawner.spawn(async move { set.store(true, Ordering::SeqCst) });
            // A long computation that yields cooperatively between steps.
            for step in 0..CAP {
                if flag.load(Ordering::SeqCst) {
                    steps.store(step, Ordering::SeqCst);
                    return;
                }
                self_waking_yield().await;
            }
        });
        Body::Ok(())
    }))
    .await
    .unwrap();
    let n = steps_before_others.load(Ordering::SeqCst);
    assert!(
        n < 1_000,
        "a spawned sibling waited for {n} steps of a yielding local child"
    );
}

#[tokio::test(start_paused = true)]
async fn review_a_chain_of_local_spawns_does_not_starve_the_body() {
    const CAP: usize = 100_000;
    fn link(
        tg: Arc<TaskGroup<'static>>,
        links: Arc<AtomicUsize>,
        others_ran: Arc<AtomicBool>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            // Each step does its work and hands the rest to a new local child.
            if others_ran.load(Ordering::SeqCst) || links.fetch_add(1, Ordering::SeqCst) >= CAP {
                return;
            }
            let next = link(tg.clone(), links, others_ran);
            tg.spawn_local(next);
        })
    }
    let others_ran = Arc::new(AtomicBool::new(false));
    let links = Arc::new(AtomicUsize::new(0));
    let tg: Arc<TaskGroup<'static>> = Arc::new(TaskGroup::new());
    no_hang(tg.run(async {
        tg.spawn_local(link(tg.clone(), links.clone(), others_ran.clone()));
        tokio::task::yield_now().await;
        others_ran.store(true, Ordering::SeqCst);
        Body::Ok(())
    }))
    .await
    .unwrap();
    let n = links.load(Ordering::SeqCst);
    assert!(
        n < 1_000,
        "the body waited for {n} links of a chain of local spawns"
    );
}

// ---------------------------------------------------------------------------------------------
// EDGE (passes): the runtime shutting down while a scope waits with children queued behind the
// limit: no panic, no hang, every future dropped exactly once.

#[test]
fn review_edge_runtime_shutdown_with_queued_children_drops_everything_once() {
    let counter = DropCounter::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = counter.clone();
    rt.block_on(async move {
        drop(tokio::spawn(async move {
            let tg = TaskGroup::builder().limit(2).build();
            let _ = tg
                .run(async {
                    for _ in 0..50 {
                        tg.spawn(c.track(std::future::pending::<()>()));
                    }
                    tg.spawn_local(c.track(std::future::pending::<()>()));
                    std::future::pending::<()>().await;
                    Body::Ok(())
                })
                .await;
        }));
        // Let the scope start and the first children run.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    });
    drop(rt);
    assert_eq!(counter.created(), 51);
    counter.assert_all_dropped();
}

// ---------------------------------------------------------------------------------------------
// EDGE (passes): holds under contention. Two children keep spawning short grandchildren into
// a nested group through its Spawner while earlier ones end; the outer scope must not return
// while any grandchild is alive.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_edge_outer_scope_never_returns_while_a_grandchild_of_a_nested_group_lives() {
    for _ in 0..50 {
        let alive = Arc::new(AtomicUsize::new(0));
        let outer = TaskGroup::new();
        no_hang(outer.run(async {
            let inner = TaskGroup::new();
            let spawner = inner.spawner();
            for _ in 0..2 {
                let (spawner, alive) = (spawner.clone(), alive.clone());
                outer.spawn(async move {
                    for i in 0..200 {
                        alive.fetch_add(1, Ordering::SeqCst);
                        let alive = alive.clone();
                        spawner.spawn(async move {
                            if i % 3 == 0 {
                                tokio::task::yield_now().await;
                            }
                            alive.fetch_sub(1, Ordering::SeqCst);
                        });
                        if i % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                });
            }
            // The nested group itself lives on past the body (in a static-like leak).
            std::mem::forget(inner);
            Body::Ok(())
        }))
        .await
        .unwrap();
        assert_eq!(
            alive.load(Ordering::SeqCst),
            0,
            "a grandchild outlived the scope"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// EDGE (passes): spawners on other threads racing the close. Every handle resolves (a value,
// or NotStarted(Closed)), and no accepted child runs after the scope returned.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_edge_spawners_racing_the_close_lose_nothing() {
    for _ in 0..200 {
        let tg = TaskGroup::new();
        let closed = Arc::new(AtomicBool::new(false));
        let late = Arc::new(AtomicUsize::new(0));
        let handles = Arc::new(Mutex::new(Vec::new()));
        let spawner = tg.spawner();
        let racer = {
            let (closed, late, handles) = (closed.clone(), late.clone(), handles.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let (closed, late) = (closed.clone(), late.clone());
                    let t = spawner.spawn(async move {
                        if closed.load(Ordering::SeqCst) {
                            late.fetch_add(1, Ordering::SeqCst);
                        }
                        Res::Ok(1)
                    });
                    handles.lock().unwrap().push(t);
                }
            })
        };
        no_hang(tg.run(async { Body::Ok(()) })).await.unwrap();
        closed.store(true, Ordering::SeqCst);
        racer.await.unwrap();
        assert_eq!(
            late.load(Ordering::SeqCst),
            0,
            "a child ran after the close"
        );
        for t in handles.lock().unwrap().drain(..) {
            match t.result() {
                Ok(1) | Err(TaskError::NotStarted(SpawnError::Closed)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
