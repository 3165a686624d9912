//! [`gather_settled`]: every future's own result, in input order, whatever the others did.

use std::convert::Infallible;
use std::future::Future;

use crate::TaskGroup;
use crate::catch_panic::CatchPanic;
use crate::config::Policy;
use crate::error_group::Member;
use crate::leaf::{Leaf, TaskPanic};
use crate::task_output::TaskOutput;

/// A child's future whose outcome, a panic included, is its value: the group never sees it
/// fail.
async fn settle<F>(future: F) -> Result<Result<<F::Output as TaskOutput>::Ok, Member>, Infallible>
where
    F: Future,
    F::Output: TaskOutput,
{
    Ok(match CatchPanic::new(future).await {
        Ok(output) => output.into_result(),
        Err(payload) => Err(Member::Leaf(Leaf::new(TaskPanic::from_payload(&*payload)))),
    })
}

/// Runs every future as a child of a new group in which no failure cancels the others
/// ([`Policy::WaitAll`]), and returns each one's own result in input order: `Ok(value)`, or
/// `Err` with its error (a panic is a [`TaskPanic`] leaf) — asyncio's
/// `gather(return_exceptions=True)`, JavaScript's `Promise.allSettled`. A failure is not the
/// group's, so nothing is lost and nothing is reported twice.
///
/// Each future is spawned on the current tokio runtime when the returned future is first
/// polled; a spawn refused (no runtime) gives that future's `Err` a
/// [`TaskError::NotStarted`](crate::TaskError::NotStarted) leaf. Awaited inside another group's body or child, the new group
/// is nested in that group.
///
/// # Panics
/// Not for a panic in a future: that is its `Err`. A panic in the iterator itself propagates,
/// once the futures already spawned are gone.
///
/// # Cancel safety
/// Not cancel safe: dropping the future before it completes cancels every child at once, and
/// the results are lost.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let results = taskgroup::gather_settled((1..=4u32).map(|i| async move {
///     if i % 2 == 0 {
///         return Err(std::io::Error::other(format!("{i} is even")));
///     }
///     Ok(i)
/// }))
/// .await;
/// let ok: Vec<u32> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
/// assert_eq!(ok, [1, 3]);
/// assert_eq!(results[1].as_ref().unwrap_err().to_string(), "2 is even");
/// # }
/// ```
pub async fn gather_settled<I, F>(futures: I) -> Vec<Result<<F::Output as TaskOutput>::Ok, Member>>
where
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
    let settled = tg
        .run_settled(async {
            Ok::<_, Infallible>(
                futures
                    .into_iter()
                    .map(|future| tg.spawn(settle(future)))
                    .collect::<Vec<_>>(),
            )
        })
        .await;
    // The children never fail, and the body returns at once: the value is there.
    settled
        .value
        .unwrap_or_default()
        .into_iter()
        .map(|task| match task.result() {
            Ok(result) => result,
            Err(why) => Err(Member::Leaf(Leaf::new(why))),
        })
        .collect()
}
