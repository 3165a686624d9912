use taskgroup::task_group;

async fn scope() {
    let escaped = task_group!(|tg| { tg });
    drop(escaped);
}

fn main() {
    drop(scope());
}
