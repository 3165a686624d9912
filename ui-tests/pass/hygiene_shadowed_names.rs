//! User code that shadows the names an expansion could use: it still compiles, because the
//! expansion names everything through `::taskgroup::__private` and `::core`.
#![allow(dead_code, non_camel_case_types, unused_imports, unused_macros)]

struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct Box;
struct Vec;
struct String;
struct ErrorGroup;
struct Member;
struct Outcome;
struct ExceptStar;
struct TaskGroup;
struct Future;
trait Send {}
trait Sync {}
trait Into {}
trait From {}
mod core {}
mod std {}
mod taskgroup {}
macro_rules! compile_error { ($($t:tt)*) => {}; }
fn drop() {}

#[derive(Debug)]
struct Fail;
impl ::std::fmt::Display for Fail {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("fail")
    }
}
impl ::std::error::Error for Fail {}

#[::taskgroup::except_star(Fail)]
async fn on_fail(eg: ::taskgroup::ErrorGroup<Fail>) {
    assert_eq!(eg.error_count(), 1);
}

#[::taskgroup::except_star(Fail, ::std::io::Error)]
async fn on_either(eg: ::taskgroup::ErrorGroup) -> ::core::result::Result<(), ::std::io::Error> {
    ::core::result::Result::Ok(assert!(eg.len() > 0))
}

async fn scopes() {
    let value = ::taskgroup::task_group!(limit = 2, policy = wait_all; |tg| {
        tg.spawn(async { ::core::result::Result::Err::<(), Fail>(Fail) });
        7
    });
    assert!(value.is_err());

    let outcome = ::taskgroup::task_group!(|tg| {
        tg.spawn(async { ::core::result::Result::Err::<(), Fail>(Fail) });
    }
    except* Fail as eg => assert_eq!(eg.error_count(), 1),
    except* on_fail,
    except* on_either,
    );
    assert!(outcome.is_handled());
}

#[::tokio::main(flavor = "current_thread")]
async fn main() {
    scopes().await;
}
