//! The tutorial's `taskgroup_nesting.py`: two parents, each running its own child scope of
//! three subtasks; all six subtasks run at once.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::{Member, task_group};

async fn subtask(subtask_id: String, delay: f64) -> Result<String, Infallible> {
    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    Ok(format!("Subtask {subtask_id} done"))
}

/// A child that opens a scope of its own. `Member` is what `?` raises into the parent's group:
/// the child scope's whole `ErrorGroup` (nested, not flattened), or a single error.
async fn parent_work(parent_id: &'static str) -> Result<Vec<String>, Member> {
    let results = task_group!(|child_tg| {
        let mut results = Vec::new();
        for i in 0..3 {
            let task = child_tg.spawn(subtask(format!("{parent_id}.{i}"), 0.3));
            results.push(task);
        }
        results
    })?;
    let mut values = Vec::new();
    for task in results {
        values.push(task.result()?);
    }
    Ok(values)
}

/// A list of strings as Python prints it: `['a', 'b']`.
fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (p1, p2) = task_group!(|parent_tg| {
        let p1 = parent_tg.spawn(parent_work("Parent1"));
        let p2 = parent_tg.spawn(parent_work("Parent2"));
        (p1, p2)
    })?;
    println!("Parent 1 results: {}", py_list(&p1.result()?));
    println!("Parent 2 results: {}", py_list(&p2.result()?));
    Ok(())
}
