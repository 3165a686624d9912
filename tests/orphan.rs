//! No orphaned task on any exit path (SPEC §2 R1, §7 reliability).
//!
//! One function per exit path, each run under both runtime flavours by `exit_paths!`:
//! current-thread with tokio's paused clock, and multi-thread with 2 workers. Nothing here
//! sleeps: children report that they started through a semaphore and are released together by
//! barriers, so the same code drives both flavours (the timeout and grace cases wait for their
//! 1 ms deadline: virtual on the paused clock, real on multi-thread). After every path:
//! - no task is alive (tokio's `num_alive_tasks` back to its baseline);
//! - every spawned future was dropped exactly once (`DropCounter`), and, when the scope returned
//!   or unwound, already at that moment (the scope reaps its children, and their nested
//!   groups' children, before it leaves);
//! - every failure raised is in the group, none lost and none duplicated (leaves are counted
//!   against what the case raised; under fail-fast, failures landing together may be cut
//!   short by the cancellation, so there at least one and only raised ones).
//!
//! The `race_` tests at the end run the fail-fast path 500 times on 2 workers with several
//! failures released by one barrier.

mod common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::*;
use taskgroup::{ErrorGroup, Member, Policy, SpawnError, TASK_GROUP_MESSAGE, TaskError, TaskGroup};
use tokio::sync::{Barrier, Semaphore};

type Body<T> = Result<T, Member>;

/// Children left running (until cancelled) beside the one that ends the scope.
const IDLE: usize = 8;

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// What one case shares with its children: the drop counter of every spawned future, and a
/// semaphore that each child adds a permit to once it has been polled.
#[derive(Clone)]
struct Probe {
    counter: DropCounter,
    started: Arc<Semaphore>,
}

impl Probe {
    fn new() -> Self {
        Probe {
            counter: DropCounter::default(),
            started: Arc::new(Semaphore::new(0)),
        }
    }

    /// Counts the future's drop.
    fn track<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> + use<F> {
        self.counter.track(fut)
    }

    /// A child that reports it started, then waits until it is cancelled.
    fn idle(&self) -> impl Future<Output = ()> + Send + 'static {
        let started = self.started.clone();
        self.track(async move {
            started.add_permits(1);
            std::future::pending::<()>().await;
        })
    }

    /// A child that fails with a `ValueError`.
    fn failing(&self, text: String) -> impl Future<Output = Res<()>> + Send + 'static {
        self.track(async move { Err(ValueError(text)) })
    }

    /// A child that panics.
    fn panicking(&self, text: String) -> impl Future<Output = Res<()>> + Send + 'static {
        self.track(async move { quiet_panic(&text) })
    }

    /// Waits until `n` children have started.
    async fn all_started(&self, n: usize) {
        let permits = u32::try_from(n).expect("few children");
        self.started.acquire_many(permits).await.unwrap().forget();
    }

    /// Every future spawned so far has been dropped, now.
    fn assert_reaped(&self, when: &str) {
        assert_eq!(
            self.counter.created(),
            self.counter.dropped(),
            "futures created vs dropped {when}"
        );
    }
}

/// Panic messages starting with this are not printed (the race tests panic hundreds of times).
const QUIET: &str = "quiet: ";

/// Panics with `QUIET` + `text`; other panics still print through the default hook.
fn quiet_panic(text: &str) -> Res<()> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            if !message.is_some_and(|m| m.starts_with(QUIET)) {
                default(info);
            }
        }));
    });
    panic!("{QUIET}{text}")
}

/// The text a leaf is counted by: `Type: message`.
fn leaf_text(leaf: &taskgroup::Leaf) -> String {
    format!("{}: {leaf}", leaf.type_name())
}

fn panic_text(text: &str) -> String {
    format!("TaskPanic: task panicked: {QUIET}{text}")
}

const BODY_CANCELLED: &str = "BodyCancelled: the task group was cancelled before its body finished";

/// Runs `fut` to its end, catching a panic as `Err(message)`.
async fn catch_panic<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = pin!(fut);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default())),
        },
    )
    .await
}

/// What the group must hold.
enum Expect {
    /// The scope returned its value.
    Value,
    /// Exactly these leaves, in any order.
    Exactly(Vec<String>),
    /// At least one of these, each at most once, nothing else.
    SomeOf(Vec<String>),
    /// The scope never returned (dropped or unwound); only the orphan checks apply.
    NoResult,
}

/// How a case ended.
struct Exit {
    result: Option<Result<(), ErrorGroup>>,
    expect: Expect,
    /// Every leaf sits this many groups below the scope's group.
    depth: usize,
}

impl Exit {
    fn new<T>(result: Result<T, ErrorGroup>, expect: Expect) -> Self {
        Exit {
            result: Some(result.map(drop)),
            expect,
            depth: 0,
        }
    }

    fn no_result() -> Self {
        Exit {
            result: None,
            expect: Expect::NoResult,
            depth: 0,
        }
    }

    fn at_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    fn verify(self) {
        let eg = match (self.result, &self.expect) {
            (Some(Ok(())), Expect::Value) | (None, Expect::NoResult) => return,
            (Some(Err(eg)), Expect::Exactly(_) | Expect::SomeOf(_)) => eg,
            (Some(Ok(())), _) => panic!("the scope succeeded, but it should have failed"),
            (Some(Err(eg)), _) => panic!("the scope failed, but it should not have: {eg:#}"),
            (None, _) => panic!("the case gave no result"),
        };
        assert_eq!(eg.message(), TASK_GROUP_MESSAGE);
        let mut got: Vec<String> = eg.leaves().map(leaf_text).collect();
        assert_leaf_depths(&eg, self.depth);
        got.sort();
        let unique = got.len();
        got.dedup();
        assert_eq!(got.len(), unique, "a failure was reported twice: {eg:#}");
        match self.expect {
            Expect::Exactly(mut want) => {
                want.sort();
                assert_eq!(got, want, "the group's leaves vs what was raised");
            }
            Expect::SomeOf(raised) => {
                assert!(!got.is_empty(), "no failure reported");
                for leaf in &got {
                    assert!(raised.contains(leaf), "{leaf} was never raised");
                }
            }
            Expect::Value | Expect::NoResult => unreachable!(),
        }
    }
}

/// Every leaf sits `depth` groups below `eg`, and no group is empty.
fn assert_leaf_depths(eg: &ErrorGroup, depth: usize) {
    for member in eg.iter() {
        match member {
            Member::Leaf(leaf) => assert_eq!(depth, 0, "{} is not nested deep enough", leaf),
            Member::Group(group) => {
                assert!(depth > 0, "unexpected nested group {group:#}");
                assert!(!group.is_empty());
                assert_eq!(group.message(), TASK_GROUP_MESSAGE);
                assert_leaf_depths(group, depth - 1);
            }
        }
    }
}

/// Runs one exit path and checks what every path must leave behind.
async fn check<F, Fut>(case: F)
where
    F: FnOnce(Probe) -> Fut,
    Fut: Future<Output = Exit>,
{
    let baseline = alive();
    let probe = Probe::new();
    // A hang becomes a failure: on the paused clock this fires as soon as everything waits.
    let exit = tokio::time::timeout(Duration::from_secs(60), case(probe.clone()))
        .await
        .expect("the scope hung");
    assert_no_tasks_beyond(baseline).await;
    assert!(
        probe.counter.created() > 0,
        "the case spawned no tracked child"
    );
    probe.counter.assert_all_dropped();
    exit.verify();
}

/// Each case as a test on both runtime flavours.
macro_rules! exit_paths {
    ($($name:ident => $case:expr;)+) => {
        mod current_thread {
            use super::*;
            $(
                #[tokio::test(start_paused = true)]
                async fn $name() {
                    check($case).await;
                }
            )+
        }
        mod multi_thread {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    check($case).await;
                }
            )+
        }
    };
}

exit_paths! {
    orphan_success => success;
    orphan_child_error => child_error;
    orphan_several_child_errors_fail_fast => several_child_errors;
    orphan_several_child_errors_wait_all => several_child_errors_wait_all;
    orphan_body_error => body_error;
    orphan_child_panic => child_panic;
    orphan_body_panic => body_panic;
    orphan_timeout => timeout;
    orphan_group_cancel_with_body_pending => cancel_with_body_pending;
    orphan_group_cancel_after_body_finished => cancel_after_body_finished;
    orphan_group_cancel_from_the_body => cancel_from_the_body;
    orphan_scope_future_dropped => scope_future_dropped;
    orphan_group_dropped_without_run => group_dropped_without_run;
    orphan_limit_queued_children_child_error => limit_queued_child_error;
    orphan_limit_queued_children_scope_dropped => limit_queued_scope_dropped;
    orphan_grace_period_child_error => grace_child_error;
    orphan_local_children_spawned_child_error => local_children_spawned_child_error;
    orphan_local_child_error => local_child_error;
    orphan_local_children_scope_dropped => local_children_scope_dropped;
    orphan_gather_child_error => gather_child_error;
    orphan_first_ok_success_cancels_the_rest => first_ok_success;
    orphan_first_ok_every_child_fails => first_ok_all_fail;
    orphan_nested_child_error_at_level_0 => |p| nested(p, 0, Failure::ChildError);
    orphan_nested_child_error_at_level_1 => |p| nested(p, 1, Failure::ChildError);
    orphan_nested_child_error_at_level_2 => |p| nested(p, 2, Failure::ChildError);
    orphan_nested_child_panic_at_level_0 => |p| nested(p, 0, Failure::ChildPanic);
    orphan_nested_child_panic_at_level_1 => |p| nested(p, 1, Failure::ChildPanic);
    orphan_nested_child_panic_at_level_2 => |p| nested(p, 2, Failure::ChildPanic);
    orphan_nested_body_error_at_level_0 => |p| nested(p, 0, Failure::BodyError);
    orphan_nested_body_error_at_level_1 => |p| nested(p, 1, Failure::BodyError);
    orphan_nested_body_error_at_level_2 => |p| nested(p, 2, Failure::BodyError);
}

// ---------------------------------------------------------------------------------------------
// The exit paths.

async fn success(p: Probe) -> Exit {
    // All children wait for each other, so all are pending together before any finishes.
    let barrier = Arc::new(Barrier::new(IDLE));
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            let tasks: Vec<_> = (0..IDLE)
                .map(|i| {
                    let barrier = barrier.clone();
                    tg.spawn(p.track(async move {
                        barrier.wait().await;
                        Res::Ok(i)
                    }))
                })
                .collect();
            Body::Ok(tasks)
        })
        .await;
    p.assert_reaped("when the scope returned");
    let values: Vec<usize> = result
        .expect("every child succeeded")
        .into_iter()
        .map(|t| t.result().unwrap())
        .collect();
    assert_eq!(values, (0..IDLE).collect::<Vec<_>>());
    Exit::new(Ok::<_, ErrorGroup>(()), Expect::Value)
}

async fn child_error(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            p.all_started(IDLE).await;
            tg.spawn(p.failing("child".into()));
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec!["ValueError: child".into()]))
}

/// Failures released together by one barrier; fail-fast may cancel some before they fail.
const FAILING: usize = 4;

async fn several_child_errors(p: Probe) -> Exit {
    let barrier = Arc::new(Barrier::new(FAILING));
    let raised: Vec<String> = (0..FAILING).map(|i| format!("failure {i}")).collect();
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            p.all_started(IDLE).await;
            for text in &raised {
                let barrier = barrier.clone();
                let fail = p.failing(text.clone());
                tg.spawn(p.track(async move {
                    barrier.wait().await;
                    fail.await
                }));
            }
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    let raised = raised.iter().map(|t| format!("ValueError: {t}")).collect();
    Exit::new(result, Expect::SomeOf(raised))
}

async fn several_child_errors_wait_all(p: Probe) -> Exit {
    // Failing and succeeding children all released at once; every failure must be kept.
    let barrier = Arc::new(Barrier::new(FAILING + IDLE));
    let raised: Vec<String> = (0..FAILING).map(|i| format!("failure {i}")).collect();
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let result = tg
        .run(async {
            for i in 0..FAILING + IDLE {
                let barrier = barrier.clone();
                let fail = raised.get(i).map(|t| p.failing(t.clone()));
                tg.spawn(p.track(async move {
                    barrier.wait().await;
                    match fail {
                        Some(fail) => fail.await,
                        None => Ok(()),
                    }
                }));
            }
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    let raised = raised.iter().map(|t| format!("ValueError: {t}")).collect();
    Exit::new(result, Expect::Exactly(raised))
}

async fn body_error(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            p.all_started(IDLE).await;
            Body::<()>::Err(value_error("body").into())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec!["ValueError: body".into()]))
}

async fn child_panic(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            p.all_started(IDLE).await;
            tg.spawn(p.panicking("child".into()));
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec![panic_text("child")]))
}

async fn body_panic(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let caught = catch_panic(tg.run(async {
        for _ in 0..IDLE {
            tg.spawn(p.idle());
        }
        p.all_started(IDLE).await;
        quiet_panic("body")?;
        Body::Ok(())
    }))
    .await;
    // The panic propagates only after every child was cancelled and reaped.
    p.assert_reaped("when the body's panic came out of the scope");
    assert_eq!(caught.unwrap_err(), format!("{QUIET}body"));
    Exit::no_result()
}

async fn timeout(p: Probe) -> Exit {
    // On the paused clock the millisecond passes at once; on the multi-thread runtime it is
    // the one real wait of this file: the deadline under test, not a sleep.
    let tg = TaskGroup::builder()
        .timeout(Duration::from_millis(1))
        .build();
    for _ in 0..IDLE {
        tg.spawn(p.idle());
    }
    p.all_started(IDLE).await;
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    let timed_out = "TimedOut: the task group timed out after 1ms".to_owned();
    Exit::new(result, Expect::Exactly(vec![timed_out]))
}

async fn cancel_with_body_pending(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            let started = p.clone();
            tg.spawn(p.track(async move {
                started.all_started(IDLE).await;
                spawner.cancel();
            }));
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec![BODY_CANCELLED.into()]))
}

async fn cancel_after_body_finished(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            let started = p.clone();
            tg.spawn(p.track(async move {
                started.all_started(IDLE).await;
                spawner.cancel();
            }));
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Value)
}

async fn cancel_from_the_body(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            p.all_started(IDLE).await;
            tg.cancel();
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec![BODY_CANCELLED.into()]))
}

async fn scope_future_dropped(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let scope = tg.run(async {
        for _ in 0..IDLE {
            tg.spawn(p.idle());
        }
        std::future::pending::<()>().await;
        Body::Ok(())
    });
    // `select!` drops the scope's future once every child runs, as a timeout or a losing
    // branch would. Its children are cancelled; they are reaped by the runtime afterwards.
    tokio::select! {
        biased;
        _ = scope => panic!("the scope cannot finish"),
        () = p.all_started(IDLE) => {}
    }
    let (why, _) = tg
        .try_spawn(async {})
        .expect_err("a dropped scope refuses spawns");
    assert_eq!(why, SpawnError::Cancelled);
    Exit::no_result()
}

async fn group_dropped_without_run(p: Probe) -> Exit {
    {
        let tg = TaskGroup::new();
        for _ in 0..IDLE {
            tg.spawn(p.idle());
        }
        p.all_started(IDLE).await;
    }
    Exit::no_result()
}

/// Children beyond the limit wait unpolled in a queue; a failure must drop them, unstarted.
const LIMIT: usize = 3;

async fn limit_queued_child_error(p: Probe) -> Exit {
    let tg = TaskGroup::builder().limit(LIMIT).build();
    let release = Arc::new(Semaphore::new(0));
    let queued = std::sync::Mutex::new(Vec::new());
    let result = tg
        .run(async {
            for _ in 0..LIMIT - 1 {
                tg.spawn(p.idle());
            }
            let gate = release.clone();
            let fail = p.failing("child".into());
            tg.spawn(p.track(async move {
                let _ = gate.acquire().await;
                fail.await
            }));
            // Over the limit: queued, never started.
            for _ in 0..IDLE {
                queued.lock().unwrap().push(tg.spawn(p.idle()));
            }
            p.all_started(LIMIT - 1).await;
            release.add_permits(1);
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    assert_eq!(p.started.available_permits(), 0, "a queued child started");
    for task in queued.into_inner().unwrap() {
        assert_eq!(task.result().unwrap_err(), TaskError::Cancelled);
    }
    Exit::new(result, Expect::Exactly(vec!["ValueError: child".into()]))
}

async fn limit_queued_scope_dropped(p: Probe) -> Exit {
    let tg = TaskGroup::builder().limit(LIMIT).build();
    let scope = tg.run(async {
        for _ in 0..LIMIT + IDLE {
            tg.spawn(p.idle());
        }
        std::future::pending::<()>().await;
        Body::Ok(())
    });
    tokio::select! {
        biased;
        _ = scope => panic!("the scope cannot finish"),
        () = p.all_started(LIMIT) => {}
    }
    Exit::no_result()
}

async fn grace_child_error(p: Probe) -> Exit {
    // Children that watch the token finish their cleanup; those that do not are aborted when
    // the grace ends (a millisecond: virtual on the paused clock, real on multi-thread).
    let tg = TaskGroup::builder().grace(Duration::from_millis(1)).build();
    let cleaned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
                let token = tg.token();
                let started = p.started.clone();
                let cleaned = cleaned.clone();
                tg.spawn(p.track(async move {
                    started.add_permits(1);
                    token.cancelled().await;
                    tokio::task::yield_now().await;
                    cleaned.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }));
            }
            p.all_started(2 * IDLE).await;
            tg.spawn(p.failing("child".into()));
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    assert_eq!(cleaned.load(std::sync::atomic::Ordering::SeqCst), IDLE);
    Exit::new(result, Expect::Exactly(vec!["ValueError: child".into()]))
}

async fn local_children_spawned_child_error(p: Probe) -> Exit {
    // Local children borrow from the caller and run on the scope's own task.
    let borrowed = vec![1u8; 16];
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                let started = p.started.clone();
                let borrowed = &borrowed;
                tg.spawn_local(p.track(async move {
                    started.add_permits(usize::from(borrowed[0]));
                    std::future::pending::<()>().await;
                }));
                tg.spawn(p.idle());
            }
            p.all_started(2 * IDLE).await;
            tg.spawn(p.failing("child".into()));
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec!["ValueError: child".into()]))
}

async fn local_child_error(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
                tg.spawn_local(p.idle());
            }
            p.all_started(2 * IDLE).await;
            tg.spawn_local(p.failing("local".into()));
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Exactly(vec!["ValueError: local".into()]))
}

async fn local_children_scope_dropped(p: Probe) -> Exit {
    let tg = TaskGroup::new();
    let scope = tg.run(async {
        for _ in 0..IDLE {
            tg.spawn(p.idle());
            tg.spawn_local(p.idle());
        }
        std::future::pending::<()>().await;
        Body::Ok(())
    });
    tokio::select! {
        biased;
        _ = scope => panic!("the scope cannot finish"),
        () = p.all_started(2 * IDLE) => {}
    }
    Exit::no_result()
}

async fn gather_child_error(p: Probe) -> Exit {
    let barrier = Arc::new(Barrier::new(IDLE + 1));
    let children = (0..=IDLE).map(|i| {
        let barrier = barrier.clone();
        let fail = (i == IDLE).then(|| p.failing("gathered".into()));
        let idle = p.idle();
        Box::pin(p.track(async move {
            barrier.wait().await;
            match fail {
                Some(fail) => fail.await,
                None => {
                    idle.await;
                    Ok(())
                }
            }
        })) as Pin<Box<dyn Future<Output = Res<()>> + Send>>
    });
    let result = taskgroup::gather(children).await;
    p.assert_reaped("when gather returned");
    Exit::new(result, Expect::Exactly(vec!["ValueError: gathered".into()]))
}

async fn first_ok_success(p: Probe) -> Exit {
    // Failures first, then a success: the success cancels the rest and the failures are
    // dropped from the result.
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            let failed: Vec<_> = (0..FAILING)
                .map(|i| tg.spawn(p.failing(format!("failure {i}"))))
                .collect();
            for task in failed {
                assert!(matches!(task.await, Err(TaskError::Failed { .. })));
            }
            p.all_started(IDLE).await;
            tg.spawn(p.track(async { Res::Ok(7) }));
            // The first success cancels the other children, not the body: it returns.
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    Exit::new(result, Expect::Value)
}

async fn first_ok_all_fail(p: Probe) -> Exit {
    let barrier = Arc::new(Barrier::new(FAILING));
    let raised: Vec<String> = (0..FAILING).map(|i| format!("failure {i}")).collect();
    let tg = TaskGroup::builder().policy(Policy::FirstOk).build();
    let result = tg
        .run(async {
            for text in &raised {
                let barrier = barrier.clone();
                let fail = p.failing(text.clone());
                tg.spawn(p.track(async move {
                    barrier.wait().await;
                    fail.await
                }));
            }
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    let raised = raised.iter().map(|t| format!("ValueError: {t}")).collect();
    Exit::new(result, Expect::Exactly(raised))
}

// ---------------------------------------------------------------------------------------------
// Nested scopes: a child of each scope runs the next one, three levels, and one level fails.

const LEVELS: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Failure {
    ChildError,
    ChildPanic,
    BodyError,
    /// Nothing fails; every scope waits until it is cancelled or dropped.
    Never,
}

type Scope = Pin<Box<dyn Future<Output = Result<(), ErrorGroup>> + Send>>;

/// The scope at `level`: `IDLE` idle children, a child running the next level, and, at
/// `fail_at`, once every idle child of every level runs, the failure.
fn level(p: Probe, level_no: usize, fail_at: usize, failure: Failure) -> Scope {
    Box::pin(async move {
        let tg = TaskGroup::new();
        tg.run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            if level_no + 1 < LEVELS {
                tg.spawn(p.track(level(p.clone(), level_no + 1, fail_at, failure)));
            }
            if level_no == fail_at {
                p.all_started(IDLE * LEVELS).await;
                let text = format!("level {level_no}");
                match failure {
                    Failure::ChildError => drop(tg.spawn(p.failing(text))),
                    Failure::ChildPanic => drop(tg.spawn(p.panicking(text))),
                    Failure::BodyError => return Body::Err(ValueError(text).into()),
                    Failure::Never => {}
                }
            }
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await
    })
}

async fn nested(p: Probe, fail_at: usize, failure: Failure) -> Exit {
    let result = level(p.clone(), 0, fail_at, failure).await;
    // The levels below the failing one are cancelled by dropping their scopes' futures; each
    // of those groups holds its enclosing group open until its own children are gone, so
    // everything is reaped when the outermost scope returns.
    p.assert_reaped("when the outer scope returned");
    let text = format!("level {fail_at}");
    let leaf = match failure {
        Failure::ChildPanic => panic_text(&text),
        _ => format!("ValueError: {text}"),
    };
    Exit::new(result, Expect::Exactly(vec![leaf])).at_depth(fail_at)
}

// ---------------------------------------------------------------------------------------------
// The runtime shut down with scopes pending: every child future dropped once, no task alive.

fn shutdown_with_scopes_pending(rt: tokio::runtime::Runtime, fail_as_it_shuts_down: bool) {
    let p = Probe::new();
    let handle = rt.handle().clone();
    let release = Arc::new(Semaphore::new(0));
    let outer = {
        let p = p.clone();
        let release = release.clone();
        async move {
            let tg = TaskGroup::new();
            tg.run(async {
                tg.spawn(p.track(level(p.clone(), 0, usize::MAX, Failure::Never)));
                tg.spawn(p.track(async move {
                    let _ = release.acquire().await;
                    Res::<()>::Err(value_error("as the runtime shuts down"))
                }));
                std::future::pending::<()>().await;
                Body::Ok(())
            })
            .await
        }
    };
    rt.spawn(outer);
    rt.block_on(p.all_started(IDLE * LEVELS));
    if fail_as_it_shuts_down {
        release.add_permits(1);
    }
    drop(rt);
    assert_eq!(
        handle.metrics().num_alive_tasks(),
        0,
        "tasks alive after shutdown"
    );
    assert!(p.counter.created() > IDLE * LEVELS);
    p.counter.assert_all_dropped();
}

/// The runtime shut down with a long queue behind a limit: each queued child is dropped as it
/// is handed to the closed runtime, which frees the next slot; that must not recurse.
#[test]
fn orphan_runtime_shut_down_with_a_long_queue() {
    const GROUPS: usize = 16;
    const QUEUED: usize = 5_000;
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            // Several groups on a multi-thread runtime: tokio shuts tasks down shard by
            // shard, so some group's running child goes before its scope (which would drop the
            // queue at once).
            let rt = multi_thread_runtime();
            let handle = rt.handle().clone();
            let counter = DropCounter::default();
            for _ in 0..GROUPS {
                let queued = counter.clone();
                rt.spawn(async move {
                    let tg = TaskGroup::builder().limit(1).build();
                    tg.run(async {
                        for _ in 0..QUEUED {
                            tg.spawn(queued.track(std::future::pending::<()>()));
                        }
                        std::future::pending::<()>().await;
                        Body::Ok(())
                    })
                    .await
                });
            }
            rt.block_on(async {
                while counter.created() < GROUPS * QUEUED {
                    tokio::task::yield_now().await;
                }
            });
            drop(rt);
            assert_eq!(handle.metrics().num_alive_tasks(), 0);
            counter.assert_all_dropped();
        })
        .expect("a thread")
        .join()
        .expect("no stack overflow, every child dropped");
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

mod current_thread_shutdown {
    use super::*;

    #[test]
    fn orphan_runtime_shut_down_with_scopes_pending() {
        shutdown_with_scopes_pending(current_thread_runtime(), false);
    }

    #[test]
    fn orphan_runtime_shut_down_as_a_child_fails() {
        shutdown_with_scopes_pending(current_thread_runtime(), true);
    }
}

mod multi_thread_shutdown {
    use super::*;

    #[test]
    fn orphan_runtime_shut_down_with_scopes_pending() {
        shutdown_with_scopes_pending(multi_thread_runtime(), false);
    }

    #[test]
    fn orphan_runtime_shut_down_as_a_child_fails() {
        shutdown_with_scopes_pending(multi_thread_runtime(), true);
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellation races: several failures released at the same moment, 500 times, on 2 workers.

const RACES: usize = 500;

#[derive(Clone, Copy, Debug)]
enum Racer {
    /// Every released child fails with an error.
    Errors,
    /// Every released child panics.
    Panics,
    /// Half fail, half panic.
    Mixed,
    /// The children fail and the body raises at the same moment.
    WithBody,
    /// One released child cancels the group instead of failing.
    WithCancel,
}

/// One fail-fast race; returns how many failures the group kept.
async fn race_once(iteration: usize, racer: Racer) -> usize {
    let p = Probe::new();
    let baseline = alive();
    let body_joins = matches!(racer, Racer::WithBody);
    let barrier = Arc::new(Barrier::new(FAILING + usize::from(body_joins)));
    let mut raised = Vec::new();
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let result = tg
        .run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            for i in 0..FAILING {
                let text = format!("race {iteration}.{i}");
                let panics = match racer {
                    Racer::Panics => true,
                    Racer::Mixed => i % 2 == 1,
                    _ => false,
                };
                let child: Pin<Box<dyn Future<Output = Res<()>> + Send>> =
                    if matches!(racer, Racer::WithCancel) && i == 0 {
                        let spawner = spawner.clone();
                        Box::pin(async move {
                            spawner.cancel();
                            Ok(())
                        })
                    } else if panics {
                        raised.push(panic_text(&text));
                        Box::pin(p.panicking(text))
                    } else {
                        raised.push(format!("ValueError: {text}"));
                        Box::pin(p.failing(text))
                    };
                let barrier = barrier.clone();
                tg.spawn(p.track(async move {
                    barrier.wait().await;
                    child.await
                }));
            }
            p.all_started(IDLE).await;
            if body_joins {
                barrier.wait().await;
                return Body::Err(value_error(&format!("body {iteration}")).into());
            }
            std::future::pending::<()>().await;
            Body::Ok(())
        })
        .await;
    p.assert_reaped("when the scope returned");
    let eg = result.expect_err("the race always fails or cancels");
    let got: Vec<String> = eg.leaves().map(leaf_text).collect();
    let body = format!("ValueError: body {iteration}");
    if let Some(at) = got.iter().position(|l| *l == body) {
        assert_eq!(at, got.len() - 1, "the body's error comes last: {got:?}");
    }
    if got.iter().any(|l| l == BODY_CANCELLED) {
        // Cancelled with no failure at all: that leaf alone says why there is no value.
        assert!(matches!(racer, Racer::WithCancel));
        assert_eq!(got.len(), 1, "{got:?}");
    }
    raised.push(body);
    raised.push(BODY_CANCELLED.into());
    Exit::new(Err::<(), _>(eg), Expect::SomeOf(raised)).verify();
    assert_no_tasks_beyond(baseline).await;
    p.counter.assert_all_dropped();
    got.len()
}

/// Runs `RACES` races, half with the scope on the test thread, half inside a worker task.
async fn race(racer: Racer) -> usize {
    let mut most = 0;
    for iteration in 0..RACES {
        let kept = if iteration % 2 == 0 {
            race_once(iteration, racer).await
        } else {
            tokio::spawn(race_once(iteration, racer)).await.unwrap()
        };
        most = most.max(kept);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_errors_landing_together() {
    let most = race(Racer::Errors).await;
    assert!((1..=FAILING).contains(&most));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_panics_landing_together() {
    race(Racer::Panics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_errors_and_panics_landing_together() {
    race(Racer::Mixed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_children_and_body_failing_together() {
    race(Racer::WithBody).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_failures_against_group_cancel() {
    race(Racer::WithCancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_scope_dropped_as_failures_land() {
    // The scope's future is dropped from outside at the moment its children fail.
    for iteration in 0..RACES {
        let p = Probe::new();
        let baseline = alive();
        let barrier = Arc::new(Barrier::new(FAILING + 1));
        let tg = TaskGroup::new();
        let scope = tg.run(async {
            for _ in 0..IDLE {
                tg.spawn(p.idle());
            }
            for i in 0..FAILING {
                let barrier = barrier.clone();
                let fail = p.failing(format!("race {iteration}.{i}"));
                tg.spawn(p.track(async move {
                    barrier.wait().await;
                    fail.await
                }));
            }
            std::future::pending::<()>().await;
            Body::Ok(())
        });
        let dropper = async {
            p.all_started(IDLE).await;
            barrier.wait().await;
        };
        tokio::select! {
            result = scope => {
                // The failures won: the group holds some of them.
                let eg = result.unwrap_err();
                assert!((1..=FAILING).contains(&eg.len()));
            }
            () = dropper => {}
        }
        assert_no_tasks_beyond(baseline).await;
        p.counter.assert_all_dropped();
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions found by the matrix above.

#[derive(Debug, thiserror::Error)]
#[error("outer fails")]
struct OuterFails;

/// A cancelled child's own scope cannot wait for its children, so the group it was created in
/// holds the outer scope open until they are gone (R1 across nesting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_grandchild_never_outlives_the_outer_scope() {
    use std::sync::atomic::AtomicBool;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let outer = TaskGroup::new();
    let result = outer
        .run(async {
            outer.spawn(async move {
                let inner = TaskGroup::new();
                inner
                    .run(async {
                        inner.spawn(async move {
                            started_tx.send(()).unwrap();
                            // CPU-bound work inside one poll: cancellation cannot interrupt it.
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        });
                        std::future::pending::<()>().await;
                        Ok::<(), Member>(())
                    })
                    .await
            });
            started_rx.await.unwrap();
            Err::<(), Member>(OuterFails.into())
        })
        .await;
    assert!(result.is_err());
    assert!(
        finished.load(std::sync::atomic::Ordering::SeqCst),
        "the outer scope returned while its grandchild was still running"
    );
}

/// With a limit and a grace period, children still queued when the group stops never start.
#[tokio::test(start_paused = true)]
async fn orphan_queued_child_never_starts_after_a_failure_with_grace() {
    use std::sync::atomic::AtomicBool;
    let queued_ran = Arc::new(AtomicBool::new(false));
    let flag = queued_ran.clone();
    let tg = TaskGroup::builder()
        .limit(1)
        .grace(std::time::Duration::from_secs(10))
        .build();
    let result = tg
        .run(async {
            tg.spawn(async {
                tokio::task::yield_now().await;
                Err::<(), OuterFails>(OuterFails)
            });
            let queued = tg.spawn(async move {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            Ok::<_, Member>(queued)
        })
        .await;
    assert!(result.is_err());
    assert!(
        !queued_ran.load(std::sync::atomic::Ordering::SeqCst),
        "a queued child started after the group had failed"
    );
}
