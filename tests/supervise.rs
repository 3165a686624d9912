//! Supervision with bounded memory (issue 14, part 5): supervised children restarted from a
//! factory under a restart intensity and a backoff, failures handed to a callback, and a group
//! that keeps only its most recent failures and counts the rest. Times are on tokio's paused
//! clock, so every wait is exact and takes no real time.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use taskgroup::{
    ErrorsDropped, Member, Policy, Restart, RestartError, TaskError, TaskGroup, TaskPanic,
    task_group,
};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

fn restart(max: u32, within_ms: u64) -> Restart {
    Restart::new(max, Duration::from_millis(within_ms)).expect("a valid intensity")
}

/// A factory whose `n`-th attempt (from 1) runs `attempt(n)`; the count is returned too.
fn counted<Fut>(
    attempt: impl Fn(u32) -> Fut + Send + 'static,
) -> (Arc<AtomicU32>, impl FnMut() -> Fut + Send + 'static) {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    (calls, move || {
        attempt(seen.fetch_add(1, Ordering::SeqCst) + 1)
    })
}

/// A callback that records each failure as `type: message`.
fn recorder() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn(&Member) + Send + Sync + 'static,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let callback = move |m: &Member| sink.lock().unwrap().push(format!("{}: {m}", m.type_name()));
    (log, callback)
}

#[tokio::test(start_paused = true)]
async fn supervise_restarts_then_succeeds_without_failing_the_group() {
    let (calls, factory) = counted(|n| async move {
        sleep_ms(10).await;
        if n < 3 {
            return Err(value_error(&format!("attempt {n}")));
        }
        Ok(n * 100)
    });
    let tg = TaskGroup::new();
    let (child, sibling) = tg
        .run(async {
            let child = tg.spawn_supervised(restart(5, 1_000), factory);
            // Under fail-fast a restarted failure cancels no sibling: this one finishes later.
            let sibling = tg.spawn(async {
                sleep_ms(100).await;
                Ok::<_, ValueError>("sibling done")
            });
            Body::Ok((child, sibling))
        })
        .await
        .expect("restarted failures are not the group's");
    assert_eq!(child.result().unwrap(), 300);
    assert_eq!(sibling.result().unwrap(), "sibling done");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let counts = tg.failure_counts();
    assert_eq!((counts.failures(), counts.restarts()), (0, 2));
    assert_eq!(counts.restarts_of("ValueError"), 2);
}

#[tokio::test(start_paused = true)]
async fn supervise_intensity_exceeded_fails_the_group_with_the_last_error() {
    let sibling_futures = DropCounter::default();
    let (calls, factory) = counted(|n| async move {
        sleep_ms(10).await;
        Err::<(), _>(value_error(&format!("attempt {n}")))
    });
    let tg = TaskGroup::new();
    let sibling = sibling_futures.track(std::future::pending::<()>());
    let eg = tg
        .run(async {
            tg.spawn(sibling);
            tg.spawn_supervised_named("flaky", restart(2, 1_000), factory);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    // Two restarts, then the third failure within the second gave up and failed the group.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(eg.len(), 1);
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(
        leaf.downcast_ref::<ValueError>(),
        Some(&value_error("attempt 3"))
    );
    assert_eq!(leaf.task().and_then(|t| t.name()), Some("flaky"));
    // except* by the error's own type catches it: the split is a full match.
    let (matched, rest) = eg.split::<ValueError>();
    assert!(matched.is_some() && rest.is_none());
    // Fail-fast cancelled the pending sibling.
    assert_eq!(sibling_futures.dropped(), 1);
    assert_eq!(sibling_futures.completed(), 0);
    let counts = tg.failure_counts();
    assert_eq!((counts.failures(), counts.restarts()), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn supervise_window_slides_so_spread_out_failures_keep_restarting() {
    // At most 2 restarts within 1 s. Failing every 600 ms, at most one earlier restart is ever
    // inside the window: ten failures, ten restarts, then a success.
    let (calls, factory) = counted(|n| async move {
        sleep_ms(600).await;
        if n <= 10 {
            return Err(value_error("spread"));
        }
        Ok(n)
    });
    let tg = TaskGroup::new();
    let task = tg
        .run(async { Body::Ok(tg.spawn_supervised(restart(2, 1_000), factory)) })
        .await
        .expect("never more than 2 restarts within 1 s");
    assert_eq!(task.result().unwrap(), 11);
    assert_eq!(calls.load(Ordering::SeqCst), 11);
    assert_eq!(tg.failure_counts().restarts(), 10);

    // Failing every 400 ms, the third failure comes 800 ms after the first restart: it gives up.
    let (calls, factory) = counted(|_| async move {
        sleep_ms(400).await;
        Err::<(), _>(value_error("dense"))
    });
    let start = Instant::now();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_supervised(restart(2, 1_000), factory);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(1_200));
    assert_eq!(eg.leaves().next().unwrap().to_string(), "dense");
}

#[tokio::test(start_paused = true)]
async fn supervise_backoff_waits_on_the_paused_clock() {
    let start = Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&starts);
    let (_, factory) = counted(move |n| {
        log.lock().unwrap().push(start.elapsed().as_millis());
        async move {
            if n <= 5 {
                return Err(value_error("down"));
            }
            Ok(())
        }
    });
    let exponential = restart(10, 60_000)
        .backoff_exponential(Duration::from_millis(100), Duration::from_millis(350));
    let tg = TaskGroup::new();
    tg.run(async { Body::Ok(tg.spawn_supervised(exponential, factory)) })
        .await
        .unwrap();
    // Waits of 100, 200, then 400 capped at 350 ms.
    assert_eq!(*starts.lock().unwrap(), [0, 100, 300, 650, 1000, 1350]);

    let (calls, factory) = counted(|n| async move {
        if n <= 2 {
            return Err(value_error("down"));
        }
        Ok(())
    });
    let start = Instant::now();
    let fixed = restart(10, 60_000).backoff(Duration::from_millis(250));
    let tg = TaskGroup::new();
    tg.run(async { Body::Ok(tg.spawn_supervised(fixed, factory)) })
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

#[test]
fn supervise_bad_input_is_a_clear_error() {
    let zero_count = Restart::new(0, Duration::from_secs(5)).unwrap_err();
    assert_eq!(zero_count, RestartError::ZeroRestarts);
    assert!(zero_count.to_string().contains("allow at least 1 restart"));
    let zero_period = Restart::new(3, Duration::ZERO).unwrap_err();
    assert_eq!(zero_period, RestartError::ZeroPeriod);
    assert!(zero_period.to_string().contains("restart period of zero"));
    // Both at once: the count is reported first.
    assert_eq!(
        Restart::new(0, Duration::ZERO),
        Err(RestartError::ZeroRestarts)
    );
    let boxed: Box<dyn std::error::Error> = Box::new(zero_period);
    assert!(boxed.source().is_none());
}

#[tokio::test(start_paused = true)]
async fn supervise_cancellation_during_backoff_ends_at_once() {
    // A grace period keeps the group from aborting the child: the backoff itself must end.
    let (restarted_tx, restarted_rx) = tokio::sync::oneshot::channel();
    let restarted_tx = Mutex::new(Some(restarted_tx));
    let tg = TaskGroup::builder()
        .grace(Duration::from_secs(600))
        .on_failure(move |_| {
            if let Some(tx) = restarted_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        })
        .build();
    let (calls, factory) = counted(|_| async { Err::<(), _>(value_error("down")) });
    let slow = restart(3, 60_000).backoff(Duration::from_secs(3_600));
    let start = Instant::now();
    let task = tg
        .run(async {
            let task = tg.spawn_supervised(slow, factory);
            restarted_rx.await.expect("the first failure is restarted");
            tg.cancel();
            Body::Ok(task)
        })
        .await
        .expect("a cancelled group with no failure");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(task.result(), Err(TaskError::Cancelled)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(tg.failure_counts().restarts(), 1);
}

#[tokio::test(start_paused = true)]
async fn supervise_failure_while_stopping_is_not_restarted() {
    // A grace period: the child's cleanup fails after the cancellation, and that error is kept.
    let tg = TaskGroup::builder().grace(Duration::from_secs(1)).build();
    let token = tg.token();
    let (calls, factory) = counted(move |_| {
        let token = token.clone();
        async move {
            token.cancelled().await;
            Err::<(), _>(value_error("cleanup failed"))
        }
    });
    let eg = tg
        .run(async {
            tg.spawn_supervised(restart(5, 60_000), factory);
            sleep_ms(10).await;
            tg.cancel();
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(eg.leaves().next().unwrap().to_string(), "cleanup failed");
    assert_eq!(tg.failure_counts().restarts(), 0);
}

#[tokio::test(start_paused = true)]
async fn supervise_callback_sees_every_failure() {
    let (log, callback) = recorder();
    let tg = TaskGroup::builder()
        .policy(Policy::WaitAll)
        .on_failure(callback)
        .build();
    let (_, factory) = counted(|n| async move {
        sleep_ms(10).await;
        Err::<(), _>(value_error(&format!("attempt {n}")))
    });
    let eg = tg
        .run(async {
            tg.spawn_supervised(restart(3, 60_000), factory);
            tg.spawn(async {
                sleep_ms(25).await;
                Err::<(), _>(TypeError("plain".into()))
            });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "ValueError: attempt 1",
            "ValueError: attempt 2",
            "TypeError: plain",
            "ValueError: attempt 3",
            "ValueError: attempt 4",
        ]
    );
    // Only the give-up and the plain failure are the group's.
    let messages: Vec<String> = eg.leaves().map(|l| l.to_string()).collect();
    assert_eq!(messages, ["plain", "attempt 4"]);
    let counts = tg.failure_counts();
    assert_eq!((counts.failures(), counts.restarts()), (2, 3));
    assert_eq!((counts.of("ValueError"), counts.of("TypeError")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn supervise_panic_in_the_callback_is_recorded_not_unwound() {
    let tg = TaskGroup::builder()
        .policy(Policy::WaitAll)
        .on_failure(|m| panic!("callback broke on {}", m.type_name()))
        .build();
    let eg = tg
        .run(async {
            tg.spawn(async { Err::<(), _>(value_error("first")) });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let leaves: Vec<&taskgroup::Leaf> = eg.leaves().collect();
    assert_eq!(leaves.len(), 2);
    assert_eq!(leaves[0].to_string(), "first");
    let panic = leaves[1]
        .downcast_ref::<TaskPanic>()
        .expect("the callback's panic");
    assert_eq!(panic.message(), "callback broke on ValueError");
}

#[tokio::test(start_paused = true)]
async fn supervise_panic_restarts_then_gives_up_as_a_task_panic() {
    let (log, callback) = recorder();
    let tg = TaskGroup::builder().on_failure(callback).build();
    let (calls, factory) = counted(|n| async move {
        sleep_ms(10).await;
        if n > 0 {
            panic!("crash {n}");
        }
    });
    let eg = tg
        .run(async {
            tg.spawn_supervised(restart(1, 60_000), factory);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "TaskPanic: task panicked: crash 1",
            "TaskPanic: task panicked: crash 2"
        ]
    );
    let panic = eg
        .leaves()
        .next()
        .unwrap()
        .downcast_ref::<TaskPanic>()
        .cloned();
    assert_eq!(
        panic.map(|p| p.message().to_owned()).as_deref(),
        Some("crash 2")
    );
}

#[tokio::test]
async fn supervise_keep_errors_keeps_the_most_recent_and_counts_the_rest() {
    let tg = TaskGroup::builder()
        .policy(Policy::WaitAll)
        .keep_errors(3)
        .build();
    let eg = tg
        .run(async {
            // One at a time, so the completion order is the spawn order.
            for i in 1..=10 {
                let _ = tg
                    .spawn(async move { Err::<(), _>(value_error(&format!("v{i}"))) })
                    .await;
            }
            for i in 1..=5 {
                let _ = tg
                    .spawn(async move { Err::<(), _>(TypeError(format!("t{i}"))) })
                    .await;
            }
            let so_far = tg.failure_counts();
            assert_eq!(
                (so_far.failures(), so_far.kept(), so_far.dropped()),
                (15, 3, 12)
            );
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 4);
    let dropped = eg
        .leaves()
        .next()
        .unwrap()
        .downcast_ref::<ErrorsDropped>()
        .unwrap();
    assert_eq!(dropped.total(), 12);
    assert_eq!(dropped.by_type(), [("ValueError", 10), ("TypeError", 2)]);
    assert_eq!(
        dropped.to_string(),
        "12 more failures not kept: ValueError x 10, TypeError x 2"
    );
    // except* by type still works on the kept ones; the summary stays in the rest.
    let (kept, rest) = eg.split::<TypeError>();
    let kept: Vec<String> = kept.unwrap().errors().map(|e| e.0.clone()).collect();
    assert_eq!(kept, ["t3", "t4", "t5"]);
    assert!(rest.unwrap().leaves().all(|l| l.is::<ErrorsDropped>()));
    let counts = tg.failure_counts();
    assert_eq!((counts.of("ValueError"), counts.of("TypeError")), (10, 5));
    let by_type: Vec<_> = counts.by_type().collect();
    assert_eq!(by_type, [("ValueError", 10), ("TypeError", 5)]);

    // Zero keeps only the counts.
    let tg = TaskGroup::builder()
        .policy(Policy::WaitAll)
        .keep_errors(0)
        .build();
    let eg = tg
        .run(async {
            tg.spawn(async { Err::<(), _>(value_error("gone")) });
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert_eq!(
        eg.leaves().next().unwrap().to_string(),
        "1 more failure not kept: ValueError x 1"
    );
}

#[tokio::test(start_paused = true)]
async fn supervise_wait_all_with_keep_errors_runs_every_child() {
    let tg = TaskGroup::builder()
        .policy(Policy::WaitAll)
        .keep_errors(2)
        .build();
    let (oks, eg) = {
        let settled = tg
            .run_settled(async {
                let mut oks = Vec::new();
                for i in 0..6u64 {
                    // Each gives up after one restart: 6 failures of the group, 6 restarts.
                    tg.spawn_supervised(restart(1, 60_000), move || async move {
                        sleep_ms(10 * (i + 1)).await;
                        Err::<(), _>(value_error(&format!("worker {i}")))
                    });
                    oks.push(tg.spawn(async move {
                        sleep_ms(500).await;
                        Ok::<_, ValueError>(i)
                    }));
                }
                Body::Ok(oks)
            })
            .await;
        (settled.value.unwrap(), settled.errors.unwrap())
    };
    let values: Vec<u64> = oks.into_iter().map(|t| t.result().unwrap()).collect();
    assert_eq!(values, [0, 1, 2, 3, 4, 5]);
    let messages: Vec<String> = eg.leaves().map(|l| l.to_string()).collect();
    assert_eq!(
        messages,
        [
            "4 more failures not kept: ValueError x 4",
            "worker 4",
            "worker 5"
        ]
    );
    let counts = tg.failure_counts();
    assert_eq!(
        (counts.failures(), counts.dropped(), counts.restarts()),
        (6, 4, 6)
    );
}

#[tokio::test(start_paused = true)]
async fn supervise_macro_options() {
    let (log, callback) = recorder();
    let result = task_group!(policy = wait_all, keep_errors = 1, on_failure = callback; |tg| {
        tg.spawn(async { Err::<(), _>(value_error("a")) });
        tg.spawn(async { sleep_ms(5).await; Err::<(), _>(value_error("b")) });
    });
    let eg = result.unwrap_err();
    let messages: Vec<String> = eg.leaves().map(|l| l.to_string()).collect();
    assert_eq!(messages, ["1 more failure not kept: ValueError x 1", "b"]);
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[cfg(feature = "tracing")]
#[tokio::test(start_paused = true)]
async fn supervise_restarts_and_giving_up_are_traced() {
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Clone, Default)]
    struct Messages(Arc<Mutex<Vec<String>>>);
    struct Message<'a>(&'a mut String);
    impl Visit for Message<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                *self.0 = format!("{value:?}");
            }
        }
    }
    impl Subscriber for Messages {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            self.0.lock().unwrap().push(message);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    let messages = Messages::default();
    let _guard = tracing::subscriber::set_default(messages.clone());
    let tg = TaskGroup::new();
    let _ = tg
        .run(async {
            tg.spawn_supervised(restart(2, 60_000), || async {
                Err::<(), _>(value_error("down"))
            });
            Body::Ok(())
        })
        .await;
    let seen = messages.0.lock().unwrap();
    let count = |text: &str| seen.iter().filter(|m| m.as_str() == text).count();
    assert_eq!(count("supervised task failed; restarting"), 2);
    assert_eq!(count("supervised task gave up"), 1);
}
