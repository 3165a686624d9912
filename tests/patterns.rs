//! `except*` clauses and `#[except_star]` handlers with Rust patterns on error types:
//! `except* FetchError::Status(500..=599) as eg`. A clause takes the leaves of the type that
//! match one of its patterns, with the group's messages and nesting; the other leaves of the
//! type stay for later clauses; `except* FetchError` takes what is left of the type.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use taskgroup::{ErrorGroup, Member, Outcome, TASK_GROUP_MESSAGE, except_star, task_group};
use tokio::time::sleep;

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("timeout after {secs}s")]
    Timeout { secs: u64 },
    #[error("status {0}")]
    Status(u16),
    #[error("io: {0}")]
    Io(#[from] io::Error),
    #[error("cancelled")]
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
#[error("parse {0}")]
struct ParseError(&'static str);

/// A struct error, matched by a one-segment pattern: `CodeError { code: 500..=599 }`.
#[derive(Debug, thiserror::Error)]
#[error("code {code}")]
struct CodeError {
    code: u16,
}

/// An error whose `source()` is a `FetchError`: matching never follows it.
#[derive(Debug, thiserror::Error)]
#[error("request failed")]
struct RequestFailed(#[source] FetchError);

/// What `raise_summary` raises: the messages of the group a handler got.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Summary(String);

const NOT_FOUND: u16 = 404;

async fn fail_after<E: StdError + Send + Sync + 'static>(ms: u64, error: E) -> Result<(), E> {
    sleep(Duration::from_millis(ms)).await;
    Err(error)
}

fn messages<'a, E: 'a + ?Sized>(eg: &'a ErrorGroup<E>) -> Vec<String> {
    eg.leaves().map(|leaf| leaf.to_string()).collect()
}

fn typed_messages(eg: &ErrorGroup<FetchError>) -> Vec<String> {
    // `iter()` yields `&FetchError`: the clause's group is typed.
    eg.errors().map(|e| e.to_string()).collect()
}

/// Six children failing one after the other (paused clock), in this order.
async fn six_failures() -> Result<(), ErrorGroup> {
    task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Status(503)));
        tg.spawn(fail_after(20, FetchError::Timeout { secs: 5 }));
        tg.spawn(fail_after(30, FetchError::Status(404)));
        tg.spawn(fail_after(40, FetchError::Io(io::Error::other("reset"))));
        tg.spawn(fail_after(50, FetchError::Status(500)));
        tg.spawn(fail_after(60, ParseError("x")));
    })
}

#[tokio::test(start_paused = true)]
async fn pattern_clauses_by_variant_then_the_whole_type() {
    let mut retried = Vec::new();
    let mut not_found = 0;
    let mut rest_of_type = Vec::new();
    let outcome: Outcome<()> = match six_failures().await {
        Ok(()) => unreachable!("the children fail"),
        Err(failed) => task_group!(|_tg| { Err(failed)? }
        except* FetchError::Timeout { .. } | FetchError::Status(500..=599) as eg => {
            retried = typed_messages(&eg);
        }
        except* FetchError::Status(NOT_FOUND) as eg => not_found += eg.errors().count(),
        except* FetchError as eg => rest_of_type = typed_messages(&eg),
        ),
    };
    assert_eq!(retried, ["status 503", "timeout after 5s", "status 500"]);
    assert_eq!(not_found, 1);
    assert_eq!(rest_of_type, ["io: reset"]);
    let left = outcome.unhandled().expect("the ParseError is left");
    // The raised-into-the-scope group is nested whole in the new scope's group; its leaves
    // keep their order and the ParseError is all that remains.
    assert_eq!(messages(&left), ["parse x"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_clause_group_keeps_the_message_and_the_order() {
    let mut got = None;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Status(500)));
        tg.spawn(fail_after(20, FetchError::Status(404)));
        tg.spawn(fail_after(30, FetchError::Status(502)));
    }
    except* FetchError::Status(500..=599) as eg => got = Some(eg),
    );
    let eg: ErrorGroup<FetchError> = got.expect("the clause ran");
    assert_eq!(eg.message(), TASK_GROUP_MESSAGE);
    assert_eq!(typed_messages(&eg), ["status 500", "status 502"]);
    let left = outcome.unhandled().expect("the 404 is left");
    assert_eq!(
        left.message(),
        TASK_GROUP_MESSAGE,
        "the rest propagates unchanged"
    );
    assert_eq!(messages(&left), ["status 404"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_in_nested_groups_keeps_the_structure() {
    let mut matched = None;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(async {
            sleep(Duration::from_millis(10)).await;
            let inner = ErrorGroup::new(
                "inner",
                vec![FetchError::Status(503).into(), FetchError::Status(404).into()],
            )
            .expect("two members");
            Err::<(), _>(inner)
        });
        tg.spawn(fail_after(20, FetchError::Timeout { secs: 1 }));
        tg.spawn(fail_after(30, FetchError::Status(500)));
    }
    except* FetchError::Status(500..=599) as eg => matched = Some(eg),
    );
    let eg = matched.expect("the clause ran");
    // ErrorGroup(TaskGroup, [ErrorGroup("inner", [503]), 500])
    assert_eq!(eg.error_count(), 2);
    let inner = eg.members()[0]
        .as_group()
        .expect("the nested group is kept");
    assert_eq!(inner.message(), "inner");
    assert_eq!(messages(inner), ["status 503"]);
    assert_eq!(eg.members()[1].to_string(), "status 500");
    // What is left: ErrorGroup(TaskGroup, [ErrorGroup("inner", [404]), Timeout]).
    let left = outcome
        .unhandled()
        .expect("the 404 and the timeout are left");
    assert_eq!(left.len(), 2);
    let inner = left.members()[0]
        .as_group()
        .expect("the nested group is kept");
    assert_eq!(inner.message(), "inner");
    assert_eq!(messages(inner), ["status 404"]);
    assert_eq!(messages(&left), ["status 404", "timeout after 1s"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_ranges_inclusive_exclusive_and_alternatives() {
    let mut server = Vec::new();
    let mut client = Vec::new();
    let mut gone = Vec::new();
    let outcome = task_group!(policy = wait_all; |tg| {
        for (i, status) in [200, 404, 410, 418, 500, 599, 600].into_iter().enumerate() {
            tg.spawn(fail_after(10 * (i as u64 + 1), FetchError::Status(status)));
        }
    }
    except* FetchError::Status(500..=599) as eg => server = typed_messages(&eg),
    except* FetchError::Status(404 | 410) as eg => gone = typed_messages(&eg),
    except* FetchError::Status(400..500) as eg => client = typed_messages(&eg),
    );
    assert_eq!(server, ["status 500", "status 599"]);
    assert_eq!(gone, ["status 404", "status 410"]);
    assert_eq!(client, ["status 418"]);
    let left = outcome.unhandled().expect("200 and 600 match no clause");
    assert_eq!(messages(&left), ["status 200", "status 600"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_unit_variant_is_written_with_braces() {
    let mut cancelled = 0;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Cancelled));
        tg.spawn(fail_after(20, FetchError::Status(500)));
        tg.spawn(fail_after(30, FetchError::Cancelled));
    }
    except* FetchError::Cancelled { .. } as eg => cancelled = eg.error_count(),
    except* FetchError => (),
    );
    assert_eq!(cancelled, 2);
    assert!(outcome.is_handled());
}

#[tokio::test(start_paused = true)]
async fn pattern_mixed_with_a_type_gives_the_untyped_group() {
    let mut got: Vec<String> = Vec::new();
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, ParseError("a")));
        tg.spawn(fail_after(20, FetchError::Status(404)));
        tg.spawn(fail_after(30, FetchError::Status(500)));
    }
    except* ParseError | FetchError::Status(404) as eg => {
        let eg: ErrorGroup = eg; // several types: the untyped group
        got = messages(&eg);
    }
    );
    assert_eq!(got, ["parse a", "status 404"]);
    assert_eq!(messages(&outcome.unhandled().unwrap()), ["status 500"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_on_a_struct_error_and_a_catch_all_pattern() {
    let mut server = 0;
    let mut others = 0;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, CodeError { code: 503 }));
        tg.spawn(fail_after(20, CodeError { code: 200 }));
    }
    except* CodeError { code: 500..=599 } as eg => server = eg.error_count(),
    // Matches every `CodeError`: allowed, without an `unreachable_patterns` warning.
    except* CodeError { .. } as eg => others = eg.error_count(),
    );
    assert_eq!((server, others), (1, 1));
    assert!(outcome.is_handled());
}

#[tokio::test(start_paused = true)]
async fn pattern_matching_does_not_follow_source_chains() {
    let mut io_leaves = 0;
    let mut io_variant = 0;
    let mut status = 0;
    let outcome = task_group!(policy = wait_all; |tg| {
        // A `FetchError::Io` leaf: its source is an `io::Error`, but it is no `io::Error`.
        tg.spawn(fail_after(10, FetchError::Io(io::Error::other("reset"))));
        // A `RequestFailed` leaf: its source is `FetchError::Status(500)`.
        tg.spawn(fail_after(20, RequestFailed(FetchError::Status(500))));
    }
    except* io::Error as eg => io_leaves = eg.error_count(),
    except* FetchError::Status(..) as eg => status = eg.error_count(),
    except* FetchError::Io(_) as eg => io_variant = eg.error_count(),
    );
    assert_eq!((io_leaves, status, io_variant), (0, 0, 1));
    let left = outcome.unhandled().expect("RequestFailed is left");
    assert_eq!(messages(&left), ["request failed"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_clause_that_matches_nothing_does_not_run() {
    let mut ran = false;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Status(404)));
    }
    except* FetchError::Status(500..=599) => ran = true,
    );
    assert!(!ran);
    let left = outcome.unhandled().expect("the 404 is left");
    assert_eq!(left.message(), TASK_GROUP_MESSAGE);
    assert_eq!(messages(&left), ["status 404"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_clause_raising_nests_the_rest() {
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Status(503)));
        tg.spawn(fail_after(20, FetchError::Status(404)));
    }
    except* FetchError::Status(500..=599) as eg => {
        Err(Summary(format!("gave up on {}", typed_messages(&eg).join(", "))))
    }
    );
    let left = outcome.unhandled().expect("raised and rest");
    assert_eq!(left.message(), "");
    assert_eq!(left.members()[0].to_string(), "gave up on status 503");
    let rest = left.members()[1].as_group().expect("the rest nested whole");
    assert_eq!(rest.message(), TASK_GROUP_MESSAGE);
    assert_eq!(messages(rest), ["status 404"]);
}

/// Raises a `Summary` of what it got, so that tests can see which leaves reached it.
#[except_star(FetchError::Timeout { .. }, FetchError::Status(500..=599))]
async fn on_retryable(eg: ErrorGroup<FetchError>) -> Result<(), Summary> {
    Err(Summary(format!("retry {}", typed_messages(&eg).join(", "))))
}

#[except_star(ParseError, FetchError::Status(NOT_FOUND))]
async fn on_bad_request(eg: ErrorGroup) -> Result<(), Summary> {
    Err(Summary(format!("bad {}", messages(&eg).join(", "))))
}

fn raised(left: &ErrorGroup) -> Vec<String> {
    left.members()
        .iter()
        .filter(|m| m.is::<Summary>())
        .map(Member::to_string)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pattern_handlers_take_the_matching_leaves() {
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Status(503)));
        tg.spawn(fail_after(20, FetchError::Status(404)));
        tg.spawn(fail_after(30, ParseError("p")));
        tg.spawn(fail_after(40, FetchError::Timeout { secs: 3 }));
        tg.spawn(fail_after(50, FetchError::Status(301)));
    }
    except* on_retryable,
    except* on_bad_request,
    );
    let left = outcome.unhandled().expect("raised, and the 301");
    assert_eq!(
        raised(&left),
        [
            "retry status 503, timeout after 3s",
            "bad status 404, parse p"
        ]
    );
    let rest = left.members()[2].as_group().expect("the rest nested whole");
    assert_eq!(messages(rest), ["status 301"]);
}

#[tokio::test(start_paused = true)]
async fn pattern_handler_applies_to_any_result() {
    let failed = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, FetchError::Status(404)));
        tg.spawn(fail_after(20, FetchError::Timeout { secs: 9 }));
    });
    let left = taskgroup::except_star::<on_retryable, _>(failed)
        .await
        .unhandled()
        .expect("raised, and the 404");
    assert_eq!(raised(&left), ["retry timeout after 9s"]);
    assert_eq!(
        messages(left.members()[1].as_group().unwrap()),
        ["status 404"]
    );
}
