//! The failures a group keeps ([`Failures`]): every one by default, or the most recent `k`
//! and a count per error type for the rest ([`Builder::keep_errors`](crate::Builder::keep_errors)),
//! so that a group that lives for days holds its memory flat. Each failure, and each failure
//! of a supervised child that is restarted, is handed to the
//! [`on_failure`](crate::Builder::on_failure) callback first.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard};

use super::TaskGroup;
use super::locality::Locality;
use super::spawner::Spawner;
use crate::config::{Config, OnFailure};
use crate::error_group::Member;
use crate::leaf::{Leaf, TaskPanic};

/// A group's failures, replacing a plain list: bounded when the group keeps `k`.
pub(crate) struct Failures {
    inner: Mutex<Kept>,
    /// `None`: every failure is kept.
    keep: Option<usize>,
    on_failure: Option<OnFailure>,
}

#[derive(Default)]
struct Kept {
    /// The most recent failures, oldest first.
    members: VecDeque<Member>,
    counts: Counts,
}

/// The counters; one entry per error type, and error types are few (`&'static str`s).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    failures: u64,
    dropped: u64,
    restarts: u64,
    by_type: Vec<TypeCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TypeCount {
    type_name: &'static str,
    failures: u64,
    dropped: u64,
    restarts: u64,
}

impl Counts {
    fn of(&mut self, type_name: &'static str) -> &mut TypeCount {
        let found = self.by_type.iter().position(|c| c.type_name == type_name);
        let index = found.unwrap_or_else(|| {
            self.by_type.push(TypeCount {
                type_name,
                failures: 0,
                dropped: 0,
                restarts: 0,
            });
            self.by_type.len() - 1
        });
        &mut self.by_type[index]
    }
}

/// Locks the counters. Nothing user-supplied runs under this lock (the callback and the
/// errors' destructors run outside it), so a poisoned lock still holds valid counts. Not
/// `shared`'s `lock`: `shared` imports this file.
fn lock(m: &Mutex<Kept>) -> MutexGuard<'_, Kept> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Failures {
    pub(crate) fn new(config: &Config) -> Self {
        Failures {
            inner: Mutex::new(Kept::default()),
            keep: config.keep_errors,
            on_failure: config.on_failure.clone(),
        }
    }

    /// Records a failure of the group: handed to the callback, then kept (the oldest kept one
    /// dropped to a count if the bound is reached).
    pub(crate) fn push(&self, member: Member) {
        let panic = self.call_back(&member);
        self.keep(member);
        if let Some(panic) = panic {
            self.keep(Member::Leaf(Leaf::new(panic)));
        }
    }

    /// Records the failure of a supervised child that is restarted: counted and handed to the
    /// callback, never kept.
    pub(crate) fn restarted(&self, member: &Member) {
        {
            let mut kept = lock(&self.inner);
            kept.counts.restarts += 1;
            kept.counts.of(member.type_name()).restarts += 1;
        }
        if let Some(panic) = self.call_back(member) {
            self.keep(Member::Leaf(Leaf::new(panic)));
        }
    }

    /// Runs the callback outside every lock; its panic, if any, to be recorded.
    fn call_back(&self, member: &Member) -> Option<TaskPanic> {
        let on_failure = self.on_failure.as_ref()?;
        catch_unwind(AssertUnwindSafe(|| (on_failure.0)(member)))
            .err()
            .map(|payload| TaskPanic::from_payload(&*payload))
    }

    fn keep(&self, member: Member) {
        let type_name = member.type_name();
        let evicted = {
            let mut kept = lock(&self.inner);
            kept.counts.failures += 1;
            kept.counts.of(type_name).failures += 1;
            kept.members.push_back(member);
            match self.keep {
                Some(k) if kept.members.len() > k => {
                    let oldest = kept.members.pop_front();
                    if let Some(oldest) = &oldest {
                        kept.counts.dropped += 1;
                        kept.counts.of(oldest.type_name()).dropped += 1;
                    }
                    oldest
                }
                _ => None,
            }
        };
        // Outside the lock: the error's destructor is user code. Its panic is counted as a
        // dropped `TaskPanic`, so that it cannot unwind into whoever recorded the failure.
        if catch_unwind(AssertUnwindSafe(|| drop(evicted))).is_err() {
            let mut kept = lock(&self.inner);
            kept.counts.failures += 1;
            kept.counts.dropped += 1;
            let count = kept.counts.of("TaskPanic");
            count.failures += 1;
            count.dropped += 1;
        }
    }

    /// The kept failures, oldest first, after an [`ErrorsDropped`] leaf if some were dropped.
    pub(crate) fn take(&self) -> Vec<Member> {
        let mut kept = lock(&self.inner);
        let mut members = Vec::with_capacity(kept.members.len() + 1);
        if kept.counts.dropped > 0 {
            let dropped = ErrorsDropped::from_counts(&kept.counts);
            members.push(Member::Leaf(Leaf::new(dropped)));
        }
        members.extend(std::mem::take(&mut kept.members));
        members
    }

    pub(crate) fn counts(&self) -> FailureCounts {
        let kept = lock(&self.inner);
        FailureCounts {
            kept: kept.members.len(),
            counts: kept.counts.clone(),
        }
    }
}

/// The leaf that stands for the failures a group did not keep under
/// [`Builder::keep_errors`](crate::Builder::keep_errors): how many, and how many of each error
/// type (short type names, as [`Member::type_name`] gives them). It comes first in the group's
/// error, before the kept failures, as the dropped ones were the oldest.
///
/// Its type is its own, so `except*` clauses by error type match the kept failures only and
/// leave this leaf in the rest: a scope whose clauses handled every kept failure still reports
/// that more happened. Handle it too (`except* ErrorsDropped as eg => ...`) to acknowledge them.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::num::ParseIntError;
/// use taskgroup::{ErrorsDropped, Policy, TaskGroup};
///
/// let tg = TaskGroup::builder().policy(Policy::WaitAll).keep_errors(1).build();
/// let eg = tg
///     .run(async {
///         for _ in 0..3 {
///             tg.spawn(async { "x".parse::<u8>().map(drop) });
///         }
///         Ok::<_, std::io::Error>(())
///     })
///     .await
///     .unwrap_err();
/// let (kept, rest) = eg.split::<ParseIntError>();
/// assert_eq!(kept.unwrap().error_count(), 1);
/// let rest = rest.unwrap();
/// let dropped = rest.leaves().next().unwrap().downcast_ref::<ErrorsDropped>().unwrap();
/// assert_eq!((dropped.total(), dropped.of("ParseIntError")), (2, 2));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorsDropped {
    total: u64,
    by_type: Vec<(&'static str, u64)>,
}

impl ErrorsDropped {
    fn from_counts(counts: &Counts) -> Self {
        let mut by_type: Vec<_> = counts
            .by_type
            .iter()
            .filter(|c| c.dropped > 0)
            .map(|c| (c.type_name, c.dropped))
            .collect();
        // Most frequent first; a stable sort keeps first-seen order among equals.
        by_type.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        ErrorsDropped {
            total: counts.dropped,
            by_type,
        }
    }

    /// How many failures were not kept.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many of each error type were not kept, most frequent first.
    pub fn by_type(&self) -> &[(&'static str, u64)] {
        &self.by_type
    }

    /// How many of the error type named `type_name` (a short name: `ParseIntError`) were not
    /// kept.
    pub fn of(&self, type_name: &str) -> u64 {
        self.by_type
            .iter()
            .find(|(name, _)| *name == type_name)
            .map_or(0, |(_, n)| *n)
    }
}

impl fmt::Display for ErrorsDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.total == 1 {
            "failure"
        } else {
            "failures"
        };
        write!(f, "{} more {noun} not kept", self.total)?;
        for (i, (type_name, n)) in self.by_type.iter().enumerate() {
            let sep = if i == 0 { ": " } else { ", " };
            write!(f, "{sep}{type_name} x {n}")?;
        }
        Ok(())
    }
}

impl StdError for ErrorsDropped {}

/// A group's failures so far, as [`TaskGroup::failure_counts`] reads them: those recorded as
/// the group's (kept or not), by error type, and the failures of supervised children that
/// were restarted, which are not the group's.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::{Policy, TaskGroup};
///
/// let tg = TaskGroup::builder().policy(Policy::WaitAll).keep_errors(1).build();
/// let _ = tg
///     .run(async {
///         tg.spawn(async { Err::<(), _>(std::io::Error::other("a")) });
///         tg.spawn(async { "x".parse::<u8>().map(drop) });
///         Ok::<_, std::io::Error>(())
///     })
///     .await;
/// let counts = tg.failure_counts();
/// // After the scope: the kept one went into the scope's error.
/// assert_eq!((counts.failures(), counts.kept(), counts.dropped()), (2, 0, 1));
/// assert_eq!(counts.of("Error") + counts.of("ParseIntError"), 2);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCounts {
    kept: usize,
    counts: Counts,
}

impl FailureCounts {
    /// Failures recorded as the group's: kept or dropped to a count.
    pub fn failures(&self) -> u64 {
        self.counts.failures
    }

    /// Failures held as members now (zero once the scope has returned them).
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// Failures dropped to a count under [`keep_errors`](crate::Builder::keep_errors).
    pub fn dropped(&self) -> u64 {
        self.counts.dropped
    }

    /// Failures of [supervised](TaskGroup::spawn_supervised) children that were restarted:
    /// not the group's failures, not in its error.
    pub fn restarts(&self) -> u64 {
        self.counts.restarts
    }

    /// The group's failures of the error type named `type_name` (a short name, as
    /// [`Member::type_name`] gives).
    pub fn of(&self, type_name: &str) -> u64 {
        self.find(type_name).map_or(0, |c| c.failures)
    }

    /// The restarted failures of the error type named `type_name`.
    pub fn restarts_of(&self, type_name: &str) -> u64 {
        self.find(type_name).map_or(0, |c| c.restarts)
    }

    /// The group's failures by error type, in the order the types first failed.
    pub fn by_type(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counts
            .by_type
            .iter()
            .filter(|c| c.failures > 0)
            .map(|c| (c.type_name, c.failures))
    }

    fn find(&self, type_name: &str) -> Option<&TypeCount> {
        self.counts
            .by_type
            .iter()
            .find(|c| c.type_name == type_name)
    }
}

impl<K: Locality> TaskGroup<'_, K> {
    /// The group's failures so far: how many it recorded, kept and dropped to a count
    /// ([`Builder::keep_errors`](crate::Builder::keep_errors)), by error type, and how many
    /// failures of supervised children were restarted. Readable at any time, during the scope
    /// and after it.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let _ = tg
    ///     .run(async {
    ///         tg.spawn(async { Err::<(), _>(std::io::Error::other("down")) });
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await;
    /// assert_eq!(tg.failure_counts().of("Error"), 1);
    /// # }
    /// ```
    pub fn failure_counts(&self) -> FailureCounts {
        self.shared.failures.counts()
    }
}

impl Spawner {
    /// The group's failures so far, as [`TaskGroup::failure_counts`] gives them.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// assert_eq!(tg.spawner().failure_counts().failures(), 0);
    /// ```
    pub fn failure_counts(&self) -> FailureCounts {
        self.shared.failures.counts()
    }
}
