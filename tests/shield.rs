//! Shielded children (issue 14, part 3): `tg.spawn_shielded(fut)` is not aborted when the group
//! cancels (a sibling's failure, `tg.cancel()`, the deadline): it runs to completion and the
//! scope waits for it; `spawn_shielded_bounded` aborts it, visibly, once its bound has passed
//! after the cancellation began. All on tokio's paused clock.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use taskgroup::{Member, ShieldExpired, SpawnError, TaskError, TaskGroup, TimedOut};
use tokio::time::Instant;

type Body<T> = Result<T, Member>;

/// A "commit" of `steps` writes, 10 ms each; `log` shows how far it got.
async fn commit(log: Arc<Mutex<Vec<u32>>>, steps: u32) -> Res<u32> {
    for step in 1..=steps {
        sleep_ms(10).await;
        log.lock().unwrap().push(step);
    }
    Ok(steps)
}

async fn fail_after(ms: u64, msg: &str) -> Res<()> {
    sleep_ms(ms).await;
    Err(value_error(msg))
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[tokio::test(start_paused = true)]
async fn shield_commit_completes_when_a_sibling_fails_during_it() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let commit = tg.spawn_shielded(commit(Arc::clone(&log), 10));
            let plain = tg.spawn(commit_unshielded(Arc::new(Mutex::new(Vec::new()))));
            tg.spawn(fail_after(35, "sibling failed mid-commit"));
            Body::Ok((commit, plain))
        })
        .await;
    // The scope returned only once the commit had written its last step.
    assert_eq!(*log.lock().unwrap(), (1..=10).collect::<Vec<_>>());
    assert_eq!(start.elapsed(), ms(100));
    let eg = settled.errors.expect("the sibling failed");
    assert_eq!(eg.len(), 1, "the commit did not fail: {eg:?}");
    assert!(eg.contains::<ValueError>());
    let (commit, plain) = settled.value.unwrap();
    assert_eq!(commit.result(), Ok(10));
    assert_eq!(
        plain.result(),
        Err(TaskError::Cancelled),
        "an unshielded one is aborted"
    );
}

async fn commit_unshielded(log: Arc<Mutex<Vec<u32>>>) -> Res<u32> {
    commit(log, 10).await
}

#[tokio::test(start_paused = true)]
async fn shield_survives_tg_cancel_and_gives_its_value() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let task = tg
        .run(async {
            let task = tg.spawn_shielded(async {
                sleep_ms(50).await;
                Ok::<_, ValueError>("flushed")
            });
            tg.spawn(std::future::pending::<()>());
            tg.cancel();
            Body::Ok(task)
        })
        .await
        .expect("a cancel after the body returned is not an error");
    assert_eq!(start.elapsed(), ms(50));
    assert_eq!(task.result(), Ok("flushed"));
}

#[tokio::test(start_paused = true)]
async fn shield_survives_the_deadline_and_the_scope_reports_it() {
    let start = Instant::now();
    let tg = TaskGroup::builder().timeout(ms(30)).build();
    let settled = tg
        .run_settled(async {
            let shield = tg.spawn_shielded(async {
                sleep_ms(200).await;
                Ok::<_, ValueError>(1)
            });
            let plain = tg.spawn(async {
                sleep_ms(200).await;
                Ok::<_, ValueError>(2)
            });
            Body::Ok((shield, plain))
        })
        .await;
    assert_eq!(start.elapsed(), ms(200), "the scope waited for the shield");
    let eg = settled.errors.unwrap();
    assert_eq!(eg.len(), 1);
    assert!(eg.contains::<TimedOut>());
    let (shield, plain) = settled.value.unwrap();
    assert_eq!(shield.result(), Ok(1));
    assert_eq!(plain.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn shield_bound_aborts_a_hanging_shield_and_says_so() {
    let dropped = DropCounter::default();
    let start = Instant::now();
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let hanging =
                tg.spawn_shielded_bounded(ms(1000), dropped.track(std::future::pending::<()>()));
            tg.spawn(fail_after(10, "first"));
            Body::Ok(hanging)
        })
        .await;
    assert_eq!(
        start.elapsed(),
        ms(1010),
        "failure at 10 ms, then the 1 s bound"
    );
    dropped.assert_all_dropped();
    assert_eq!(dropped.completed(), 0);
    let eg = settled.errors.unwrap();
    let types: Vec<_> = eg.leaves().map(|leaf| leaf.type_name()).collect();
    assert_eq!(types, ["ValueError", "ShieldExpired"]);
    let leaf = eg.leaves().nth(1).unwrap();
    let expired = leaf.downcast_ref::<ShieldExpired>().copied().unwrap();
    assert_eq!(expired.bound(), ms(1000));
    assert!(
        leaf.to_string().contains("longer bound"),
        "says what to do: {leaf}"
    );
    let hanging = settled.value.unwrap();
    assert_eq!(
        leaf.task().and_then(|t| t.id()),
        hanging.id(),
        "names its task"
    );
    assert!(matches!(
        hanging.result(),
        Err(TaskError::Failed {
            type_name: "ShieldExpired",
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn shield_bound_counts_from_the_cancellation_not_from_the_spawn() {
    // Never cancelled: a shield runs past its bound.
    let start = Instant::now();
    let tg = TaskGroup::new();
    let task = tg
        .run(async {
            Body::Ok(tg.spawn_shielded_bounded(ms(100), async {
                sleep_ms(300).await;
                Ok::<_, ValueError>("slow but fine")
            }))
        })
        .await
        .unwrap();
    assert_eq!(task.result(), Ok("slow but fine"));
    assert_eq!(start.elapsed(), ms(300));

    // Cancelled at 250 ms with a 100 ms bound: it finishes at 300 ms, inside the bound.
    let start = Instant::now();
    let tg = TaskGroup::new();
    let task = tg
        .run(async {
            let task = tg.spawn_shielded_bounded(ms(100), async {
                sleep_ms(300).await;
                Ok::<_, ValueError>("just in time")
            });
            sleep_ms(250).await;
            tg.cancel();
            Body::Ok(task)
        })
        .await
        .unwrap();
    assert_eq!(task.result(), Ok("just in time"));
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn shield_with_a_zero_bound_is_aborted_as_the_group_cancels() {
    let start = Instant::now();
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_shielded_bounded(Duration::ZERO, std::future::pending::<()>());
            tg.spawn(fail_after(20, "first"));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), ms(20));
    assert!(eg.contains::<ShieldExpired>());
}

#[tokio::test(start_paused = true)]
async fn shield_outlives_the_grace_period_of_its_siblings() {
    let start = Instant::now();
    let cleaned = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::builder().grace(ms(50)).build();
    let token = tg.token();
    let settled = tg
        .run_settled(async {
            let flag = Arc::clone(&cleaned);
            let worker_token = token.clone();
            tg.spawn(async move {
                worker_token.cancelled().await;
                sleep_ms(10).await; // async cleanup, inside the grace
                flag.store(true, Ordering::SeqCst);
            });
            let shield = tg.spawn_shielded(async move {
                sleep_ms(500).await;
                Ok::<_, ValueError>(token.is_cancelled())
            });
            tg.spawn(fail_after(5, "first"));
            Body::Ok(shield)
        })
        .await;
    assert!(cleaned.load(Ordering::SeqCst));
    assert_eq!(
        start.elapsed(),
        ms(500),
        "the end of the grace does not abort a shield"
    );
    assert_eq!(settled.errors.unwrap().len(), 1);
    assert_eq!(
        settled.value.unwrap().result(),
        Ok(true),
        "the shield could see the group stopping"
    );
}

#[tokio::test(start_paused = true)]
async fn shield_queued_behind_the_limit_still_runs_after_a_failure() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let plain_ran = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::builder().limit(1).build();
    let settled = tg
        .run_settled(async {
            tg.spawn(fail_after(10, "holds the slot, then fails"));
            let shield = tg.spawn_shielded(commit(Arc::clone(&log), 3));
            let flag = Arc::clone(&plain_ran);
            let plain = tg.spawn(async move { flag.store(true, Ordering::SeqCst) });
            assert_eq!(shield.id(), None, "queued");
            Body::Ok((shield, plain))
        })
        .await;
    assert!(settled.errors.unwrap().contains::<ValueError>());
    let (shield, plain) = settled.value.unwrap();
    assert_eq!(
        shield.result(),
        Ok(3),
        "a shield spawned before the failure runs"
    );
    assert_eq!(*log.lock().unwrap(), [1, 2, 3]);
    assert_eq!(plain.result(), Err(TaskError::Cancelled));
    assert!(
        !plain_ran.load(Ordering::SeqCst),
        "a queued ordinary child never starts"
    );
}

#[tokio::test(start_paused = true)]
async fn shield_not_yet_polled_when_the_group_fails_still_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            // Both are spawned before either is polled; the failure runs first.
            tg.spawn(async { Err::<(), _>(value_error("at once")) });
            let flag = Arc::clone(&ran);
            let shield = tg.spawn_shielded(async move {
                flag.store(true, Ordering::SeqCst);
                Ok::<_, ValueError>(())
            });
            Body::Ok(shield)
        })
        .await;
    assert!(settled.errors.unwrap().contains::<ValueError>());
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(settled.value.unwrap().result(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn shield_nested_group_inside_a_shield_is_shielded_with_it() {
    let inner_done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let done = Arc::clone(&inner_done);
            let shield = tg.spawn_shielded(async move {
                let inner = TaskGroup::new();
                let token = inner.token();
                inner
                    .run(async {
                        for _ in 0..3 {
                            let done = Arc::clone(&done);
                            inner.spawn(async move {
                                sleep_ms(100).await;
                                done.fetch_add(1, Ordering::SeqCst);
                            });
                        }
                        Body::Ok(())
                    })
                    .await?;
                Ok::<_, taskgroup::ErrorGroup>(token.is_cancelled())
            });
            tg.spawn(fail_after(10, "outer failure"));
            Body::Ok(shield)
        })
        .await;
    assert_eq!(
        inner_done.load(Ordering::SeqCst),
        3,
        "the inner children ran to the end"
    );
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(settled.errors.unwrap().len(), 1);
    assert_eq!(
        settled.value.unwrap().result(),
        Ok(false),
        "the outer cancellation did not reach the inner group's token"
    );
}

#[tokio::test(start_paused = true)]
async fn shield_is_still_cancelled_by_its_own_handle() {
    let dropped = DropCounter::default();
    let tg = TaskGroup::new();
    let task = tg
        .run(async {
            let task = tg.spawn_shielded(dropped.track(std::future::pending::<()>()));
            sleep_ms(10).await;
            task.cancel();
            Body::Ok(task)
        })
        .await
        .unwrap();
    assert_eq!(task.result(), Err(TaskError::Cancelled));
    dropped.assert_all_dropped();
}

#[tokio::test(start_paused = true)]
async fn shield_is_aborted_when_the_scope_future_is_dropped() {
    let baseline = alive();
    let dropped = DropCounter::default();
    let tg = TaskGroup::new();
    let outcome = tokio::time::timeout(
        ms(20),
        tg.run(async {
            tg.spawn_shielded(dropped.track(std::future::pending::<()>()));
            tg.spawn_shielded_bounded(ms(5), dropped.track(std::future::pending::<()>()));
            let inner_dropped = dropped.clone();
            // A shield of a group nested in a shield: aborted too.
            tg.spawn_shielded(async move {
                let inner = TaskGroup::new();
                let _ = inner
                    .run(async {
                        inner.spawn_shielded(inner_dropped.track(std::future::pending::<()>()));
                        Body::Ok(())
                    })
                    .await;
            });
            std::future::pending::<()>().await;
            Body::Ok(())
        }),
    )
    .await;
    assert!(outcome.is_err(), "the timeout dropped the scope");
    drop(tg);
    assert_no_tasks_beyond(baseline).await;
    assert_eq!(dropped.created(), 3);
    dropped.assert_all_dropped();
    assert_eq!(dropped.completed(), 0);
}

#[tokio::test(start_paused = true)]
async fn shield_of_a_group_dropped_with_its_scope_is_aborted() {
    // A shield protects against its group's cancellation, not its scope disappearing: an
    // inner scope run by an ordinary child is dropped when that child is aborted.
    let dropped = DropCounter::default();
    let tg = TaskGroup::new();
    let inner_dropped = dropped.clone();
    let eg = tg
        .run(async {
            tg.spawn(async move {
                let inner = TaskGroup::new();
                inner
                    .run(async {
                        inner.spawn_shielded(inner_dropped.track(std::future::pending::<()>()));
                        Body::Ok(())
                    })
                    .await
            });
            tg.spawn(fail_after(10, "outer failure"));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    assert_eq!(dropped.created(), 1);
    dropped.assert_all_dropped();
}

#[tokio::test(start_paused = true)]
async fn shield_group_kept_beyond_its_shield_is_aborted_with_the_scope() {
    // A group made inside a shield and stored beyond it, with a live child.
    let baseline = alive();
    let dropped = DropCounter::default();
    let kept: Arc<Mutex<Option<TaskGroup<'static>>>> = Arc::default();
    let tg = TaskGroup::new();
    let outcome = {
        let (kept, dropped) = (Arc::clone(&kept), dropped.clone());
        tokio::time::timeout(
            ms(20),
            tg.run(async {
                tg.spawn_shielded(async move {
                    let escaped = TaskGroup::new();
                    escaped.spawn(dropped.track(std::future::pending::<()>()));
                    *kept.lock().unwrap() = Some(escaped);
                });
                std::future::pending::<()>().await;
                Body::Ok(())
            }),
        )
        .await
    };
    assert!(outcome.is_err());
    drop(tg);
    assert_no_tasks_beyond(baseline).await;
    dropped.assert_all_dropped();
    assert!(
        kept.lock().unwrap().is_some(),
        "the group itself is still stored"
    );
}

async fn boom() -> Res<()> {
    sleep_ms(5).await;
    panic!("shield boom")
}

#[tokio::test(start_paused = true)]
async fn shield_panic_is_a_task_panic_and_cancels_siblings() {
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let sibling = tg.spawn(std::future::pending::<()>());
            tg.spawn_shielded(boom());
            Body::Ok(sibling)
        })
        .await;
    let eg = settled.errors.unwrap();
    assert_eq!(
        eg.leaves().next().unwrap().to_string(),
        "task panicked: shield boom"
    );
    assert_eq!(settled.value.unwrap().result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn shield_spawn_after_the_group_stopped_is_refused() {
    let ran = Arc::new(AtomicBool::new(false));
    let tg = TaskGroup::new();
    let task = tg
        .run(async {
            tg.cancel();
            let flag = Arc::clone(&ran);
            Body::Ok(tg.spawn_shielded(async move { flag.store(true, Ordering::SeqCst) }))
        })
        .await
        .unwrap();
    assert_eq!(
        task.result(),
        Err(TaskError::NotStarted(SpawnError::Cancelled))
    );
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn shield_spawn_outside_a_runtime_is_refused() {
    let tg = TaskGroup::new();
    let task = tg.spawn_shielded_bounded(ms(1), async {});
    assert_eq!(
        task.result(),
        Err(TaskError::NotStarted(SpawnError::NoRuntime))
    );
}
