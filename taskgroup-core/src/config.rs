//! How a group behaves: its [`Policy`], deadline, grace period, concurrency limit and name.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error_group::Member;

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
    /// At most this many failures are kept as members of the group's error.
    pub(crate) keep_errors: Option<usize>,
    pub(crate) on_failure: Option<OnFailure>,
}

/// The callback of [`Builder::on_failure`], shared by every clone of the config.
#[derive(Clone)]
pub(crate) struct OnFailure(pub(crate) Arc<dyn Fn(&Member) + Send + Sync>);

impl std::fmt::Debug for OnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnFailure(..)")
    }
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

    /// Keeps at most the `k` most recent failures as members of the group's error; of the
    /// older ones only a count per error type is kept, reported by one
    /// [`ErrorsDropped`](crate::ErrorsDropped) leaf before the kept failures. For a
    /// long-lived group (a [`Policy::WaitAll`] server, supervised children that give up)
    /// whose memory must not grow with the number of failures. The counts so far are
    /// [`TaskGroup::failure_counts`](crate::TaskGroup::failure_counts).
    ///
    /// `k == 0` keeps no failure at all, only the counts: the group's error is then the
    /// `ErrorsDropped` leaf alone (pair it with [`on_failure`](Self::on_failure) to see each
    /// failure as it happens). Without this option every failure is kept.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{ErrorsDropped, Policy, TaskGroup};
    ///
    /// let tg = TaskGroup::builder().policy(Policy::WaitAll).keep_errors(2).build();
    /// let eg = tg
    ///     .run(async {
    ///         for i in 0..5 {
    ///             tg.spawn(async move { format!("x{i}").parse::<u8>().map(drop) });
    ///         }
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(eg.len(), 3); // the ErrorsDropped leaf, then the two most recent failures
    /// let dropped = eg.leaves().next().unwrap().downcast_ref::<ErrorsDropped>().unwrap();
    /// assert_eq!(dropped.to_string(), "3 more failures not kept: ParseIntError x 3");
    /// # }
    /// ```
    pub fn keep_errors(mut self, k: usize) -> Self {
        self.config.keep_errors = Some(k);
        self
    }

    /// Calls `callback` with each failure as the group records it, before it is kept (or
    /// counted only, under [`keep_errors`](Self::keep_errors)) and before a fail-fast group
    /// cancels the siblings; also with each failure of a
    /// [supervised](crate::TaskGroup::spawn_supervised) child that is restarted, which is
    /// never the group's failure. The failure already carries its task and time.
    ///
    /// It runs on the thread that records the failure, possibly while the group is stopping:
    /// keep it short and non-blocking (count, log, send on a channel). A panic in it does not
    /// unwind into the group: it is caught and recorded as one more failure, a
    /// [`TaskPanic`](crate::TaskPanic) leaf (not handed to the callback again).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::{Arc, Mutex};
    /// use taskgroup::{Member, Policy, TaskGroup};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let tg = TaskGroup::builder()
    ///     .policy(Policy::WaitAll)
    ///     .on_failure(move |failure: &Member| log.lock().unwrap().push(failure.to_string()))
    ///     .build();
    /// let _ = tg
    ///     .run(async {
    ///         tg.spawn(async { Err::<(), _>(std::io::Error::other("disk full")) });
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await;
    /// assert_eq!(*seen.lock().unwrap(), ["disk full"]);
    /// # }
    /// ```
    pub fn on_failure(mut self, callback: impl Fn(&Member) + Send + Sync + 'static) -> Self {
        self.config.on_failure = Some(OnFailure(Arc::new(callback)));
        self
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
