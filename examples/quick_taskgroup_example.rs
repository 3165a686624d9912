//! The tutorial's `quick_taskgroup_example.py`: three fetches in parallel; when the scope
//! returns, all results are guaranteed to be ready.

use std::convert::Infallible;
use std::time::Duration;

use taskgroup::task_group;

async fn fetch_data(url: &str, delay: f64) -> Result<String, Infallible> {
    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    Ok(format!("Data from {url}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (task1, task2, task3) = task_group!(|tg| {
        let task1 = tg.spawn(fetch_data("api1.com", 1.0));
        let task2 = tg.spawn(fetch_data("api2.com", 2.0));
        let task3 = tg.spawn(fetch_data("api3.com", 1.5));
        (task1, task2, task3)
    })?;
    println!("Result 1: {}", task1.result()?);
    println!("Result 2: {}", task2.result()?);
    println!("Result 3: {}", task3.result()?);
    Ok(())
}
