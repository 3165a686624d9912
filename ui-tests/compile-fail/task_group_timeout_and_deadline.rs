use std::time::Duration;
use taskgroup::task_group;

async fn scope() {
    let at = tokio::time::Instant::now() + Duration::from_secs(1);
    let _ = task_group!(timeout = Duration::from_secs(2), deadline = at; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
