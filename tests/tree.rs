//! The live tree: `TaskGroup::snapshot()` and `taskgroup::snapshot()` show every running group,
//! nested where it was created (in a body or inside a child), with its state, limit, deadline
//! and its children that wait: on a wake-up, behind the limit, `start()` children not ready
//! yet, and how many local children wait.

use std::time::Duration;

use taskgroup::{
    ChildSnapshotKind, ChildSnapshotState, GroupState, Policy, Snapshot, TaskGroup, snapshot,
    task_group,
};
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

#[tokio::test(start_paused = true)]
async fn tree_lists_the_children_queued_behind_the_limit_in_order_with_their_age() {
    // A group that watches for stalls times its line too.
    let tg = TaskGroup::builder()
        .name("pool")
        .limit(1)
        .stall(Duration::from_secs(60))
        .build();
    let mut seen: Option<Snapshot> = None;
    tg.run(async {
        tg.spawn_named("busy", std::future::pending::<()>());
        let first = tg.spawn_named("first", async {});
        sleep(Duration::from_millis(500)).await;
        tg.spawn_local(async {});
        let shield = tg.spawn_shielded(async {});
        sleep(Duration::from_millis(500)).await;
        first.cancel_with("not needed");
        seen = Some(tg.snapshot());
        tg.cancel();
        drop(shield);
        Ok::<_, std::io::Error>(())
    })
    .await
    .unwrap();
    let snapshot = seen.unwrap();
    let group = &snapshot.groups[0];
    assert_eq!(group.limit, Some((1, 1, 3)));
    let line: Vec<_> = group
        .waiting
        .iter()
        .filter(|child| child.state == ChildSnapshotState::Queued)
        .collect();
    assert_eq!(line.len(), 3, "{snapshot:?}");
    let places: Vec<_> = line.iter().map(|child| child.place_in_line).collect();
    assert_eq!(places, [Some(1), Some(2), Some(3)]);
    let kinds: Vec<_> = line.iter().map(|child| child.kind).collect();
    assert_eq!(
        kinds,
        [
            ChildSnapshotKind::Spawned,
            ChildSnapshotKind::Local,
            ChildSnapshotKind::Spawned
        ]
    );
    assert_eq!(line[0].name.as_deref(), Some("first"));
    assert_eq!(line[0].waiting_for, Some(Duration::from_secs(1)));
    assert_eq!(line[1].waiting_for, Some(Duration::from_millis(500)));
    assert!(line.iter().all(|child| child.id.is_none()));
    // Only the one its handle cancelled is being cancelled: the group runs.
    let cancelling: Vec<_> = line.iter().map(|child| child.asked_to_cancel).collect();
    assert_eq!(cancelling, [true, false, false]);
    let text = snapshot.to_string();
    assert!(
        text.contains("\n  task `first` queued 1.0s, #1 in line, cancelling\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  local task queued 500.0ms, #2 in line\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  task queued 500.0ms, #3 in line\n"),
        "{text}"
    );
    assert!(format!("{snapshot:?}").contains("kind: Local"));
}

#[tokio::test(start_paused = true)]
async fn tree_counts_the_local_children_that_wait() {
    // Declared before the group: its local children borrow it.
    let gate = tokio::sync::Notify::new();
    let tg = TaskGroup::builder().name("locals").build();
    let mut seen = Vec::new();
    tg.run(async {
        for _ in 0..3 {
            tg.spawn_local(gate.notified());
        }
        tg.spawn_local(async {}); // ends at its first poll: never counted
        tokio::task::yield_now().await;
        seen.push(tg.snapshot());
        gate.notify_waiters();
        tokio::task::yield_now().await;
        seen.push(tg.snapshot());
        Ok::<_, std::io::Error>(())
    })
    .await
    .unwrap();
    let group = &seen[0].groups[0];
    assert_eq!(group.local_waiting, 3, "{:?}", seen[0]);
    // Local children are the scope's, not the runtime's: no unit of `live`, no entry.
    assert_eq!(group.live, 0);
    assert!(group.waiting.is_empty());
    assert_eq!(
        seen[0].to_string(),
        "TaskGroup `locals` (fail_fast, running, 0 live)\n  3 local tasks waiting\n"
    );
    assert_eq!(seen[1].groups[0].local_waiting, 0, "{:?}", seen[1]);
    assert_eq!(
        seen[1].to_string(),
        "TaskGroup `locals` (fail_fast, running, 0 live)\n"
    );
}

#[tokio::test(start_paused = true)]
async fn tree_shows_start_children_not_ready_yet_then_as_spawned() {
    let tg = TaskGroup::builder().name("server").build();
    let mut seen = Vec::new();
    tg.run(async {
        let (port, ()) = tokio::join!(
            tg.start(|ready| async move {
                sleep(Duration::from_secs(2)).await; // binding, slowly
                ready.started(8080_u16);
                std::future::pending::<()>().await;
            }),
            async {
                sleep(Duration::from_millis(1500)).await;
                seen.push(tg.snapshot());
            }
        );
        assert_eq!(port.unwrap(), 8080);
        tokio::task::yield_now().await;
        seen.push(tg.snapshot());
        tg.cancel();
        Ok::<_, std::io::Error>(())
    })
    .await
    .unwrap();
    let starting = &seen[0].groups[0].waiting;
    assert_eq!(starting.len(), 1, "{:?}", seen[0]);
    assert_eq!(starting[0].kind, ChildSnapshotKind::Start);
    assert_eq!(starting[0].state, ChildSnapshotState::Starting);
    assert!(starting[0].id.is_some());
    // Timed from `start`, in every group.
    assert_eq!(starting[0].waiting_for, Some(Duration::from_millis(1500)));
    let text = seen[0].to_string();
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.starts_with("  start() task (") && line.ends_with(") starting 1.5s"),
        "{text}"
    );
    // Ready: an ordinary spawned child, waiting.
    let ready = &seen[1].groups[0].waiting;
    assert_eq!(ready.len(), 1, "{:?}", seen[1]);
    assert_eq!(ready[0].kind, ChildSnapshotKind::Spawned);
    assert_eq!(ready[0].state, ChildSnapshotState::Waiting);
    assert_eq!(ready[0].id, starting[0].id);
}

#[tokio::test(start_paused = true)]
async fn tree_shows_a_start_child_queued_behind_the_limit_once() {
    let tg = TaskGroup::builder().name("bounded").limit(1).build();
    let mut seen = None;
    let _ = tg
        .run(async {
            tg.spawn_named("busy", std::future::pending::<()>());
            let _ = tokio::join!(tg.start(|ready| async move { ready.started(()) }), async {
                tokio::task::yield_now().await;
                seen = Some(tg.snapshot());
                tg.cancel();
            });
            Ok::<_, std::io::Error>(())
        })
        .await;
    let snapshot = seen.unwrap();
    let waiting = &snapshot.groups[0].waiting;
    assert_eq!(waiting.len(), 2, "{snapshot:?}");
    assert_eq!(waiting[0].name.as_deref(), Some("busy"));
    assert_eq!(waiting[1].kind, ChildSnapshotKind::Start);
    assert_eq!(waiting[1].state, ChildSnapshotState::Queued);
    assert_eq!(waiting[1].place_in_line, Some(1));
    assert!(
        snapshot
            .to_string()
            .ends_with("\n  start() task queued, #1 in line\n"),
        "{snapshot}"
    );
}
