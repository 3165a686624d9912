use std::io;
use taskgroup::{except_star, ErrorGroup};

#[except_star(io::Error)]
fn on_io(eg: ErrorGroup<io::Error>) {
    drop(eg);
}

fn main() {}
