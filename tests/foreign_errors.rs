//! Rust-native errors as children's and bodies' errors: `anyhow::Error` (feature `anyhow`),
//! `eyre::Report` (feature `eyre`) and `Box<dyn Error + Send + Sync>`, with no conversion code,
//! kept whole in their leaves and matched by the error inside.
//!
//! `cargo test --features anyhow --test foreign_errors` (or `eyre`, or `--all-features`).

mod common;

use std::error::Error as StdError;
use std::io;

use common::*;
use taskgroup::{ErrorGroup, Policy, TaskGroup, task_group};

type BoxError = Box<dyn StdError + Send + Sync>;

/// A group that lets every child finish, so that each failure is seen.
fn wait_all() -> TaskGroup<'static> {
    TaskGroup::builder().policy(Policy::WaitAll).build()
}

fn refused() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused")
}

// ---------------------------------------------------------------------------------------------
// Box<dyn Error + Send + Sync>

#[tokio::test(start_paused = true)]
async fn boxed_child_error_keeps_its_concrete_type() {
    let tg = wait_all();
    let eg = tg
        .run(async {
            tg.spawn(async { Err::<(), BoxError>(Box::new(refused())) });
            tg.spawn(async { Err::<(), BoxError>(Box::new(value_error("bad"))) });
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<io::Error>());
    assert!(eg.contains::<ValueError>());
    let leaves: Vec<_> = eg.leaves().collect();
    let io_leaf = leaves.iter().find(|l| l.is::<io::Error>()).unwrap();
    assert_eq!(io_leaf.type_name(), "Error");
    let kind = io_leaf.downcast_ref::<io::Error>().unwrap().kind();
    assert_eq!(kind, io::ErrorKind::ConnectionRefused);
    // A user type boxed is still matched by its type; its name is the box's.
    let value_leaf = leaves.iter().find(|l| l.is::<ValueError>()).unwrap();
    assert_eq!(
        value_leaf.downcast_ref::<ValueError>(),
        Some(&value_error("bad"))
    );
    assert_eq!(value_leaf.type_name(), "Error");
    assert!(value_leaf.task().is_some());
}

#[tokio::test(start_paused = true)]
async fn boxed_question_mark_in_body_and_message_errors() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            let parsed: Result<u8, BoxError> = "x".parse::<u8>().map_err(Into::into);
            parsed?;
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<std::num::ParseIntError>());
    assert_eq!(eg.leaves().next().unwrap().type_name(), "ParseIntError");

    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(async { Err::<(), BoxError>("no route to host".into()) });
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap_err();
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(
        (leaf.type_name(), leaf.to_string()),
        ("Error", "no route to host".into())
    );
    assert!(format!("{eg:#}").contains("Error: no route to host"));
}

#[tokio::test(start_paused = true)]
async fn boxed_group_nests_as_a_group() {
    let inner = ErrorGroup::new("inner", vec![refused().into()]).unwrap();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(async move { Err::<(), BoxError>(Box::new(inner)) });
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.members()[0].as_group().unwrap().message(), "inner");
}

#[tokio::test(start_paused = true)]
async fn boxed_except_star_matches_the_concrete_type() {
    let mut seen = Vec::new();
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(async { Err::<(), BoxError>(Box::new(refused())) });
        let boxed: Result<(), BoxError> = Err(Box::new(value_error("body")));
        boxed?;
    }
    except* io::Error as eg => seen.push(format!("io: {}", eg.first().unwrap())),
    except* ValueError as eg => seen.push(format!("value: {}", eg.first().unwrap())),
    );
    assert!(outcome.is_handled());
    seen.sort();
    assert_eq!(seen, ["io: connection refused", "value: body"]);
}

// ---------------------------------------------------------------------------------------------
// anyhow

#[cfg(feature = "anyhow")]
mod with_anyhow {
    use super::*;
    use anyhow::{Context, anyhow};

    #[tokio::test(start_paused = true)]
    async fn anyhow_child_errors_are_matched_through_context() {
        let tg = wait_all();
        let eg = tg
            .run(async {
                tg.spawn(async { anyhow::Result::<()>::Err(refused().into()) });
                tg.spawn(async {
                    Err::<(), _>(refused()).context("connecting to the database")?;
                    anyhow::Ok(())
                });
                Ok::<_, anyhow::Error>(())
            })
            .await
            .unwrap_err();
        assert_eq!(eg.len(), 2);
        for leaf in eg.leaves() {
            assert!(leaf.is::<io::Error>(), "{leaf:?}");
            let kind = leaf.downcast_ref::<io::Error>().unwrap().kind();
            assert_eq!(kind, io::ErrorKind::ConnectionRefused);
            assert_eq!(leaf.type_name(), "Error");
            // The anyhow error itself is kept whole: its context and its downcast work.
            let whole = leaf.as_anyhow().unwrap();
            assert!(whole.downcast_ref::<io::Error>().is_some());
        }
        let with_context = eg
            .leaves()
            .find(|l| l.to_string() == "connecting to the database")
            .unwrap();
        assert_eq!(
            format!("{with_context:#}"),
            "connecting to the database: connection refused"
        );
        assert!(format!("{eg:#}").contains("Error: connecting to the database"));
    }

    #[tokio::test(start_paused = true)]
    async fn anyhow_question_mark_in_run_body() {
        let tg = TaskGroup::new();
        let eg = tg
            .run(async {
                let n: u8 = "300".parse().context("parsing the port")?;
                Ok::<_, anyhow::Error>(n)
            })
            .await
            .unwrap_err();
        let leaf = eg.leaves().next().unwrap();
        assert!(leaf.is::<std::num::ParseIntError>());
        assert_eq!(leaf.type_name(), "ParseIntError");
        assert!(eg.contains::<std::num::ParseIntError>());
    }

    #[tokio::test(start_paused = true)]
    async fn anyhow_message_is_named_error() {
        let tg = TaskGroup::new();
        let eg = tg
            .run(async {
                tg.spawn(async { anyhow::Result::<()>::Err(anyhow!("quota exceeded")) });
                anyhow::Ok(())
            })
            .await
            .unwrap_err();
        let leaf = eg.leaves().next().unwrap();
        assert_eq!(leaf.type_name(), "Error");
        assert_eq!(leaf.to_string(), "quota exceeded");
        assert!(!leaf.is::<io::Error>());
        assert!(leaf.as_anyhow().unwrap().downcast_ref::<&str>().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn anyhow_user_error_matched_by_type() {
        let tg = TaskGroup::new();
        let eg = tg
            .run(async {
                tg.spawn(async {
                    Err::<(), _>(value_error("bad")).context("validating input")?;
                    anyhow::Ok(())
                });
                anyhow::Ok(())
            })
            .await
            .unwrap_err();
        let typed = eg.subgroup::<ValueError>().unwrap();
        assert_eq!(typed.first(), Some(&value_error("bad")));
    }

    #[tokio::test(start_paused = true)]
    async fn anyhow_group_stays_a_group() {
        let tg = TaskGroup::new();
        let eg = tg
            .run(async {
                let inner = TaskGroup::new()
                    .run(async { Err::<(), _>(refused()) })
                    .await;
                inner?; // an ErrorGroup through anyhow's `?`
                anyhow::Ok(())
            })
            .await
            .unwrap_err();
        assert!(eg.members()[0].as_group().is_some());
        assert!(eg.contains::<io::Error>());
    }

    #[tokio::test(start_paused = true)]
    async fn anyhow_except_star_in_task_group() {
        let mut handled = 0;
        let outcome = task_group!(policy = wait_all; |tg| {
            tg.spawn(async {
                Err::<(), _>(refused()).context("dialing")?;
                anyhow::Ok(())
            });
            let failed: anyhow::Result<()> = Err(refused()).context("in the body");
            failed?;
        }
        except* io::Error as eg => handled += eg.errors().count(),
        );
        assert!(outcome.is_handled());
        assert_eq!(handled, 2);
    }
}

// ---------------------------------------------------------------------------------------------
// eyre

#[cfg(feature = "eyre")]
mod with_eyre {
    use super::*;
    use eyre::{WrapErr, eyre};

    #[tokio::test(start_paused = true)]
    async fn eyre_child_errors_are_matched_through_context() {
        let tg = wait_all();
        let eg = tg
            .run(async {
                tg.spawn(async { eyre::Result::<()>::Err(refused().into()) });
                tg.spawn(async {
                    Err::<(), _>(refused()).wrap_err("connecting to the cache")?;
                    Ok::<_, eyre::Report>(())
                });
                Ok::<_, eyre::Report>(())
            })
            .await
            .unwrap_err();
        assert_eq!(eg.len(), 2);
        for leaf in eg.leaves() {
            assert!(leaf.is::<io::Error>(), "{leaf:?}");
            assert_eq!(leaf.type_name(), "Error");
            assert!(leaf.as_eyre().is_some());
        }
        assert!(
            eg.leaves()
                .any(|l| l.to_string() == "connecting to the cache")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn eyre_message_is_named_report() {
        let tg = TaskGroup::new();
        let eg = tg
            .run(async {
                let failed: eyre::Result<()> = Err(eyre!("quota exceeded"));
                failed?;
                Ok::<_, eyre::Report>(())
            })
            .await
            .unwrap_err();
        let leaf = eg.leaves().next().unwrap();
        assert_eq!(
            (leaf.type_name(), leaf.to_string()),
            ("Report", "quota exceeded".into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn eyre_except_star_in_task_group() {
        let mut handled = 0;
        let outcome = task_group!(|tg| {
            tg.spawn(async {
                Err::<(), _>(value_error("bad")).wrap_err("checking")?;
                Ok::<_, eyre::Report>(())
            });
        }
        except* ValueError as eg => handled += eg.errors().count(),
        );
        assert!(outcome.is_handled());
        assert_eq!(handled, 1);
    }
}
