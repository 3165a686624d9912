//! The tutorial's `taskgroup_timeout.py`: a scope with a two-second timeout around three
//! five-second tasks. At the deadline every task is cancelled (each prints from code that runs
//! only on cancellation, `taskgroup::on_cancel`), and the scope's group holds a `TimedOut`
//! error, which an `except*` clause handles.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::{TimedOut, on_cancel, task_group};

async fn slow_task(task_id: u32) -> Result<String, Infallible> {
    on_cancel(
        async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(format!("Task {task_id} completed"))
        },
        move || println!("Task {task_id} was cancelled"),
    )
    .await
}

// One thread, like asyncio's event loop: the cancelled tasks print in the order spawned.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskgroup::ErrorGroup> {
    let outcome = task_group!(timeout = Duration::from_secs(2); |tg| {
        tg.spawn(slow_task(1));
        tg.spawn(slow_task(2));
        tg.spawn(slow_task(3));
    }
    except* TimedOut => println!("TaskGroup timed out!"),
    );
    outcome.into_result()?;
    Ok(())
}
