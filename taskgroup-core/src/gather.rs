//! Results in input order ([`gather`]) and in completion order ([`as_completed`]).

use std::future::Future;

use crate::ready_set::ReadySet;
use crate::{ErrorGroup, Leaf, Member, TaskGroup};
use crate::{Task, TaskError, TaskOutput};

/// Runs every future as a child of a new fail-fast group and returns their values in input
/// order — Python's `asyncio.gather`, with TaskGroup semantics: the first failure cancels the
/// rest and every failure comes back in the [`ErrorGroup`].
///
/// When the returned future is first polled, it makes the group and spawns every future on the
/// current tokio runtime, as [`TaskGroup::spawn`] does; it completes once every child has
/// ended. On success, the values in the order of `futures`. Otherwise the group's
/// [`ErrorGroup`] and no values: the failures and panics in completion order (the children
/// the first failure cancelled are not errors). If the group did not fail but a child still
/// has no value, the error holds that child's [`TaskError`] as a leaf: a spawn refused because
/// no tokio runtime runs the caller ([`TaskError::NotStarted`]), or a child that returned a
/// cancellation ([`TaskError::Cancelled`]).
///
/// Awaited inside another group's body or child, the new group is nested in that group (see
/// [Groups made inside groups](TaskGroup#groups-made-inside-groups)).
///
/// # Panics
/// Not for a panic in one of the futures: that is a [`TaskPanic`](crate::TaskPanic) leaf of
/// the error, and cancels the others. A panic in the iterator itself (in its `next`)
/// propagates out of `gather`, once the futures already spawned are cancelled and gone.
///
/// # Cancel safety
/// Not cancel safe. Dropping the future of `gather` before it completes (a `select!` branch
/// that lost, a timeout) drops its scope: every child is cancelled at once (aborted at its
/// next `.await`) and is gone within a scheduler turn, but the drop does not wait for them,
/// and the values of those that had finished are lost. (Nested in another group, that group's
/// scope still waits for them to be gone.)
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let squares = taskgroup::gather((1..=4u32).map(|i| async move {
///     Ok::<_, std::io::Error>(i * i)
/// }))
/// .await
/// .unwrap();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// # }
/// ```
///
/// The first failure cancels the rest:
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let errors = taskgroup::gather((1..=3u32).map(|i| async move {
///     if i == 2 {
///         return Err(std::io::Error::other("two is out"));
///     }
///     Ok(i)
/// }))
/// .await
/// .unwrap_err();
/// // The third future was cancelled before it ran: not an error.
/// let leaves: Vec<_> = errors.leaves().map(|leaf| leaf.to_string()).collect();
/// assert_eq!(leaves, ["two is out"]);
/// # }
/// ```
pub async fn gather<I, F>(futures: I) -> Result<Vec<<F::Output as TaskOutput>::Ok>, ErrorGroup>
where
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    let tg = TaskGroup::new();
    let tasks = tg
        .run(async {
            Ok::<_, Member>(futures.into_iter().map(|f| tg.spawn(f)).collect::<Vec<_>>())
        })
        .await?;
    let mut values = Vec::with_capacity(tasks.len());
    let mut missing = Vec::new();
    for task in tasks {
        match task.result() {
            Ok(value) => values.push(value),
            // Only a refused spawn (no runtime) can leave a successful scope without a value.
            Err(why) => missing.push(Member::Leaf(Leaf::new(why))),
        }
    }
    match ErrorGroup::new(crate::TASK_GROUP_MESSAGE, missing) {
        Ok(group) => Err(group),
        Err(_) => Ok(values),
    }
}

/// Yields the results of `tasks` as they finish, each with its index in `tasks` — Python's
/// `asyncio.as_completed`, beside the spawn-order handles. Only the tasks that are woken are
/// polled, so draining `n` tasks costs `O(n)` in all.
///
/// It takes the handles and polls nothing until [`AsCompleted::next`] is awaited. Each result
/// is the one `task.await` gives (see [`Task`]); tasks that have already ended when `next` is
/// first awaited come first, in input order. It can be used inside the scope, or after it,
/// when every task has ended.
///
/// # Panics
/// Never.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use taskgroup::{Member, TaskGroup, as_completed};
///
/// let tg = TaskGroup::new();
/// tg.run(async {
///     let tasks: Vec<_> = [30u64, 10, 20]
///         .into_iter()
///         .map(|ms| {
///             tg.spawn(async move {
///                 tokio::time::sleep(Duration::from_millis(ms)).await;
///                 Ok::<_, std::io::Error>(ms)
///             })
///         })
///         .collect();
///     let mut completed = as_completed(tasks);
///     let mut order = Vec::new();
///     while let Some((index, result)) = completed.next().await {
///         order.push((index, result.unwrap()));
///     }
///     assert_eq!(order, [(1, 10), (2, 20), (0, 30)]);
///     Ok::<_, Member>(())
/// })
/// .await
/// .unwrap();
/// # }
/// ```
pub fn as_completed<T>(tasks: impl IntoIterator<Item = Task<T>>) -> AsCompleted<T> {
    let mut set = ReadySet::default();
    for task in tasks {
        // Slots are handed out in order while nothing has finished, so slot = input index.
        set.push(task);
    }
    AsCompleted { set }
}

/// The stream of finished tasks made by [`as_completed`]: await [`next`](AsCompleted::next)
/// until it gives `None`.
///
/// Dropping it drops the handles not yielded yet, which does not cancel their children: they
/// run on in their group, which still waits for them and collects their failures; only their
/// values are lost.
pub struct AsCompleted<T> {
    set: ReadySet<Task<T>>,
}

impl<T> AsCompleted<T> {
    /// Waits for the next task to end and gives its index in the input with its result (as
    /// `task.await` gives it), or `None` once every task has been yielded; every later call
    /// gives `None` at once.
    ///
    /// # Panics
    /// Never.
    ///
    /// # Cancel safety
    /// Cancel safe, like `JoinSet::join_next`: a result is taken out of its task only in the
    /// poll that returns it, so if the future of `next` is dropped before it completes (a
    /// `select!` branch that lost, a timeout), no result is lost: it is given by a later call.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use taskgroup::{Member, TaskGroup, as_completed};
    ///
    /// let tg = TaskGroup::new();
    /// tg.run(async {
    ///     let slow = tg.spawn(async {
    ///         tokio::time::sleep(Duration::from_millis(50)).await;
    ///         Ok::<_, std::io::Error>("slow")
    ///     });
    ///     let mut completed = as_completed([slow]);
    ///     // Giving up on `next` loses nothing.
    ///     let early = tokio::time::timeout(Duration::from_millis(10), completed.next()).await;
    ///     assert!(early.is_err());
    ///     let (index, result) = completed.next().await.unwrap();
    ///     assert_eq!((index, result.unwrap()), (0, "slow"));
    ///     assert!(completed.next().await.is_none());
    ///     Ok::<_, Member>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        std::future::poll_fn(|cx| self.set.poll_next(cx)).await
    }

    /// How many tasks have not been yielded yet, ended or not.
    ///
    /// # Panics
    /// Never.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{Member, TaskGroup, as_completed};
    ///
    /// let tg = TaskGroup::new();
    /// tg.run(async {
    ///     let tasks: Vec<_> = (0..3)
    ///         .map(|i| tg.spawn(async move { Ok::<_, std::io::Error>(i) }))
    ///         .collect();
    ///     let mut completed = as_completed(tasks);
    ///     assert_eq!(completed.remaining(), 3);
    ///     completed.next().await;
    ///     assert_eq!(completed.remaining(), 2);
    ///     Ok::<_, Member>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn remaining(&self) -> usize {
        self.set.len()
    }
}

impl<T> std::fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.set.len())
            .finish()
    }
}
