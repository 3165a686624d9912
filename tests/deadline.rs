//! Deadlines inside children: the effective deadline of a group is the nearest of its own and
//! its enclosing groups', readable by the group's children (`taskgroup::current_deadline()`)
//! and on the group (`TaskGroup::effective_deadline()`); a nested scope with none of its own
//! ends at the enclosing deadline.

use std::time::Duration;

use taskgroup::{Policy, TaskGroup, TimedOut, current_deadline, task_group};
use tokio::time::{Instant, sleep};

#[tokio::test(start_paused = true)]
async fn deadline_a_child_reads_its_group_deadline() {
    let start = Instant::now();
    let seen = task_group!(timeout = Duration::from_secs(3); |tg| {
        tg.spawn(async { Ok::<_, std::io::Error>(current_deadline()) })
    })
    .unwrap()
    .result()
    .unwrap();
    assert_eq!(seen, Some(start + Duration::from_secs(3)));
}

#[tokio::test(start_paused = true)]
async fn deadline_none_without_a_deadline_or_outside_a_group() {
    assert_eq!(current_deadline(), None);
    let seen =
        task_group!(|tg| { tg.spawn(async { Ok::<_, std::io::Error>(current_deadline()) }) })
            .unwrap()
            .result()
            .unwrap();
    assert_eq!(seen, None);
}

#[tokio::test(start_paused = true)]
async fn deadline_a_nested_group_in_a_child_sees_the_nearest() {
    let start = Instant::now();
    let outer = Duration::from_secs(10);
    let (none_of_its_own, tighter, looser) = task_group!(timeout = outer; |tg| {
        tg.spawn(async move {
            let a = task_group!(|inner| {
                inner.spawn(async { Ok::<_, std::io::Error>(current_deadline()) })
            })
            .unwrap()
            .result()
            .unwrap();
            let b = task_group!(timeout = Duration::from_secs(2); |inner| {
                inner.spawn(async { Ok::<_, std::io::Error>(current_deadline()) })
            })
            .unwrap()
            .result()
            .unwrap();
            let c = task_group!(timeout = Duration::from_secs(60); |inner| {
                inner.spawn(async { Ok::<_, std::io::Error>(current_deadline()) })
            })
            .unwrap()
            .result()
            .unwrap();
            Ok::<_, std::io::Error>((a, b, c))
        })
    })
    .unwrap()
    .result()
    .unwrap();
    assert_eq!(none_of_its_own, Some(start + outer));
    assert_eq!(tighter, Some(start + Duration::from_secs(2)));
    assert_eq!(looser, Some(start + outer));
}

#[tokio::test(start_paused = true)]
async fn deadline_of_the_group_itself_before_and_after_run() {
    let start = Instant::now();
    let tg = TaskGroup::builder().timeout(Duration::from_secs(1)).build();
    // A timeout counts from the start of the scope: unknown before `run`.
    assert_eq!(tg.effective_deadline(), None);
    sleep(Duration::from_secs(5)).await;
    let during = tg
        .run(async { Ok::<_, std::io::Error>(tg.effective_deadline()) })
        .await
        .unwrap();
    assert_eq!(during, Some(start + Duration::from_secs(6)));

    let at = Instant::now() + Duration::from_secs(30);
    let fixed = TaskGroup::builder().deadline(at).build();
    assert_eq!(fixed.effective_deadline(), Some(at));
}

#[tokio::test(start_paused = true)]
async fn deadline_an_enclosing_deadline_ends_a_nested_scope_at_that_instant() {
    let start = Instant::now();
    let outcome = task_group!(timeout = Duration::from_millis(300); |tg| {
        tg.spawn(async move {
            // No deadline of its own: it ends when the enclosing one passes.
            let inner = task_group!(|inner| {
                inner.spawn(sleep(Duration::from_secs(60)));
            });
            Ok::<_, std::io::Error>((inner.is_err(), Instant::now() - start))
        })
    });
    let eg = outcome.unwrap_err();
    assert!(eg.contains::<TimedOut>(), "{eg:#}");
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn deadline_does_not_cross_a_shield() {
    let start = Instant::now();
    let tg = TaskGroup::builder()
        .timeout(Duration::from_secs(1))
        .policy(Policy::WaitAll)
        .build();
    let inside = tg
        .run(async {
            Ok::<_, std::io::Error>(tg.spawn_shielded(async {
                let nested = TaskGroup::new();
                Ok::<_, std::io::Error>(nested.effective_deadline())
            }))
        })
        .await
        .unwrap();
    // The enclosing group's cancellation does not reach a group made inside a shield.
    assert_eq!(inside.result().unwrap(), None);
    let _ = start;
}
