//! The live tree: `TaskGroup::snapshot()` and `taskgroup::snapshot()` show every running group,
//! nested where it was created (in a body or inside a child), with its state, limit, deadline
//! and the children waiting on a wake-up.

use std::time::Duration;

use taskgroup::{GroupState, Policy, TaskGroup, snapshot, task_group};
use tokio::time::sleep;

#[tokio::test(start_paused = true)]
async fn tree_shows_nesting_three_deep_and_a_group_made_inside_a_child() {
    let outer = TaskGroup::builder()
        .name("outer")
        .timeout(Duration::from_secs(10))
        .build();
    let text = outer
        .run(async {
            outer.spawn_named("holder", async {
                // Made inside a child: nested in `outer`.
                task_group!(name = "middle", limit = 2; |middle| {
                    middle.spawn_named("runner", async {
                        task_group!(name = "inner"; |inner| {
                            inner.spawn_named("deep", std::future::pending::<()>());
                        })
                    });
                    middle.spawn(std::future::pending::<()>());
                    middle.spawn(std::future::pending::<()>()); // queued behind the limit
                })
            });
            sleep(Duration::from_secs(1)).await;
            let text = outer.snapshot().to_string();
            outer.cancel();
            Ok::<_, std::io::Error>(text)
        })
        .await
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "TaskGroup `outer` (fail_fast, running, 2 live, deadline in 9.0s)",
        "{text}"
    );
    assert!(lines[1].starts_with("  task `holder` ("), "{text}");
    // Ages are kept when the group watches for stalls (`stall = d`), not here.
    assert!(lines[1].ends_with(") waiting"), "{text}");
    assert_eq!(
        lines[2],
        "  TaskGroup `middle` (fail_fast, waiting at exit, 4 live, limit 2: 2 running, 1 queued)",
        "{text}"
    );
    assert!(text.contains("\n    task `runner` ("), "{text}");
    assert!(
        text.contains("\n    TaskGroup `inner` (fail_fast, waiting at exit, 1 live)\n"),
        "{text}"
    );
    assert!(text.contains("\n      task `deep` ("), "{text}");
}

#[tokio::test(start_paused = true)]
async fn tree_says_a_failing_group_is_cancelling_its_children() {
    let tg = TaskGroup::builder()
        .name("failing")
        .grace(Duration::from_secs(5))
        .build();
    let mut seen = None;
    let _ = tg
        .run(async {
            let token = tg.token();
            tg.spawn_named("cleaner", async move {
                token.cancelled().await;
                sleep(Duration::from_secs(2)).await;
            });
            tg.spawn(async { Err::<(), _>(std::io::Error::other("boom")) });
            sleep(Duration::from_secs(1)).await;
            seen = Some(tg.snapshot());
            Ok::<_, std::io::Error>(())
        })
        .await;
    let snapshot = seen.unwrap();
    let group = &snapshot.groups[0];
    assert_eq!(group.state, GroupState::Failing);
    assert_eq!(group.waiting.len(), 1);
    assert!(group.waiting[0].asked_to_cancel);
    assert!(snapshot.to_string().contains("task `cleaner`"));
    assert!(snapshot.to_string().contains(", cancelling\n"));
}

#[tokio::test(start_paused = true)]
async fn tree_of_the_process_holds_each_running_group_and_forgets_finished_ones() {
    let tg = TaskGroup::builder()
        .name("tree-process-wide")
        .policy(Policy::WaitAll)
        .build();
    let during = tg
        .run(async {
            tg.spawn(sleep(Duration::from_millis(5)));
            tokio::task::yield_now().await;
            Ok::<_, std::io::Error>(snapshot().to_string())
        })
        .await
        .unwrap();
    assert!(
        during.contains("TaskGroup `tree-process-wide` (wait_all, running, 1 live)"),
        "{during}"
    );
    // Once the scope returned, the group is gone from the tree.
    assert!(!snapshot().to_string().contains("tree-process-wide"));
}
