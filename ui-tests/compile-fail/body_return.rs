use taskgroup::task_group;

async fn answer() -> u32 {
    let _ = task_group!(|tg| {
        tg.spawn(async {});
        return 42;
    });
    0
}

fn main() {
    let _ = answer();
}
