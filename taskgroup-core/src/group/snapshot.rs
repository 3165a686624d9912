//! The live tree of task groups: [`snapshot`] (every group of the process) and
//! [`TaskGroup::snapshot`] (one group and the groups nested in it), printed like
//! `python -m asyncio pstree`.
//!
//! A scope registers its group once, when it starts (one lock per scope, none per spawn),
//! and gives the slot back when its future is dropped. A snapshot reads each group's state
//! word, its limit, its deadline, and what the group knows of its children already: the ones
//! waiting on a wake-up (those a cancellation would wake), the limit's line (read under its
//! lock, through the queued futures), the `start()` children not ready yet, and how many local
//! children wait. A child that finishes on its first poll never appears, and costs nothing.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::TaskGroup;
use super::locality::Locality;
use super::shared::{Shared, lock};
use super::state::Stop;
use super::wakers::Starting;
use crate::config::Policy;

/// The running groups: a slot per scope, taken when it starts and given back when its future
/// is dropped (so a dead group's memory is never kept by the registry).
struct Registry {
    groups: Vec<Option<Weak<Shared>>>,
    free: Vec<usize>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    free: Vec::new(),
});

/// Makes a starting scope's group visible to [`snapshot`]; the slot to give back.
pub(super) fn register(group: &Arc<Shared>) -> usize {
    // A group that watches for stalls shows how long each child in line has waited.
    if let (Some(limiter), Some(_)) = (&group.limiter, group.config.stall) {
        lock(limiter).time_arrivals();
    }
    let mut registry = lock(&REGISTRY);
    let entry = Some(Arc::downgrade(group));
    match registry.free.pop() {
        Some(slot) => {
            registry.groups[slot] = entry;
            slot
        }
        None => {
            registry.groups.push(entry);
            registry.groups.len() - 1
        }
    }
}

/// The scope is gone: its group leaves the tree.
pub(super) fn unregister(slot: usize) {
    let mut registry = lock(&REGISTRY);
    if let Some(entry) = registry.groups.get_mut(slot) {
        if entry.take().is_some() {
            registry.free.push(slot);
        }
    }
}

/// The running groups, alive and not closed.
fn running() -> Vec<Arc<Shared>> {
    lock(&REGISTRY)
        .groups
        .iter()
        .flatten()
        .filter_map(Weak::upgrade)
        .filter(|group| !group.is_closed())
        .collect()
}

/// What a group is doing, as a snapshot sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupState {
    /// The body runs, or children do.
    Running,
    /// The body has returned; the scope waits for its children.
    WaitingAtExit,
    /// A child (or the body) failed under fail-fast: the others are being cancelled.
    Failing,
    /// `cancel()` was called, the body passed on a cancellation, or an enclosing group was
    /// cancelled.
    Cancelled,
    /// The deadline passed.
    TimedOut,
    /// Under first-ok, a child succeeded.
    Won,
    /// The scope's future was dropped before it returned.
    Dropped,
}

/// What kind of child a [`ChildSnapshot`] is.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::{ChildSnapshotKind, ChildSnapshotState, TaskGroup};
///
/// let tg = TaskGroup::builder().limit(1).build();
/// let seen = tg
///     .run(async {
///         tg.spawn(std::future::pending::<()>());
///         tg.spawn_local(async {}); // behind the limit
///         let seen = tg.snapshot().groups[0].waiting[0].kind;
///         tg.cancel();
///         Ok::<_, std::io::Error>(seen)
///     })
///     .await
///     .unwrap();
/// assert_eq!(seen, ChildSnapshotKind::Local);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildSnapshotKind {
    /// A child on the runtime (`spawn`, `spawn_named`, a shield, a blocking or process child),
    /// or queued to go there.
    Spawned,
    /// A local child (`spawn_local`), polled by the scope itself.
    Local,
    /// A child of [`TaskGroup::start`] that has not signalled readiness yet; once it has, it
    /// is a spawned child like any other.
    Start,
}

/// What a child in a [`ChildSnapshot`] is doing.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// use taskgroup::ChildSnapshotState;
/// assert_ne!(ChildSnapshotState::Queued, ChildSnapshotState::Waiting);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildSnapshotState {
    /// Waiting on a wake-up: its latest poll returned `Pending`.
    Waiting,
    /// In the limit's line: not started, never polled.
    Queued,
    /// A `start()` child on the runtime, not ready yet (waiting, or being polled).
    Starting,
}

/// A child of a group, as a snapshot sees it: one waiting on a wake-up, a `start()` child not
/// ready yet, or one in the limit's line. Whether it is being cancelled is
/// [`asked_to_cancel`](ChildSnapshot::asked_to_cancel).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChildSnapshot {
    /// What kind of child it is.
    pub kind: ChildSnapshotKind,
    /// What it is doing.
    pub state: ChildSnapshotState,
    /// Its tokio task id (none for a local child, or one in line: it has no task yet).
    pub id: Option<tokio::task::Id>,
    /// Its name, for a child spawned with a name.
    pub name: Option<Arc<str>>,
    /// How long it has been so: for a waiting child since it first waited (for one that waits
    /// again and again, since the first time) and for one in line since it was queued, both
    /// when its group watches for stalls ([`Builder::stall`](crate::Builder::stall): other
    /// groups read no clock per child); for a `start()` child since `start` was called.
    pub waiting_for: Option<Duration>,
    /// Its place in the limit's line, 1 for the next to start; `None` unless queued.
    pub place_in_line: Option<usize>,
    /// How long since its latest poll, when its group watches for stalls.
    pub idle_for: Option<Duration>,
    /// Whether the group's stall watch reported it.
    pub stalled: bool,
    /// Whether it is being cancelled: its group has asked it to stop, or (for one in line)
    /// its handle has.
    pub asked_to_cancel: bool,
}

/// One group and what is nested in it, as a snapshot sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupSnapshot {
    /// Its name (`name =`, [`Builder::name`](crate::Builder::name)).
    pub name: Option<Arc<str>>,
    /// Its policy.
    pub policy: Policy,
    /// What it is doing.
    pub state: GroupState,
    /// Its live children on the runtime, spawned or queued behind the limit (local children,
    /// polled by the scope itself, are not counted), plus one for each nested group with
    /// live children of its own.
    pub live: usize,
    /// With a limit: the limit, the children running under it, the ones queued.
    pub limit: Option<(usize, usize, usize)>,
    /// The time left before its own deadline, if it has one (zero once passed).
    pub deadline_in: Option<Duration>,
    /// Its children that wait, each with its [`kind`](ChildSnapshot::kind) and
    /// [`state`](ChildSnapshot::state): on a wake-up (oldest first, when timed), then the
    /// `start()` children not ready yet, then the limit's line, next first. Spawned children
    /// being polled at that moment, and local children waiting (see
    /// [`local_waiting`](GroupSnapshot::local_waiting)), are not listed.
    pub waiting: Vec<ChildSnapshot>,
    /// How many local children (`spawn_local`) wait on a wake-up: counted, not listed (the
    /// scope keeps them; those in the limit's line are listed).
    pub local_waiting: usize,
    /// The groups created inside this one (in its body or its children) that are still
    /// running.
    pub nested: Vec<GroupSnapshot>,
}

/// Every live task group of the process, as trees (see [`TaskGroup::snapshot`]), from any
/// thread, at any time.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let tg = taskgroup::TaskGroup::builder().name("server").build();
/// let text = tg
///     .run(async {
///         tg.spawn_named("listener", std::future::pending::<()>());
///         tokio::task::yield_now().await;
///         let text = taskgroup::snapshot().to_string();
///         tg.cancel();
///         Ok::<_, std::io::Error>(text)
///     })
///     .await
///     .unwrap();
/// assert!(text.contains("TaskGroup `server` (fail_fast, running, 1 live)"), "{text}");
/// assert!(text.contains("  task `listener`"), "{text}");
/// # }
/// ```
pub fn snapshot() -> Snapshot {
    let groups = running();
    let now = Instant::now();
    // Roots: groups whose enclosing group is not live here.
    let roots = groups
        .iter()
        .filter(|group| {
            group
                .enclosing_group()
                .is_none_or(|outer| !groups.iter().any(|g| Arc::ptr_eq(g, outer)))
        })
        .map(|group| describe(group, &groups, now))
        .collect();
    Snapshot { groups: roots }
}

impl<K: Locality> TaskGroup<'_, K> {
    /// This group and the groups nested in it, as a tree: names, policies, states, limits,
    /// deadlines and the children that wait (see [`GroupSnapshot::waiting`]): on a wake-up,
    /// `start()` children not ready yet, the limit's line, and how many local children wait.
    /// Printed with `{}` one line per group and child, indented per level, like
    /// `python -m asyncio pstree`; each child's line says its kind (`task`, `local task`,
    /// `start() task`) and state (`waiting`, `queued`, `starting`).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::builder().name("pool").limit(1).build();
    /// let text = tg
    ///     .run(async {
    ///         tg.spawn_named("busy", std::future::pending::<()>());
    ///         tg.spawn_named("next", async {});
    ///         tg.spawn_local(std::future::pending::<()>());
    ///         tokio::task::yield_now().await;
    ///         let text = tg.snapshot().to_string();
    ///         tg.cancel();
    ///         Ok::<_, std::io::Error>(text)
    ///     })
    ///     .await
    ///     .unwrap();
    /// let lines: Vec<&str> = text.lines().collect();
    /// assert_eq!(lines[0], "TaskGroup `pool` (fail_fast, running, 2 live, limit 1: 1 running, 2 queued)");
    /// assert!(lines[1].starts_with("  task `busy` (") && lines[1].ends_with(") waiting"));
    /// assert_eq!(lines[2], "  task `next` queued, #1 in line");
    /// assert_eq!(lines[3], "  local task queued, #2 in line");
    /// # }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let groups = running();
        Snapshot {
            groups: vec![describe(&self.shared, &groups, Instant::now())],
        }
    }
}

fn describe(group: &Arc<Shared>, all: &[Arc<Shared>], now: Instant) -> GroupSnapshot {
    let word = group.load();
    let state = match word.reason() {
        Stop::Running if word.is_waiting() => GroupState::WaitingAtExit,
        Stop::Running | Stop::Closed => GroupState::Running,
        Stop::Failed => GroupState::Failing,
        Stop::Cancelled => GroupState::Cancelled,
        Stop::TimedOut => GroupState::TimedOut,
        Stop::Won => GroupState::Won,
        Stop::Dropped => GroupState::Dropped,
    };
    let asked_to_cancel = word.is_refusing() && !matches!(state, GroupState::WaitingAtExit);
    let mut line = Vec::new();
    let limit = group.limiter.as_ref().map(|limiter| {
        let limiter = lock(limiter);
        let (limit, queued) = limiter.shape();
        line = limiter.line();
        (limit, limiter.running(), queued)
    });
    let mut starts = group.waiting.starts();
    let age = |since: Instant| now.saturating_duration_since(since);
    let mut waiting: Vec<ChildSnapshot> = group
        .waiting
        .children()
        .into_iter()
        .map(|child| {
            let start = take_start(&mut starts, |start| {
                start.id.is_some() && start.id == child.id
            });
            ChildSnapshot {
                kind: match start {
                    Some(_) => ChildSnapshotKind::Start,
                    None => ChildSnapshotKind::Spawned,
                },
                state: match start {
                    Some(_) => ChildSnapshotState::Starting,
                    None => ChildSnapshotState::Waiting,
                },
                id: child.id,
                name: child.name,
                waiting_for: start.map(|start| start.since).or(child.since).map(age),
                place_in_line: None,
                idle_for: child.polled.map(age),
                stalled: child.stalled,
                asked_to_cancel,
            }
        })
        .collect();
    // Queued `start()` children show in line.
    let in_line: Vec<_> = line
        .into_iter()
        .map(|child| {
            let start = take_start(&mut starts, |start| {
                start.key.is_some() && start.key == child.key
            });
            (child, start)
        })
        .collect();
    waiting.extend(starts.into_iter().map(|start| ChildSnapshot {
        kind: ChildSnapshotKind::Start,
        state: ChildSnapshotState::Starting,
        id: start.id,
        name: None,
        waiting_for: Some(age(start.since)),
        place_in_line: None,
        idle_for: None,
        stalled: false,
        asked_to_cancel,
    }));
    waiting.extend(in_line.into_iter().map(|(child, start)| ChildSnapshot {
        kind: match (start.is_some(), child.local) {
            (true, _) => ChildSnapshotKind::Start,
            (false, true) => ChildSnapshotKind::Local,
            (false, false) => ChildSnapshotKind::Spawned,
        },
        state: ChildSnapshotState::Queued,
        id: None,
        name: child.name,
        waiting_for: child.since.map(age),
        place_in_line: Some(child.place),
        idle_for: None,
        stalled: false,
        asked_to_cancel: child.cancel_requested || (asked_to_cancel && !child.shielded),
    }));
    let nested = all
        .iter()
        .filter(|inner| {
            inner
                .enclosing_group()
                .is_some_and(|outer| Arc::ptr_eq(outer, group))
        })
        .map(|inner| describe(inner, all, now))
        .collect();
    GroupSnapshot {
        name: group.config.name.clone(),
        policy: group.config.policy,
        state,
        live: word.count(),
        limit,
        deadline_in: group
            .own_deadline()
            .map(|at| at.saturating_duration_since(now)),
        waiting,
        local_waiting: group.waiting.locals(),
        nested,
    }
}

/// Whether a group in `state` is stopping its children.
fn asked(state: GroupState) -> bool {
    !matches!(state, GroupState::Running | GroupState::WaitingAtExit)
}

/// Takes the first `start()` child that `is` the one described.
fn take_start(starts: &mut Vec<Starting>, is: impl Fn(&Starting) -> bool) -> Option<Starting> {
    let at = starts.iter().position(is)?;
    Some(starts.remove(at))
}

/// The live tree of task groups: see [`snapshot`] and [`TaskGroup::snapshot`]. `{}` prints it
/// one line per group and per child that waits (with its kind and state), indented per level;
/// `{:?}` gives the structure.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Snapshot {
    /// The trees' roots: groups not nested in another live group.
    pub groups: Vec<GroupSnapshot>,
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Iterative: nesting may be deep.
        let mut pending: Vec<(usize, &GroupSnapshot)> =
            self.groups.iter().rev().map(|g| (0, g)).collect();
        while let Some((depth, group)) = pending.pop() {
            let margin = "  ".repeat(depth);
            write!(f, "{margin}TaskGroup")?;
            if let Some(name) = &group.name {
                write!(f, " `{name}`")?;
            }
            let policy = match group.policy {
                Policy::FailFast => "fail_fast",
                Policy::WaitAll => "wait_all",
                Policy::FirstOk => "first_ok",
            };
            let state = match group.state {
                GroupState::Running => "running",
                GroupState::WaitingAtExit => "waiting at exit",
                GroupState::Failing => "failing",
                GroupState::Cancelled => "cancelled",
                GroupState::TimedOut => "timed out",
                GroupState::Won => "won",
                GroupState::Dropped => "dropped",
            };
            write!(f, " ({policy}, {state}, {} live", group.live)?;
            if let Some((limit, running, queued)) = group.limit {
                write!(f, ", limit {limit}: {running} running, {queued} queued")?;
            }
            if let Some(left) = group.deadline_in {
                write!(f, ", deadline in {left:.1?}")?;
            }
            writeln!(f, ")")?;
            for child in &group.waiting {
                let kind = match child.kind {
                    ChildSnapshotKind::Spawned => "",
                    ChildSnapshotKind::Local => "local ",
                    ChildSnapshotKind::Start => "start() ",
                };
                write!(f, "{margin}  {kind}task")?;
                if let Some(name) = &child.name {
                    write!(f, " `{name}`")?;
                }
                if let Some(id) = child.id {
                    write!(f, " ({id})")?;
                }
                f.write_str(match child.state {
                    ChildSnapshotState::Waiting => " waiting",
                    ChildSnapshotState::Queued => " queued",
                    ChildSnapshotState::Starting => " starting",
                })?;
                if let Some(waiting) = child.waiting_for {
                    write!(f, " {waiting:.1?}")?;
                }
                if let Some(place) = child.place_in_line {
                    write!(f, ", #{place} in line")?;
                }
                if child.stalled {
                    f.write_str(", stalled")?;
                    if let Some(idle) = child.idle_for {
                        write!(f, " (idle {idle:.1?})")?;
                    }
                }
                if child.asked_to_cancel {
                    f.write_str(", cancelling")?;
                }
                writeln!(f)?;
            }
            if group.local_waiting != 0 {
                let tasks = if group.local_waiting == 1 {
                    "task"
                } else {
                    "tasks"
                };
                write!(f, "{margin}  {} local {tasks} waiting", group.local_waiting)?;
                if asked(group.state) {
                    f.write_str(", cancelling")?;
                }
                writeln!(f)?;
            }
            pending.extend(group.nested.iter().rev().map(|g| (depth + 1, g)));
        }
        Ok(())
    }
}
