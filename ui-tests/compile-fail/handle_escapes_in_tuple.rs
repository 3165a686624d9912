use taskgroup::task_group;

async fn scope() {
    let (task, escaped) = task_group!(|tg| {
        let task = tg.spawn(async {});
        (task, Some(tg))
    })
    .unwrap();
    drop((task, escaped));
}

fn main() {
    drop(scope());
}
