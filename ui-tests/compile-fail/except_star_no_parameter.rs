use taskgroup::except_star;

#[except_star(std::io::Error)]
async fn on_io() {}

fn main() {}
