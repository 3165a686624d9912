use taskgroup::task_group;

async fn scope() {
    let _ = task_group!({
        println!("no handle");
    });
}

fn main() {
    drop(scope());
}
