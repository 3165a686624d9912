//! Stress at the sizes of SPEC §7: 1M tasks in one group, 10,000 nested scopes, 100,000
//! failing tasks, 100,000-deep error trees on a small stack, children spawning children.
//! Each runs within about a second in a debug build on 2 cores, except the million tasks:
//! about 8 s in debug, where `tokio::spawn` alone takes about 6 s for the same million
//! (measured on the 2-core dev machine; about 1.35x of bare tokio per task).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use taskgroup::{ErrorGroup, ExceptStar, Member, Policy, Spawner, TaskGroup};

type Body<T> = Result<T, Member>;

// ---------------------------------------------------------------------------------------------
// One million tasks in one group.

const MILLION: usize = 1_000_000;

/// Counts its drops in a static: a zero-sized tracker, so the trivial tasks stay trivial.
struct Bump(&'static AtomicUsize);

impl Drop for Bump {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A million trivial children in one group, spawned from the body, run in batches so that
/// memory stays bounded; each ran, and each future was dropped once.
#[tokio::test]
async fn stress_one_million_tasks_in_one_group() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let baseline = alive();
    let tg = TaskGroup::new();
    tg.run(async {
        for i in 0..MILLION {
            let bump = Bump(&DROPPED);
            tg.spawn(async move {
                let _bump = bump;
                RAN.fetch_add(1, Ordering::Relaxed);
            });
            // Every 16k spawns, let most of them finish before spawning more.
            if i % 16_384 == 16_383 {
                while RAN.load(Ordering::Relaxed) + 4_096 < i {
                    tokio::task::yield_now().await;
                }
            }
        }
        Body::Ok(())
    })
    .await
    .unwrap();
    assert_eq!(RAN.load(Ordering::Relaxed), MILLION);
    assert_eq!(DROPPED.load(Ordering::Relaxed), MILLION);
    settle(baseline).await;
}

// ---------------------------------------------------------------------------------------------
// 10,000 nested scopes: a scope whose child runs a scope, 10,000 deep.

const NESTED: usize = 10_000;

type Level = Pin<Box<dyn Future<Output = Result<usize, Member>> + Send>>;

/// What the bottom of a nest does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bottom {
    Succeed,
    Fail,
    /// Waits until cancelled.
    Wait,
}

/// A scope whose child runs the scope below it: every level is its own task, so the depth
/// costs no stack. Each level also has an idle sibling that a failure must cancel, and
/// reports through `started` once its child is spawned.
fn nest(depth: usize, bottom: Bottom, p: Arc<Nest>) -> Level {
    Box::pin(async move {
        if depth == 0 {
            return match bottom {
                Bottom::Succeed => Ok(0),
                Bottom::Fail => Err(value_error("bottom").into()),
                Bottom::Wait => std::future::pending().await,
            };
        }
        let tg = TaskGroup::new();
        let below = tg
            .run(async {
                let idle = tg.spawn(p.counter.track(std::future::pending::<()>()));
                if bottom == Bottom::Succeed {
                    // On success the scope closes only once its idle child is gone.
                    idle.cancel();
                }
                let below = tg.spawn(p.counter.track(nest(depth - 1, bottom, p.clone())));
                p.started.fetch_add(1, Ordering::SeqCst);
                Body::Ok(below)
            })
            .await?;
        Ok(below.result().expect("the level below succeeded") + 1)
    })
}

/// The fixtures a nest shares.
#[derive(Default)]
struct Nest {
    counter: DropCounter,
    started: AtomicUsize,
}

/// Like `assert_no_tasks_beyond`, for the sizes here (100k tasks to release, or a
/// cancellation that cascades through 10,000 levels one task at a time, the last of which
/// releases the whole chain of nested groups' holds): yields for as long as the count of live
/// tasks keeps falling, and fails once it has not fallen for 5 s of wall time.
async fn settle(baseline: usize) {
    const STALL: std::time::Duration = std::time::Duration::from_secs(5);
    let mut lowest = alive();
    let mut since = std::time::Instant::now();
    while alive() > baseline {
        tokio::task::yield_now().await;
        if alive() < lowest {
            lowest = alive();
            since = std::time::Instant::now();
        } else {
            assert!(
                since.elapsed() < STALL,
                "{} tasks still alive, expected {baseline}",
                alive()
            );
        }
    }
}

/// How many groups deep the first leaf sits, without recursion.
fn leaf_depth(eg: &ErrorGroup) -> usize {
    let mut depth = 0;
    let mut group = eg;
    loop {
        match group.iter().next().expect("groups are never empty") {
            Member::Group(inner) => {
                depth += 1;
                group = inner;
            }
            Member::Leaf(_) => return depth,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_ten_thousand_nested_scopes_succeed() {
    let baseline = alive();
    let p = Arc::new(Nest::default());
    let depth = nest(NESTED, Bottom::Succeed, p.clone()).await.unwrap();
    assert_eq!(depth, NESTED);
    assert_eq!(p.started.load(Ordering::SeqCst), NESTED);
    settle(baseline).await;
    p.counter.assert_all_dropped();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_ten_thousand_nested_scopes_fail_from_the_bottom() {
    let baseline = alive();
    let p = Arc::new(Nest::default());
    let Err(Member::Group(eg)) = nest(NESTED, Bottom::Fail, p.clone()).await else {
        panic!("the bottom's failure comes up as a group");
    };
    // Every level nested the one below it: the one leaf sits 9,999 groups below the top.
    assert_eq!(leaf_depth(&eg), NESTED - 1);
    assert_eq!(eg.leaves().count(), 1);
    assert!(eg.contains::<ValueError>());
    assert!(format!("{eg:#}").contains("max_group_depth"));
    assert!(format!("{eg:?}").contains("ErrorGroup { .. }"));
    drop(eg);
    // Every level's idle sibling was cancelled and dropped.
    settle(baseline).await;
    assert_eq!(p.counter.created(), 2 * NESTED);
    p.counter.assert_all_dropped();
    assert_eq!(p.counter.completed(), NESTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_dropping_ten_thousand_nested_scopes_cancels_every_level() {
    let baseline = alive();
    let p = Arc::new(Nest::default());
    let top = nest(NESTED, Bottom::Wait, p.clone());
    let all_started = async {
        while p.started.load(Ordering::SeqCst) < NESTED {
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        _ = top => panic!("the bottom waits forever"),
        () = all_started => {}
    }
    // The top scope's future is gone; the cancellation cascades down, one task per level.
    settle(baseline).await;
    assert_eq!(p.counter.created(), 2 * NESTED);
    p.counter.assert_all_dropped();
    assert_eq!(p.counter.completed(), 0);
}

/// The same depth with each scope awaited inside the body of the one above (no task per
/// level): polling and dropping recurse through every level, so this runs on a thread with a
/// large stack. Each level has one trivial child; the bottom body fails or succeeds.
fn nest_in_body(depth: usize, fail: bool, counter: DropCounter) -> Level {
    Box::pin(async move {
        if depth == 0 {
            return if fail {
                Err(value_error("bottom").into())
            } else {
                Ok(0)
            };
        }
        let tg = TaskGroup::new();
        tg.run(async {
            tg.spawn(counter.track(async {}));
            let below = nest_in_body(depth - 1, fail, counter.clone()).await?;
            Body::Ok(below + 1)
        })
        .await
        .map_err(Member::from)
    })
}

/// Runs a nest of scopes in bodies on a current-thread runtime on a large stack.
fn on_large_stack(fail: bool) {
    std::thread::Builder::new()
        .stack_size(STACK_FOR_BODY_NESTING)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                let baseline = alive();
                let counter = DropCounter::default();
                let result = nest_in_body(NESTED, fail, counter.clone()).await;
                match result {
                    Ok(depth) => assert!(!fail && depth == NESTED),
                    Err(Member::Group(eg)) => {
                        assert!(fail);
                        assert_eq!(leaf_depth(&eg), NESTED - 1);
                        assert_eq!(eg.leaves().count(), 1);
                    }
                    Err(Member::Leaf(leaf)) => panic!("not nested: {leaf}"),
                }
                assert_eq!(counter.created(), NESTED);
                counter.assert_all_dropped();
                settle(baseline).await;
            });
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn stress_ten_thousand_scopes_nested_in_bodies_succeed() {
    on_large_stack(false);
}

#[test]
fn stress_ten_thousand_scopes_nested_in_bodies_fail_from_the_bottom() {
    on_large_stack(true);
}

/// Measured: a debug build needs between 56 and 64 MiB for these 10,000 levels, about 6 KiB
/// of stack per scope nested in a body (release needs far less). Reserved, not committed.
const STACK_FOR_BODY_NESTING: usize = 256 << 20;

// ---------------------------------------------------------------------------------------------
// 100,000 failing tasks under WaitAll: every failure kept, once.

const HUNDRED_K: usize = 100_000;

async fn hundred_thousand_failures() {
    let baseline = alive();
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let eg = tg
        .run(async {
            for i in 0..HUNDRED_K {
                tg.spawn(async move { Res::<()>::Err(ValueError(i.to_string())) });
            }
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), HUNDRED_K);
    let mut seen = vec![false; HUNDRED_K];
    for leaf in eg.leaves() {
        let i: usize = leaf.to_string().parse().unwrap();
        assert!(!seen[i], "failure {i} reported twice");
        seen[i] = true;
        assert!(leaf.task().is_some(), "the leaf knows its task");
    }
    assert!(seen.iter().all(|&s| s), "a failure was lost");
    assert_eq!(
        eg.to_string(),
        "unhandled errors in a TaskGroup (100000 sub-exceptions)"
    );
    assert!(format!("{eg:#}").contains("and 99985 more exceptions"));
    let (even, odd) = eg.split_by(|l| l.to_string().parse::<usize>().unwrap() % 2 == 0);
    assert_eq!(even.unwrap().len(), HUNDRED_K / 2);
    assert_eq!(odd.unwrap().len(), HUNDRED_K / 2);
    settle(baseline).await;
}

#[tokio::test]
async fn stress_hundred_thousand_failures_wait_all_current_thread() {
    hundred_thousand_failures().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_hundred_thousand_failures_wait_all_multi_thread() {
    tokio::spawn(hundred_thousand_failures()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_one_failure_cancels_a_hundred_thousand_siblings() {
    let baseline = alive();
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            for _ in 0..HUNDRED_K {
                tg.spawn(counter.track(std::future::pending::<()>()));
            }
            tg.spawn(async { Res::<()>::Err(value_error("the one")) });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert_eq!(counter.created(), HUNDRED_K);
    counter.assert_all_dropped();
    settle(baseline).await;
}

// ---------------------------------------------------------------------------------------------
// An ErrorGroup 100,000 levels deep: split, printed and dropped on a 256 KiB stack.

const DEEP: usize = 100_000;

/// `level 0: [ValueError #0, level 1: [TypeError #1, level 2: [ValueError #2, ...]]]`:
/// leaves of both types at every depth, so both sides of a split are as deep as the tree.
fn zigzag(levels: usize) -> ErrorGroup {
    let leaf = |i: usize| -> Member {
        if i % 2 == 0 {
            ValueError(format!("#{i}")).into()
        } else {
            TypeError(format!("#{i}")).into()
        }
    };
    let mut eg = ErrorGroup::new(format!("level {levels}"), vec![leaf(levels)]).unwrap();
    for i in (0..levels).rev() {
        eg = ErrorGroup::new(format!("level {i}"), vec![leaf(i), eg.into()]).unwrap();
    }
    eg
}

/// `[[[...[KeyError]...]]]`: a chain of single-member groups.
fn chain(levels: usize) -> ErrorGroup {
    let mut eg = ErrorGroup::new("bottom", vec![KeyError("deep".into()).into()]).unwrap();
    for _ in 0..levels {
        eg = ErrorGroup::new("link", vec![eg.into()]).unwrap();
    }
    eg
}

/// Runs `f` on a thread with a 256 KiB stack: any recursion over the depth would overflow.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn ids(eg: &ErrorGroup) -> Vec<usize> {
    eg.leaves()
        .map(|l| l.to_string().trim_start_matches('#').parse().unwrap())
        .collect()
}

#[test]
fn stress_hundred_thousand_deep_zigzag_splits_prints_and_drops_on_a_small_stack() {
    on_small_stack(|| {
        let eg = zigzag(DEEP);
        assert_eq!(eg.leaves().count(), DEEP + 1);
        assert_eq!(leaf_depth(&eg), 0);
        let (values, types) = eg.split::<ValueError>();
        let (values, types) = (values.unwrap().into_untyped(), types.unwrap());
        // Both sides keep the full depth, in order.
        let v = ids(&values);
        assert_eq!(v.len(), DEEP / 2 + 1);
        assert!(v.iter().enumerate().all(|(k, &i)| i == 2 * k));
        let t = ids(&types);
        assert_eq!(t.len(), DEEP / 2);
        assert!(t.iter().enumerate().all(|(k, &i)| i == 2 * k + 1));
        for (side, members) in [(&values, 2), (&types, 1)] {
            assert_eq!(side.message(), "level 0");
            assert_eq!(side.len(), members);
            assert!(format!("{side:#}").contains("max_group_depth is 10"));
            assert!(format!("{side:?}").contains("ErrorGroup { .. }"));
        }
        // Split the halves again, then drop everything.
        let (none, all) = types.split::<ValueError>();
        assert!(none.is_none());
        assert_eq!(all.unwrap().leaves().count(), DEEP / 2);
        let (evens, rest) = values.split_by(|l| l.to_string().len() % 2 == 0);
        assert!(evens.is_some() && rest.is_some());
    });
}

#[test]
fn stress_hundred_thousand_deep_chain_prunes_on_a_small_stack() {
    on_small_stack(|| {
        let eg = chain(DEEP);
        assert_eq!(leaf_depth(&eg), DEEP);
        // Nothing matches: a hundred thousand groups left empty are pruned, and the rest is
        // the whole chain.
        let (matched, rest) = eg.split::<ValueError>();
        assert!(matched.is_none());
        let rest = rest.unwrap();
        assert_eq!(leaf_depth(&rest), DEEP);
        // Everything matches: the whole chain comes back.
        let all = rest.subgroup::<KeyError>().unwrap().into_untyped();
        assert_eq!(leaf_depth(&all), DEEP);
        assert!(all.contains::<KeyError>());
        let text = format!("{all:#}\n{all:?}\n{all}");
        assert!(text.contains("max_group_depth is 10"));
        let (any, none) = all.split_any::<(TypeError, KeyError)>();
        assert!(none.is_none());
        drop(any);
    });
}

#[test]
fn stress_hundred_thousand_deep_except_star_on_a_small_stack() {
    on_small_stack(|| {
        let mut clauses = ExceptStar::new(zigzag(DEEP));
        let values = clauses.take::<ValueError>().unwrap();
        assert_eq!(values.errors().count(), DEEP / 2 + 1);
        clauses.raise(RuntimeError("handled the values".into()));
        assert!(clauses.take::<KeyError>().is_none());
        let left = clauses.finish().unwrap();
        // ErrorGroup("", [RuntimeError, the rest 100,000 deep]).
        assert_eq!(left.message(), "");
        assert_eq!(left.len(), 2);
        assert_eq!(left.leaves().count(), 1 + DEEP / 2);
        let printed = format!("{left:#}{left:?}");
        assert!(printed.contains("handled the values"));
        drop((values, left));
    });
}

// ---------------------------------------------------------------------------------------------
// Children spawning children until one fails: the scope returns, nothing hangs.

const GENERATIONS: usize = 10_000;

/// Child `k` spawns child `k + 1` and returns; child `GENERATIONS` fails.
fn generation(k: usize, spawner: Spawner, counter: DropCounter) -> Level {
    Box::pin(async move {
        if k == GENERATIONS {
            return Err(ValueError(format!("generation {k}")).into());
        }
        let next = generation(k + 1, spawner.clone(), counter.clone());
        spawner.spawn(counter.track(next));
        Ok(k)
    })
}

async fn chain_until_one_fails() {
    let baseline = alive();
    let counter = DropCounter::default();
    let tg = TaskGroup::new();
    let first = generation(0, tg.spawner(), counter.clone());
    let eg = tokio::time::timeout(
        Duration::from_secs(60),
        tg.run(async {
            tg.spawn(counter.track(first));
            std::future::pending::<()>().await;
            Body::Ok(())
        }),
    )
    .await
    .expect("the scope hung")
    .unwrap_err();
    assert_eq!(eg.len(), 1);
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(leaf.to_string(), format!("generation {GENERATIONS}"));
    assert_eq!(counter.created(), GENERATIONS + 1);
    counter.assert_all_dropped();
    settle(baseline).await;
}

#[tokio::test(start_paused = true)]
async fn stress_children_spawn_children_until_one_fails_current_thread() {
    chain_until_one_fails().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_children_spawn_children_until_one_fails_multi_thread() {
    chain_until_one_fails().await;
}

/// Each child spawns two more; the `FORK_LIMIT`-th child to start fails. The failure cancels
/// the others and refuses further spawns, so the tree stops growing and the scope returns.
const FORK_LIMIT: usize = 20_000;

struct Fork {
    started: AtomicUsize,
    counter: DropCounter,
}

fn fork(spawner: Spawner, shared: Arc<Fork>) -> Pin<Box<dyn Future<Output = Res<()>> + Send>> {
    Box::pin(async move {
        let n = shared.started.fetch_add(1, Ordering::SeqCst) + 1;
        if n == FORK_LIMIT {
            return Err(ValueError(format!("child {n}")));
        }
        for _ in 0..2 {
            let child = shared.counter.track(fork(spawner.clone(), shared.clone()));
            // Refused once the group fails: the future is dropped unpolled.
            spawner.spawn(child);
        }
        tokio::task::yield_now().await;
        Ok(())
    })
}

async fn fork_until_one_fails() {
    let baseline = alive();
    let shared = Arc::new(Fork {
        started: AtomicUsize::new(0),
        counter: DropCounter::default(),
    });
    let tg = TaskGroup::new();
    let root = shared.counter.track(fork(tg.spawner(), shared.clone()));
    let eg = tokio::time::timeout(
        Duration::from_secs(60),
        tg.run(async {
            tg.spawn(root);
            Body::Ok(())
        }),
    )
    .await
    .expect("the scope hung")
    .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert_eq!(
        eg.leaves().next().unwrap().to_string(),
        format!("child {FORK_LIMIT}")
    );
    let started = shared.started.load(Ordering::SeqCst);
    assert!(started >= FORK_LIMIT);
    shared.counter.assert_all_dropped();
    settle(baseline).await;
    // Nothing started after the scope returned: the tree stopped growing with the failure.
    assert_eq!(shared.started.load(Ordering::SeqCst), started);
}

#[tokio::test(start_paused = true)]
async fn stress_children_fork_until_one_fails_current_thread() {
    fork_until_one_fails().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_children_fork_until_one_fails_multi_thread() {
    fork_until_one_fails().await;
}
