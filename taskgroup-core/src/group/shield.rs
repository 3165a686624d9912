//! Shielded children ([`TaskGroup::spawn_shielded`]): the group's cancellation does not abort
//! them. They run to completion and the scope waits for them; only their bound, or the scope's
//! own end (its future dropped), aborts them.
//!
//! A shielded child is an ordinary [`Child`] of a kind whose `SHIELDED` flag makes it skip
//! the abort check and the waker slab, so ordinary children pay nothing for shields. Its
//! future is wrapped in a [`Shield`], which watches for the scope's end and for the bound.
//! Blocking children are shielded children too (see `blocking`).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::child::{Child, ChildKind, RecordedInside};
use super::current::{ShieldMark, address};
use super::limit::{Queued, QueuedFuture, Waiter};
use super::shared::{Shared, lock};
#[cfg(feature = "tracing")]
use super::spawn::instrument;
use super::spawn::{queued_node, refused};
use super::spawner::Spawner;
use super::task::Task;
use super::{Locality, TaskGroup};
use crate::error_group::Member;
use crate::leaf::Leaf;
use crate::spawn_error::SpawnError;
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

/// The kind of a shielded child: `N`'s, with the group's abort ignored.
pub(super) struct Shielding<N>(pub(super) N);

impl<N: ChildKind> ChildKind for Shielding<N> {
    const RECORDS: bool = N::RECORDS;
    const SHIELDED: bool = true;
    fn name(&self) -> Option<&Arc<str>> {
        self.0.name()
    }
}

/// How the future of a shielded child ended.
pub(super) enum ShieldOutput<O> {
    /// With the child's own output.
    Done(O),
    /// Stopped after all, as a cancellation: its scope is gone, or its work never started.
    Aborted,
    /// Aborted when its bound passed.
    Expired(Duration),
}

impl<O: TaskOutput> TaskOutput for ShieldOutput<O> {
    type Ok = O::Ok;

    fn into_result(self) -> Result<O::Ok, Member> {
        match self {
            ShieldOutput::Done(output) => output.into_result(),
            // Recorded as a cancellation, not a failure (see `Ending::of`).
            ShieldOutput::Aborted => Err(Member::from(TaskError::Cancelled)),
            ShieldOutput::Expired(bound) => Err(Member::Leaf(Leaf::new(ShieldExpired { bound }))),
        }
    }
}

/// The leaf of a shielded child that was still running when its bound passed: the bound given
/// to [`TaskGroup::spawn_shielded_bounded`] counts from the moment its group began cancelling,
/// and when it passes the child is aborted (its future dropped at its pending `.await`) so
/// that the scope can return. The leaf's [`task`](crate::Leaf::task) is that child.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use taskgroup::{ShieldExpired, TaskGroup};
///
/// let tg = TaskGroup::new();
/// let eg = tg
///     .run(async {
///         tg.spawn_shielded_bounded(Duration::from_secs(1), std::future::pending::<()>());
///         tg.cancel();
///         Ok::<_, std::io::Error>(())
///     })
///     .await
///     .unwrap_err();
/// let expired = eg.leaves().next().unwrap().downcast_ref::<ShieldExpired>().copied();
/// assert_eq!(expired.map(|e| e.bound()), Some(Duration::from_secs(1)));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShieldExpired {
    bound: Duration,
}

impl ShieldExpired {
    /// The bound that passed.
    pub fn bound(&self) -> Duration {
        self.bound
    }
}

impl fmt::Display for ShieldExpired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a shielded task was aborted: it was still running {:?} after its group began \
             cancelling (its shield's bound); give it a longer bound, or make it finish sooner",
            self.bound
        )
    }
}

impl StdError for ShieldExpired {}

pin_project_lite::pin_project! {
    /// A shielded child's future: the user's future, and what may still stop it.
    pub(super) struct Shield<F> {
        #[pin]
        future: F,
        // The group's address: a group made while the future is polled is shielded with it.
        group: usize,
        // Ready once the scope is gone.
        #[pin]
        abandoned: WaitForCancellationFutureOwned,
        #[pin]
        bound: Option<Bound>,
    }
}

pin_project_lite::pin_project! {
    /// How long a shield holds once its group begins cancelling.
    struct Bound {
        after: Duration,
        // Ready once the group begins cancelling; then `expiry` runs.
        #[pin]
        cancelling: WaitForCancellationFutureOwned,
        #[pin]
        expiry: Option<Sleep>,
    }
}

impl<F> Shield<F> {
    pub(super) fn new(future: F, shared: &Arc<Shared>, bound: Option<Duration>) -> Self {
        Shield {
            future,
            group: address(shared),
            abandoned: shared.abandoned_token().cancelled_owned(),
            bound: bound.map(|after| Bound {
                after,
                cancelling: shared.token.clone().cancelled_owned(),
                expiry: None,
            }),
        }
    }
}

impl<F: Future> Future for Shield<F> {
    type Output = ShieldOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.abandoned.poll(cx).is_ready() {
            return Poll::Ready(ShieldOutput::Aborted);
        }
        let polled = {
            let _mark = ShieldMark::new(*this.group);
            this.future.poll(cx)
        };
        if let Poll::Ready(output) = polled {
            return Poll::Ready(ShieldOutput::Done(output));
        }
        if let Some(bound) = this.bound.as_pin_mut() {
            let mut bound = bound.project();
            if bound.expiry.is_none() && bound.cancelling.poll(cx).is_ready() {
                bound.expiry.set(Some(tokio::time::sleep(*bound.after)));
            }
            if let Some(expiry) = bound.expiry.as_pin_mut() {
                if expiry.poll(cx).is_ready() {
                    return Poll::Ready(ShieldOutput::Expired(*bound.after));
                }
            }
        }
        Poll::Pending
    }
}

/// Where a shielded child waits for a slot of the limit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum InLine {
    /// It keeps its place when the group stops, and starts when its turn comes.
    Kept,
    /// It is dropped when the group stops, as an ordinary child is.
    Dropped,
}

impl Shared {
    /// Starts a shielded child, as [`Shared::spawn`] starts an ordinary one, or resolves its
    /// handle at once with why the group refused it.
    pub(super) fn spawn_shielded<F>(
        self: &Arc<Self>,
        future: F,
        in_line: InLine,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return refused(SpawnError::NoRuntime, None);
        };
        if let Err(why) = self.acquire() {
            return refused(why, None);
        }
        if let Some(limiter) = &self.limiter {
            let mut limiter = lock(limiter);
            if !limiter.try_take() {
                // The cell is shielded too: once started, the group's abort does not stop it.
                let (node, cell) = queued_node(future, self, None, true);
                let child = Child::new(node, Arc::clone(self), Shielding(RecordedInside));
                #[cfg(feature = "tracing")]
                let child = instrument(child, None);
                let queued = Queued {
                    future: QueuedFuture::Shielded { child },
                    runtime,
                };
                limiter.enqueue(match in_line {
                    InLine::Kept => Waiter::Shielded(queued),
                    InLine::Dropped => Waiter::Spawned(queued),
                });
                return Task::with_cell_ref(cell);
            }
        }
        let handle = self.start(&runtime, future, Shielding(()));
        Task::spawned(handle, Arc::clone(self), None)
    }
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Like [`spawn`](Self::spawn), but the group's cancellation does not abort the child: a
    /// *shielded* child runs to completion, and the scope waits for it. Use it for work that
    /// must not stop halfway, such as a commit, when a sibling fails, the group is
    /// [cancelled](Self::cancel) or its deadline passes. Its failure and its value count as any
    /// child's, also when they come after the group began cancelling.
    ///
    /// - Spawned means it runs: a shielded child not yet polled, or waiting for a slot of the
    ///   [`limit`](crate::Builder::limit), when the group stops still starts when its turn
    ///   comes. A spawn after the group stopped is refused, as any spawn is.
    /// - With a [`grace`](crate::Builder::grace) period, the group's [`token`](Self::token)
    ///   tells it that the group is stopping; the end of the grace does not abort it.
    /// - [`Task::cancel`] still cancels it: that is the caller's own choice.
    /// - Groups made inside the shielded child (a `task_group!` in it) are shielded with it:
    ///   the group's cancellation does not reach them.
    /// - If the scope's future is dropped (by `tokio::time::timeout`, `select!`, or the
    ///   cancellation of the child that runs this scope), nothing is left to wait: the
    ///   shielded child is aborted as any child is, and so are the shields of every group
    ///   nested in it. A shield protects against its group's cancellation, not against its
    ///   scope disappearing.
    ///
    /// A shield that hangs would hold the scope open forever once the group is cancelled:
    /// [`spawn_shielded_bounded`](Self::spawn_shielded_bounded) gives it a bound. To shield a
    /// section of a child rather than a whole child, spawn the section as a shielded sibling
    /// through a [`Spawner`] and await its handle: if the child is cancelled while it waits,
    /// the section runs on and the scope waits for it.
    ///
    /// # Panics
    /// Never for a refused spawn, including outside a runtime: the handle then says why
    /// ([`TaskError::NotStarted`]), and the future is dropped unpolled. A panic in the child
    /// is its [`TaskPanic`](crate::TaskPanic).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    /// use taskgroup::TaskGroup;
    ///
    /// let committed = Arc::new(AtomicBool::new(false));
    /// let tg = TaskGroup::new();
    /// let failed = tg
    ///     .run(async {
    ///         let flag = Arc::clone(&committed);
    ///         tg.spawn_shielded(async move {
    ///             tokio::time::sleep(Duration::from_millis(50)).await; // writing...
    ///             flag.store(true, Ordering::SeqCst);
    ///         });
    ///         tg.spawn(async { Err::<(), _>(std::io::Error::other("sibling failed")) });
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(failed.len(), 1);
    /// assert!(committed.load(Ordering::SeqCst), "the scope waited for the commit");
    /// # }
    /// ```
    pub fn spawn_shielded<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_shield(&self.shared, None, future)
    }

    /// Like [`spawn_shielded`](Self::spawn_shielded), with a bound: once the group begins
    /// cancelling, the shielded child has `bound` to finish. If it is still running then, it
    /// is aborted (its future dropped at its pending `.await`, as an ordinary child's), the
    /// group gets a [`ShieldExpired`] leaf naming the child, and its handle says
    /// [`TaskError::Failed`]. So a cancelled scope returns at most `bound` after it began
    /// cancelling, however the shield behaves. The bound counts from the cancellation, not
    /// from the spawn: in a group that is never cancelled the child runs as long as it
    /// needs. A zero bound aborts it as soon as the group cancels; `Duration::MAX` never does.
    ///
    /// # Panics
    /// As [`spawn_shielded`](Self::spawn_shielded). The bound needs tokio's timer: on a
    /// runtime built without it, the child ends with a [`TaskPanic`](crate::TaskPanic) that
    /// says so (as the group's own timeout would).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{ShieldExpired, TaskGroup, TimedOut};
    ///
    /// let tg = TaskGroup::builder().timeout(Duration::from_secs(1)).build();
    /// let started = tokio::time::Instant::now();
    /// let eg = tg
    ///     .run(async {
    ///         // A flush that hangs: without the bound the scope would wait forever.
    ///         tg.spawn_shielded_bounded(Duration::from_secs(5), std::future::pending::<()>());
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(started.elapsed(), Duration::from_secs(6));
    /// assert!(eg.contains::<ShieldExpired>() && eg.contains::<TimedOut>());
    /// # }
    /// ```
    pub fn spawn_shielded_bounded<F>(
        &self,
        bound: Duration,
        future: F,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_shield(&self.shared, Some(bound), future)
    }
}

impl Spawner {
    /// Spawns a shielded child into the group, as
    /// [`TaskGroup::spawn_shielded`] does (read it for what a shield holds against).
    ///
    /// # Examples
    /// A shielded section of a child: the child awaits it, and if the child is cancelled
    /// meanwhile, the section still runs to its end before the scope returns.
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let (worker, section) = tg
    ///     .run(async {
    ///         let (tx, rx) = tokio::sync::oneshot::channel();
    ///         let worker = tg.spawn(async move {
    ///             let section = spawner.spawn_shielded(async {
    ///                 tokio::time::sleep(Duration::from_millis(20)).await;
    ///                 Ok::<_, std::io::Error>("saved")
    ///             });
    ///             let _ = tx.send(section);
    ///             std::future::pending::<()>().await;
    ///         });
    ///         let section = rx.await.unwrap();
    ///         worker.cancel();
    ///         Ok::<_, TaskError>((worker, section))
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(worker.result(), Err(TaskError::Cancelled));
    /// assert_eq!(section.result(), Ok("saved"));
    /// # }
    /// ```
    pub fn spawn_shielded<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_shield(&self.shared, None, future)
    }

    /// Spawns a shielded child with a bound, as
    /// [`TaskGroup::spawn_shielded_bounded`] does.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    ///
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let task = tg
    ///     .run(async move {
    ///         let task = spawner.spawn_shielded_bounded(Duration::from_secs(1), async {
    ///             tokio::time::sleep(Duration::from_millis(10)).await;
    ///             Ok::<_, std::io::Error>(3)
    ///         });
    ///         spawner.cancel(); // the shield finishes well within its bound
    ///         Ok::<_, std::io::Error>(task)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(task.result().unwrap(), 3);
    /// # }
    /// ```
    pub fn spawn_shielded_bounded<F>(
        &self,
        bound: Duration,
        future: F,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_shield(&self.shared, Some(bound), future)
    }
}

fn spawn_shield<F>(
    shared: &Arc<Shared>,
    bound: Option<Duration>,
    future: F,
) -> Task<<F::Output as TaskOutput>::Ok>
where
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    shared.spawn_shielded(Shield::new(future, shared, bound), InLine::Kept)
}
