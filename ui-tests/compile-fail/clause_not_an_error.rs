use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* String as eg => drop(eg),
    );
}

fn main() {
    drop(scope());
}
