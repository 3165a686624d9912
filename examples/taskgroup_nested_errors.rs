//! The tutorial's `taskgroup_nested_errors.py`: a child scope fails, prints its group and
//! raises it again; the parent's group holds the child's group, nested whole.
//!
//! The tutorial prints the group as `group([RuntimeError('Subtask failed')])` at both levels;
//! CPython prints `unhandled errors in a TaskGroup (1 sub-exception)`. (The tutorial's child
//! scope also spawns through an undefined `tg`; here it is `child_tg`, as in the runnable copy.)
//! `--seed-narrative` prints the parent's whole group, as CPython's traceback shows it.

use std::time::Duration;

use taskgroup::{ErrorGroup, task_group};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RuntimeError(String);

async fn failing_subtask() -> Result<(), RuntimeError> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Err(RuntimeError("Subtask failed".into()))
}

async fn parent_work() -> Result<(), ErrorGroup> {
    let result = task_group!(|child_tg| {
        child_tg.spawn(failing_subtask());
    });
    if let Err(eg) = &result {
        println!("Child caught: {eg}");
    }
    result // Re-raise to parent
}

#[tokio::main]
async fn main() {
    let narrative = seed_narrative_flag();

    let result = task_group!(|parent_tg| {
        parent_tg.spawn(parent_work());
    });
    if let Err(eg) = result {
        println!("Parent caught: {eg}");
        if narrative {
            println!();
            println!("--- The tutorial's narrative (docs/SEED.md, 5) ---");
            println!("What the tutorial meant by group([RuntimeError('Subtask failed')]): the");
            println!("parent's group holds the child's group, which holds the RuntimeError.");
            print!("{eg:#}");
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
            eprintln!("usage: taskgroup_nested_errors [--seed-narrative]");
            std::process::exit(2);
        }
    }
}
