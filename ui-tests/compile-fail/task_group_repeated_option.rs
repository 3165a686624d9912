use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(limit = 4, name = "fetchers", limit = 8; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
