use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* std::io::Error | std::fmt::Error | std::io::Error as eg => drop(eg),
    );
}

fn main() {
    drop(scope());
}
