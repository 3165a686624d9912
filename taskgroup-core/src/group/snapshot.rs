//! The live tree of task groups: [`snapshot`] (every group of the process) and
//! [`TaskGroup::snapshot`] (one group and the groups nested in it), printed like
//! `python -m asyncio pstree`.
//!
//! A scope registers its group once, when it starts (one lock per scope, none per spawn),
//! and gives the slot back when its future is dropped. A snapshot reads each group's state word, its
//! limit, its deadline, and the children waiting on a wake-up (the ones a cancellation would
//! wake, which the group knows already); a child that finishes on its first poll never
//! appears, and costs nothing.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::TaskGroup;
use super::locality::Locality;
use super::shared::{Shared, lock};
use super::state::Stop;
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

/// A child waiting on a wake-up, as a snapshot sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChildSnapshot {
    /// Its tokio task id.
    pub id: Option<tokio::task::Id>,
    /// Its name, for a child spawned with a name.
    pub name: Option<Arc<str>>,
    /// How long since it first waited (for a child that waits again and again, since the
    /// first time), when its group watches for stalls ([`Builder::stall`](crate::Builder::stall)):
    /// other groups read no clock per child.
    pub waiting_for: Option<Duration>,
    /// How long since its latest poll, when its group watches for stalls.
    pub idle_for: Option<Duration>,
    /// Whether the group's stall watch reported it.
    pub stalled: bool,
    /// Whether its group has asked it to stop (it is being cancelled).
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
    /// The children waiting on a wake-up, oldest first.
    pub waiting: Vec<ChildSnapshot>,
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
    /// deadlines and the children waiting on a wake-up. Printed with `{}` one line per group
    /// and child, indented per level, like `python -m asyncio pstree`.
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
    let limit = group.limiter.as_ref().map(|limiter| {
        let limiter = lock(limiter);
        let (limit, queued) = limiter.shape();
        (limit, limiter.running(), queued)
    });
    let waiting = group
        .waiting
        .children()
        .into_iter()
        .map(|child| ChildSnapshot {
            id: child.id,
            name: child.name,
            waiting_for: child
                .since
                .map(|since| now.saturating_duration_since(since)),
            idle_for: child
                .polled
                .map(|polled| now.saturating_duration_since(polled)),
            stalled: child.stalled,
            asked_to_cancel,
        })
        .collect();
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
        nested,
    }
}

/// The live tree of task groups: see [`snapshot`] and [`TaskGroup::snapshot`]. `{}` prints it
/// one line per group and waiting child, indented per level; `{:?}` gives the structure.
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
                write!(f, "{margin}  task")?;
                if let Some(name) = &child.name {
                    write!(f, " `{name}`")?;
                }
                if let Some(id) = child.id {
                    write!(f, " ({id})")?;
                }
                f.write_str(" waiting")?;
                if let Some(waiting) = child.waiting_for {
                    write!(f, " {waiting:.1?}")?;
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
            pending.extend(group.nested.iter().rev().map(|g| (depth + 1, g)));
        }
        Ok(())
    }
}
