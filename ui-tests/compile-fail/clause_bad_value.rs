use std::io;
use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* io::Error as eg => eg.error_count(),
    );
}

fn main() {
    drop(scope());
}
