use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(policy = failfast; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
