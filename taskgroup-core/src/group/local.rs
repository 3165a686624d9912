//! Local children: futures polled on the scope's own task, which may borrow (and, in a
//! [`Local`] group, need not be `Send`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::TaskGroup;
use super::cell::TaskCell;
use super::in_cell::InCell;
use super::limit::Waiter;
use super::locality::{Local, Locality};
use super::shared::lock;
use super::slot::SlotGuard;
use super::spawn::refused;
use super::task::Task;
use crate::config::Config;
use crate::task_output::TaskOutput;

impl<'env> TaskGroup<'env> {
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
        self.local_child(future, |child| Box::pin(child))
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
        self.local_child(future, |child| Box::pin(child))
    }
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Hands a local child to the scope, or to the limit's line. Local children are not
    /// units of the state word: the scope keeps them, and a push checks the group under the
    /// same lock the scope holds for its final close check, so none is pushed after the close.
    fn local_child<F>(
        &self,
        future: F,
        boxed: impl FnOnce(InCell<F, <F::Output as TaskOutput>::Ok>) -> Pin<Box<K::Boxed<'env>>>,
    ) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + 'env,
        F::Output: TaskOutput,
    {
        let mut incoming = lock(&self.incoming);
        if self.shared.load().is_refusing() {
            drop(incoming);
            drop(future);
            return refused(self.shared.refusal(), None);
        }
        let cell = Arc::new(TaskCell::new());
        let child = boxed(InCell::local(
            future,
            Arc::clone(&cell),
            Arc::clone(&self.shared),
        ));
        let child = match &self.shared.limiter {
            None => child,
            Some(limiter) => {
                let mut limiter = lock(limiter);
                if !limiter.try_take() {
                    // Queued in the line in the same lock, so a grant finds it there.
                    limiter.enqueue(Waiter::Local);
                    lock(&self.waiting_locals).push_back(child);
                    return Task::with_cell(cell, None);
                }
                drop(limiter);
                K::holding_slot(child, SlotGuard(Arc::clone(&self.shared)))
            }
        };
        let first = incoming.push(child);
        drop(incoming);
        // The scope polls every new local child at once: one wake-up per batch is enough.
        if first {
            self.shared.wake_scope();
        }
        Task::with_cell(cell, None)
    }
}
