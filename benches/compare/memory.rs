//! Bytes per pending task: N tasks that have each been polled once and wait forever, counted by
//! the global allocator, then cancelled. Also what is still allocated once the scope returned
//! ("finished tasks free at once"), and which allocation sizes make up a task.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use taskgroup::TaskGroup;
use tokio::task::JoinSet;

use crate::alloc_count::{self, CLASSES, Snapshot};
use crate::measure::{Contender, rounds, size_label};
use crate::report::Report;
use crate::{Mode, Opts};

/// SPEC §7: within 1.15x of JoinSet's bytes per task.
const TARGET: f64 = 1.15;

/// How many parked tasks have been polled once.
static POLLED: AtomicUsize = AtomicUsize::new(0);

async fn parked() {
    POLLED.fetch_add(1, Relaxed);
    std::future::pending::<()>().await;
}

async fn all_polled(n: usize) {
    while POLLED.load(Relaxed) < n {
        tokio::task::yield_now().await;
    }
}

/// The counters when every task was pending, when the scope had returned but the caller still
/// held the task handles, and once everything was reaped and dropped.
struct Sample {
    pending: Snapshot,
    held: Snapshot,
    after: Snapshot,
}

/// (every task pending, scope returned with the handles still held)
async fn taskgroup(n: usize, keep_handles: bool) -> (Snapshot, Snapshot) {
    let tg = TaskGroup::new();
    let mut pending = None;
    let tasks = tg
        .run(async {
            let mut tasks = Vec::with_capacity(if keep_handles { n } else { 0 });
            for _ in 0..n {
                let task = tg.spawn(async {
                    parked().await;
                    Ok::<(), Infallible>(())
                });
                if keep_handles {
                    tasks.push(task);
                }
            }
            all_polled(n).await;
            pending = Some(Snapshot::now());
            tg.cancel();
            Ok::<_, Infallible>(tasks)
        })
        .await
        .expect("cancelling after the body's last await is not an error");
    let held = Snapshot::now();
    drop(tasks);
    (pending.expect("the body ran"), held)
}

async fn joinset(n: usize) -> (Snapshot, Snapshot) {
    let mut set = JoinSet::new();
    for _ in 0..n {
        set.spawn(parked());
    }
    all_polled(n).await;
    let pending = Snapshot::now();
    set.abort_all();
    while set.join_next().await.is_some() {}
    (pending, Snapshot::now())
}

async fn vec_joinhandle(n: usize) -> (Snapshot, Snapshot) {
    let handles: Vec<_> = (0..n).map(|_| tokio::spawn(parked())).collect();
    all_polled(n).await;
    let pending = Snapshot::now();
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    (pending, Snapshot::now())
}

fn measure<F: Future<Output = (Snapshot, Snapshot)>>(
    rt: &tokio::runtime::Runtime,
    work: F,
) -> (Snapshot, Sample) {
    POLLED.store(0, Relaxed);
    let _counting = alloc_count::counting();
    let before = Snapshot::now();
    let (pending, held) = rt.block_on(work);
    // Let the runtime run what the cancellation woke (tokio frees a task when it is reaped).
    rt.block_on(tokio::task::yield_now());
    let after = Snapshot::now();
    (
        before,
        Sample {
            pending,
            held,
            after,
        },
    )
}

pub fn run(opts: &Opts, report: &mut Report) {
    let n = match opts.mode {
        Mode::Full => 1_000_000,
        Mode::Quick => 100_000,
        Mode::Smoke => 10_000,
    };
    println!(
        "\n== memory: {} pending tasks (current-thread runtime) ==",
        size_label(n)
    );
    let rt = crate::measure::Flavor::Current.runtime();
    let rt = &rt;
    // The warm-up round of `rounds` grows the runtime's own queues to size, so that they are
    // not counted.
    let contenders: Vec<Contender<'_, (Snapshot, Sample)>> = vec![
        (
            "taskgroup",
            Box::new(move || measure(rt, taskgroup(n, true))),
        ),
        (
            "taskgroup_handles_dropped",
            Box::new(move || measure(rt, taskgroup(n, false))),
        ),
        ("joinset", Box::new(move || measure(rt, joinset(n)))),
        (
            "vec_joinhandle",
            Box::new(move || measure(rt, vec_joinhandle(n))),
        ),
    ];
    let measured = rounds(opts.runs, contenders);
    let per_task = |a: isize, b: isize| (b - a) as f64 / n as f64;
    let scenario = format!("memory_{}", size_label(n));
    let mut bytes = Vec::new();
    for (who, samples) in &measured {
        let column = |f: &dyn Fn(&Snapshot, &Sample) -> f64| -> Vec<f64> {
            samples.iter().map(|(b, s)| f(b, s)).collect()
        };
        let pending = column(&|b, s| per_task(b.live_bytes, s.pending.live_bytes));
        let retained = column(&|b, s| per_task(b.live_bytes, s.after.live_bytes));
        let held = column(&|b, s| per_task(b.live_bytes, s.held.live_bytes));
        let allocs = column(&|b, s| (s.pending.allocs - b.allocs) as f64 / n as f64);
        let (before, last) = samples.last().expect("at least one round");
        let classes: Vec<String> = (0..CLASSES)
            .filter_map(|c| {
                let per = (last.pending.by_class[c] - before.by_class[c]) as f64 / n as f64;
                (per >= 0.1).then(|| {
                    if c + 1 == CLASSES {
                        format!("{per:.2} x >={} B", c * 16)
                    } else {
                        format!("{per:.2} x {}-{} B", c * 16, c * 16 + 15)
                    }
                })
            })
            .collect();
        report.figure(&scenario, *who, &pending, "bytes/task");
        if *who == "taskgroup" {
            // The handles of finished tasks, still held by the caller after the scope.
            report.figure(
                format!("{scenario}_held_by_handles"),
                *who,
                &held,
                "bytes/task",
            );
        }
        report.figure(
            format!("{scenario}_retained_after_return"),
            *who,
            &retained,
            "bytes/task",
        );
        report.figure(
            format!("{scenario}_allocations"),
            *who,
            &allocs,
            "allocs/task",
        );
        println!("    allocation sizes per task: {}", classes.join(", "));
        bytes.push((*who, pending));
    }
    let (ours, ours_dropped) = (&bytes[0].1, &bytes[1].1);
    for (peer, theirs) in &bytes[2..] {
        let target = (*peer == "joinset").then_some(TARGET);
        report.compare(&scenario, *peer, ours, theirs, "bytes/task", target);
        report.compare(
            format!("{scenario}_handles_dropped"),
            *peer,
            ours_dropped,
            theirs,
            "bytes/task",
            target,
        );
    }
    if opts.mode != Mode::Full {
        report.note(format!(
            "memory: this run counts {} pending tasks; the full run counts 1m",
            size_label(n)
        ));
    }
}
