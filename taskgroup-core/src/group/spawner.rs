//! [`Spawner`]: an owned handle that spawns into a group from anywhere.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use super::spawn::spawn_or_resolve;
use super::state::Stop;
use super::task::Task;
use crate::spawn_error::SpawnError;
use crate::task_output::TaskOutput;

/// An owned, cloneable handle that spawns into a [`TaskGroup`](crate::TaskGroup) from
/// anywhere: from children, from other tasks, while the scope waits at its exit. It cannot
/// keep the group open: once the scope has returned, its spawns are refused and never run.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::TaskGroup;
///
/// let tg = TaskGroup::new();
/// let spawner = tg.spawner();
/// let inner = tg
///     .run(async {
///         let outer = tg.spawn(async move {
///             // A child spawning a sibling into the same group.
///             Ok::<_, std::io::Error>(spawner.spawn(async { Ok::<_, std::io::Error>(7) }))
///         });
///         outer.await
///     })
///     .await
///     .unwrap();
/// assert_eq!(inner.result().unwrap(), 7);
/// # }
/// ```
#[derive(Clone)]
pub struct Spawner {
    pub(super) shared: Arc<Shared>,
}

impl Spawner {
    /// Spawns a child into the group, as [`TaskGroup::spawn`](crate::TaskGroup::spawn) does:
    /// at once, on the current runtime. If the group no longer accepts children the future is
    /// dropped unpolled and the handle says why ([`TaskError::NotStarted`](crate::TaskError)).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let task = tg
    ///     .run(async { Ok::<_, std::io::Error>(spawner.spawn(async { Ok::<_, std::io::Error>(1) })) })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(task.result().unwrap(), 1);
    /// # }
    /// ```
    pub fn spawn<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve(&self.shared, None, future)
    }

    /// Like [`spawn`](Self::spawn), for a future that returns a plain value; see
    /// [`TaskGroup::spawn_value`](crate::TaskGroup::spawn_value).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let task = tg
    ///     .run(async { Ok::<_, std::io::Error>(spawner.spawn_value(async { 7 })) })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(task.result().unwrap(), 7);
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
    /// let spawner = tg.spawner();
    /// let task = spawner.spawn_named("worker", async {});
    /// assert_eq!(task.name(), Some("worker"));
    /// tg.run(async { Ok::<_, std::io::Error>(()) }).await.unwrap();
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
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{SpawnError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let spawner = tg.spawner();
    /// tg.run(async { Ok::<_, std::io::Error>(()) }).await.unwrap();
    /// let refused = spawner.try_spawn(async {}).unwrap_err();
    /// assert_eq!(refused.0, SpawnError::Closed);
    /// # }
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

    /// Cancels the group, as [`TaskGroup::cancel`](crate::TaskGroup::cancel) does.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// tg.run(async {
    ///     tg.spawn(std::future::pending::<()>());
    ///     tg.spawn(async move { spawner.cancel() });
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.shared.stop(Stop::Cancelled);
    }

    /// The group's cancellation token; see [`TaskGroup::token`](crate::TaskGroup::token).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// let token = tg.spawner().token();
    /// tg.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn token(&self) -> CancellationToken {
        self.shared.token.clone()
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}
