//! Why a child was cancelled: every stop of a group carries its source, which children (during
//! a grace period), handles, spawners and the scope's error can tell.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskgroup::{CancelReason, Policy, Spawner, TaskError, TaskGroup, cancel_reason, task_group};
use tokio::time::sleep;

/// A child that waits for its group's cancellation, then says why it is cleaning up.
fn cleanup_reporter(tg: &TaskGroup) -> taskgroup::Task<Option<String>> {
    let token = tg.token();
    tg.spawn(async move {
        token.cancelled().await;
        Ok::<_, std::io::Error>(cancel_reason().map(|why| why.to_string()))
    })
}

#[tokio::test(start_paused = true)]
async fn reason_a_sibling_failure_names_the_task_and_the_error_type() {
    let tg = TaskGroup::builder().grace(Duration::from_secs(1)).build();
    let mut reporter = None;
    let eg = tg
        .run(async {
            reporter = Some(cleanup_reporter(&tg));
            tg.spawn_named("fetch", async {
                sleep(Duration::from_millis(5)).await;
                Err::<(), _>(std::io::Error::other("down"))
            });
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap_err();
    let said = reporter.unwrap().result().unwrap().unwrap();
    assert!(said.starts_with("task `fetch`"), "{said}");
    assert!(said.ends_with("failed with Error"), "{said}");
    let Some(CancelReason::Failed { task, error_type }) = eg.stopped_by() else {
        panic!("{:?}", eg.stopped_by());
    };
    assert_eq!(task.as_ref().and_then(|t| t.name()), Some("fetch"));
    assert_eq!(*error_type, "Error");
}

#[tokio::test(start_paused = true)]
async fn reason_the_deadline() {
    let tg = TaskGroup::builder()
        .timeout(Duration::from_millis(50))
        .grace(Duration::from_secs(1))
        .build();
    let mut reporter = None;
    let eg = tg
        .run(async {
            reporter = Some(cleanup_reporter(&tg));
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        reporter.unwrap().result().unwrap().as_deref(),
        Some("the deadline passed")
    );
    assert!(matches!(eg.stopped_by(), Some(CancelReason::TimedOut)));
}

#[tokio::test(start_paused = true)]
async fn reason_cancel_with_a_reason_and_without() {
    let tg = TaskGroup::builder().grace(Duration::from_secs(1)).build();
    let reporter = tg
        .run(async {
            let reporter = cleanup_reporter(&tg);
            tokio::task::yield_now().await;
            tg.cancel_with("config reloaded");
            tg.cancel_with("too late: the first stop wins");
            Ok::<_, std::io::Error>(reporter)
        })
        .await
        .unwrap();
    let CancelReason::Cancelled { reason } = reporter.cancel_reason().unwrap() else {
        panic!("cancelled");
    };
    assert_eq!(reason.as_deref(), Some("config reloaded"));
    assert_eq!(
        reporter.result().unwrap().as_deref(),
        Some("cancelled: config reloaded")
    );

    let plain = TaskGroup::new();
    plain
        .run(async {
            plain.cancel();
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
    assert!(matches!(
        plain.cancel_reason(),
        Some(CancelReason::Cancelled { reason: None })
    ));
}

#[tokio::test(start_paused = true)]
async fn reason_the_scope_dropped() {
    let tg = TaskGroup::new();
    let spawner: Spawner = tg.spawner();
    let scope = tg.run(async {
        tg.spawn(std::future::pending::<()>());
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(())
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(10), scope)
            .await
            .is_err()
    );
    assert!(matches!(
        spawner.cancel_reason(),
        Some(CancelReason::Dropped)
    ));
}

#[tokio::test(start_paused = true)]
async fn reason_a_first_ok_winner() {
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let loser = tg
        .run(async {
            tg.spawn_named("fast", async { Ok::<_, std::io::Error>(1) });
            Ok::<_, std::io::Error>(tg.spawn(sleep(Duration::from_secs(60))))
        })
        .await
        .unwrap();
    let Some(CancelReason::Won { task }) = loser.cancel_reason() else {
        panic!("{:?}", loser.cancel_reason());
    };
    assert_eq!(task.unwrap().name(), Some("fast"));
}

#[tokio::test(start_paused = true)]
async fn reason_an_enclosing_group_reaches_nested_groups() {
    let inner_spawner: Arc<Mutex<Option<Spawner>>> = Arc::default();
    let keep = Arc::clone(&inner_spawner);
    let outcome = task_group!(|tg| {
        tg.spawn(async move {
            task_group!(|inner| {
                *keep.lock().unwrap() = Some(inner.spawner());
                inner.spawn(sleep(Duration::from_secs(60)));
            })
        });
        tg.spawn(async {
            sleep(Duration::from_millis(3)).await;
            Err::<(), _>(std::io::Error::other("outer child failed"))
        });
    });
    assert!(outcome.is_err());
    let inner = inner_spawner.lock().unwrap().take().unwrap();
    let Some(CancelReason::Enclosing(outer)) = inner.cancel_reason() else {
        panic!("{:?}", inner.cancel_reason());
    };
    assert!(matches!(*outer, CancelReason::Failed { .. }));
}

#[tokio::test(start_paused = true)]
async fn reason_the_body_failing_and_the_timeline_form_shows_it() {
    let eg = task_group!(|tg| {
        tg.spawn(sleep(Duration::from_secs(60)));
        sleep(Duration::from_millis(8)).await;
        Err::<(), _>(std::io::Error::other("body gave up"))?
    })
    .unwrap_err();
    assert!(matches!(
        eg.stopped_by(),
        Some(CancelReason::Failed { task: None, .. })
    ));
    let timeline = eg.timeline().to_string();
    assert!(
        timeline.contains("| (stopped: the body failed with Error)\n"),
        "{timeline}"
    );
    // The CPython form is unchanged.
    assert!(!format!("{eg:#}").contains("stopped"));
}

#[tokio::test(start_paused = true)]
async fn reason_task_cancel_with_is_read_on_that_handle_only() {
    let tg = TaskGroup::new();
    let (given, plain, later, done) = tg
        .run(async {
            let given = tg.spawn(std::future::pending::<()>());
            let plain = tg.spawn(std::future::pending::<()>());
            let later = tg.spawn(std::future::pending::<()>());
            let done = tg.spawn(async { Ok::<_, std::io::Error>(1) });
            tokio::task::yield_now().await;
            given.cancel_with("superseded");
            plain.cancel();
            later.cancel_with("first");
            later.cancel_with("too late: the first cancel wins");
            done.cancel_with("it had ended");
            Ok::<_, std::io::Error>((given, plain, later, done))
        })
        .await
        .unwrap();
    // The group itself never stopped.
    assert!(tg.cancel_reason().is_none());
    let reason = |task: &taskgroup::Task<()>| match task.cancel_reason() {
        Some(CancelReason::TaskCancelled { reason }) => reason.as_deref().map(str::to_owned),
        other => panic!("{other:?}"),
    };
    assert_eq!(reason(&given).as_deref(), Some("superseded"));
    assert_eq!(reason(&plain), None);
    assert_eq!(reason(&later).as_deref(), Some("first"));
    assert_eq!(
        given.cancel_reason().unwrap().to_string(),
        "cancelled through its handle: superseded"
    );
    assert!(done.cancel_reason().is_none(), "{:?}", done.cancel_reason());
    assert_eq!(done.result(), Ok(1));
    for task in [given, plain, later] {
        assert_eq!(task.result(), Err(TaskError::Cancelled));
    }
}

#[tokio::test(start_paused = true)]
async fn reason_local_and_queued_handles_give_the_group_reason_or_their_own() {
    let tg = TaskGroup::builder().limit(1).build();
    let (queued, local, own, queued_own) = tg
        .run(async {
            tg.spawn(std::future::pending::<()>()); // holds the one slot
            let queued_own = tg.spawn(async {});
            let queued = tg.spawn(async {});
            let local = tg.spawn_local(std::future::pending::<()>());
            let own = tg.spawn_local(std::future::pending::<()>());
            queued_own.cancel_with("queued, then cancelled");
            own.cancel_with("its own");
            tokio::task::yield_now().await;
            tg.cancel_with("shutting down");
            Ok::<_, std::io::Error>((queued, local, own, queued_own))
        })
        .await
        .unwrap();
    for task in [&queued, &local] {
        let Some(CancelReason::Cancelled { reason }) = task.cancel_reason() else {
            panic!("{:?}", task.cancel_reason());
        };
        assert_eq!(reason.as_deref(), Some("shutting down"));
    }
    for (task, said) in [(&own, "its own"), (&queued_own, "queued, then cancelled")] {
        let Some(CancelReason::TaskCancelled { reason }) = task.cancel_reason() else {
            panic!("{:?}", task.cancel_reason());
        };
        assert_eq!(reason.as_deref(), Some(said));
    }
    for task in [queued, local, own, queued_own] {
        assert_eq!(task.result(), Err(TaskError::Cancelled));
    }
}

#[test]
fn reason_runtime_shutdown_is_told_apart_from_a_cancel() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let tg = TaskGroup::new();
    let bounded = TaskGroup::builder().limit(1).build();
    let (idle, cancelled, queued, done) = runtime.block_on(async {
        let idle = tg.spawn(std::future::pending::<()>());
        let cancelled = tg.spawn(std::future::pending::<()>());
        let done = tg.spawn(async { Ok::<_, std::io::Error>(7) });
        bounded.spawn(std::future::pending::<()>());
        let queued = bounded.spawn(async {}); // behind the limit until the slot frees
        tokio::task::yield_now().await;
        // The abort is not run before the runtime goes: the child is dropped at shutdown.
        cancelled.cancel_with("by hand");
        (idle, cancelled, queued, done)
    });
    // Shutting down drops every child; the freed slot starts `queued` on a runtime that drops
    // it at once.
    drop(runtime);
    assert!(tg.cancel_reason().is_none(), "the group never stopped");
    assert!(bounded.cancel_reason().is_none());
    assert!(matches!(
        idle.cancel_reason(),
        Some(CancelReason::RuntimeShutdown)
    ));
    assert_eq!(
        idle.cancel_reason().unwrap().to_string(),
        "the runtime shut down"
    );
    assert!(matches!(
        cancelled.cancel_reason(),
        Some(CancelReason::TaskCancelled { .. })
    ));
    assert!(matches!(
        queued.cancel_reason(),
        Some(CancelReason::RuntimeShutdown)
    ));
    // Kept for the group, as its own reasons are: a child that ended on its own says it too.
    assert!(matches!(
        done.cancel_reason(),
        Some(CancelReason::RuntimeShutdown)
    ));
    assert_eq!(done.result(), Ok(7));
    for task in [idle, cancelled, queued] {
        assert_eq!(task.result(), Err(TaskError::Cancelled));
    }
}

#[tokio::test(start_paused = true)]
async fn reason_the_group_abort_is_not_taken_for_a_runtime_shutdown() {
    let tg = TaskGroup::new();
    let idle = tg
        .run(async {
            let idle = tg.spawn(std::future::pending::<()>());
            tokio::task::yield_now().await;
            tg.cancel_with("done here");
            Ok::<_, std::io::Error>(idle)
        })
        .await
        .unwrap();
    let Some(CancelReason::Cancelled { reason }) = idle.cancel_reason() else {
        panic!("{:?}", idle.cancel_reason());
    };
    assert_eq!(reason.as_deref(), Some("done here"));
}
