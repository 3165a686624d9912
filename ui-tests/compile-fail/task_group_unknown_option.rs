use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(timout = std::time::Duration::from_secs(2); |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
