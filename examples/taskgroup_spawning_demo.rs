//! The tutorial's `taskgroup_spawning_demo.py`: five tasks spawned in a loop run at once; each
//! reports how long it slept.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::task_group;
use tokio::time::Instant;

async fn work(task_id: u32, duration: f64) -> Result<String, Infallible> {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(duration)).await;
    let elapsed = start.elapsed().as_secs_f64();
    Ok(format!("Task {task_id} slept for {elapsed:.1}s"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks = task_group!(|tg| {
        let mut tasks = Vec::new();
        for i in 0..5 {
            let task = tg.spawn(work(i, 0.5 + f64::from(i) * 0.1));
            tasks.push(task);
        }
        tasks
    })?;
    for task in tasks {
        println!("{}", task.result()?);
    }
    Ok(())
}
