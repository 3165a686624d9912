use taskgroup::task_group;

async fn scope() {
    let _ = task_group!();
}

fn main() {
    drop(scope());
}
