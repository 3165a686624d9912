use taskgroup::{except_star, ErrorGroup};

struct Log;

impl Log {
    #[except_star(std::io::Error)]
    async fn on_io(&self, eg: ErrorGroup<std::io::Error>) {
        drop(eg);
    }
}

fn main() {}
