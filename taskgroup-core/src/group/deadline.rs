//! The effective deadline of a group: the nearest of its own and its enclosing groups'
//! deadlines (Trio's `current_effective_deadline`, Go's `ctx.Deadline()`).
//!
//! A nested group with no deadline of its own gets no timer of its own either: when an
//! enclosing deadline passes, that group is cancelled, and so is every group nested in it
//! that holds it, so the nested scope ends at that instant already (its leaves are the
//! enclosing group's `TimedOut`, not one of its own). A second timer would only race the
//! first. The deadline is reported so that children can plan (skip work that cannot finish,
//! pass a timeout on to a request).

use tokio::time::Instant;

use super::TaskGroup;
use super::current;
use super::locality::Locality;
use super::shared::Shared;

impl Shared {
    /// The nearest deadline of this group and the groups whose cancellation reaches it.
    pub(super) fn effective_deadline(&self) -> Option<Instant> {
        let mut nearest = self.own_deadline();
        let mut outer = self.cancelled_with();
        while let Some(group) = outer {
            nearest = match (nearest, group.own_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            outer = group.cancelled_with();
        }
        nearest
    }
}

impl<K: Locality> TaskGroup<'_, K> {
    /// The nearest deadline that applies to this group's children: its own (`timeout` counts
    /// from the start of the scope, so it is known once `run` was called) or that of an
    /// enclosing group (one this group was created in, inside its body or a child, unless a
    /// shield stands between them). `None` when no deadline applies.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// let start = Instant::now();
    /// let outer = taskgroup::TaskGroup::builder().timeout(Duration::from_secs(2)).build();
    /// outer
    ///     .run(async {
    ///         // Created in the outer body, with no deadline of its own: the outer one applies.
    ///         let inner = taskgroup::TaskGroup::new();
    ///         assert_eq!(inner.effective_deadline(), Some(start + Duration::from_secs(2)));
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// # }
    /// ```
    pub fn effective_deadline(&self) -> Option<Instant> {
        self.shared.effective_deadline()
    }
}

/// The effective deadline of the group whose child (or body) is running on this thread:
/// see [`TaskGroup::effective_deadline`]. `None` outside any group, or when no deadline
/// applies. A child reads it to pass the time left on to its own work.
///
/// # Examples
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use tokio::time::Instant;
///
/// let start = Instant::now();
/// let tg = taskgroup::TaskGroup::builder().timeout(Duration::from_millis(500)).build();
/// let left = tg
///     .run(async {
///         let child = tg.spawn(async {
///             let deadline = taskgroup::current_deadline().expect("the group has one");
///             Ok::<_, std::io::Error>(deadline - Instant::now())
///         });
///         Ok::<_, std::io::Error>(child)
///     })
///     .await
///     .unwrap();
/// assert_eq!(left.result().unwrap(), Duration::from_millis(500));
/// assert_eq!(taskgroup::current_deadline(), None);
/// # let _ = start;
/// # }
/// ```
pub fn current_deadline() -> Option<Instant> {
    current::enclosing().0?.effective_deadline()
}
