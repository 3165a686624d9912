use taskgroup::task_group;

#[derive(Debug)]
enum Config {
    Bad(u8),
}

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except* Config::Bad(..) as eg => drop(eg),
    );
}

fn main() {
    drop(Config::Bad(1));
    drop(scope());
}
