//! Clauses and handlers with patterns in user code that shadows the names their expansion
//! could use (`matches!`, `core`, `bool`, ...): they still compile, and match.
#![allow(dead_code, non_camel_case_types, unused_macros)]

struct Some;
struct None;
struct Option;
struct bool;
struct ErrorGroup;
mod core {}
mod taskgroup {}
macro_rules! matches { ($($t:tt)*) => { 0u8 }; }
fn leaf_matches() {}
const matched: u8 = 0;
const error: u8 = 0;

#[derive(Debug)]
enum Fail {
    Code(u16),
    Unit,
}
impl ::std::fmt::Display for Fail {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("fail")
    }
}
impl ::std::error::Error for Fail {}

#[::taskgroup::except_star(Fail::Code(500..=599), Fail::Unit { .. })]
async fn on_fail(eg: ::taskgroup::ErrorGroup<Fail>) {
    assert_eq!(eg.error_count(), 1);
}

#[::taskgroup::except_star(::std::io::Error, Fail::Code(404))]
async fn on_either(eg: ::taskgroup::ErrorGroup) {
    assert_eq!(eg.len(), 1);
}

async fn scopes() {
    let outcome = ::taskgroup::task_group!(policy = wait_all; |tg| {
        tg.spawn(async { ::core::result::Result::Err::<(), Fail>(Fail::Code(503)) });
        tg.spawn(async { ::core::result::Result::Err::<(), Fail>(Fail::Code(404)) });
        tg.spawn(async { ::core::result::Result::Err::<(), Fail>(Fail::Code(1)) });
        tg.spawn(async { ::core::result::Result::Err::<(), Fail>(Fail::Code(2)) });
    }
    except* Fail::Code(1) as eg => assert_eq!(eg.error_count(), 1),
    except* ::std::fmt::Error | Fail::Code(2) as eg => assert_eq!(eg.len(), 1),
    except* on_fail,
    except* on_either,
    );
    assert!(outcome.is_handled());
}

#[::tokio::main(flavor = "current_thread")]
async fn main() {
    scopes().await;
}
