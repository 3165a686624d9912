//! Trio's `start`: a child that signals readiness, with a value, before its caller goes on.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::oneshot;

use super::shared::{Shared, lock};
use super::task::Task;
use super::{Locality, TaskGroup};
use crate::leaf::Member;
use crate::spawn_error::SpawnError;
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
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The child failed before it signalled readiness; here is its error.
    Failed(Member),
    /// The child returned without signalling readiness.
    NotSignalled,
    /// The child was cancelled or panicked before signalling readiness.
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
            StartError::Ended => {
                f.write_str("the child was cancelled or panicked before it was ready")
            }
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
            _ => None,
        }
    }
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
    done: bool,
}

impl<V> Drop for Waiting<V> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Ok(Err(StartError::Failed(member))) = self.rx.try_recv() {
            self.shared.fail(member);
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
    /// A failure before readiness is returned by `start` itself and is not added to the group;
    /// a failure after readiness is the group's, as for any child. A child that returns
    /// without signalling is [`StartError::NotSignalled`].
    ///
    /// # Cancel safety
    /// Until the child signals readiness it runs on behalf of `start`'s caller: if the future
    /// of `start` is dropped first (by `select!` or a timeout), the child is cancelled, and a
    /// failure it ends with before that cancellation reaches it goes to the group, never
    /// lost. Once the child is ready, dropping the future changes nothing.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup_core::{Member, TaskGroup};
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
            let outcome = future.await.into_result();
            let waiting = lock(&waiting).take();
            match (outcome, waiting) {
                // Before readiness, the outcome belongs to `start`'s caller, not the group;
                // if the caller is gone, a failure is the group's.
                (Err(member), Some(tx)) => match tx.send(Err(StartError::Failed(member))) {
                    Err(Err(StartError::Failed(member))) => Err(member),
                    _ => Ok(()),
                },
                (Ok(_), Some(tx)) => {
                    let _ = tx.send(Err(StartError::NotSignalled));
                    Ok(())
                }
                (outcome, None) => outcome.map(drop),
            }
        });
        let task = match task {
            Ok(task) => task,
            Err((why, _)) => return Err(StartError::Refused(why)),
        };
        let mut waiting = Waiting {
            rx,
            slot: weak,
            task,
            shared: Arc::clone(&self.shared),
            done: false,
        };
        let ready = (&mut waiting.rx).await;
        waiting.done = true;
        ready.unwrap_or(Err(StartError::Ended))
    }
}
