use taskgroup::task_group;

async fn scope() {
    let name = String::from("local");
    let _ = task_group!(|tg| {
        tg.spawn(async {
            println!("{name}");
        });
    });
}

fn main() {
    drop(scope());
}
