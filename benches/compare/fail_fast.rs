//! Fail-fast: N siblings sleep for an hour, then one more child fails. Ours cancels the rest
//! by itself; JoinSet's user calls `abort_all` on the first error and drains the set.
//! Two figures per run: the whole scope (spawning included) and the cancellation alone (from
//! the failing child's last instruction to the scope's return).

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use taskgroup::TaskGroup;
use tokio::task::JoinSet;

use crate::measure::{Contender, Flavor, nanos, rounds, size_label};
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
        let rt = &rt;
        let contenders: Vec<Contender<'_, Sample>> = vec![
            ("taskgroup", Box::new(move || flavor.run(rt, taskgroup(n)))),
            (
                "joinset_abort_all",
                Box::new(move || flavor.run(rt, joinset(n))),
            ),
        ];
        let measured = rounds(opts.runs, contenders);
        let base = format!("failfast_{}_{}", flavor.label(), size_label(n));
        for (part, pick) in [
            ("total", (|s: &Sample| s.0) as fn(&Sample) -> Duration),
            ("cancel", |s: &Sample| s.1),
        ] {
            let figures: Vec<(&'static str, Vec<f64>)> = measured
                .iter()
                .map(|(who, samples)| (*who, samples.iter().map(|s| nanos(pick(s))).collect()))
                .collect();
            report.contest(&format!("{base}_{part}"), "ns", &figures, |_| Some(TARGET));
        }
    }
}
