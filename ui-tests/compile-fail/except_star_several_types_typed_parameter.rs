use std::io;
use taskgroup::{except_star, ErrorGroup};

#[except_star(io::Error, std::fmt::Error)]
async fn on_either(eg: ErrorGroup<io::Error>) {
    drop(eg);
}

fn main() {}
