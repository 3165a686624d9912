//! Supervised children ([`TaskGroup::spawn_supervised`]): a child that is made again from its
//! factory when it fails, as an Erlang/OTP `one_for_one` supervisor restarts a worker, until it
//! fails more often than its [`Restart`] intensity allows.
//!
//! The child is one ordinary child (one unit of the count, one slot of the limit) whose future
//! loops over attempts. A restarted failure never reaches `Shared::fail`: it is counted and
//! handed to the callback (`Failures::restarted`), so it cancels nothing and is in no error.

use std::any::Any;
use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::TaskGroup;
use super::ending::is_cancellation;
use super::locality::Locality;
use super::shared::Shared;
use super::spawn::spawn_or_resolve;
use super::spawner::Spawner;
use super::task::Task;
use crate::catch_panic::CatchPanic;
use crate::error_group::Member;
use crate::leaf::{Leaf, TaskInfo, TaskPanic};
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

/// How often a [supervised](TaskGroup::spawn_supervised) child may be restarted, and how long
/// it waits before each restart: at most `max_restarts` restarts within any `within` (a
/// sliding window, as OTP's intensity and period), then the child gives up.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use std::time::Duration;
/// use taskgroup::Restart;
///
/// let restart = Restart::new(5, Duration::from_secs(60))
///     .unwrap()
///     .backoff_exponential(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(restart.max_restarts(), 5);
/// assert_eq!(restart.delay(1), Duration::from_millis(100));
/// assert_eq!(restart.delay(3), Duration::from_millis(400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    max_restarts: u32,
    within: Duration,
    backoff: Backoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backoff {
    Fixed(Duration),
    Exponential { initial: Duration, max: Duration },
}

/// A [`Restart`] that could never restart anything: [`Restart::new`]'s refusal.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use std::time::Duration;
/// use taskgroup::{Restart, RestartError};
///
/// assert_eq!(Restart::new(0, Duration::from_secs(5)), Err(RestartError::ZeroRestarts));
/// assert_eq!(Restart::new(3, Duration::ZERO), Err(RestartError::ZeroPeriod));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestartError {
    /// `max_restarts` was 0.
    ZeroRestarts,
    /// `within` was zero.
    ZeroPeriod,
}

impl fmt::Display for RestartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestartError::ZeroRestarts => {
                "a restart count of 0 would never restart the child: allow at least 1 restart \
                 (`Restart::new(3, Duration::from_secs(5))`), or spawn it with `spawn` if it \
                 should not restart"
            }
            RestartError::ZeroPeriod => {
                "a restart period of zero holds no restart to count: give the window in which \
                 at most that many restarts are allowed (`Restart::new(3, \
                 Duration::from_secs(5))`)"
            }
        })
    }
}

impl StdError for RestartError {}

impl Restart {
    /// At most `max_restarts` restarts within any period of `within`; the next failure inside
    /// that period is the child's last. No backoff: a failed child is made again at once.
    ///
    /// # Errors
    /// [`RestartError`] for a zero count or a zero period.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::time::Duration;
    /// let restart = taskgroup::Restart::new(3, Duration::from_secs(10)).unwrap();
    /// assert_eq!(restart.within(), Duration::from_secs(10));
    /// ```
    pub fn new(max_restarts: u32, within: Duration) -> Result<Self, RestartError> {
        if max_restarts == 0 {
            return Err(RestartError::ZeroRestarts);
        }
        if within.is_zero() {
            return Err(RestartError::ZeroPeriod);
        }
        Ok(Restart {
            max_restarts,
            within,
            backoff: Backoff::Fixed(Duration::ZERO),
        })
    }

    /// Waits `delay` before each restart. Replaces an earlier backoff.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::time::Duration;
    /// let restart = taskgroup::Restart::new(3, Duration::from_secs(10))
    ///     .unwrap()
    ///     .backoff(Duration::from_millis(250));
    /// assert_eq!(restart.delay(3), Duration::from_millis(250));
    /// ```
    pub fn backoff(mut self, delay: Duration) -> Self {
        self.backoff = Backoff::Fixed(delay);
        self
    }

    /// Waits `initial` before a restart when no other restart is in the window, and twice as
    /// long for each restart still in it, at most `max` (an `initial` above `max` waits `max`).
    /// As restarts leave the window the wait shrinks again. Replaces an earlier backoff.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::time::Duration;
    /// let restart = taskgroup::Restart::new(10, Duration::from_secs(60))
    ///     .unwrap()
    ///     .backoff_exponential(Duration::from_secs(1), Duration::from_secs(5));
    /// let waits: Vec<u64> = (1..=5).map(|n| restart.delay(n).as_secs()).collect();
    /// assert_eq!(waits, [1, 2, 4, 5, 5]);
    /// ```
    pub fn backoff_exponential(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = Backoff::Exponential { initial, max };
        self
    }

    /// The most restarts within [`within`](Self::within).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let restart = taskgroup::Restart::new(2, std::time::Duration::from_secs(1)).unwrap();
    /// assert_eq!(restart.max_restarts(), 2);
    /// ```
    pub fn max_restarts(&self) -> u32 {
        self.max_restarts
    }

    /// The sliding window in which restarts are counted.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::time::Duration;
    /// let restart = taskgroup::Restart::new(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(restart.within(), Duration::from_secs(1));
    /// ```
    pub fn within(&self) -> Duration {
        self.within
    }

    /// The wait before a restart that makes `restarts` restarts in the window (itself
    /// included, so at least 1).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::time::Duration;
    /// let restart = taskgroup::Restart::new(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(restart.delay(1), Duration::ZERO); // no backoff given
    /// ```
    pub fn delay(&self, restarts: u32) -> Duration {
        match self.backoff {
            Backoff::Fixed(delay) => delay,
            Backoff::Exponential { initial, max } => {
                let mut delay = initial.min(max);
                for _ in 1..restarts {
                    if delay == max || delay.is_zero() {
                        break;
                    }
                    delay = delay.saturating_mul(2).min(max);
                }
                delay
            }
        }
    }
}

/// How an attempt failed.
enum Failure {
    Error(Member),
    Panic(Box<dyn Any + Send>),
}

/// Runs `factory`'s futures one after another until one succeeds, the restarts run out, or
/// the group stops.
async fn supervise<F, Fut>(
    shared: Arc<Shared>,
    name: Option<Arc<str>>,
    restart: Restart,
    mut factory: F,
) -> Result<<Fut::Output as TaskOutput>::Ok, Member>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: TaskOutput,
{
    let token = shared.token.clone();
    // Restart times still in the window, oldest first; never more than `max_restarts`.
    let mut window: VecDeque<Instant> = VecDeque::new();
    loop {
        // A panic in the factory or in its future is a failure like an error.
        let failure = match catch_unwind(AssertUnwindSafe(&mut factory)) {
            Err(payload) => Failure::Panic(payload),
            Ok(future) => match CatchPanic::new(future).await {
                Err(payload) => Failure::Panic(payload),
                Ok(output) => match output.into_result() {
                    Ok(value) => return Ok(value),
                    // A cancellation passed on (`sibling.await?`) ends the child as cancelled.
                    Err(member) if is_cancellation(&member) => return Err(member),
                    Err(member) => Failure::Error(member),
                },
            },
        };
        let now = Instant::now();
        while window
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= restart.within)
        {
            window.pop_front();
        }
        // A failure while the group stops is the child's error, as any child's (a cleanup's
        // failure in a grace period is kept); past the intensity the child gives up.
        let stopping = token.is_cancelled();
        if stopping || window.len() >= restart.max_restarts as usize {
            #[cfg(feature = "tracing")]
            if !stopping {
                tracing::warn!(
                    restarts = restart.max_restarts,
                    within = ?restart.within,
                    "supervised task gave up"
                );
            }
            return match failure {
                Failure::Error(member) => Err(member),
                // The child records it as its own panic, message and all.
                Failure::Panic(payload) => resume_unwind(payload),
            };
        }
        window.push_back(now);
        let restarts = window.len() as u32;
        let delay = restart.delay(restarts);
        let mut failed = match failure {
            Failure::Error(member) => member,
            Failure::Panic(payload) => Member::Leaf(Leaf::new(TaskPanic::from_payload(&*payload))),
        };
        failed.tag_task(&TaskInfo {
            id: tokio::task::try_id(),
            name: name.clone(),
        });
        shared.stamp(&mut failed);
        #[cfg(feature = "tracing")]
        tracing::warn!(
            error = %failed,
            error_type = failed.type_name(),
            restart = restarts,
            delay = ?delay,
            "supervised task failed; restarting"
        );
        shared.failures.restarted(&failed);
        drop(failed);
        if !delay.is_zero() && backoff(&token, delay).await {
            // The group stopped during the backoff: the child ends as cancelled.
            return Err(Member::from(TaskError::Cancelled));
        }
    }
}

/// Sleeps `delay`; `true` if the group's cancellation came first.
async fn backoff(token: &CancellationToken, delay: Duration) -> bool {
    let mut sleep = pin!(tokio::time::sleep(delay));
    let mut cancelled = pin!(token.cancelled());
    poll_fn(|cx| {
        if cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        sleep.as_mut().poll(cx).map(|()| false)
    })
    .await
}

fn spawn_supervised<F, Fut>(
    shared: &Arc<Shared>,
    name: Option<Arc<str>>,
    restart: Restart,
    factory: F,
) -> Task<<Fut::Output as TaskOutput>::Ok>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    let future = supervise(Arc::clone(shared), name.clone(), restart, factory);
    spawn_or_resolve(shared, name, future)
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Starts a supervised child: `factory()` makes its future, and each time that future
    /// fails (returns an error or panics) `factory` is called again for a new one, as an
    /// Erlang/OTP `one_for_one` supervisor restarts a crashed worker. The future returns what
    /// a child's future returns (`Result<T, E>` or `()`); the first success ends the child,
    /// and its handle gives the value.
    ///
    /// # Restarts are not the group's failures
    /// A failure that is restarted cancels no sibling (whatever the policy) and is not in the
    /// group's error. It is counted ([`FailureCounts::restarts`](crate::FailureCounts::restarts))
    /// and handed to the [`on_failure`](crate::Builder::on_failure) callback, tagged with the
    /// child's task and time; with the `tracing` feature each restart is a warning event.
    ///
    /// # Giving up
    /// At most [`max_restarts`](Restart::max_restarts) restarts within any
    /// [`within`](Restart::within) period: the next failure inside it ends the child, and that
    /// last failure is the child's failure like any child's. It is recorded under its own
    /// type (so `except*` by that type catches it), under fail-fast it cancels the siblings,
    /// and a panic is a [`TaskPanic`](crate::TaskPanic) leaf with its message. Every other
    /// failure of a supervised child is restarted, so its error in the group's error means it
    /// gave up (or failed while the group was stopping, see below); the leaf's
    /// [`task`](crate::Leaf::task) names it if it was spawned with
    /// [`spawn_supervised_named`](Self::spawn_supervised_named), and `tracing` logs
    /// `supervised task gave up`.
    ///
    /// # When the group stops
    /// Once the group is cancelling (a sibling's failure under fail-fast, [`cancel`](Self::cancel),
    /// the deadline), nothing is restarted: the child is aborted as any child, a backoff wait
    /// ends at once (the child then ends as cancelled), and a failure during a
    /// [`grace`](crate::Builder::grace) period is the child's error, not restarted. A
    /// cancellation passed on (`sibling.await?` on a cancelled sibling) ends the child as
    /// cancelled, never restarted.
    ///
    /// The child is one child throughout: one handle, one slot of the
    /// [`limit`](crate::Builder::limit) held across restarts, its tokio task the same.
    ///
    /// # Panics
    /// Never for a refused spawn: the handle says why, and `factory` is never called.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use taskgroup::{Restart, TaskGroup};
    ///
    /// let attempts = Arc::new(AtomicU32::new(0));
    /// let tries = Arc::clone(&attempts);
    /// let restart = Restart::new(3, Duration::from_secs(10))
    ///     .unwrap()
    ///     .backoff(Duration::from_millis(100));
    /// let tg = TaskGroup::new();
    /// let conn = tg
    ///     .run(async {
    ///         let conn = tg.spawn_supervised(restart, move || {
    ///             let n = tries.fetch_add(1, Ordering::Relaxed) + 1;
    ///             async move {
    ///                 if n < 3 {
    ///                     return Err(std::io::Error::other("connection refused"));
    ///                 }
    ///                 Ok(format!("connected on attempt {n}"))
    ///             }
    ///         });
    ///         Ok::<_, std::io::Error>(conn)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(conn.result().unwrap(), "connected on attempt 3");
    /// assert_eq!(tg.failure_counts().restarts(), 2); // two restarts, no failure of the group
    /// # }
    /// ```
    pub fn spawn_supervised<F, Fut>(
        &self,
        restart: Restart,
        factory: F,
    ) -> Task<<Fut::Output as TaskOutput>::Ok>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        spawn_supervised(&self.shared, None, restart, factory)
    }

    /// Like [`spawn_supervised`](Self::spawn_supervised), with a name that appears in the
    /// child's errors, restarted ones included.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{Restart, TaskGroup};
    ///
    /// let restart = Restart::new(1, Duration::from_secs(60)).unwrap();
    /// let tg = TaskGroup::new();
    /// let eg = tg
    ///     .run(async {
    ///         tg.spawn_supervised_named("poller", restart, || async {
    ///             Err::<(), _>(std::io::Error::other("unreachable"))
    ///         });
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// // One restart, then the second failure gave up: it is the group's only failure.
    /// let leaf = eg.leaves().next().unwrap();
    /// assert_eq!(leaf.task().and_then(|t| t.name()), Some("poller"));
    /// assert_eq!(tg.failure_counts().restarts(), 1);
    /// # }
    /// ```
    pub fn spawn_supervised_named<F, Fut>(
        &self,
        name: impl Into<Arc<str>>,
        restart: Restart,
        factory: F,
    ) -> Task<<Fut::Output as TaskOutput>::Ok>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        spawn_supervised(&self.shared, Some(name.into()), restart, factory)
    }
}

impl Spawner {
    /// Starts a supervised child, as [`TaskGroup::spawn_supervised`] does (read it for what is
    /// restarted and when the child gives up).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{Restart, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let restart = Restart::new(2, Duration::from_secs(1)).unwrap();
    /// let task = tg
    ///     .run(async move {
    ///         Ok::<_, std::io::Error>(spawner.spawn_supervised(restart, || async { Ok::<_, std::io::Error>(7) }))
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(task.result().unwrap(), 7);
    /// # }
    /// ```
    pub fn spawn_supervised<F, Fut>(
        &self,
        restart: Restart,
        factory: F,
    ) -> Task<<Fut::Output as TaskOutput>::Ok>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        spawn_supervised(&self.shared, None, restart, factory)
    }

    /// Like [`spawn_supervised`](Self::spawn_supervised), with a name that appears in the
    /// child's errors.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{Restart, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let restart = Restart::new(2, Duration::from_secs(1)).unwrap();
    /// tg.run(async move {
    ///     spawner.spawn_supervised_named("worker", restart, || async {});
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn spawn_supervised_named<F, Fut>(
        &self,
        name: impl Into<Arc<str>>,
        restart: Restart,
        factory: F,
    ) -> Task<<Fut::Output as TaskOutput>::Ok>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        spawn_supervised(&self.shared, Some(name.into()), restart, factory)
    }
}
