use taskgroup::{except_star, ErrorGroup};

#[except_star(std::io::Error)]
async fn on_io<T: Default>(eg: ErrorGroup<std::io::Error>) {
    drop((eg, T::default()));
}

fn main() {}
