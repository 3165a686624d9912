use taskgroup::task_group;

async fn check(ok: bool) -> Result<u32, std::io::Error> {
    let value = task_group!(|_tg| {
        if !ok {
            return Err(std::io::Error::other("not ok"));
        }
        1
    });
    Ok(value.unwrap())
}

fn main() {
    let _ = check(true);
}
