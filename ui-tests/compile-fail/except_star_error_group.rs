use taskgroup::{except_star, ErrorGroup};

#[except_star(ErrorGroup)]
async fn on_group(eg: ErrorGroup<ErrorGroup>) {
    drop(eg);
}

fn main() {}
