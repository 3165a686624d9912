//! [`value`]: a child that returns a plain value rather than `()` or a `Result`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// A future whose output is `Ok(value)` of the inner future's: see [`value`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless spawned or awaited"]
    pub struct Value<F> {
        #[pin]
        future: F,
    }
}

/// Makes a future that returns a plain value (`String`, a struct, ...) a child the group takes:
/// its output becomes `Ok::<_, Infallible>(value)`, so the child never fails and its
/// [`Task`](crate::Task) gives the value. [`TaskGroup::spawn_value`](crate::TaskGroup::spawn_value)
/// is the same in one call; use `value` with `spawn_named`, `spawn_local` or `gather`.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::{TaskGroup, value};
///
/// async fn fetch_data(url: &str) -> String {
///     format!("Data from {url}")
/// }
///
/// let tg = TaskGroup::new();
/// let task = tg
///     .run(async { Ok::<_, std::io::Error>(tg.spawn_named("api1", value(fetch_data("api1.com")))) })
///     .await
///     .unwrap();
/// assert_eq!(task.result().unwrap(), "Data from api1.com");
/// # }
/// ```
pub fn value<F: Future>(future: F) -> Value<F> {
    Value { future }
}

impl<F: Future> Future for Value<F> {
    type Output = Result<F::Output, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(Ok)
    }
}
