//! A small service tree with one worker stuck on a lock, and what `taskgroup::snapshot()`
//! shows of it after a moment: which groups run, nested in what, and which children wait
//! (on a wake-up, behind the limit, in `start()` before ready, and local ones).
//!
//! Run with `cargo run --example stuck`; `--after-ms N` sets how long it runs before the
//! tree is printed (default 1000).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use taskgroup::{TaskGroup, task_group};
use tokio::sync::Mutex;

fn after_ms() -> Result<u64, String> {
    let mut args = std::env::args().skip(1);
    let mut ms = 1000;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--after-ms" => args
                .next()
                .ok_or("--after-ms needs a number of milliseconds")?,
            other => match other.strip_prefix("--after-ms=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unknown argument `{other}`")),
            },
        };
        ms = value
            .parse()
            .ok()
            .filter(|ms| (1..=60_000).contains(ms))
            .ok_or(format!(
                "--after-ms: `{value}` is not a number from 1 to 60000"
            ))?;
    }
    Ok(ms)
}

#[tokio::main]
async fn main() -> ExitCode {
    let after = match after_ms() {
        Ok(ms) => Duration::from_millis(ms),
        Err(why) => {
            eprintln!("stuck: {why}\nusage: stuck [--after-ms N]");
            return ExitCode::from(2);
        }
    };
    // The lock the stuck worker waits for; main holds it until the tree is printed.
    let lock = Arc::new(Mutex::new(()));
    let held = Arc::clone(&lock).lock_owned().await;

    let server = TaskGroup::builder()
        .name("server")
        .timeout(Duration::from_secs(30))
        .build();
    let result = server
        .run(async {
            server.spawn_named("listener", std::future::pending::<()>());
            let pool_lock = Arc::clone(&lock);
            server.spawn_named("pool", async move {
                // A group created inside a child: nested in `server`.
                // It watches for stalls: its waiting children show their age, and a stuck one is flagged.
                task_group!(name = "workers", limit = 3, stall = Duration::from_millis(500); |workers| {
                    for n in 1..=2 {
                        workers.spawn_named(format!("worker-{n}"), async move {
                            // Each worker runs a batch of its own: three groups deep.
                            task_group!(name = "batch"; |batch| {
                                batch.spawn_named(format!("job-{n}"), std::future::pending::<()>());
                            })
                        });
                    }
                    workers.spawn_named("stuck-on-lock", async move {
                        let _guard = pool_lock.lock().await;
                    });
                    // Beyond the limit: it waits in line for a slot.
                    workers.spawn_named("worker-3", std::future::pending::<()>());
                })
            });
            // A local child, polled by the scope itself: counted in the tree.
            server.spawn_local(async {
                let _guard = lock.lock().await;
            });
            // A child started with `start()` that cannot get ready: it waits for the lock too.
            let cache_lock = Arc::clone(&lock);
            let warm_up = server.start(|ready| async move {
                let _guard = cache_lock.lock().await;
                ready.started(());
            });
            let report = async {
                tokio::time::sleep(after).await;
                print!("{}", server.snapshot());
            };
            tokio::select! {
                _ = warm_up => {}
                () = report => {}
            }
            server.cancel_with("the example is done");
            Ok::<_, std::io::Error>(())
        })
        .await;
    drop(held);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(eg) => {
            eprintln!("{eg:#}");
            ExitCode::FAILURE
        }
    }
}
