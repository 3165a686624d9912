use taskgroup::task_group;

async fn scope(want_local: bool) {
    let _ = task_group!(local = want_local; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope(true));
}
