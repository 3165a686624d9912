//! The tutorial's `taskgroup_manual_cancel.py`: a monitor task cancels its siblings after one
//! second. Each cancelled task prints from code that runs only on cancellation
//! (`taskgroup::on_cancel`, Python's `except asyncio.CancelledError: print(...); raise`).
//!
//! The tutorial ends with `Got 3 exceptions`. CPython prints nothing more: cancelling a task
//! is not a failure, so the scope returns no error at all (here too, under every policy).
//! `--seed-narrative` prints each task's result instead.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::{Task, on_cancel, task_group};
use tokio::time::sleep;

/// Cancels every task of `tasks` still running after a second, and hands them back.
async fn monitor_and_cancel(tasks: Vec<Task<String>>) -> Result<Vec<Task<String>>, Infallible> {
    sleep(Duration::from_secs(1)).await;
    println!("Cancelling remaining tasks...");
    for task in &tasks {
        if !task.is_finished() {
            task.cancel();
        }
    }
    Ok(tasks)
}

async fn long_task(task_id: u32) -> Result<String, Infallible> {
    on_cancel(
        async move {
            sleep(Duration::from_secs(10)).await;
            Ok(format!("Task {task_id} done"))
        },
        move || println!("Task {task_id} cancelled"),
    )
    .await
}

// One thread, like asyncio's event loop: the cancelled tasks print in the order cancelled.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let narrative = seed_narrative_flag();

    let result = task_group!(|tg| {
        let tasks: Vec<Task<String>> = (0..3).map(|i| tg.spawn(long_task(i))).collect();
        tg.spawn(monitor_and_cancel(tasks))
    });
    let monitor = match result {
        Ok(monitor) => monitor,
        Err(eg) => {
            println!("Got {} exceptions", eg.len());
            return Ok(());
        }
    };

    if narrative {
        println!();
        println!("--- The tutorial's narrative (docs/SEED.md, 3) ---");
        println!("The tutorial prints `Got 3 exceptions`, but cancellation is not a failure:");
        println!("the scope returned no error. Each task's result says what happened:");
        for (i, task) in monitor.result()?.into_iter().enumerate() {
            match task.result() {
                Ok(value) => println!("Task {i}: {value}"),
                Err(why) => println!("Task {i}: {why}"),
            }
        }
    }
    Ok(())
}

/// `--seed-narrative` adds, after CPython's output, what the tutorial's text describes.
fn seed_narrative_flag() -> bool {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.as_slice() {
        [] => false,
        [flag] if flag == "--seed-narrative" => true,
        _ => {
            eprintln!("usage: taskgroup_manual_cancel [--seed-narrative]");
            std::process::exit(2);
        }
    }
}
