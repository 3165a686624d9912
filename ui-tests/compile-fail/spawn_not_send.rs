use std::rc::Rc;
use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        tg.spawn(async {
            let shared = Rc::new(1);
            tokio::task::yield_now().await;
            drop(shared);
        });
    });
}

fn main() {
    drop(scope());
}
