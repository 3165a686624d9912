//! Background children ([`TaskGroup::spawn_background`]): children that never keep the scope
//! open. Once the body and every other child have ended, they are cancelled and reaped, and
//! the scope returns.
//!
//! They live in a group of their own, made by the first background spawn: nested in this one
//! (its cancellation, deadline and abort reach them, and a group made inside one of them is
//! nested in it), but holding none of this group's count, so that the scope's close sees only
//! the other children. Their failures are this group's, under its policy. The scope closes this
//! group first (a spawn after that is refused), then stops the background group, with the
//! grace period if there is one, and waits for its count to reach zero.
//!
//! A background spawn counts a unit of this group while it looks the background group up, so
//! that the scope cannot close between the two: a background child is either seen by the
//! scope's end or refused.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use super::TaskGroup;
use super::locality::Locality;
use super::shared::{Shared, lock};
use super::spawn::or_refused;
use super::spawner::Spawner;
use super::state::Stop;
use super::task::Task;
use crate::cancel_reason::CancelReason;
use crate::spawn_error::SpawnError;
use crate::task_output::TaskOutput;

/// A group's background group, and its slot in the snapshot registry.
pub(crate) struct Background {
    group: Arc<Shared>,
    registered: usize,
}

impl Background {
    /// The scope or the group is gone: every background child is aborted.
    pub(super) fn abandon(self) {
        super::snapshot::unregister(self.registered);
        self.group.abandon();
    }
}

impl Shared {
    /// Spawns a background child, or gives the future back if the group refuses it.
    fn spawn_background<F>(
        self: &Arc<Self>,
        name: Option<Arc<str>>,
        future: F,
    ) -> Result<Task<<F::Output as TaskOutput>::Ok>, (SpawnError, F)>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let background = match self.made_background() {
            Ok(background) => background,
            Err(why) => return Err((why, future)),
        };
        let spawned = background.spawn(name, future);
        self.release();
        spawned
    }

    /// The background group, made if need be, with a unit of this group counted (release
    /// it): refused once this group refuses spawns.
    fn made_background(self: &Arc<Self>) -> Result<Arc<Shared>, SpawnError> {
        self.acquire()?;
        let mut slot = lock(&self.background);
        let background = slot.get_or_insert_with(|| {
            let group = self.new_background();
            Background {
                registered: super::snapshot::register(&group),
                group,
            }
        });
        Ok(Arc::clone(&background.group))
    }

    /// The background children's token (see [`TaskGroup::background_token`]).
    fn background_token(self: &Arc<Self>) -> CancellationToken {
        match self.made_background() {
            Ok(background) => {
                self.release();
                background.token.clone()
            }
            Err(_) => {
                // Refused: background children are being stopped, or none can start.
                let token = CancellationToken::new();
                token.cancel();
                token
            }
        }
    }

    /// The background group, if a background child was ever spawned.
    pub(super) fn background_group(&self) -> Option<Arc<Shared>> {
        lock(&self.background)
            .as_ref()
            .map(|background| Arc::clone(&background.group))
    }
}

/// The end of a scope whose group has background children: they are stopped (given the grace
/// period, if any, then aborted) and reaped. Dropped unfinished, it aborts them.
pub(super) struct Teardown {
    background: Option<Background>,
    grace: Option<Pin<Box<Sleep>>>,
}

impl Teardown {
    /// Stops the background group of `shared`, whose scope has just closed; `None` if it has
    /// none.
    pub(super) fn start(shared: &Shared) -> Option<Teardown> {
        let background = lock(&shared.background).take()?;
        let group = &background.group;
        // A group that was stopped (its grace cancelled the background token already) and then
        // closed: the background children are stopped for its reason.
        let why = match shared.cancel_reason() {
            Some(why) => CancelReason::Enclosing(Box::new(why)),
            None => CancelReason::ScopeFinished,
        };
        group.stop_because(Stop::Closed, || why);
        let grace = match group.config.grace {
            Some(period) if !group.is_aborted() => Some(Box::pin(tokio::time::sleep(period))),
            _ => None,
        };
        Some(Teardown {
            background: Some(background),
            grace,
        })
    }

    /// Ready once every background child has ended.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(background) = &self.background else {
            return Poll::Ready(());
        };
        let group = &background.group;
        group.register_scope(cx);
        if let Some(grace) = &mut self.grace {
            if grace.as_mut().poll(cx).is_ready() {
                self.grace = None;
                group.abort_all();
            }
        }
        group.state.set_waiting();
        if !group.state.try_close() {
            return Poll::Pending;
        }
        if let Some(background) = self.background.take() {
            super::snapshot::unregister(background.registered);
        }
        Poll::Ready(())
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Some(background) = self.background.take() {
            background.abandon();
        }
    }
}

/// Spawns a background child, or resolves the handle at once with why it was refused.
fn spawn_or_resolve_background<F>(
    shared: &Arc<Shared>,
    name: Option<Arc<str>>,
    future: F,
) -> Task<<F::Output as TaskOutput>::Ok>
where
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    or_refused(shared.spawn_background(name.clone(), future), name)
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Starts a *background* child: one that never keeps the scope open. Once the body and
    /// every other child have ended, background children are cancelled (given the group's
    /// [`grace`](crate::Builder::grace) period, if it has one, then aborted) and reaped, and
    /// then the scope returns. Use it for a metrics reporter, a heartbeat, a cache refresher:
    /// work that serves the others and has no end of its own.
    ///
    /// Otherwise it is a child like any other: its failure (or panic) is a failure of the
    /// group under its [`Policy`](crate::Policy) (under fail-fast it cancels the others), the
    /// group's cancellation and deadline reach it, and a group made inside it is nested in
    /// it. Its success does not win a [`Policy::FirstOk`](crate::Policy::FirstOk) group, and it
    /// takes no slot of the group's [`limit`](crate::Builder::limit). Cancelled at the scope's
    /// end, it reads [`CancelReason::ScopeFinished`] from
    /// [`cancel_reason`](crate::cancel_reason) (and its handle from
    /// [`Task::cancel_reason`]). A failure it returns while it is being cancelled (during the
    /// grace period) is still reported. Refused, like [`spawn`](Self::spawn), once the group
    /// stops accepting children.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    ///
    /// async fn report(ticks: Arc<AtomicU32>) -> Result<(), std::io::Error> {
    ///     loop {
    ///         tokio::time::sleep(Duration::from_millis(1)).await;
    ///         ticks.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let ticks = Arc::new(AtomicU32::new(0));
    /// let tg = taskgroup::TaskGroup::new();
    /// let reporter = tg.spawn_background(report(Arc::clone(&ticks)));
    /// tg.run(async {
    ///     tg.spawn(tokio::time::sleep(Duration::from_millis(10)));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .await
    /// .unwrap();
    /// // The scope returned when the sleeper was done; the reporter was cancelled.
    /// assert_eq!(reporter.result(), Err(taskgroup::TaskError::Cancelled));
    /// # }
    /// ```
    pub fn spawn_background<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve_background(&self.shared, None, future)
    }

    /// Like [`spawn_background`](Self::spawn_background), with a name that appears in the
    /// task's errors and in the [`snapshot`](crate::snapshot).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let errors = tg
    ///     .run(async {
    ///         tg.spawn_background_named("heartbeat", async {
    ///             Err::<(), _>(std::io::Error::other("lost the peer"))
    ///         });
    ///         std::future::pending::<()>().await;
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// // The background child's failure failed the group and cancelled the body.
    /// let leaf = errors.leaves().next().unwrap();
    /// assert_eq!(leaf.task().and_then(|t| t.name()), Some("heartbeat"));
    /// # }
    /// ```
    pub fn spawn_background_named<F>(
        &self,
        name: impl Into<Arc<str>>,
        future: F,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve_background(&self.shared, Some(name.into()), future)
    }

    /// The background children's cancellation token: cancelled when they are told to stop,
    /// at the scope's end or when the group cancels (it is a child of the group's
    /// [`token`](Self::token), which the scope's end does not cancel). With a
    /// [`grace`](crate::Builder::grace) period, a background child watches it to finish its
    /// work (flush a buffer, say a last word) before it is aborted. Once the group refuses
    /// spawns, the token given is already cancelled.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let tg = taskgroup::TaskGroup::builder().grace(Duration::from_secs(1)).build();
    /// let stop = tg.background_token();
    /// let reporter = tg.spawn_background(async move {
    ///     let mut reports = 0;
    ///     loop {
    ///         tokio::select! {
    ///             _ = stop.cancelled() => return Ok::<_, std::io::Error>(reports + 1), // the last report
    ///             _ = tokio::time::sleep(Duration::from_millis(1)) => reports += 1,
    ///         }
    ///     }
    /// });
    /// tg.run(async { Ok::<_, std::io::Error>(()) }).await.unwrap();
    /// assert!(reporter.result().unwrap() >= 1);
    /// # }
    /// ```
    pub fn background_token(&self) -> CancellationToken {
        self.shared.background_token()
    }
}

impl Spawner {
    /// Starts a background child, as
    /// [`TaskGroup::spawn_background`](crate::TaskGroup::spawn_background) does.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// tg.run(async {
    ///     let ticker = spawner.spawn_background(std::future::pending::<()>());
    ///     Ok::<_, std::io::Error>(ticker)
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn spawn_background<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve_background(&self.shared, None, future)
    }

    /// Like [`spawn_background`](Self::spawn_background), with a name.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let ticker = tg
    ///     .run(async { Ok::<_, std::io::Error>(spawner.spawn_background_named("ticker", std::future::pending::<()>())) })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(ticker.name(), Some("ticker"));
    /// # }
    /// ```
    pub fn spawn_background_named<F>(
        &self,
        name: impl Into<Arc<str>>,
        future: F,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve_background(&self.shared, Some(name.into()), future)
    }

    /// The background children's cancellation token, as
    /// [`TaskGroup::background_token`](crate::TaskGroup::background_token) gives it.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// let stop = tg.spawner().background_token();
    /// tg.cancel();
    /// assert!(stop.is_cancelled());
    /// ```
    pub fn background_token(&self) -> CancellationToken {
        self.shared.background_token()
    }
}
