//! Spawn N trivial tasks, then join them all and sum their values: ours against tokio's JoinSet,
//! a `Vec<JoinHandle>`, FuturesUnordered of JoinHandles, and async-scoped.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Instant;

use async_scoped::TokioScope;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use taskgroup::TaskGroup;
use tokio::task::JoinSet;

use crate::measure::{Contender, Flavor, nanos, rounds, size_label};
use crate::report::Report;
use crate::{Mode, Opts};

/// SPEC §7: at most 1.00x tokio's JoinSet.
pub const JOINSET_TARGET: f64 = 1.00;
/// SPEC §7: at most 1.15x bare `tokio::spawn` handles.
pub const VEC_JOINHANDLE_TARGET: f64 = 1.15;
/// SPEC §7: ahead of FuturesUnordered and async-scoped.
const AHEAD: f64 = 1.0;

/// The SPEC §7 target against each spawning peer.
pub fn target(peer: &str) -> Option<f64> {
    Some(match peer {
        "joinset" => JOINSET_TARGET,
        "vec_joinhandle" => VEC_JOINHANDLE_TARGET,
        _ => AHEAD,
    })
}

pub async fn taskgroup(n: usize) -> usize {
    let tg = TaskGroup::new();
    let tasks = tg
        .run(async {
            let mut tasks = Vec::with_capacity(n);
            for i in 0..n {
                tasks.push(tg.spawn(async move { Ok::<usize, Infallible>(i) }));
            }
            Ok::<_, Infallible>(tasks)
        })
        .await
        .expect("no child fails");
    tasks
        .into_iter()
        .map(|t| t.result().expect("every child finished"))
        .sum()
}

pub async fn joinset(n: usize) -> usize {
    let mut set = JoinSet::new();
    for i in 0..n {
        set.spawn(async move { i });
    }
    let mut sum = 0;
    while let Some(r) = set.join_next().await {
        sum += r.expect("no child panics");
    }
    sum
}

pub async fn vec_joinhandle(n: usize) -> usize {
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("no child panics");
    }
    sum
}

async fn futures_unordered(n: usize) -> usize {
    let mut set: FuturesUnordered<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
    let mut sum = 0;
    while let Some(r) = set.next().await {
        sum += r.expect("no child panics");
    }
    sum
}

/// async-scoped's only safe entry point blocks the worker (`block_in_place`), so it exists on
/// the multi-thread runtime only.
fn async_scoped(n: usize) -> usize {
    let ((), outputs) = TokioScope::scope_and_block(|scope| {
        for i in 0..n {
            scope.spawn(async move { i });
        }
    });
    outputs
        .into_iter()
        .map(|r| r.expect("no child panics"))
        .sum()
}

/// One sample: `reps` rounds of `work(n)`, in ns per task, after one unrecorded round;
/// `work(n)` returns the sum of its `n` children's values `0..n`.
pub fn sample<F, Fut>(
    flavor: Flavor,
    rt: &tokio::runtime::Runtime,
    n: usize,
    reps: usize,
    work: F,
) -> f64
where
    F: Fn(usize) -> Fut + Send + Copy + 'static,
    Fut: Future<Output = usize> + Send,
{
    let elapsed = flavor.run(rt, async move {
        // Unrecorded: the sample then times this contender on the heap it shaped itself, not
        // on the free lists the previous contender left (one 100k scope per sample swung by a
        // third either way with them).
        assert_eq!(work(black_box(n)).await, n * (n - 1) / 2);
        let start = Instant::now();
        for _ in 0..reps {
            let sum = work(black_box(n)).await;
            assert_eq!(sum, n * (n - 1) / 2, "every task's value was joined");
        }
        start.elapsed()
    });
    nanos(elapsed) / (n * reps) as f64
}

/// Scopes of `n` tasks per sample: small sizes repeat the scope so that one sample lasts long
/// enough to time.
pub fn reps(mode: Mode, n: usize) -> usize {
    if mode == Mode::Smoke {
        1
    } else {
        (100_000 / n).max(1)
    }
}

pub fn sizes(mode: Mode) -> &'static [usize] {
    match mode {
        Mode::Full | Mode::Quick => &[1_000, 100_000, 1_000_000],
        Mode::Smoke => &[1_000],
    }
}

/// The largest size at which the peers that are quadratic on the multi-thread runtime run.
fn quadratic_limit(mode: Mode) -> usize {
    match mode {
        Mode::Full => 100_000,
        Mode::Quick | Mode::Smoke => 1_000,
    }
}

pub fn run(opts: &Opts, report: &mut Report) {
    println!("\n== spawn+join of trivial tasks (ns/task) ==");
    for flavor in Flavor::BOTH {
        let rt = flavor.runtime();
        for &n in sizes(opts.mode) {
            let reps = reps(opts.mode, n);
            let rt = &rt;
            let mut contenders: Vec<Contender<'_>> = vec![
                (
                    "taskgroup",
                    Box::new(move || sample(flavor, rt, n, reps, taskgroup)),
                ),
                (
                    "joinset",
                    Box::new(move || sample(flavor, rt, n, reps, joinset)),
                ),
                (
                    "vec_joinhandle",
                    Box::new(move || sample(flavor, rt, n, reps, vec_joinhandle)),
                ),
            ];
            // Polled from a worker, a FuturesUnordered (or async-scoped's FuturesOrdered) of
            // JoinHandles is quadratic under tokio's coop budget, so large sizes would take
            // minutes. They are measured where that stays affordable.
            let quadratic_ok = flavor == Flavor::Current || n <= quadratic_limit(opts.mode);
            if quadratic_ok {
                contenders.push((
                    "futures_unordered",
                    Box::new(move || sample(flavor, rt, n, reps, futures_unordered)),
                ));
            }
            if flavor == Flavor::Multi && quadratic_ok {
                contenders.push((
                    "async_scoped",
                    Box::new(move || {
                        sample(flavor, rt, n, reps, |n| async move { async_scoped(n) })
                    }),
                ));
            }
            let measured = rounds(opts.runs, contenders);
            let scenario = format!("spawn_join_{}_{}", flavor.label(), size_label(n));
            report.contest(&scenario, "ns/task", &measured, target);
        }
    }
    report.note(
        "spawn+join: async-scoped runs on the multi-thread runtime only (its safe API blocks the \
         worker with block_in_place); FuturesUnordered holds tokio JoinHandles (spawned tasks)",
    );
    report.note(format!(
        "spawn+join: on the multi-thread runtime FuturesUnordered and async-scoped (both poll \
         JoinHandles from a worker task) degrade quadratically under tokio's coop budget \
         (wrapping them in tokio::task::unconstrained makes them linear), so they are measured \
         up to {} tasks only",
        size_label(quadratic_limit(opts.mode))
    ));
    if opts.mode == Mode::Smoke {
        report.note("spawn+join: the smoke run measures 1k tasks only; 100k and 1m are the quick and full runs'");
    }
}
