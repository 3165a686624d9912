//! Bounded failure retention (issue 14, part 5): a `wait_all` group with `keep_errors(K)` that
//! runs many failing children holds the same bytes whether they were 10,000 or 1,000,000: the
//! K most recent failures and a count per error type. Measured with the counting allocator of
//! the benchmarks (its own test binary, so no other test allocates while it counts). About 3 s
//! in a debug build on 2 cores; `-- --nocapture` prints the figures.

mod common;

#[path = "../benches/compare/alloc_count.rs"]
#[allow(dead_code)]
mod alloc_count;

use common::*;
use taskgroup::{ErrorsDropped, Member, Policy, TaskGroup};

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

const KEEP: usize = 100;
/// Children spawned before the body waits for them: the transient peak, the same for every run.
const BATCH: usize = 1_000;

fn live_bytes() -> isize {
    alloc_count::Snapshot::now().live_bytes
}

/// Runs `n` failing children in batches; the bytes the group holds once every one has ended
/// (measured inside the scope, the group alive with its failures), and the scope's error.
async fn run_failing(n: usize, keep: Option<usize>) -> (isize, taskgroup::ErrorGroup) {
    let builder = TaskGroup::builder().policy(Policy::WaitAll);
    let tg = match keep {
        Some(k) => builder.keep_errors(k),
        None => builder,
    }
    .build();
    let before = live_bytes();
    let mut retained = 0;
    let eg = tg
        .run(async {
            let mut batch = Vec::with_capacity(BATCH);
            for started in (0..n).step_by(BATCH) {
                for i in started..(started + BATCH).min(n) {
                    batch.push(tg.spawn(async move { Err::<(), _>(value_error(&i.to_string())) }));
                }
                for task in batch.drain(..) {
                    let _ = task.await;
                }
            }
            drop(batch);
            assert_eq!(tg.failure_counts().failures(), n as u64);
            retained = live_bytes() - before;
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    (retained, eg)
}

#[test]
fn stress_retention_keep_errors_holds_memory_flat() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _counting = alloc_count::counting();
    runtime.block_on(async {
        // Warm the runtime's own buffers so that they are not counted as the first run's.
        let _ = run_failing(2 * BATCH, Some(KEEP)).await;

        let mut retained = Vec::new();
        for n in [10_000, 1_000_000] {
            let (bytes, eg) = run_failing(n, Some(KEEP)).await;
            println!("{n} failing children, keep_errors({KEEP}): {bytes} bytes retained");
            assert_eq!(eg.len(), KEEP + 1);
            let dropped = eg.leaves().next().unwrap().downcast_ref::<ErrorsDropped>();
            assert_eq!(dropped.map(|d| d.of("ValueError")), Some((n - KEEP) as u64));
            retained.push(bytes);
        }
        // Flat: 100 times the failures, the same bytes (slack for the kept messages, which
        // are longer numbers, and the runtime's small buffers), about what K failures take.
        let (small, large) = (retained[0], retained[1]);
        assert!(
            (large - small).abs() < 1_024,
            "retained {small} bytes for 10k failures, {large} for 1M"
        );
        assert!(
            large < (KEEP as isize) * 1_024,
            "{large} bytes for {KEEP} kept failures"
        );

        // Without the bound the same group keeps every failure: the counter sees them.
        let (unbounded, eg) = run_failing(10_000, None).await;
        println!("10000 failing children, every failure kept: {unbounded} bytes retained");
        assert_eq!(eg.len(), 10_000);
        assert!(
            unbounded > 10_000 * 64,
            "{unbounded} bytes for 10k kept failures"
        );
    });
}
