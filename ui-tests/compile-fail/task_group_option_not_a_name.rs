use taskgroup::task_group;

async fn scope() {
    let _ = task_group!("limit" = 8; |tg| {
        let _ = tg;
    });
}

fn main() {
    drop(scope());
}
