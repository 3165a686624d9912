//! Borrowing local tasks: N trivial futures that borrow the caller's stack, polled on the
//! caller's own task: ours is `tg.spawn_local`, the peers FuturesUnordered and moro.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use std::convert::Infallible;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use taskgroup::TaskGroup;

use crate::measure::{Contender, Flavor, nanos, rounds, size_label};
use crate::report::Report;
use crate::{Mode, Opts};

/// SPEC §7: within 1.10x of FuturesUnordered.
const FUTURES_UNORDERED_TARGET: f64 = 1.10;
/// SPEC §7: ahead of moro.
const MORO_TARGET: f64 = 1.0;

async fn taskgroup(n: usize) -> u64 {
    let total = AtomicU64::new(0);
    let tg = TaskGroup::new();
    tg.run(async {
        for i in 0..n as u64 {
            let total = &total;
            tg.spawn_local(async move {
                total.fetch_add(i, Relaxed);
            });
        }
        Ok::<(), Infallible>(())
    })
    .await
    .expect("no child fails");
    drop(tg);
    total.into_inner()
}

async fn futures_unordered(n: usize) -> u64 {
    let total = AtomicU64::new(0);
    let mut set = FuturesUnordered::new();
    for i in 0..n as u64 {
        let total = &total;
        set.push(async move {
            total.fetch_add(i, Relaxed);
        });
    }
    while set.next().await.is_some() {}
    drop(set);
    total.into_inner()
}

/// FuturesUnordered of boxed futures, as any set of futures of different types needs: the
/// floor for one allocation per child besides the set's own node (information, no target).
async fn futures_unordered_boxed(n: usize) -> u64 {
    let total = AtomicU64::new(0);
    let mut set: FuturesUnordered<Pin<Box<dyn Future<Output = ()> + Send + '_>>> =
        FuturesUnordered::new();
    for i in 0..n as u64 {
        let total = &total;
        set.push(Box::pin(async move {
            total.fetch_add(i, Relaxed);
        }));
    }
    while set.next().await.is_some() {}
    drop(set);
    total.into_inner()
}

async fn moro(n: usize) -> u64 {
    let total = AtomicU64::new(0);
    moro::async_scope!(|scope| {
        for i in 0..n as u64 {
            let total = &total;
            // The job runs in the scope whether or not its handle is awaited.
            drop(scope.spawn(async move {
                total.fetch_add(i, Relaxed);
            }));
        }
    })
    .await;
    total.into_inner()
}

fn sample<Fut: Future<Output = u64>>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    work: fn(usize) -> Fut,
) -> f64 {
    let reps = (100_000 / n).max(1);
    let start = Instant::now();
    for _ in 0..reps {
        let sum = rt.block_on(work(black_box(n)));
        assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
    }
    nanos(start.elapsed()) / (n * reps) as f64
}

pub fn run(opts: &Opts, report: &mut Report) {
    println!("\n== spawn_local: borrowing local tasks (ns/task, current-thread) ==");
    let n = if opts.mode == Mode::Smoke {
        1_000
    } else {
        100_000
    };
    let rt = Flavor::Current.runtime();
    let rt = &rt;
    let contenders: Vec<Contender<'_>> = vec![
        ("taskgroup", Box::new(move || sample(rt, n, taskgroup))),
        (
            "futures_unordered",
            Box::new(move || sample(rt, n, futures_unordered)),
        ),
        ("moro", Box::new(move || sample(rt, n, moro))),
        (
            "futures_unordered_boxed",
            Box::new(move || sample(rt, n, futures_unordered_boxed)),
        ),
    ];
    let scenario = format!("spawn_local_{}", size_label(n));
    let measured = rounds(opts.runs, contenders);
    report.contest(&scenario, "ns/task", &measured, |peer| match peer {
        "futures_unordered" => Some(FUTURES_UNORDERED_TARGET),
        "moro" => Some(MORO_TARGET),
        _ => None,
    });
    report.note(
        "spawn_local: futures_unordered_boxed (FuturesUnordered of boxed futures, the floor for \
         children of different types) is information, with no target",
    );
}
