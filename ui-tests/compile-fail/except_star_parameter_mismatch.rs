use std::fmt;
use taskgroup::{except_star, ErrorGroup};

#[except_star(std::io::Error)]
async fn on_io(eg: ErrorGroup<fmt::Error>) {
    drop(eg);
}

fn main() {}
