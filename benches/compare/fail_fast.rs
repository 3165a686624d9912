//! Fail-fast: N siblings sleep for an hour, then one more child fails. Ours cancels the rest
//! by itself; JoinSet's user calls `abort_all` on the first error and drains the set.
//! Two figures per run: the whole scope (spawning included) and the cancellation alone (from
//! the failing child's last instruction to the scope's return).

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use taskgroup::TaskGroup;
use tokio::task::JoinSet;

use crate::measure::{Flavor, median, nanos, size_label};
use crate::report::Report;
use crate::{Mode, Opts};

/// SPEC §7: the scope returns within 1.2x of JoinSet abort_all + drain.
const TARGET: f64 = 1.2;
const SLEEP: Duration = Duration::from_secs(3_600);

/// (whole scope, cancellation alone)
type Sample = (Duration, Duration);

async fn taskgroup(n: usize) -> Sample {
    let start = Instant::now();
    let failed_at = Arc::new(OnceLock::new());
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..n {
                tg.spawn(async {
                    tokio::time::sleep(SLEEP).await;
                    Ok::<(), io::Error>(())
                });
            }
            let failed_at = Arc::clone(&failed_at);
            tg.spawn(async move {
                let _ = failed_at.set(Instant::now());
                Err::<(), _>(io::Error::other("boom"))
            });
            Ok::<(), io::Error>(())
        })
        .await;
    let end = Instant::now();
    let group = result.expect_err("one child failed");
    assert_eq!(group.len(), 1, "only the failing child is reported");
    (
        end - start,
        end - *failed_at.get().expect("the failing child ran"),
    )
}

async fn joinset(n: usize) -> Sample {
    let start = Instant::now();
    let failed_at = Arc::new(OnceLock::new());
    let mut set = JoinSet::new();
    for _ in 0..n {
        set.spawn(async {
            tokio::time::sleep(SLEEP).await;
            Ok::<(), io::Error>(())
        });
    }
    let failed = Arc::clone(&failed_at);
    set.spawn(async move {
        let _ = failed.set(Instant::now());
        Err::<(), _>(io::Error::other("boom"))
    });
    let mut errors = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                errors.push(e);
                set.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    let end = Instant::now();
    assert_eq!(errors.len(), 1, "only the failing child is reported");
    (
        end - start,
        end - *failed_at.get().expect("the failing child ran"),
    )
}

pub fn run(opts: &Opts, report: &mut Report) {
    println!("\n== fail-fast: one child fails among sleeping siblings (ns) ==");
    let n = if opts.mode == Mode::Smoke {
        1_000
    } else {
        100_000
    };
    for flavor in Flavor::BOTH {
        let rt = flavor.runtime();
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        // One warm-up round, then interleaved rounds.
        flavor.run(&rt, taskgroup(n));
        flavor.run(&rt, joinset(n));
        for _ in 0..opts.runs {
            ours.push(flavor.run(&rt, taskgroup(n)));
            theirs.push(flavor.run(&rt, joinset(n)));
        }
        let total = |s: &[Sample]| median(&s.iter().map(|x| nanos(x.0)).collect::<Vec<_>>());
        let cancel = |s: &[Sample]| median(&s.iter().map(|x| nanos(x.1)).collect::<Vec<_>>());
        let base = format!("failfast_{}_{}", flavor.label(), size_label(n));
        for (part, pick) in [
            ("total", &total as &dyn Fn(&[Sample]) -> f64),
            ("cancel", &cancel),
        ] {
            let scenario = format!("{base}_{part}");
            let (o, t) = (pick(&ours), pick(&theirs));
            report.figure(&scenario, "taskgroup", o, "ns");
            report.figure(&scenario, "joinset_abort_all", t, "ns");
            report.compare(&scenario, "joinset_abort_all", o, t, "ns", Some(TARGET));
        }
    }
}
