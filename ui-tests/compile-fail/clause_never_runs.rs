use std::{fmt, io};
use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* io::Error | fmt::Error => (),
    except* fmt::Error as eg => drop(eg),
    );
}

fn main() {
    drop(scope());
}
