//! The tour's sections on children that are not plain futures, and on long-lived groups.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use taskgroup::{ErrorGroup, ErrorsDropped, Restart, task_group};
use tokio::time::{Instant, sleep};

use super::{BadRequest, NetworkDown, after, fail_after, heading, ms, secs};

/// Blocking closures, shielded commits, background reporters and OS processes, as children.
pub async fn beyond_futures() -> Result<(), ErrorGroup> {
    heading("15. Children beyond futures");

    // A blocking closure runs on tokio's blocking pool (asyncio's `run_in_executor`); its
    // value, error or panic is the group's as any child's, and the scope waits for it.
    let sum = task_group!(|tg| {
        tg.spawn_blocking(|| Ok::<_, Infallible>((1..=1_000_000u64).sum::<u64>()))
    })?;
    println!(
        "a blocking child summed 1..=1000000: {}",
        sum.result().unwrap_or(0)
    );

    // A shielded child is not aborted when the group cancels: the commit finishes whole.
    let written = Arc::new(Mutex::new(0));
    let start = Instant::now();
    let failed = task_group!(|tg| {
        let written = Arc::clone(&written);
        tg.spawn_shielded(async move {
            for _ in 0..3 {
                sleep(ms(20)).await;
                *written.lock().unwrap() += 1;
            }
            Ok::<_, Infallible>(())
        });
        tg.spawn(fail_after(
            10,
            NetworkDown("the crawl failed mid-commit".into()),
        ));
    });
    println!(
        "a sibling failed after 0.01 s, yet the shielded commit wrote {} of 3 rows; the scope took {}",
        written.lock().unwrap(),
        secs(start.elapsed())
    );
    println!("the failure is still reported: {}", failed.is_err());

    // A background child never keeps the scope open: once the work is done, it is cancelled.
    let ticks = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let heartbeat = task_group!(|tg| {
        let ticks = Arc::clone(&ticks);
        let heartbeat = tg.spawn_background_named("heartbeat", heartbeat(ticks));
        tg.spawn(after(55, ()));
        heartbeat
    })?;
    println!(
        "the work took {}; the heartbeat ticked {} times, then: {}",
        secs(start.elapsed()),
        ticks.load(Ordering::Relaxed),
        heartbeat
            .cancel_reason()
            .map_or("not cancelled".to_string(), |why| why.to_string())
    );

    processes().await
}

/// Ticks every 10 ms, forever.
async fn heartbeat(ticks: Arc<AtomicUsize>) -> Result<(), Infallible> {
    loop {
        sleep(ms(10)).await;
        ticks.fetch_add(1, Ordering::Relaxed);
    }
}

/// An OS process as a child: its exit status is the child's result (feature `process`).
#[cfg(feature = "process")]
async fn processes() -> Result<(), ErrorGroup> {
    let output = task_group!(|tg| {
        let mut echo = std::process::Command::new("sh");
        echo.args(["-c", "echo hello from a child process"]);
        tg.spawn_process_output(echo)
    })?;
    let output = output.result().map(|o| o.stdout).unwrap_or_default();
    print!("a process child said: {}", String::from_utf8_lossy(&output));
    Ok(())
}

#[cfg(not(feature = "process"))]
async fn processes() -> Result<(), ErrorGroup> {
    println!("(process children: `cargo run --example tour --features process`)");
    Ok(())
}

/// Restarting a crashing child (OTP's one_for_one), and a long-lived group that keeps only the
/// most recent failures.
pub async fn supervision() -> Result<(), ErrorGroup> {
    heading("16. Supervision, with bounded memory");

    // At most 3 restarts within a second, 10 ms apart: the flaky connection is retried.
    let restart = Restart::new(3, ms(1_000)).expect("a count and a period above zero");
    let restart = restart.backoff(ms(10));
    let attempts = Arc::new(AtomicUsize::new(0));
    let connection = task_group!(|tg| {
        let attempts = Arc::clone(&attempts);
        tg.spawn_supervised_named("connection", restart, move || {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                if attempt < 3 {
                    return Err(NetworkDown(format!("attempt {attempt} refused")));
                }
                Ok(format!("connected on attempt {attempt}"))
            }
        })
    })?;
    println!(
        "supervised: {} (the two refusals were restarts, not failures)",
        connection.result().unwrap_or_default()
    );

    // Past its intensity the child gives up: its last error is the group's, by its own type.
    let gave_up = task_group!(|tg| {
        tg.spawn_supervised(restart, || async {
            Err::<(), _>(NetworkDown("still refused".into()))
        });
    });
    if let Err(eg) = gave_up {
        println!(
            "after 3 restarts it gave up: {}",
            eg.leaves().next().map_or(String::new(), |l| l.to_string())
        );
    }

    // A group that runs 1000 failing children keeps the 2 most recent, and counts the rest.
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&seen);
    let outcome = task_group!(policy = wait_all, keep_errors = 2, on_failure = move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
    }; |tg| {
        for i in 0..1000 {
            tg.spawn(fail_after(1, BadRequest(format!("request {i}"))));
        }
    });
    if let Err(eg) = outcome {
        let summary = eg
            .leaves()
            .find_map(|leaf| leaf.downcast_ref::<ErrorsDropped>().cloned());
        let kept = eg.leaves().count() - usize::from(summary.is_some());
        println!(
            "the callback saw {} failures; the error keeps the last {kept}, and says: {}",
            seen.load(Ordering::Relaxed),
            summary.map_or(String::new(), |s| s.to_string())
        );
    }
    Ok(())
}
