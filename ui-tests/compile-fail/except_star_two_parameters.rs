use std::io;
use taskgroup::{except_star, ErrorGroup};

#[except_star(io::Error)]
async fn on_io(eg: ErrorGroup<io::Error>, retries: u32) {
    drop((eg, retries));
}

fn main() {}
