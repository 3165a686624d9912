//! Behaviour of the DSL: `task_group!` with its options and `except*` clauses, and
//! `#[except_star]` handlers, checked against PEP 654's rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskgroup::{ErrorGroup, Member, Outcome, Policy, TimedOut, except_star, task_group};
use tokio::time::{Instant, sleep};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ValueError(&'static str);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TypeError(&'static str);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct KeyError(&'static str);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RuntimeError(String);

async fn fail_after<E>(ms: u64, error: E) -> Result<(), E> {
    sleep(Duration::from_millis(ms)).await;
    Err(error)
}

/// A group shaped like `ErrorGroup("outer", [ValueError a, TypeError b, ErrorGroup("inner",
/// [ValueError c, KeyError d])])`, made by two nested scopes under `wait_all`.
async fn nested_failure() -> Result<(), ErrorGroup> {
    let inner = ErrorGroup::new("inner", vec![ValueError("c").into(), KeyError("d").into()])
        .map_err(|_| unreachable!("two members"))?;
    let outer = ErrorGroup::new(
        "outer",
        vec![ValueError("a").into(), TypeError("b").into(), inner.into()],
    )
    .map_err(|_| unreachable!("three members"))?;
    Err(outer)
}

fn messages(eg: &ErrorGroup) -> Vec<String> {
    eg.leaves().map(|leaf| leaf.to_string()).collect()
}

#[tokio::test]
async fn dsl_returns_the_body_value_on_success() {
    let result = task_group!(|tg| {
        let a = tg.spawn(async { Ok::<_, ValueError>(2) });
        let b = tg.spawn(async { Ok::<_, ValueError>(3) });
        (a, b)
    });
    let (a, b) = result.unwrap();
    assert_eq!(a.result().unwrap() * b.result().unwrap(), 6);
}

#[tokio::test]
async fn dsl_body_borrows_locals_in_place() {
    let mut seen = Vec::new();
    let name = String::from("local");
    let n = task_group!(|_tg| {
        seen.push(name.as_str());
        seen.len()
    })
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(seen, ["local"]);
}

#[tokio::test(start_paused = true)]
async fn dsl_question_mark_raises_into_the_group_last() {
    let result: Result<(), ErrorGroup> = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, ValueError("child")));
        sleep(Duration::from_millis(20)).await;
        Err(TypeError("body"))?
    });
    let eg = result.unwrap_err();
    assert_eq!(messages(&eg), ["child", "body"]);
    assert!(eg.iter().last().unwrap().is::<TypeError>());
}

#[tokio::test(start_paused = true)]
async fn dsl_timeout_option_reports_timed_out() {
    let started = Instant::now();
    let result = task_group!(timeout = Duration::from_secs(2); |tg| {
        tg.spawn(async { sleep(Duration::from_secs(60)).await; });
    });
    let eg = result.unwrap_err();
    assert!(eg.contains::<TimedOut>());
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn dsl_deadline_option_reports_timed_out() {
    let at = Instant::now() + Duration::from_millis(500);
    let result = task_group!(deadline = at; |tg| {
        tg.spawn(async { sleep(Duration::from_secs(60)).await; });
    });
    assert!(result.unwrap_err().contains::<TimedOut>());
    assert_eq!(Instant::now(), at);
}

#[tokio::test(start_paused = true)]
async fn dsl_limit_option_bounds_running_children() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    task_group!(limit = 2, name = "limited"; |tg| {
        for _ in 0..6 {
            let (running, peak) = (running.clone(), peak.clone());
            tg.spawn(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                sleep(Duration::from_millis(10)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
    })
    .unwrap();
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn dsl_policy_options_map_to_policies() {
    // wait_all: a failure does not cancel the sibling, whose value survives.
    let (slow, eg) = {
        let mut slow = None;
        let result = task_group!(policy = wait_all; |tg| {
            tg.spawn(fail_after(1, ValueError("fast")));
            slow = Some(tg.spawn(async {
                sleep(Duration::from_millis(5)).await;
                Ok::<_, ValueError>("slow")
            }));
        });
        (slow.unwrap(), result.unwrap_err())
    };
    assert_eq!(slow.result().unwrap(), "slow");
    assert_eq!(eg.len(), 1);

    // first_ok: the first success wins, the failures before it are forgiven.
    let result = task_group!(policy = first_ok; |tg| {
        tg.spawn(fail_after(1, ValueError("early")));
        tg.spawn(async { sleep(Duration::from_millis(3)).await; Ok::<_, ValueError>(()) });
        tg.spawn(async { sleep(Duration::from_secs(60)).await; });
    });
    assert!(result.is_ok());

    // A run-time value in parentheses; fail_fast cancels the slow sibling.
    let policy = Policy::FailFast;
    let started = Instant::now();
    let result = task_group!(policy = (policy), grace = Duration::from_millis(1); |tg| {
        tg.spawn(fail_after(1, ValueError("first")));
        tg.spawn(async { sleep(Duration::from_secs(60)).await; });
    });
    assert_eq!(result.unwrap_err().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// The seed program: ValueError at 0.2 s cancels the TypeError task (0.3 s), so only the
/// ValueError clause runs, and CPython prints exactly this line.
#[tokio::test(start_paused = true)]
async fn dsl_seed_except_star_program() {
    let mut printed = Vec::new();
    let outcome = task_group!(|tg| {
        tg.spawn(fail_after(200, ValueError("Invalid value")));
        tg.spawn(fail_after(300, TypeError("Wrong type")));
        tg.spawn(async { sleep(Duration::from_millis(100)).await; Ok::<_, ValueError>("Success") });
    }
    except* ValueError as eg => printed.push(format!("Handled ValueError: {eg}")),
    except* TypeError as eg => printed.push(format!("Handled TypeError: {eg}")),
    );
    assert!(outcome.is_handled());
    assert_eq!(
        printed,
        ["Handled ValueError: unhandled errors in a TaskGroup (1 sub-exception)"]
    );
}

#[tokio::test]
async fn dsl_success_runs_no_clause() {
    let mut ran = 0;
    let outcome = task_group!(|_tg| { 5 }
        except* ValueError => ran += 1,
    );
    assert_eq!(outcome.ok(), Some(5));
    assert_eq!(ran, 0);
}

#[tokio::test]
async fn dsl_clause_runs_once_on_the_matching_subgroup_keeping_message_and_shape() {
    let mut runs = 0;
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* ValueError as eg => {
            runs += 1;
            // Same messages and nesting: scope([outer([a, inner([c])])]).
            assert_eq!(eg.message(), "unhandled errors in a TaskGroup");
            assert_eq!(eg.member_count(), 1);
            let outer = eg.members()[0].as_group().unwrap();
            assert_eq!(outer.message(), "outer");
            assert_eq!(outer.len(), 2);
            assert_eq!(outer.members()[1].as_group().unwrap().message(), "inner");
            let typed: Vec<&ValueError> = eg.errors().collect();
            assert_eq!(typed.iter().map(|e| e.0).collect::<Vec<_>>(), ["a", "c"]);
        },
    );
    assert_eq!(runs, 1);
    let rest = outcome.unhandled().unwrap();
    assert_eq!(messages(&rest), ["b", "d"]);
}

#[tokio::test]
async fn dsl_clause_does_not_run_when_nothing_matches() {
    let mut ran = false;
    let outcome = task_group!(|tg| { tg.spawn(async { Err::<(), _>(TypeError("t")) }); }
        except* ValueError => ran = true,
    );
    assert!(!ran);
    assert!(outcome.is_unhandled());
}

#[tokio::test]
async fn dsl_several_types_per_clause_get_an_untyped_group() {
    let mut seen = Vec::new();
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* TypeError | KeyError as eg => seen = messages(&eg),
    );
    assert_eq!(seen, ["b", "d"]);
    assert_eq!(messages(&outcome.unhandled().unwrap()), ["a", "c"]);
}

#[tokio::test]
async fn dsl_first_matching_clause_takes_the_leaf() {
    let mut first = Vec::new();
    let mut second = Vec::new();
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* ValueError | TypeError as eg => first = messages(&eg),
        except* TypeError | KeyError as eg => second = messages(&eg),
    );
    assert_eq!(first, ["a", "b", "c"]);
    assert_eq!(second, ["d"]);
    assert!(outcome.is_handled());
}

#[tokio::test]
async fn dsl_unmatched_rest_propagates_unchanged() {
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* KeyError => (),
    );
    let rest = outcome.unhandled().unwrap();
    // The scope's group wraps the body's nested group; both keep their messages.
    assert_eq!(rest.message(), "unhandled errors in a TaskGroup");
    let outer = rest.members()[0].as_group().unwrap();
    assert_eq!(outer.message(), "outer");
    assert_eq!(messages(&rest), ["a", "b", "c"]);
}

#[tokio::test]
async fn dsl_raised_error_skips_later_clauses_and_wraps_with_the_rest() {
    let mut later_ran = false;
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* ValueError as eg => Err(RuntimeError(format!("{} bad values", eg.errors().count()))),
        except* RuntimeError => later_ran = true,
    );
    assert!(!later_ran, "a raised error is not seen by later clauses");
    let eg = outcome.unhandled().unwrap();
    // CPython: ExceptionGroup("", [raised..., rest]).
    assert_eq!(eg.message(), "");
    assert_eq!(eg.len(), 2);
    assert_eq!(
        eg.members()[0].downcast_ref::<RuntimeError>().unwrap().0,
        "2 bad values"
    );
    let rest = eg.members()[1].as_group().unwrap();
    assert_eq!(rest.message(), "unhandled errors in a TaskGroup");
    assert_eq!(messages(rest), ["b", "d"]);
}

#[tokio::test]
async fn dsl_raise_with_question_mark_and_no_rest() {
    let outcome = task_group!(|tg| { tg.spawn(async { Err::<(), _>(ValueError("v")) }); }
        except* ValueError => {
            let n: u8 = "not a number".parse()?;
            assert_eq!(n, 0, "not reached");
        }
    );
    let eg = outcome.unhandled().unwrap();
    assert_eq!(eg.message(), "");
    assert_eq!(eg.len(), 1);
    assert!(eg.members()[0].is::<std::num::ParseIntError>());
}

#[tokio::test]
async fn dsl_several_clauses_raise_in_order() {
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* ValueError => Err(RuntimeError("from values".into())),
        except* TypeError => Err(RuntimeError("from types".into())),
        except* KeyError => (),
    );
    let eg = outcome.unhandled().unwrap();
    let raised: Vec<String> = eg.iter().map(Member::to_string).collect();
    assert_eq!(raised, ["from values", "from types"]);
}

#[tokio::test(start_paused = true)]
async fn dsl_clauses_can_await_and_mutate_locals() {
    let mut total = 0;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(1, ValueError("a")));
        tg.spawn(fail_after(2, ValueError("b")));
    }
    except* ValueError as mut eg => {
        sleep(Duration::from_millis(1)).await;
        total += eg.errors().count();
        eg = ErrorGroup::new("", vec![ValueError("x").into()]).unwrap().subgroup().unwrap();
        assert_eq!(eg.error_count(), 1);
    }
    );
    assert!(outcome.is_handled());
    assert_eq!(total, 2);
}

#[tokio::test]
async fn dsl_outcome_into_result_separates_the_three_cases() {
    let ok = task_group!(|_tg| { 1 } except* ValueError => ());
    assert_eq!(ok.into_result().unwrap(), Some(1));
    let handled = task_group!(|_tg| { Err(ValueError("v"))? } except* ValueError => ());
    assert_eq!(handled.into_result().unwrap(), None::<()>);
    let remains = task_group!(|_tg| { Err(TypeError("t"))? } except* ValueError => ());
    assert!(remains.into_result().is_err());
}

#[except_star(ValueError)]
async fn on_value(eg: ErrorGroup<ValueError>) {
    assert!(eg.errors().all(|e| !e.0.is_empty()));
}

#[except_star(TypeError, KeyError)]
async fn on_type_or_key(eg: ErrorGroup) -> Result<(), RuntimeError> {
    Err(RuntimeError(format!(
        "{} type or key errors",
        eg.leaves().count()
    )))
}

mod handlers {
    use super::{ErrorGroup, KeyError};

    #[taskgroup::except_star(KeyError)]
    pub async fn on_key(_eg: ErrorGroup<KeyError>) {}
}

#[tokio::test]
async fn dsl_handler_by_name_in_a_clause() {
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* on_value,
        except* handlers::on_key,
    );
    assert_eq!(messages(&outcome.unhandled().unwrap()), ["b"]);
}

#[tokio::test]
async fn dsl_handler_can_raise_and_mix_with_inline_clauses() {
    let mut values = 0;
    let outcome = task_group!(|_tg| { nested_failure().await? }
        except* ValueError as eg => values = eg.errors().count(),
        except* on_type_or_key,
    );
    assert_eq!(values, 2);
    let eg = outcome.unhandled().unwrap();
    assert_eq!(eg.message(), "");
    assert_eq!(eg.len(), 1);
    assert_eq!(eg.members()[0].to_string(), "2 type or key errors");
}

#[tokio::test]
async fn dsl_handler_applies_to_any_result() {
    let outcome = taskgroup::except_star::<on_value, _>(nested_failure().await).await;
    assert_eq!(messages(&outcome.unhandled().unwrap()), ["b", "d"]);
    let ok: Result<u8, ErrorGroup> = Ok(3);
    assert_eq!(
        taskgroup::except_star::<on_value, _>(ok).await.ok(),
        Some(3)
    );
}

#[tokio::test]
async fn dsl_handler_fn_stays_callable() {
    let eg = ErrorGroup::new("direct", vec![ValueError("v").into()]).unwrap();
    on_value(eg.subgroup().unwrap()).await;
    let raised = on_type_or_key(ErrorGroup::new("direct", vec![KeyError("k").into()]).unwrap());
    assert_eq!(raised.await.unwrap_err().0, "1 type or key errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsl_scope_with_clauses_is_send() {
    let scope = async {
        task_group!(|tg| {
            tg.spawn(async { Err::<(), _>(ValueError("v")) });
        }
        except* on_value,
        except* TypeError => (),
        )
    };
    let outcome = tokio::spawn(scope).await.unwrap();
    assert!(outcome.is_handled());
}

#[tokio::test]
async fn dsl_nested_scopes_nest_groups() {
    let outcome = task_group!(|tg| {
        tg.spawn(async {
            task_group!(|inner| {
                inner.spawn(async { Err::<(), _>(ValueError("deep")) });
            })
        });
    }
    except* ValueError as eg => {
        // outer group -> inner group -> leaf, both with the scope's message.
        let inner = eg.members()[0].as_group().unwrap();
        assert_eq!(inner.message(), "unhandled errors in a TaskGroup");
        assert_eq!(eg.first().unwrap().0, "deep");
    }
    );
    assert!(matches!(outcome, Outcome::Handled));
}

#[test]
fn dsl_local_option_makes_a_group_for_non_send_local_children() {
    use std::cell::Cell;
    use std::rc::Rc;
    let count = Rc::new(Cell::new(0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        task_group!(local = true; |tg| {
            for _ in 0..4 {
                let count = Rc::clone(&count);
                tg.spawn_local(async move { count.set(count.get() + 1) });
            }
        })
    });
    assert!(result.is_ok());
    assert_eq!(count.get(), 4);
}

/// A clause whose type is a type parameter: the macros and the type checker cannot see, when
/// the fn is checked, that `T` will be `ErrorGroup`. The first clause takes the `T`s, the
/// second the `KeyError`s and `T`s.
async fn clauses_for<T: std::error::Error + Send + Sync + 'static>() -> Outcome<()> {
    task_group!(policy = wait_all; |tg| {
        tg.spawn(async { Err::<(), _>(ValueError("v")) });
        tg.spawn(async { Err::<(), _>(KeyError("k")) });
    }
    except* T => (),
    except* KeyError | T => (),
    )
}

#[tokio::test]
async fn trust_except_star_error_group_alias_type_parameter_raises_instead_of_never_running() {
    // An ordinary error type as the parameter: the clauses take their leaves.
    let outcome = clauses_for::<ValueError>().await;
    assert!(outcome.is_handled(), "{outcome:?}");

    // `ErrorGroup` as the parameter: each clause reached with errors left raises CPython's
    // `TypeError` instead of silently never running; the errors themselves are kept, and the
    // second clause still takes its `KeyError`.
    let left = clauses_for::<ErrorGroup>().await.unhandled().unwrap();
    assert_eq!(left.message(), "");
    let members = left.members();
    assert_eq!(members.len(), 3, "{left:#}");
    for raised in &members[..2] {
        let raised = raised.as_leaf().unwrap();
        assert_eq!(raised.type_name(), "TypeError");
        assert_eq!(
            raised.to_string(),
            "`except*` cannot match `ErrorGroup` itself (CPython refuses `except* \
             ExceptionGroup`); name the leaf error types"
        );
    }
    let rest = members[2].as_group().unwrap();
    assert_eq!(rest.message(), "unhandled errors in a TaskGroup");
    assert_eq!(messages(rest), ["v"]);
}

#[derive(Debug, thiserror::Error)]
#[error("gave up")]
struct GaveUp;

#[tokio::test]
async fn dsl_return_in_a_clause_raises_without_into_and_a_bare_return_handles() {
    let mut bare_return_ran = false;
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(async { Err::<(), _>(ValueError("bad")) });
        tg.spawn(async { Err::<(), _>(TypeError("worse")) });
    }
    except* ValueError as eg => {
        if eg.error_count() == 1 {
            return Err(GaveUp);
        }
    },
    except* TypeError => {
        bare_return_ran = true;
        return;
    },
    );
    assert!(bare_return_ran);
    let left = outcome.unhandled().expect("the raised error comes back");
    assert!(left.contains::<GaveUp>());
    assert!(!left.contains::<ValueError>());
    assert!(!left.contains::<TypeError>());
}

#[tokio::test]
async fn dsl_a_clause_raises_its_typed_group_without_into_untyped() {
    let outcome = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(ValueError("bad")) });
    }
    except* ValueError as eg => Err(eg),
    );
    let left = outcome.unhandled().expect("raised back");
    // CPython's shape for a raised group: ErrorGroup("", [the matched group]).
    assert_eq!(left.message(), "");
    let raised = left.iter().next().and_then(Member::as_group).unwrap();
    assert_eq!(raised.message(), "unhandled errors in a TaskGroup");
    assert!(raised.contains::<ValueError>());
}
