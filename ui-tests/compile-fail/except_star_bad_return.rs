use taskgroup::{except_star, ErrorGroup};

#[except_star(std::io::Error)]
async fn on_io(eg: ErrorGroup<std::io::Error>) -> usize {
    eg.error_count()
}

fn main() {}
