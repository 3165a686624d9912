use std::io;
use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* io::Error,
    );
}

fn main() {
    drop(scope());
}
