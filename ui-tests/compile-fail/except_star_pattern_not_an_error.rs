use taskgroup::{ErrorGroup, except_star};

#[derive(Debug)]
enum Config {
    Bad(u8),
}

#[except_star(Config::Bad(1..=9))]
async fn on_bad(eg: ErrorGroup<Config>) {
    drop(eg);
}

fn main() {
    drop(Config::Bad(1));
    drop(on_bad);
}
