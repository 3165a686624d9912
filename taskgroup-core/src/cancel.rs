//! Running code only when a task is cancelled.

use std::future::Future;

/// Runs `on_cancel` if `future` is dropped before it completes — which is how a cancelled task
/// ends — and not otherwise. It does not run during a panic's unwinding.
///
/// This is the Rust form of Python's `except asyncio.CancelledError: print(...); raise`:
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use taskgroup::{TaskGroup, on_cancel};
///
/// async fn slow_task(id: u32) -> Result<String, std::io::Error> {
///     on_cancel(
///         async move {
///             tokio::time::sleep(Duration::from_secs(5)).await;
///             Ok(format!("Task {id} completed"))
///         },
///         move || println!("Task {id} was cancelled"),
///     )
///     .await
/// }
///
/// let tg = TaskGroup::builder().timeout(Duration::from_secs(2)).build();
/// let result = tg.run(async { tg.spawn(slow_task(1)); Ok::<_, std::io::Error>(()) }).await;
/// assert!(result.unwrap_err().contains::<taskgroup::TimedOut>());
/// # }
/// ```
pub async fn on_cancel<F, C>(future: F, on_cancel: C) -> F::Output
where
    F: Future,
    C: FnOnce(),
{
    struct Armed<C: FnOnce()>(Option<C>);
    impl<C: FnOnce()> Drop for Armed<C> {
        fn drop(&mut self) {
            if let Some(on_cancel) = self.0.take() {
                if !std::thread::panicking() {
                    on_cancel();
                }
            }
        }
    }
    let mut armed = Armed(Some(on_cancel));
    let output = future.await;
    armed.0 = None;
    output
}
