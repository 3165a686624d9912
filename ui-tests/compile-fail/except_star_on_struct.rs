use taskgroup::except_star;

#[except_star(std::io::Error)]
struct OnIo;

fn main() {}
