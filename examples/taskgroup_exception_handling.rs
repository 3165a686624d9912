//! The tutorial's `taskgroup_exception_handling.py`: a failing task makes the scope return an
//! `ErrorGroup`; its members are the errors, each with its type's name.
//!
//! The tutorial says `reliable_task` "had already completed" when the failure came. It had not:
//! it sleeps 0.5 s, `failing_task` fails at 0.2 s, and the first failure cancels every running
//! sibling. `--seed-narrative` shows `reliable_task`'s result under both policies.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::{Policy, Task, task_group};
use tokio::time::sleep;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ValueError(String);

async fn reliable_task() -> Result<&'static str, Infallible> {
    sleep(Duration::from_millis(500)).await;
    Ok("Success")
}

async fn failing_task() -> Result<(), ValueError> {
    sleep(Duration::from_millis(200)).await;
    Err(ValueError("Something went wrong".into()))
}

#[tokio::main]
async fn main() {
    let narrative = seed_narrative_flag();

    let result = task_group!(|tg| {
        let _t1 = tg.spawn(reliable_task());
        let _t2 = tg.spawn(failing_task());
    });
    if let Err(eg) = result {
        println!("Caught ExceptionGroup with {} exceptions", eg.len());
        for exc in &eg {
            println!(" - {}: {exc}", exc.type_name());
        }
    }

    if narrative {
        println!();
        println!("--- The tutorial's narrative (docs/SEED.md, 4) ---");
        println!("The tutorial says reliable_task had already completed when failing_task failed.");
        println!("It completes only when a failure does not cancel its siblings (wait_all):");
        for (name, policy) in [
            ("fail_fast", Policy::FailFast),
            ("wait_all", Policy::WaitAll),
        ] {
            // The body runs in place, so it can hand a task out even when the scope fails.
            let mut t1: Option<Task<&str>> = None;
            let _ = task_group!(policy = (policy); |tg| {
                t1 = Some(tg.spawn(reliable_task()));
                tg.spawn(failing_task());
            });
            if let Some(t1) = t1 {
                match t1.result() {
                    Ok(value) => println!("reliable_task with policy = {name}: {value}"),
                    Err(why) => println!("reliable_task with policy = {name}: {why}"),
                }
            }
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
            eprintln!("usage: taskgroup_exception_handling [--seed-narrative]");
            std::process::exit(2);
        }
    }
}
