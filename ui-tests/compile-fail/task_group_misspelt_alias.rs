use taskgroup::task_group;

async fn scope() {
    // A misspelt alias of `limit`: the message still says which option was meant.
    let _ = task_group!(concurency = 8; |tg| {
        drop(tg);
    });
}

fn main() {
    drop(scope());
}
