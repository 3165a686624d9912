use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| async move {
        tg.spawn(async {});
    });
}

fn main() {
    drop(scope());
}
