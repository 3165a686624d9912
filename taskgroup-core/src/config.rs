//! How a group behaves: its [`Policy`], deadline, grace period, concurrency limit and name.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// What a child's failure or success does to its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Policy {
    /// The first failure cancels every other child and the body (CPython's TaskGroup).
    #[default]
    FailFast,
    /// Failures do not cancel siblings; the scope waits for every child and reports every error.
    WaitAll,
    /// The first success cancels the other children; failures are reported only if no child
    /// succeeds.
    FirstOk,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fail_fast" => Ok(Policy::FailFast),
            "wait_all" => Ok(Policy::WaitAll),
            "first_ok" => Ok(Policy::FirstOk),
            other => Err(format!(
                "unknown policy `{other}`: expected `fail_fast`, `wait_all` or `first_ok`"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Deadline {
    After(Duration),
    At(Instant),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub(crate) policy: Policy,
    pub(crate) deadline: Option<Deadline>,
    pub(crate) grace: Option<Duration>,
    pub(crate) limit: Option<usize>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) stall: Option<Duration>,
}

/// Configures a [`TaskGroup`](crate::TaskGroup) before it starts; made by
/// [`TaskGroup::builder`](crate::TaskGroup::builder).
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use std::time::Duration;
/// use taskgroup::{Policy, TaskGroup};
///
/// let tg = TaskGroup::builder()
///     .policy(Policy::WaitAll)
///     .timeout(Duration::from_secs(2))
///     .limit(8)
///     .name("fetchers")
///     .build();
/// # drop(tg);
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    config: Config,
}

/// [`Builder::limit`] was given zero, which would never let a child run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroLimit;

impl std::fmt::Display for ZeroLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a concurrency limit must be at least 1")
    }
}

impl std::error::Error for ZeroLimit {}

impl Builder {
    /// The policy for failures and successes (default [`Policy::FailFast`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.config.policy = policy;
        self
    }

    /// Cancels the group when `duration` has passed since [`TaskGroup::run`](crate::TaskGroup::run) started, and
    /// reports a [`TimedOut`](crate::TimedOut) leaf. Replaces an earlier deadline.
    pub fn timeout(mut self, duration: Duration) -> Self {
        self.config.deadline = Some(Deadline::After(duration));
        self
    }

    /// Like [`timeout`](Self::timeout), at a fixed instant. Replaces an earlier timeout.
    pub fn deadline(mut self, at: Instant) -> Self {
        self.config.deadline = Some(Deadline::At(at));
        self
    }

    /// On cancellation, first cancel the group's [`token`](crate::TaskGroup::token) and give children
    /// `grace` to finish their cleanup, then abort what is still running.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.config.grace = Some(grace);
        self
    }

    /// Watches for stalled children: a child that waits and has not been polled (woken) for
    /// `after` is reported once, as a `tracing` warning (feature `tracing`) and in the
    /// [`snapshot`](crate::snapshot) (`stalled`), with its name, id and how long it has been
    /// idle. It is not cancelled. Checked every `after / 2` (at least every millisecond) while
    /// the scope runs, so a report comes between `after` and 1.5 x `after` of idleness. A zero
    /// `after` reports every waiting child at the first check.
    pub fn stall(mut self, after: Duration) -> Self {
        self.config.stall = Some(after);
        self
    }

    /// Runs at most `limit` children at once; further spawns queue without blocking.
    ///
    /// # Panics
    /// Panics if `limit` is zero; use [`try_limit`](Self::try_limit) to get an error instead.
    pub fn limit(self, limit: usize) -> Self {
        match self.try_limit(limit) {
            Ok(builder) => builder,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`limit`](Self::limit), refusing zero with an error.
    pub fn try_limit(mut self, limit: usize) -> Result<Self, ZeroLimit> {
        if limit == 0 {
            return Err(ZeroLimit);
        }
        self.config.limit = Some(limit);
        Ok(self)
    }

    /// A name for the group, shown in `Debug` and in tracing spans.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.config.name = Some(name.into());
        self
    }

    pub(crate) fn into_config(self) -> Config {
        self.config
    }
}
