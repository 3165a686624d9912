use std::rc::Rc;
use taskgroup::task_group;

// Without `local = true`, local children must be Send so that the scope stays Send.
async fn scope() {
    let counter = Rc::new(0);
    let _ = task_group!(|tg| {
        tg.spawn_local(async move { drop(counter) });
    });
}

fn main() {
    drop(scope());
}
