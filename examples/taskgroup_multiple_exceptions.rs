//! The tutorial's `taskgroup_multiple_exceptions.py`: three tasks that all fail.
//!
//! The tutorial says all three failures are caught. CPython catches one: task 3 fails first
//! (0.1 s), and the first failure cancels tasks 1 and 2 before they fail; cancelled tasks are
//! not errors. `--seed-narrative` shows the tutorial's story with `policy = wait_all`, where
//! failures do not cancel siblings.

use std::time::Duration;

use taskgroup::{ErrorGroup, task_group};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RuntimeError(String);

async fn failing_task(task_id: u32, delay: f64) -> Result<(), RuntimeError> {
    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    Err(RuntimeError(format!("Task {task_id} failed")))
}

fn print_caught(eg: &ErrorGroup) {
    println!("Caught {} exceptions:", eg.len());
    for exc in eg {
        println!("  {exc}");
    }
}

// One thread, like asyncio's event loop: the first failure (task 3) cancels the others
// before they run again, however loaded the machine.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let narrative = seed_narrative_flag();

    let result = task_group!(|tg| {
        tg.spawn(failing_task(1, 0.2));
        tg.spawn(failing_task(2, 0.3));
        tg.spawn(failing_task(3, 0.1));
    });
    if let Err(eg) = result {
        print_caught(&eg);
    }

    if narrative {
        println!();
        println!("--- The tutorial's narrative (docs/SEED.md, 1) ---");
        println!("With policy = wait_all no failure cancels a sibling, so all three are caught,");
        println!("in the order they happened:");
        let result = task_group!(policy = wait_all; |tg| {
            tg.spawn(failing_task(1, 0.2));
            tg.spawn(failing_task(2, 0.3));
            tg.spawn(failing_task(3, 0.1));
        });
        if let Err(eg) = result {
            print_caught(&eg);
        }
    }
}

/// `--seed-narrative` adds, after CPython's output, what the tutorial's text describes.
fn seed_narrative_flag() -> bool {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.as_slice() {
        [] => false,
        [flag] if flag == "--seed-narrative" => true,
        _ => {
            eprintln!("usage: taskgroup_multiple_exceptions [--seed-narrative]");
            std::process::exit(2);
        }
    }
}
