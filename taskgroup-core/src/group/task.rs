//! [`Task`]: the handle of one child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::cell::{CellRef, TaskCell};
use super::shared::Shared;
use crate::task_error::TaskError;
use crate::task_output::Outcome;

/// The handle of one child task, returned by [`TaskGroup::spawn`](crate::TaskGroup::spawn),
/// [`spawn_named`](crate::TaskGroup::spawn_named), [`try_spawn`](crate::TaskGroup::try_spawn),
/// [`spawn_value`](crate::TaskGroup::spawn_value), [`spawn_local`](crate::TaskGroup::spawn_local),
/// [`spawn_blocking`](crate::TaskGroup::spawn_blocking),
/// [`spawn_shielded`](crate::TaskGroup::spawn_shielded) and [`Spawner`](crate::Spawner)s.
///
/// Inside the scope, `task.await` waits for this one child (see the `Future` implementation
/// below). After the scope has returned, every task is resolved and [`result`](Task::result)
/// gives its value or says why there is none.
///
/// Dropping a `Task` does not cancel the child: the group still owns it, its scope still waits
/// for it and its failure is still the group's; only its value is lost. To stop one child, call
/// [`cancel`](Task::cancel). A spawned child's result lives in its tokio task, as with a
/// `JoinHandle`, so a `Task` kept after the child finished keeps that task's allocation (the
/// size of its future: 128 bytes for a small one) until the handle is dropped or its result
/// taken.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::TaskGroup;
///
/// let tg = TaskGroup::new();
/// let task = tg
///     .run(async {
///         Ok::<_, std::io::Error>(tg.spawn(async { Ok::<_, std::io::Error>(6 * 7) }))
///     })
///     .await
///     .unwrap();
/// assert_eq!(task.result().unwrap(), 42);
/// # }
/// ```
pub struct Task<T> {
    repr: Repr<T>,
}

enum Repr<T> {
    /// A child on the runtime: tokio's task holds its result, so that a child costs one
    /// allocation. `group` is `None` once the result was taken.
    Spawned {
        handle: tokio::task::JoinHandle<Outcome<T>>,
        group: Option<Arc<Shared>>,
        name: Option<Arc<str>>,
    },
    /// A local child, a child queued behind the limit, or a refused spawn (the cell keeps
    /// the name: a handle stays four words).
    Cell(CellRef<T>),
}

fn joined<T>(joined: Result<Outcome<T>, tokio::task::JoinError>) -> Result<T, TaskError> {
    match joined {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Some(error))) => Err(*error),
        Ok(Err(None)) => Err(TaskError::Cancelled),
        Err(error) if error.is_cancelled() => Err(TaskError::Cancelled),
        // Polls and the recording of the ending are caught by the child: only the future's
        // destructor can panic here, when the task is aborted.
        Err(error) => Err(TaskError::Panicked(
            crate::TaskPanic::from_payload(&*error.into_panic())
                .message()
                .to_owned(),
        )),
    }
}

/// Whether a spawned child has finished, waiting for tokio to store its output once the scope
/// has returned: the child releases the group's count when its future is dropped, a few
/// instructions before tokio stores the output on the thread that ran it. (An executor that
/// polled the scope inside the child's wake-up, on that same thread, would wait forever here;
/// tokio's never does.)
fn finished<T>(handle: &tokio::task::JoinHandle<T>, group: &Shared) -> bool {
    if handle.is_finished() {
        return true;
    }
    if !group.is_closed() {
        return false;
    }
    while !handle.is_finished() {
        std::thread::yield_now();
    }
    true
}

impl<T> Task<T> {
    pub(crate) fn spawned(
        handle: tokio::task::JoinHandle<Outcome<T>>,
        group: Arc<Shared>,
        name: Option<Arc<str>>,
    ) -> Self {
        Task {
            repr: Repr::Spawned {
                handle,
                group: Some(group),
                name,
            },
        }
    }

    pub(crate) fn with_cell(cell: Arc<TaskCell<T>>) -> Self {
        Self::with_cell_ref(CellRef::plain(cell))
    }

    pub(crate) fn with_cell_ref(cell: CellRef<T>) -> Self {
        Task {
            repr: Repr::Cell(cell),
        }
    }

    /// The child's value, or why there is none, without waiting: [`TaskError::Failed`] (the
    /// error itself is in the scope's [`ErrorGroup`](crate::ErrorGroup)),
    /// [`Panicked`](TaskError::Panicked), [`Cancelled`](TaskError::Cancelled),
    /// [`NotStarted`](TaskError::NotStarted) for a spawn the group refused, or
    /// [`Taken`](TaskError::Taken) if awaiting the task already took the value.
    ///
    /// Call it after the scope has returned: every child has ended by then, so it never gives
    /// [`TaskError::Pending`]. Inside the scope, a child that has ended gives its result too,
    /// and one that has not gives `Pending` (await the task to wait for it); the child is not
    /// affected. If the scope's future was dropped instead of completing, a spawned child may
    /// still be being aborted: `result` gives `Pending` until the runtime has dropped it.
    ///
    /// # Panics
    /// Never. Once the scope has returned, `result` may spin for a moment (yielding the thread)
    /// on a spawned child whose future is already dropped but whose output tokio, on the thread
    /// that ran it, has not stored yet: a wait of a few instructions, not for the child's work.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{Policy, TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    /// let ok = tg.spawn(async { Ok::<_, std::io::Error>(1) });
    /// let failed = tg.spawn(async { Err::<u32, _>(std::io::Error::other("disk full")) });
    /// let errors = tg
    ///     .run(async {
    ///         let slow = tg.spawn(async { tokio::time::sleep(Duration::from_millis(5)).await });
    ///         // Inside the scope, an unfinished child has no result yet (and runs on).
    ///         assert_eq!(slow.result(), Err(TaskError::Pending));
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(ok.result(), Ok(1));
    /// let Err(TaskError::Failed { message, .. }) = failed.result() else { unreachable!() };
    /// assert_eq!(message, "disk full");
    /// // The error itself is the group's.
    /// assert_eq!(errors.leaves().next().unwrap().to_string(), "disk full");
    /// # }
    /// ```
    pub fn result(self) -> Result<T, TaskError> {
        match self.repr {
            Repr::Cell(cell) => cell.take(),
            Repr::Spawned { group: None, .. } => Err(TaskError::Taken),
            Repr::Spawned {
                mut handle,
                group: Some(group),
                ..
            } => {
                if !finished(&handle, &group) {
                    return Err(TaskError::Pending);
                }
                let mut cx = Context::from_waker(Waker::noop());
                // Unconstrained: a finished handle must not report `Pending` for lack of budget.
                match Pin::new(&mut tokio::task::unconstrained(&mut handle)).poll(&mut cx) {
                    Poll::Ready(out) => joined(out),
                    Poll::Pending => Err(TaskError::Pending),
                }
            }
        }
    }

    /// Why the child was stopped (see [`CancelReason`](crate::CancelReason)): for a child
    /// whose result is [`Cancelled`](TaskError::Cancelled), why. Read it before taking the
    /// result: [`TaskError::Cancelled`] carries none, and `None` comes once the result was
    /// taken.
    ///
    /// - [`TaskCancelled`](crate::CancelReason::TaskCancelled), with its reason, for a child
    ///   cancelled through this handle ([`cancel`](Task::cancel), [`cancel_with`](Task::cancel_with)).
    /// - Otherwise its group's reason, once the group stopped. For a spawned child that is
    ///   the group's reason whenever it stopped, also after the child ended on its own; a
    ///   local or queued child gives the reason its group had when it ended cancelled.
    /// - Otherwise [`RuntimeShutdown`](crate::CancelReason::RuntimeShutdown) for a spawned
    ///   child once the tokio runtime, shutting down, dropped a child of the group unfinished
    ///   (this one, or, like a group's reason, another).
    ///
    /// A group keeps the reasons of handles that cancelled their children (a few dozen bytes
    /// each): those of children still running, and of the latest 512 to 1024 that ended, older
    /// ones going first (a handle has no destructor that could forget its own). A handle read
    /// after more than 512 newer cancels in its group may give its group's reason instead.
    ///
    /// `None` while the group runs and nothing stopped the child, and after a scope that ended
    /// without stopping.
    ///
    /// # Panics
    /// Never.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{CancelReason, TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::builder().limit(1).build();
    /// let (first, queued) = tg
    ///     .run(async {
    ///         let first = tg.spawn(std::future::pending::<()>());
    ///         let queued = tg.spawn(async {}); // waits behind the limit
    ///         tg.cancel_with("shutting down");
    ///         Ok::<_, std::io::Error>((first, queued))
    ///     })
    ///     .await
    ///     .unwrap();
    /// for task in [first, queued] {
    ///     let why = task.cancel_reason().map(|why| why.to_string());
    ///     assert_eq!(why.as_deref(), Some("cancelled: shutting down"));
    ///     assert_eq!(task.result(), Err(TaskError::Cancelled));
    /// }
    /// # }
    /// ```
    pub fn cancel_reason(&self) -> Option<crate::CancelReason> {
        match &self.repr {
            Repr::Spawned {
                handle,
                group: Some(group),
                ..
            } => match group.waiting.handle_reason(handle.id()) {
                Some(reason) => Some(crate::CancelReason::TaskCancelled { reason }),
                None => group.cancel_reason().or_else(|| {
                    (group.waiting.runtime_shut_down() && handle.is_finished())
                        .then_some(crate::CancelReason::RuntimeShutdown)
                }),
            },
            Repr::Spawned { group: None, .. } => None,
            Repr::Cell(cell) => cell.cancel_reason(),
        }
    }

    /// Whether the child has ended: with a value, a failure, a panic or by cancellation, or
    /// because the group refused to start it. Once it is `true`, the child's future has been
    /// dropped (its destructors have run) and [`result`](Task::result) no longer gives
    /// [`TaskError::Pending`]. After the scope has returned it is always `true`.
    ///
    /// # Panics
    /// Never. Like [`result`](Task::result), it may spin for a moment once the scope has
    /// returned, until tokio has stored a spawned child's output.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::TaskGroup;
    ///
    /// let tg = TaskGroup::new();
    /// let task = tg.spawn(async { Ok::<_, std::io::Error>(1) });
    /// // Spawned, but this thread's runtime has not polled it yet.
    /// assert!(!task.is_finished());
    /// tg.run(async { Ok::<_, std::io::Error>(()) }).await.unwrap();
    /// assert!(task.is_finished());
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.repr {
            Repr::Spawned {
                handle,
                group: Some(group),
                ..
            } => finished(handle, group),
            Repr::Spawned { handle, .. } => handle.is_finished(),
            Repr::Cell(cell) => cell.is_done(),
        }
    }

    /// Cancels this one child. It is not a failure: the group and the other children go on,
    /// and the task's result becomes [`TaskError::Cancelled`] unless the child ends first.
    /// It does not wait: await the task, or let the scope return, to know that it has ended.
    ///
    /// - A spawned child is aborted, as by tokio's
    ///   [`JoinHandle::abort`](tokio::task::JoinHandle::abort): it stops at the `.await` where it
    ///   waits (if it is being polled on another thread, once that poll returns; a poll that
    ///   completes keeps its result) and the runtime drops its future.
    /// - A local child is woken, and at its next poll by the scope its future is dropped
    ///   instead of polled.
    /// - A child not polled yet never is. One queued behind the group's
    ///   [`limit`](crate::Builder::limit) keeps its place in line, and its future is dropped,
    ///   unpolled, when its turn comes.
    ///
    /// Dropping the future runs its destructors; a panic in one is the child's
    /// [`TaskPanic`](crate::TaskPanic) in the group and [`TaskError::Panicked`] in the handle.
    /// Cancelling a child that has already ended, or cancelling it again, changes nothing.
    /// Once cancelled, [`cancel_reason`](Task::cancel_reason) says
    /// [`TaskCancelled`](crate::CancelReason::TaskCancelled); to give a reason, use
    /// [`cancel_with`](Task::cancel_with).
    ///
    /// # Panics
    /// Never.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let (idle, done) = tg
    ///     .run(async {
    ///         let idle = tg.spawn(std::future::pending::<()>());
    ///         let done = tg.spawn(async { Ok::<_, std::io::Error>(1) });
    ///         idle.cancel();
    ///         Ok::<_, std::io::Error>((idle, done))
    ///     })
    ///     .await
    ///     .unwrap(); // a cancelled child is not a failure
    /// assert_eq!(idle.result(), Err(TaskError::Cancelled));
    /// done.cancel(); // it had ended: nothing changes
    /// assert_eq!(done.result(), Ok(1));
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.cancel_because(None);
    }

    /// [`cancel`](Task::cancel), with a reason that this handle's
    /// [`cancel_reason`](Task::cancel_reason) gives back as
    /// [`CancelReason::TaskCancelled`](crate::CancelReason::TaskCancelled). The first cancel
    /// wins: a later reason changes nothing, and neither does one for a child that has ended.
    ///
    /// # Panics
    /// Never.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let stale = tg
    ///     .run(async {
    ///         let stale = tg.spawn(std::future::pending::<()>());
    ///         stale.cancel_with("a newer request replaced it");
    ///         Ok::<_, std::io::Error>(stale)
    ///     })
    ///     .await
    ///     .unwrap(); // the group went on: no failure, no stop
    /// assert!(tg.cancel_reason().is_none());
    /// assert_eq!(
    ///     stale.cancel_reason().unwrap().to_string(),
    ///     "cancelled through its handle: a newer request replaced it"
    /// );
    /// assert_eq!(stale.result(), Err(TaskError::Cancelled));
    /// # }
    /// ```
    pub fn cancel_with(&self, reason: impl Into<Arc<str>>) {
        self.cancel_because(Some(reason.into()));
    }

    fn cancel_because(&self, reason: Option<Arc<str>>) {
        match &self.repr {
            Repr::Spawned { handle, group, .. } => {
                // Kept before the abort: the child's drop reads it (see `CancelReason`).
                if let Some(group) = group {
                    if !handle.is_finished() {
                        group.waiting.handle_cancelled(handle.id(), reason);
                    }
                }
                handle.abort();
            }
            Repr::Cell(cell) => cell.request_cancel(reason),
        }
    }

    /// Identifies the cell of a local or queued child (its address), as the group's line
    /// shows it; `None` for a child on the runtime.
    pub(super) fn cell_key(&self) -> Option<usize> {
        match &self.repr {
            Repr::Cell(cell) => Some(super::cell::key(cell)),
            Repr::Spawned { .. } => None,
        }
    }

    /// The tokio [`Id`](tokio::task::Id) of the child's task, the one [`tokio::task::id`]
    /// gives inside it. `None` for a local child (it has no tokio task of its own: the scope
    /// polls it), for a spawn the group refused, and for a child that was queued behind the
    /// group's [`limit`](crate::Builder::limit) when spawned: it gets a tokio task only when its
    /// turn comes, after this handle was made (its failures'
    /// [`TaskInfo`](crate::TaskInfo) carry the id).
    ///
    /// # Panics
    /// Never.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// tg.run(async {
    ///     let spawned = tg.spawn(async { Ok::<_, std::io::Error>(tokio::task::id()) });
    ///     let local = tg.spawn_local(async {});
    ///     assert_eq!(local.id(), None);
    ///     let id = spawned.id();
    ///     assert_eq!(Some(spawned.await?), id);
    ///     Ok::<_, TaskError>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn id(&self) -> Option<tokio::task::Id> {
        match &self.repr {
            Repr::Spawned { handle, .. } => Some(handle.id()),
            Repr::Cell(_) => None,
        }
    }

    /// The name given with [`TaskGroup::spawn_named`](crate::TaskGroup::spawn_named) (or
    /// [`Spawner::spawn_named`](crate::Spawner::spawn_named)), also when the spawn was refused or
    /// queued; `None` for every other child.
    ///
    /// # Panics
    /// Never.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{Member, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// tg.run(async {
    ///     let named = tg.spawn_named("fetcher", async {});
    ///     let unnamed = tg.spawn(async {});
    ///     assert_eq!(named.name(), Some("fetcher"));
    ///     assert_eq!(unnamed.name(), None);
    ///     Ok::<_, Member>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.repr {
            Repr::Spawned { name, .. } => name.as_deref(),
            Repr::Cell(cell) => cell.name(),
        }
    }
}

/// `task.await` waits for the child to end and gives its value, or why there is none, as
/// [`Task::result`] does: [`TaskError::Failed`] (the error itself is in the scope's
/// [`ErrorGroup`](crate::ErrorGroup)), [`Panicked`](TaskError::Panicked),
/// [`Cancelled`](TaskError::Cancelled) or [`NotStarted`](TaskError::NotStarted). The value is
/// taken out of the handle: once a poll has returned it, the handle gives
/// [`TaskError::Taken`], to a further poll and to [`result`](Task::result).
///
/// Awaiting a child changes nothing for its group: its failure is the group's whether or not
/// it is awaited. Under fail-fast without a [`grace`](crate::Builder::grace) period, a failure
/// cancels the body and the siblings at their pending `.await`, so one awaiting the failed
/// child is usually dropped before it sees `Failed` (it can see it if it was being polled on
/// another thread at that moment); under [`WaitAll`](crate::Policy::WaitAll), or while it
/// cleans up during a grace period, it sees it. A child that returns the cancellation it got
/// (`sibling.await?` on a cancelled sibling) ends as cancelled itself, not failed, as in
/// CPython.
///
/// # Panics
/// Never: a poll after completion gives [`TaskError::Taken`] where tokio's `JoinHandle` would
/// panic.
///
/// # Cancel safety
/// A poll that returns `Pending` takes nothing out of the handle. But `task.await` moves the
/// handle into the future it awaits, so dropping that future before it completes (a `select!`
/// branch that lost, a timeout) drops the handle: the child runs on in the group, which still
/// waits for it and still collects its failure, and only its value is lost. To keep the handle,
/// await `&mut task` (a `Task` is `Unpin`): dropping that future leaves the handle as it was,
/// and a later `task.await` or [`task.result()`](Task::result) gives the result.
///
/// # Examples
/// Waiting for a while, keeping the handle:
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use taskgroup::{TaskError, TaskGroup};
///
/// let tg = TaskGroup::new();
/// tg.run(async {
///     let mut task = tg.spawn(async {
///         tokio::time::sleep(Duration::from_millis(50)).await;
///         Ok::<_, std::io::Error>(7)
///     });
///     // Giving up after 10 ms drops only the `&mut task` future.
///     let early = tokio::time::timeout(Duration::from_millis(10), &mut task).await;
///     assert!(early.is_err());
///     assert_eq!(task.await?, 7);
///     Ok::<_, TaskError>(())
/// })
/// .await
/// .unwrap();
/// # }
/// ```
///
/// A child that passes on a sibling's cancellation is cancelled, not failed:
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::{TaskError, TaskGroup};
///
/// let tg = TaskGroup::new();
/// let waiter = tg
///     .run(async {
///         let sleeper = tg.spawn(std::future::pending::<()>());
///         let waiter = tg.spawn(async move {
///             sleeper.cancel();
///             sleeper.await?; // Err(TaskError::Cancelled)
///             Ok::<_, TaskError>(())
///         });
///         Ok::<_, TaskError>(waiter)
///     })
///     .await
///     .unwrap(); // no failure in the group
/// assert_eq!(waiter.result(), Err(TaskError::Cancelled));
/// # }
/// ```
impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().repr {
            Repr::Cell(cell) => cell.poll_take(cx),
            Repr::Spawned { group: None, .. } => Poll::Ready(Err(TaskError::Taken)),
            Repr::Spawned { handle, group, .. } => match Pin::new(&mut *handle).poll(cx) {
                Poll::Ready(out) => {
                    *group = None;
                    Poll::Ready(joined(out))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_four_words_at_most() {
        // Held handles count in the memory per task (docs/PERFORMANCE.md).
        assert!(std::mem::size_of::<Task<()>>() <= 32);
    }
}
