use taskgroup::{ErrorGroup, except_star};

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("status {0}")]
    Status(u16),
}

#[except_star(FetchError::Status(ref code))]
async fn on_status(eg: ErrorGroup<FetchError>) {
    drop(eg);
}

fn main() {
    drop(FetchError::Status(1));
    drop(on_status);
}
