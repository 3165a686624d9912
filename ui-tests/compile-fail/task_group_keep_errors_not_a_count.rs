use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(policy = wait_all, keep_errors = -1; |tg| {
        drop(tg);
    });
    let _ = task_group!(keep_errors = 2.5; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
