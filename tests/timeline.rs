//! When each error happened: every leaf a group records carries its time from the start of
//! the scope, and `eg.timeline()` (or `{:+#}`) prints it before each leaf; `{:#}` stays
//! CPython's.

use std::time::Duration;

use taskgroup::{ErrorGroup, Leaf, Policy, TaskGroup, task_group};
use tokio::time::sleep;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ValueError(&'static str);

async fn fail_after(ms: u64, message: &'static str) -> Result<(), ValueError> {
    sleep(Duration::from_millis(ms)).await;
    Err(ValueError(message))
}

fn times(eg: &ErrorGroup) -> Vec<(String, Option<Duration>)> {
    eg.leaves()
        .map(|leaf| (leaf.to_string(), leaf.recorded_at()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn timeline_records_when_each_child_failed() {
    let eg = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(40, "second"));
        tg.spawn(fail_after(15, "first"));
    })
    .unwrap_err();
    assert_eq!(
        times(&eg),
        [
            ("first".to_owned(), Some(Duration::from_millis(15))),
            ("second".to_owned(), Some(Duration::from_millis(40))),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn timeline_prints_times_only_when_asked() {
    let eg = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(12, "late"));
        tg.spawn(fail_after(3, "early"));
    })
    .unwrap_err();
    let plain = format!("{eg:#}");
    assert!(plain.contains("| ValueError: early\n"), "{plain}");
    assert!(!plain.contains("ms]"), "{plain}");

    let timeline = eg.timeline().to_string();
    assert!(
        timeline.contains("| [+3.0 ms] ValueError: early\n"),
        "{timeline}"
    );
    assert!(
        timeline.contains("| [+12 ms] ValueError: late\n"),
        "{timeline}"
    );
    assert_eq!(format!("{eg:+#}"), timeline);
}

#[tokio::test(start_paused = true)]
async fn timeline_counts_from_the_start_of_the_scope_not_of_the_program() {
    sleep(Duration::from_secs(5)).await;
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            sleep(Duration::from_millis(7)).await;
            Err::<(), _>(ValueError("body"))
        })
        .await
        .unwrap_err();
    assert_eq!(
        times(&eg),
        [("body".to_owned(), Some(Duration::from_millis(7)))]
    );
}

#[tokio::test(start_paused = true)]
async fn timeline_keeps_an_inner_scope_times_and_stamps_the_timeout() {
    let eg = task_group!(policy = wait_all, timeout = Duration::from_millis(50); |tg| {
        tg.spawn(async {
            sleep(Duration::from_millis(20)).await;
            task_group!(|inner| {
                inner.spawn(fail_after(5, "inner"));
            })
        });
        tg.spawn(sleep(Duration::from_secs(60)));
    })
    .unwrap_err();
    // The nested group's leaf keeps its own scope's time (5 ms), the deadline is the outer's.
    let got = times(&eg);
    assert_eq!(got[0], ("inner".to_owned(), Some(Duration::from_millis(5))));
    assert_eq!(got[1].1, Some(Duration::from_millis(50)));
    assert!(got[1].0.contains("timed out"), "{got:?}");
}

#[test]
fn timeline_of_a_group_built_by_hand_has_no_times() {
    let eg = ErrorGroup::new("by hand", vec![Leaf::new(ValueError("x")).into()]).unwrap();
    assert_eq!(eg.leaves().next().unwrap().recorded_at(), None);
    assert!(eg.timeline().to_string().contains("| [+?] ValueError: x\n"));
}

#[tokio::test(start_paused = true)]
async fn timeline_under_fail_fast_shows_the_failure_that_cancelled_the_rest() {
    let tg = TaskGroup::builder().policy(Policy::FailFast).build();
    let eg = tg
        .run(async {
            tg.spawn(fail_after(9, "trigger"));
            tg.spawn(sleep(Duration::from_secs(60)));
            Ok::<_, ValueError>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        times(&eg),
        [("trigger".to_owned(), Some(Duration::from_millis(9)))]
    );
}
