use taskgroup::task_group;

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("status {0}")]
    Status(u16),
}

async fn scope() {
    let _ = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(FetchError::Status(404)) });
    }
    except* FetchError as eg => drop(eg),
    except* FetchError::Status(404) as eg => drop(eg),
    );
}

fn main() {
    drop(scope());
}
