//! Stopping and watching a group from outside its children: [`TaskGroup::cancel`],
//! [`TaskGroup::is_stopped`], [`TaskGroup::token`] and [`TaskGroup::spawner`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::TaskGroup;
use super::locality::Locality;
use super::spawner::Spawner;
use super::state::Stop;

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// An owned handle that spawns into this group from anywhere, children included.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// # drop(spawner);
    /// ```
    pub fn spawner(&self) -> Spawner {
        Spawner {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Cancels every child and the body's pending `.await` (with a
    /// [`grace`](crate::Builder::grace) period: signals the [`token`](Self::token) first). Not a
    /// failure: the scope returns without error if the body had finished (or returned during
    /// the grace period), and with [`BodyCancelled`](crate::BodyCancelled) if it had not.
    /// Calling it again, or after another stop, changes nothing.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let idle = tg
    ///     .run(async {
    ///         let idle = tg.spawn(std::future::pending::<()>());
    ///         tg.cancel(); // the body then returns: no error
    ///         Ok::<_, std::io::Error>(idle)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(idle.result(), Err(taskgroup::TaskError::Cancelled));
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.shared.stop(Stop::Cancelled);
    }

    /// Whether the group has stopped accepting children.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// tg.cancel();
    /// assert!(tg.is_stopped());
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.shared.load().is_refusing()
    }

    /// The group's cancellation token: cancelled when the group starts cancelling. With a
    /// [`grace`](crate::Builder::grace) period, children and the body watch it to clean up before
    /// they are aborted.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let tg = taskgroup::TaskGroup::new();
    /// let token = tg.token();
    /// tg.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn token(&self) -> CancellationToken {
        self.shared.token.clone()
    }
}
