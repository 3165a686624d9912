use taskgroup::task_group;

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("status {0}")]
    Status(u16),
    #[error("timeout")]
    Timeout { secs: u64 },
}

async fn scope() {
    let _ = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(FetchError::Status(404)) });
    }
    except* FetchError::Status(code) => println!("{code}"),
    except* FetchError::Timeout { secs } => (),
    );
}

fn main() {
    drop(FetchError::Timeout { secs: 1 });
    drop(scope());
}
