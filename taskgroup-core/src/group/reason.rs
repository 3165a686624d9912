//! Reading why a group stopped its children, and cancelling with a reason.

use std::sync::Arc;

use super::TaskGroup;
use super::current;
use super::locality::Locality;
use super::spawner::Spawner;
use super::state::Stop;
use crate::cancel_reason::CancelReason;

impl<K: Locality> TaskGroup<'_, K> {
    /// Why the group stopped its children, once it has: a child's failure (naming the task
    /// and the error's type), the deadline, [`cancel`](Self::cancel) or
    /// [`cancel_with`](Self::cancel_with), a `first_ok` winner, the scope dropped, an enclosing
    /// group's cancellation. `None` while it runs, and after a scope that ended normally.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.shared.cancel_reason()
    }

    /// [`cancel`](Self::cancel), with a reason that children (through
    /// [`cancel_reason`](crate::cancel_reason)) and handles see. The first stop wins: if the
    /// group has stopped already, nothing changes.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// tg.run(async {
    ///     tg.cancel_with("config reloaded");
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .await
    /// .unwrap();
    /// assert_eq!(tg.cancel_reason().unwrap().to_string(), "cancelled: config reloaded");
    /// # }
    /// ```
    pub fn cancel_with(&self, reason: impl Into<Arc<str>>) {
        let reason = reason.into();
        self.shared
            .stop_because(Stop::Cancelled, || CancelReason::Cancelled {
                reason: Some(reason),
            });
    }
}

impl Spawner {
    /// [`TaskGroup::cancel_with`], from a spawner.
    pub fn cancel_with(&self, reason: impl Into<Arc<str>>) {
        let reason = reason.into();
        self.shared
            .stop_because(Stop::Cancelled, || CancelReason::Cancelled {
                reason: Some(reason),
            });
    }

    /// [`TaskGroup::cancel_reason`], from a spawner.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.shared.cancel_reason()
    }
}

/// Why the group whose child (or body) runs on this thread stopped, once it has: what a child
/// cleaning up during a [`grace`](crate::Builder::grace) period reads to say why. `None`
/// outside a group, or while the group runs.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
///
/// let tg = taskgroup::TaskGroup::builder().grace(Duration::from_secs(1)).build();
/// let token = tg.token();
/// let worker = tg
///     .run(async {
///         let worker = tg.spawn(async move {
///             token.cancelled().await;
///             // Cleaning up: say why.
///             Ok::<_, std::io::Error>(taskgroup::cancel_reason().map(|why| why.to_string()))
///         });
///         tokio::task::yield_now().await;
///         tg.cancel_with("shutting down");
///         Ok::<_, std::io::Error>(worker)
///     })
///     .await
///     .unwrap();
/// assert_eq!(worker.result().unwrap().as_deref(), Some("cancelled: shutting down"));
/// # }
/// ```
pub fn cancel_reason() -> Option<CancelReason> {
    current::enclosing().0?.cancel_reason()
}
