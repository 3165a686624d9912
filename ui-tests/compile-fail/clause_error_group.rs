use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* taskgroup::ErrorGroup as eg => drop(eg),
    );
}

fn main() {
    drop(scope());
}
