//! The tutorial's `taskgroup_except_star.py`: `except*` clauses take the scope's errors apart
//! by type; each clause runs once, on the subgroup of the errors it matches.
//!
//! The tutorial says both clauses run. In CPython only the ValueError clause does: the
//! ValueError (0.2 s) cancels the task that would raise TypeError (0.3 s), and a clause with
//! nothing to match does not run. The tutorial also prints the group as
//! `group([ValueError('Invalid value')])`; CPython prints the line below.
//! `--seed-narrative` shows both clauses running, with `policy = wait_all`.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::task_group;
use tokio::time::sleep;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ValueError(String);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TypeError(String);

async fn task_raises_value_error() -> Result<(), ValueError> {
    sleep(Duration::from_millis(200)).await;
    Err(ValueError("Invalid value".into()))
}

async fn task_raises_type_error() -> Result<(), TypeError> {
    sleep(Duration::from_millis(300)).await;
    Err(TypeError("Wrong type".into()))
}

async fn task_succeeds() -> Result<&'static str, Infallible> {
    sleep(Duration::from_millis(100)).await;
    Ok("Success")
}

// One thread, like asyncio's event loop: the ValueError, first, cancels the TypeError task
// before it runs again, however loaded the machine.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskgroup::ErrorGroup> {
    let narrative = seed_narrative_flag();

    let outcome = task_group!(|tg| {
        tg.spawn(task_raises_value_error());
        tg.spawn(task_raises_type_error());
        tg.spawn(task_succeeds());
    }
    except* ValueError as eg => println!("Handled ValueError: {eg}"),
    except* TypeError as eg => println!("Handled TypeError: {eg}"),
    );
    // Whatever no clause handled propagates, as in Python.
    outcome.into_result()?;

    if narrative {
        println!();
        println!("--- The tutorial's narrative (docs/SEED.md, 2 and 5) ---");
        println!("With policy = wait_all the ValueError does not cancel the other tasks, so both");
        println!("clauses run; each group's errors are listed below its line:");
        let outcome = task_group!(policy = wait_all; |tg| {
            tg.spawn(task_raises_value_error());
            tg.spawn(task_raises_type_error());
            tg.spawn(task_succeeds());
        }
        except* ValueError as eg => {
            println!("Handled ValueError: {eg}");
            for e in eg.errors() {
                println!("  ValueError: {e}");
            }
        }
        except* TypeError as eg => {
            println!("Handled TypeError: {eg}");
            for e in eg.errors() {
                println!("  TypeError: {e}");
            }
        }
        );
        outcome.into_result()?;
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
            eprintln!("usage: taskgroup_except_star [--seed-narrative]");
            std::process::exit(2);
        }
    }
}
