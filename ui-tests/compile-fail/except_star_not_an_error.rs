use taskgroup::{except_star, ErrorGroup};

#[except_star(String)]
async fn on_string(eg: ErrorGroup<String>) {
    drop(eg);
}

fn main() {}
