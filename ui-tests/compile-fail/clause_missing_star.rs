use taskgroup::task_group;

async fn scope() {
    let _ = task_group!(|tg| {
        drop(tg);
    }
    except std::io::Error as eg => println!("{eg}"),
    );
}

fn main() {
    drop(scope());
}
