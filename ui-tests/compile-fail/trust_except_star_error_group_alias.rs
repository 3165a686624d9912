// `ErrorGroup` under another name is refused as an `except*` type too: by an alias, a renaming
// import or an associated type, in inline clauses and in `#[except_star]` handlers. None of
// these clauses could ever run (a nested group is never a leaf).
use std::io;

use taskgroup::{except_star, task_group, ErrorGroup as Renamed};

type Eg = taskgroup::ErrorGroup;

trait HasGroup {
    type Group;
}

struct Scope;

impl HasGroup for Scope {
    type Group = taskgroup::ErrorGroup;
}

async fn inline_clauses() {
    let _ = task_group!(|tg| {
        let _ = tg;
    }
    except* Eg as eg => drop(eg),
    except* io::Error | Renamed => (),
    except* <Scope as HasGroup>::Group => (),
    );
}

#[except_star(Eg)]
async fn on_alias(eg: taskgroup::ErrorGroup<Eg>) {
    drop(eg);
}

#[except_star(io::Error, Renamed)]
async fn on_renamed(eg: taskgroup::ErrorGroup) {
    drop(eg);
}

fn main() {
    drop(inline_clauses());
}
