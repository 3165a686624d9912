use taskgroup::{except_star, ErrorGroup};

#[except_star(42)]
async fn on_value(eg: ErrorGroup) {
    drop(eg);
}

fn main() {}
