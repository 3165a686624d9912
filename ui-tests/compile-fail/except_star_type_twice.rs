use taskgroup::{except_star, ErrorGroup};

#[except_star(std::io::Error, std::fmt::Error, std::io::Error)]
async fn on_errors(eg: ErrorGroup) {
    drop(eg);
}

fn main() {}
