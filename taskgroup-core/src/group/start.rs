//! Trio's `start`: a child that signals readiness, with a value, before its caller goes on.

use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::oneshot;

use super::shared::{Shared, lock};
use super::task::Task;
use super::{Locality, TaskGroup};
use crate::catch_panic::CatchPanic;
use crate::error_group::Member;
use crate::leaf::{Leaf, TaskInfo, TaskPanic};
use crate::spawn_error::SpawnError;
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

/// Where the child sends its readiness value, or why it has none.
type ReadySender<V> = oneshot::Sender<Result<V, StartError>>;

/// Where `start` waits for the child's readiness value; taken by the first signal.
type ReadySlot<V> = Arc<Mutex<Option<ReadySender<V>>>>;

/// The readiness signal handed to a child started with [`TaskGroup::start`].
pub struct Ready<V> {
    slot: ReadySlot<V>,
}

impl<V> Ready<V> {
    /// Signals readiness: `start` returns `value`. Only the first call counts.
    pub fn started(&self, value: V) {
        if let Some(tx) = lock(&self.slot).take() {
            let _ = tx.send(Ok(value));
        }
    }
}

impl<V> fmt::Debug for Ready<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready").finish_non_exhaustive()
    }
}

/// Why [`TaskGroup::start`] has no value.
///
/// Raised into a group (the `?` in `tg.start(..).await?`, or any conversion into a
/// [`Member`]), [`Failed`](StartError::Failed) becomes the child's own failure, as Trio's
/// `start` re-raises the child's exception: an `io::Error` from a failed bind is an `io::Error`
/// leaf, matched by `except* std::io::Error`, whose [`Leaf::task`] is the started child. The
/// other variants are `StartError` leaves.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use taskgroup::{Member, StartError};
/// let failed = StartError::Failed(std::io::Error::other("address in use").into());
/// assert!(Member::from(failed).is::<std::io::Error>());
/// assert!(Member::from(StartError::NotSignalled).is::<StartError>());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The child failed before it signalled readiness; here is its error.
    Failed(Member),
    /// The child returned without signalling readiness.
    NotSignalled,
    /// The child panicked before it signalled readiness; the panic is not the group's.
    Panicked(TaskPanic),
    /// The child was cancelled before signalling readiness.
    Ended,
    /// The group refused the spawn.
    Refused(SpawnError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Failed(member) => {
                write!(f, "the child failed before it was ready: {member}")
            }
            StartError::NotSignalled => f.write_str(
                "the child returned without signalling readiness; call `ready.started(value)`",
            ),
            StartError::Panicked(panic) => {
                write!(f, "the child panicked before it was ready: {panic}")
            }
            StartError::Ended => f.write_str("the child was cancelled before it was ready"),
            StartError::Refused(why) => write!(f, "the child was not started: {why}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Failed(Member::Leaf(leaf)) => Some(leaf.error()),
            StartError::Failed(Member::Group(group)) => Some(group),
            StartError::Refused(why) => Some(why),
            StartError::Panicked(panic) => Some(panic),
            _ => None,
        }
    }
}

impl StartError {
    /// The member this error raises into a group: the child's own failure for `Failed`, else a
    /// `StartError` leaf.
    pub(crate) fn into_member(self) -> Member {
        match self {
            StartError::Failed(member) => member,
            other => Member::Leaf(Leaf::new(other)),
        }
    }
}

/// What a `start` child ends with, for the group, when its outcome went to `start`'s caller.
fn passed_on() -> Member {
    Member::from(TaskError::Cancelled)
}

/// What `start` waits on. If its caller goes away before the child is ready, the child is
/// cancelled (until then it runs on the caller's behalf, as in Trio), and a failure it already
/// sent goes to the group, as does one it ends with before the cancellation reaches it.
struct Waiting<V> {
    rx: oneshot::Receiver<Result<V, StartError>>,
    /// Held weakly: a child that ended drops the last `Sender`, which `start` reads as the
    /// child having ended.
    slot: Weak<Mutex<Option<ReadySender<V>>>>,
    task: Task<()>,
    shared: Arc<Shared>,
    /// Its entry among the group's `start()` children not ready yet (for snapshots).
    starting: u64,
    done: bool,
}

impl<V> Drop for Waiting<V> {
    fn drop(&mut self) {
        self.shared.waiting.started(self.starting);
        if self.done {
            return;
        }
        // Closed first: a child sending from now on gets its error back and gives it to the
        // group itself.
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Err(StartError::Failed(member))) => self.shared.fail(member),
            Ok(Err(StartError::Panicked(panic))) => {
                self.shared.fail(Member::Leaf(Leaf::new(panic)))
            }
            _ => {}
        }
        let waiting = self
            .slot
            .upgrade()
            .is_some_and(|slot| lock(&slot).is_some());
        if waiting {
            self.task.cancel();
        }
    }
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Trio's `start`: spawns a child and waits until it signals readiness through the
    /// [`Ready`] it is given, returning the value it passed (a server's bound address, say).
    /// The child keeps running in the group afterwards.
    ///
    /// A failure or a panic before readiness is returned by `start` itself
    /// ([`StartError::Failed`], [`StartError::Panicked`]) and is not added to the group, as in
    /// Trio; `tg.start(..).await?` in the body raises a `Failed` child's original error
    /// (see [`StartError`]), so the scope's `except* std::io::Error` matches a server's bind
    /// failure; the child then counts neither as a success nor as a failure (under
    /// [`Policy::FirstOk`](crate::Policy::FirstOk) it does not win). A failure after readiness
    /// is the group's, as for any child. A child that returns without signalling is
    /// [`StartError::NotSignalled`].
    ///
    /// # Cancel safety
    /// Until the child signals readiness it runs on behalf of `start`'s caller: if the future
    /// of `start` is dropped first (by `select!` or a timeout), the child is cancelled, and a
    /// failure it ends with before that cancellation reaches it goes to the group, never
    /// lost. Once the child is ready, dropping the future changes nothing.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{Member, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// tg.run(async {
    ///     let port = tg
    ///         .start(|ready| async move {
    ///             ready.started(8080_u16);
    ///             // ... serve until the group is done
    ///         })
    ///         .await?;
    ///     assert_eq!(port, 8080);
    ///     Ok::<_, Member>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub async fn start<F, Fut, V>(&self, child: F) -> Result<V, StartError>
    where
        F: FnOnce(Ready<V>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
        V: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let slot = Arc::new(Mutex::new(Some(tx)));
        let future = child(Ready {
            slot: Arc::clone(&slot),
        });
        let weak = Arc::downgrade(&slot);
        let waiting = slot;
        let task = self.try_spawn(async move {
            let outcome = CatchPanic::new(future).await.map(TaskOutput::into_result);
            let Some(tx) = lock(&waiting).take() else {
                // After readiness the child is the group's, like any other.
                return match outcome {
                    Ok(result) => result.map(drop),
                    Err(payload) => resume_unwind(payload),
                };
            };
            // Before readiness the outcome is `start`'s caller's: for the group the child ends
            // as passed on (neither a success, which would win under first_ok, nor a failure).
            // If the caller is gone, a failure or a panic is the group's after all.
            match outcome {
                Ok(Ok(_)) => {
                    let _ = tx.send(Err(StartError::NotSignalled));
                    Err(passed_on())
                }
                Ok(Err(mut member)) => {
                    // Where the failure came from stays with it when `?` raises it again.
                    member.tag_task(&TaskInfo {
                        id: tokio::task::try_id(),
                        name: None,
                    });
                    match tx.send(Err(StartError::Failed(member))) {
                        Err(Err(StartError::Failed(member))) => Err(member),
                        _ => Err(passed_on()),
                    }
                }
                Err(payload) => {
                    let panic = TaskPanic::from_payload(&*payload);
                    if tx.send(Err(StartError::Panicked(panic))).is_err() {
                        resume_unwind(payload);
                    }
                    Err(passed_on())
                }
            }
        });
        let task = match task {
            Ok(task) => task,
            Err((why, _)) => return Err(StartError::Refused(why)),
        };
        let starting = self.shared.waiting.starting(task.id(), task.cell_key());
        let mut waiting = Waiting {
            rx,
            slot: weak,
            task,
            shared: Arc::clone(&self.shared),
            starting,
            done: false,
        };
        let ready = (&mut waiting.rx).await;
        waiting.done = true;
        ready.unwrap_or(Err(StartError::Ended))
    }
}
