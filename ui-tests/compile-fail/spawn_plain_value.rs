// A child whose future returns a plain value, spawned with `spawn`: the error names the fix.
async fn fetch_data() -> String {
    String::from("data")
}

async fn scope() {
    let _ = taskgroup::task_group!(|tg| {
        tg.spawn(fetch_data());
    });
}

fn main() {}
