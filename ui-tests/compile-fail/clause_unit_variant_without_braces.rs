use taskgroup::task_group;

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("cancelled")]
    Cancelled,
}

async fn scope() {
    let _ = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(FetchError::Cancelled) });
    }
    // A plain path is a type: a unit variant is written `FetchError::Cancelled { .. }`.
    except* FetchError::Cancelled as eg => drop(eg),
    );
}

fn main() {
    drop(scope());
}
