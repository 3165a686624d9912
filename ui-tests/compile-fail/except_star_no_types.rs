use taskgroup::{except_star, ErrorGroup};

#[except_star]
async fn on_value(eg: ErrorGroup) {
    drop(eg);
}

fn main() {}
