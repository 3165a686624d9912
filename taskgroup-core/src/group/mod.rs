//! [`TaskGroup`]: the scope that owns its children.
//!
//! The core, one concept per file:
//! - `state`: the atomic word (live-unit count and flags) and its transitions; no other file
//!   touches its bits. Its module doc lists the invariants.
//! - `shared`: [`Shared`], what the scope, spawners, handles and children share; stopping and
//!   aborting; the hold on an enclosing group.
//! - `current`: the thread-local group being polled, lent for one poll.
//! - `spawn`: counting a child and putting it on the runtime or behind the limit.
//! - `child`: the future a spawned child runs, and its accounting guard.
//! - `in_cell` and `cell`: local and queued children, whose handle reads a cell.
//! - `ending`: how a child ended, and recording it.
//! - `limit`: the concurrency limit's slots and line; `slot`: a slot changing hands.
//! - `wakers`: the waiting children's wakers (in a `chunked_slab`), and the reasons handles'
//!   cancels gave.
//! - `snapshot`, `reason`, `deadline`: the live tree, cancel reasons, effective deadlines.
//! - `arrivals`: local children spawned since the scope last polled; `local`: spawning them.
//! - `scope`: the future of `run`, one method per step.
//! - `shield`: children the group's cancellation does not abort; `blocking`: closures on the
//!   blocking pool, shielded children holding the scope open while they run; `process`
//!   (feature `process`): OS processes, shielded children that signal and reap their process.
//! - `background`: children that never keep the scope open, in a group of their own stopped
//!   after the close; `supervise`: children restarted from a factory; `failures`: the
//!   failures a group keeps, bounded under `keep_errors`.
//! - `start`, `spawner`, `task`, `locality`, `control`, `settled`: the public pieces.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::{Arc, Mutex};

mod arrivals;
mod background;
mod blocking;
mod cell;
mod child;
mod chunked_slab;
mod control;
mod counting;
mod current;
mod deadline;
mod ending;
mod failures;
mod in_cell;
mod in_place;
mod index;
mod limit;
mod local;
mod local_node;
mod locality;
#[cfg(all(test, taskgroup_loom))]
mod models;
#[cfg(feature = "process")]
mod process;
mod reason;
mod scope;
mod settled;
mod shared;
mod shield;
mod slot;
mod snapshot;
mod spawn;
mod spawner;
mod start;
mod state;
mod supervise;
mod task;
mod wakers;

pub use deadline::current_deadline;
pub use failures::{ErrorsDropped, FailureCounts};
pub use locality::{Local, Locality, Parallel};
pub use reason::cancel_reason;
pub use settled::Settled;
pub(crate) use shared::Shared;
pub use shield::ShieldExpired;
pub use snapshot::{
    ChildSnapshot, ChildSnapshotKind, ChildSnapshotState, GroupSnapshot, GroupState, Snapshot,
    snapshot,
};
pub use spawner::Spawner;
pub use start::{Ready, StartError};
pub use supervise::{Restart, RestartError};
pub use task::Task;

use arrivals::Arrivals;
use local_node::LocalChild;
use scope::Scope;
use spawn::spawn_or_resolve;

use crate::config::{Builder, Config};
use crate::error_group::Member;
use crate::error_group::{ErrorGroup, TASK_GROUP_MESSAGE};
use crate::leaf::{AlreadyEntered, Leaf};
use crate::spawn_error::SpawnError;
use crate::task_output::TaskOutput;

/// A local child as a group of kind `K` holds it.
type LocalOf<'env, K> = LocalChild<<K as locality::sealed::Sealed>::Boxed<'env>>;

/// A structured-concurrency scope: children spawned into it run in parallel on tokio, and
/// [`run`](TaskGroup::run) returns only when every one has finished or been cancelled, with
/// all failures gathered in one [`ErrorGroup`].
///
/// This is the runtime under `task_group!`; use it directly when a macro is not wanted.
/// The `'env` lifetime is the scope's environment: what borrowing local tasks may borrow.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use taskgroup::TaskGroup;
///
/// async fn fetch(url: &'static str, secs: u64) -> Result<String, std::io::Error> {
///     tokio::time::sleep(Duration::from_millis(secs)).await;
///     Ok(format!("Data from {url}"))
/// }
///
/// let tg = TaskGroup::new();
/// let (a, b) = tg
///     .run(async {
///         let a = tg.spawn(fetch("api1.com", 2));
///         let b = tg.spawn(fetch("api2.com", 1));
///         Ok::<_, std::io::Error>((a, b))
///     })
///     .await
///     .unwrap();
/// assert_eq!(a.result().unwrap(), "Data from api1.com");
/// assert_eq!(b.result().unwrap(), "Data from api2.com");
/// # }
/// ```
///
/// # Cancellation
/// A cancelled child stops at its next `.await` and its future is dropped, running its
/// destructors, as tokio's `abort` does. If the future of `run` is dropped (by
/// `tokio::time::timeout`, `select!`, or an enclosing group's cancellation), every child is
/// cancelled the same way, and so is every child of a group dropped before `run` finished.
///
/// # Groups made inside groups
/// A group created while another group's body or child is being polled is nested in it: it
/// holds the enclosing scope open while it has live children (so the enclosing scope never
/// returns while a grandchild runs), and only then. A nested group that was never run, or
/// whose children are all gone, holds nothing: it can be returned, stored in a struct, a
/// `OnceLock` or a detached task without keeping the enclosing scope from returning.
pub struct TaskGroup<'env, K: Locality = Parallel> {
    shared: Arc<Shared>,
    /// Local children spawned since the scope last polled; the scope polls each once and keeps
    /// those that wait. (Pushing to a list and taking it in one pass measured faster than
    /// pushing to the set itself.)
    incoming: Mutex<Arrivals<LocalOf<'env, K>>>,
    /// Local children waiting for a slot of the limit, oldest first.
    waiting_locals: Mutex<VecDeque<LocalOf<'env, K>>>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl Default for TaskGroup<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'env> TaskGroup<'env> {
    /// A group with the default [`Policy::FailFast`](crate::Policy::FailFast), no deadline and
    /// no limit. Created inside another group's body or child, it is nested in that group
    /// (see [Groups made inside groups](TaskGroup#groups-made-inside-groups)).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// assert!(!tg.is_stopped());
    /// ```
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// Configures a group: policy, timeout, grace period, limit, name.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::builder().limit(4).name("workers").build();
    /// # drop(tg);
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts a *local* child: a future that may borrow the caller's locals (`&` and `&mut`),
    /// polled on the scope's own task rather than spawned on the runtime. It lives under the
    /// same policy, limit, cancellation and error collection as spawned children, and the
    /// scope does not return before it finishes. Local children run concurrently with the
    /// body, not in parallel: use them for I/O-bound work that borrows, and
    /// [`spawn`](Self::spawn) for parallel work.
    ///
    /// The future must be `Send` so that the scope itself stays `Send`; it need not be
    /// `'static`. For non-`Send` local children, use a [`Local`] group
    /// ([`TaskGroup::new_local`]). If the group no longer accepts children the future is
    /// dropped unpolled and the handle says why. A panic in the future, or in its
    /// destructor, is the child's [`TaskPanic`](crate::TaskPanic), never the scope's.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{Member, TaskGroup};
    ///
    /// let mut hits = 0;
    /// let names = vec!["a".to_string(), "b".to_string()];
    /// {
    ///     // The group holds its borrows until it is dropped, as `task_group!`'s block does.
    ///     let tg = TaskGroup::new();
    ///     tg.run(async {
    ///         tg.spawn_local(async {
    ///             hits += names.len(); // borrows `names`, mutates `hits`
    ///         });
    ///         Ok::<_, Member>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// }
    /// assert_eq!(hits, 2);
    /// # }
    /// ```
    pub fn spawn_local<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'env,
        F::Output: TaskOutput,
    {
        self.local_child(future, |node| node)
    }
}

impl<'env> TaskGroup<'env, Local> {
    /// A [`Local`] group: its local children may be non-`Send`, and its scope is not `Send`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new_local();
    /// # drop(tg);
    /// ```
    pub fn new_local() -> Self {
        Self::with_config(Config::default())
    }

    /// Like [`TaskGroup::spawn_local`], for futures that are not `Send`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # fn main() {
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use taskgroup::{Member, TaskGroup};
    ///
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// rt.block_on(async {
    ///     let tg = TaskGroup::new_local();
    ///     tg.run(async {
    ///         for word in ["not", "Send"] {
    ///             let log = Rc::clone(&log); // an Rc: this future is not Send
    ///             tg.spawn_local(async move { log.borrow_mut().push(word) });
    ///         }
    ///         Ok::<_, Member>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// assert_eq!(*log.borrow(), ["not", "Send"]);
    /// # }
    /// ```
    pub fn spawn_local<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + 'env,
        F::Output: TaskOutput,
    {
        self.local_child(future, |node| node)
    }
}

impl Builder {
    /// Makes the group. Children may be spawned at once; [`TaskGroup::run`] supervises them.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::builder().name("io").build();
    /// # drop(tg);
    /// ```
    pub fn build<'env>(self) -> TaskGroup<'env> {
        TaskGroup::with_config(self.into_config())
    }

    /// Makes a [`Local`] group, whose local children may be non-`Send`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::builder().limit(2).build_local();
    /// # drop(tg);
    /// ```
    pub fn build_local<'env>(self) -> TaskGroup<'env, Local> {
        TaskGroup::with_config(self.into_config())
    }
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    fn with_config(config: Config) -> Self {
        TaskGroup {
            shared: {
                let (enclosing, in_shield) = current::enclosing();
                Arc::new(Shared::new(config, enclosing, in_shield))
            },
            incoming: Mutex::new(Arrivals::default()),
            waiting_locals: Mutex::new(VecDeque::new()),
            _env: PhantomData,
        }
    }

    /// Starts `future` as a child at once, on the current tokio runtime, in parallel with the
    /// body and its siblings. The future returns `Result<T, E>` (a failure if `Err`) or `()`.
    ///
    /// If the group no longer accepts children (failing, cancelled, timed out or closed) the
    /// future is dropped without ever being polled and the task's result says why
    /// ([`TaskError::NotStarted`](crate::TaskError::NotStarted));
    /// [`try_spawn`](Self::try_spawn) reports it instead. Under a
    /// [`limit`](Builder::limit) a child beyond it waits, unpolled, for a slot.
    ///
    /// The future must be `'static`: it runs on the runtime's threads and may outlive any
    /// borrow of the caller's. To borrow local variables (`does not live long enough` /
    /// `borrowed for 'static` errors), use [`spawn_local`](TaskGroup::spawn_local) instead, or
    /// move owned data into the future (`async move`).
    ///
    /// # Panics
    /// Never for a refused spawn, including outside a runtime: the handle then says
    /// [`SpawnError::NoRuntime`]. A panic in the child is its
    /// [`TaskPanic`](crate::TaskPanic).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let task = tg.run(async { Ok::<_, std::io::Error>(tg.spawn(async { Ok::<_, std::io::Error>(2) })) });
    /// assert_eq!(task.await.unwrap().result().unwrap(), 2);
    /// # }
    /// ```
    pub fn spawn<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve(&self.shared, None, future)
    }

    /// Like [`spawn`](Self::spawn), for a future that returns a plain value (not `()` or a
    /// `Result`): the child never fails, and its handle gives the value. The same as
    /// `tg.spawn(taskgroup::value(future))`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// async fn fetch_data(url: &str) -> String {
    ///     format!("Data from {url}")
    /// }
    ///
    /// let tg = taskgroup::TaskGroup::new();
    /// let task = tg
    ///     .run(async { Ok::<_, std::io::Error>(tg.spawn_value(fetch_data("api1.com"))) })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(task.result().unwrap(), "Data from api1.com");
    /// # }
    /// ```
    pub fn spawn_value<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_or_resolve(&self.shared, None, crate::value(future))
    }

    /// Like [`spawn`](Self::spawn), with a name that appears in the task's errors.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let failed = tg
    ///     .run(async {
    ///         tg.spawn_named("fetcher", async { Err::<(), _>(std::io::Error::other("down")) });
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// let leaf = failed.leaves().next().unwrap();
    /// assert_eq!(leaf.task().and_then(|t| t.name()), Some("fetcher"));
    /// # }
    /// ```
    pub fn spawn_named<F>(
        &self,
        name: impl Into<Arc<str>>,
        future: F,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve(&self.shared, Some(name.into()), future)
    }

    /// Like [`spawn`](Self::spawn), but a refused spawn is an error that says why and gives the
    /// future back, unpolled.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use taskgroup::{SpawnError, TaskGroup};
    ///
    /// // No runtime on this thread: refused, and the future comes back.
    /// let tg = TaskGroup::new();
    /// let (why, _future) = tg.try_spawn(async {}).unwrap_err();
    /// assert_eq!(why, SpawnError::NoRuntime);
    /// ```
    pub fn try_spawn<F>(
        &self,
        future: F,
    ) -> Result<Task<<F::Output as TaskOutput>::Ok>, (SpawnError, F)>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.shared.spawn(None, future)
    }

    /// Runs `body` as the scope: returns when the body has finished and every child has
    /// finished or been cancelled.
    ///
    /// On success, the body's value. Otherwise an [`ErrorGroup`] whose members are the
    /// children's failures in completion order, then a [`TimedOut`](crate::TimedOut) leaf if
    /// the deadline passed, then the body's own error, if any. Cancelled children are not
    /// failures. When a child fails (or the group is cancelled or times out) the body is
    /// dropped at its pending `.await`; with a [`grace`](Builder::grace) period it is polled
    /// on until it returns or the grace ends, and an error it returns is kept, last.
    ///
    /// A group runs one scope: a second `run`, after the first or while it runs, returns at
    /// once an [`ErrorGroup`] holding an [`AlreadyEntered`] leaf, its body dropped unpolled.
    ///
    /// # Panics
    /// A panic in the body (or in its destructor) propagates, after every child has been
    /// cancelled and reaped.
    ///
    /// # Cancel safety
    /// Dropping the future of `run` before it completes (by `tokio::time::timeout`,
    /// `select!`, or an enclosing group's cancellation) cancels every child at once: each is
    /// aborted at its next `.await` and is gone within a scheduler turn, but the drop does not
    /// wait for them. To bound a scope's time and still wait for its children, use the
    /// group's own [`timeout`](Builder::timeout).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let sum = tg
    ///     .run(async {
    ///         let a = tg.spawn(async { Ok::<_, std::io::Error>(1) });
    ///         let b = tg.spawn(async { Ok::<_, std::io::Error>(2) });
    ///         Ok::<_, taskgroup::TaskError>(a.await? + b.await?)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(sum, 3);
    /// # }
    /// ```
    pub async fn run<B, R, E>(&self, body: B) -> Result<R, ErrorGroup>
    where
        B: Future<Output = Result<R, E>>,
        E: Into<Member>,
    {
        self.run_settled(body).await.into_result()
    }

    /// Like [`run`](Self::run), but a failed scope still gives back what succeeded: the
    /// body's value, if the body returned one, beside the failures (see [`Settled`]). Return
    /// the children's handles from the body and read each one's result: under
    /// [`Policy::WaitAll`](crate::Policy::WaitAll) every success is there.
    ///
    /// # Panics
    /// As [`run`](Self::run).
    ///
    /// # Cancel safety
    /// As [`run`](Self::run).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{Policy, TaskGroup};
    ///
    /// let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    /// let settled = tg
    ///     .run_settled(async {
    ///         let pages: Vec<_> = (1..=4u32)
    ///             .map(|i| tg.spawn(async move {
    ///                 if i % 2 == 0 {
    ///                     return Err(std::io::Error::other(format!("page {i} failed")));
    ///                 }
    ///                 Ok(i)
    ///             }))
    ///             .collect();
    ///         Ok::<_, std::io::Error>(pages)
    ///     })
    ///     .await;
    /// let ok: Vec<u32> = settled.value.unwrap().into_iter().filter_map(|t| t.result().ok()).collect();
    /// assert_eq!(ok, [1, 3]);
    /// assert_eq!(settled.errors.unwrap().len(), 2);
    /// # }
    /// ```
    pub async fn run_settled<B, R, E>(&self, body: B) -> Settled<R>
    where
        B: Future<Output = Result<R, E>>,
        E: Into<Member>,
    {
        if !self.shared.state.enter() {
            drop(body);
            return Settled {
                value: None,
                errors: Some(ErrorGroup::from_parts(
                    TASK_GROUP_MESSAGE.into(),
                    vec![Member::Leaf(Leaf::new(AlreadyEntered))],
                )),
            };
        }
        let mut scope = pin!(Scope::new(self, body));
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            "taskgroup.group",
            name = self.shared.config.name.as_deref().unwrap_or(""),
            policy = ?self.shared.config.policy,
        );
        #[cfg(feature = "tracing")]
        tracing::Instrument::instrument(scope.as_mut(), span).await;
        #[cfg(not(feature = "tracing"))]
        scope.as_mut().await;
        scope.finish()
    }
}

impl<K: Locality> Drop for TaskGroup<'_, K> {
    fn drop(&mut self) {
        self.shared.abandon();
    }
}

impl<K: Locality> fmt::Debug for TaskGroup<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.load();
        f.debug_struct("TaskGroup")
            .field("name", &self.shared.config.name)
            .field("policy", &self.shared.config.policy)
            .field("live", &state.count())
            .field("stopped", &state.is_refusing())
            .finish()
    }
}
