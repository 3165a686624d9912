// A background child written as a bare endless loop: its output is `!`, and the error says how
// to give it one a child can have.
async fn scope() {
    let _ = taskgroup::task_group!(|tg| {
        tg.spawn_background(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
    });
}

fn main() {}
