use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(limit = 0; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
