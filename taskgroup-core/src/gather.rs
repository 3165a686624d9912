//! Results in input order ([`gather`]) and in completion order ([`as_completed`]).

use std::future::Future;

use crate::ready_set::ReadySet;
use crate::{ErrorGroup, Leaf, Member, TaskGroup};
use crate::{Task, TaskError, TaskOutput};

/// Runs every future as a child of a new fail-fast group and returns their values in input
/// order — Python's `asyncio.gather`, with TaskGroup semantics: the first failure cancels the
/// rest and every failure comes back in the [`ErrorGroup`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let squares = taskgroup_core::gather((1..=4u32).map(|i| async move {
///     Ok::<_, std::io::Error>(i * i)
/// }))
/// .await
/// .unwrap();
/// assert_eq!(squares, [1, 4, 9, 16]);
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
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use taskgroup_core::{Member, TaskGroup, as_completed};
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
        set.push(Box::pin(task));
    }
    AsCompleted { set }
}

/// The stream of finished tasks made by [`as_completed`].
pub struct AsCompleted<T> {
    set: ReadySet<Task<T>>,
}

impl<T> AsCompleted<T> {
    /// The next task to finish, with its index, or `None` when all have been yielded.
    pub async fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        std::future::poll_fn(|cx| self.set.poll_next(cx)).await
    }

    /// How many tasks have not been yielded yet.
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
