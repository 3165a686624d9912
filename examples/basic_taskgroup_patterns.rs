//! The tutorial's `basic_taskgroup_patterns.py`: three tasks in one scope. When the scope
//! returns, every task has finished, so every result is ready; the whole takes 1.5 s (the
//! longest task), not 3 s (the sum).

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::task_group;
use tokio::time::sleep;

async fn task_one() -> Result<&'static str, Infallible> {
    sleep(Duration::from_secs(1)).await;
    Ok("Task 1 done")
}

async fn task_two() -> Result<&'static str, Infallible> {
    sleep(Duration::from_millis(500)).await;
    Ok("Task 2 done")
}

async fn task_three() -> Result<&'static str, Infallible> {
    sleep(Duration::from_millis(1500)).await;
    Ok("Task 3 done")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("Starting tasks...");
    let (t1, t2, t3) = task_group!(|tg| {
        let t1 = tg.spawn(task_one());
        let t2 = tg.spawn(task_two());
        let t3 = tg.spawn(task_three());
        (t1, t2, t3)
    })?;
    // All tasks have completed here
    println!(
        "Results: {}, {}, {}",
        t1.result()?,
        t2.result()?,
        t3.result()?
    );
    println!("All tasks completed");
    Ok(())
}
