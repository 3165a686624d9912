// Two mistakes, two messages: the bad handler still exists for the clause that names it, and
// the scope with a bad option still expands its body and clauses (no follow-up errors).
use std::io;
use taskgroup::{except_star, task_group, ErrorGroup};

#[except_star(io::Error, "fmt")]
async fn on_io(eg: ErrorGroup) {
    drop(eg);
}

async fn scope() -> usize {
    let outcome = task_group!(limt = 2; |tg| {
        tg.spawn(async { Err::<(), _>(io::Error::other("disk")) });
        1
    }
    except* on_io,
    );
    outcome.ok().unwrap_or(0)
}

fn main() {
    drop(scope());
}
