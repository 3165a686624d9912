//! The stall watch (`stall = d`, `Builder::stall`): a child that waits and has not been polled
//! for `d` is reported once, in the snapshot (and as a `tracing` warning); it is not cancelled.

use std::time::Duration;

use taskgroup::{Policy, TaskGroup, task_group};
use tokio::sync::Notify;
use tokio::time::sleep;

#[tokio::test(start_paused = true)]
async fn stall_a_child_never_woken_is_reported_once_and_keeps_running() {
    let release = std::sync::Arc::new(Notify::new());
    let tg = TaskGroup::builder()
        .name("watched")
        .stall(Duration::from_secs(1))
        .build();
    let wait = std::sync::Arc::clone(&release);
    let (early, late, after_release) = tg
        .run(async {
            let stuck = tg.spawn_named("stuck", async move {
                wait.notified().await;
                Ok::<_, std::io::Error>("released")
            });
            // A busy child, polled every 100 ms: never idle for a second.
            tg.spawn_named("busy", async {
                for _ in 0..30 {
                    sleep(Duration::from_millis(100)).await;
                }
            });
            sleep(Duration::from_millis(900)).await;
            let early = tg.snapshot();
            sleep(Duration::from_millis(700)).await;
            let late = tg.snapshot();
            release.notify_one();
            let after_release = stuck.await;
            Ok::<_, std::io::Error>((early, late, after_release))
        })
        .await
        .unwrap();
    let stalled = |snapshot: &taskgroup::Snapshot| -> Vec<String> {
        snapshot.groups[0]
            .waiting
            .iter()
            .filter(|child| child.stalled)
            .map(|child| child.name.as_deref().unwrap_or("").to_owned())
            .collect()
    };
    assert!(stalled(&early).is_empty(), "{early}");
    assert_eq!(stalled(&late), ["stuck"], "{late}");
    let text = late.to_string();
    assert!(text.contains("task `stuck`"), "{text}");
    assert!(text.contains(", stalled (idle 1.6s)"), "{text}");
    // Not cancelled: it finished once released.
    assert_eq!(after_release.unwrap(), "released");
}

#[tokio::test(start_paused = true)]
async fn stall_option_in_the_macro_and_no_report_without_it() {
    let watched = task_group!(stall = Duration::from_millis(200), policy = wait_all; |tg| {
        tg.spawn(std::future::pending::<()>());
        sleep(Duration::from_millis(500)).await;
        let snapshot = tg.snapshot();
        tg.cancel();
        snapshot
    })
    .unwrap();
    assert!(watched.groups[0].waiting[0].stalled);

    let unwatched = TaskGroup::builder().policy(Policy::WaitAll).build();
    let snapshot = unwatched
        .run(async {
            unwatched.spawn(std::future::pending::<()>());
            sleep(Duration::from_secs(60)).await;
            let snapshot = unwatched.snapshot();
            unwatched.cancel();
            Ok::<_, std::io::Error>(snapshot)
        })
        .await
        .unwrap();
    assert!(!snapshot.groups[0].waiting[0].stalled);
    assert!(!snapshot.to_string().contains("stalled"));
}
