//! Blocking children: a closure on tokio's blocking pool as a child of the group
//! ([`TaskGroup::spawn_blocking`]).
//!
//! The child is a shielded child (see `shield`) whose future starts the closure on its first
//! poll and awaits it, so that the closure's error, panic or value is recorded as any child's
//! even after the group aborts. The closure itself holds one unit of the group's count while it
//! runs: when its child is cancelled after all ([`Task::cancel`], the scope dropped), the
//! thread cannot be stopped, and the scope still waits for it.

use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::task::JoinHandle;

use super::TaskGroup;
use super::locality::Locality;
use super::shared::Shared;
use super::shield::{InLine, ShieldOutput};
use super::spawner::Spawner;
use super::task::Task;
use crate::task_output::TaskOutput;

/// The future of a blocking child.
struct Blocking<C, O> {
    stage: Stage<C, O>,
}

enum Stage<C, O> {
    /// Not started: the closure and its group.
    Ready {
        closure: C,
        shared: Arc<Shared>,
    },
    /// On the blocking pool.
    Running(JoinHandle<O>),
    Ended,
}

// The closure is moved out, never pinned.
impl<C, O> Unpin for Blocking<C, O> {}

/// The closure's own unit of its group's count, released when the closure has returned or
/// unwound, or is dropped unstarted (by a runtime shutting down).
struct Hold(Arc<Shared>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl<C, O> Future for Blocking<C, O>
where
    C: FnOnce() -> O + Send + 'static,
    O: Send + 'static,
{
    type Output = ShieldOutput<O>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Stage::Ready { .. } = this.stage {
            let Stage::Ready { closure, shared } = std::mem::replace(&mut this.stage, Stage::Ended)
            else {
                return Poll::Ready(ShieldOutput::Aborted);
            };
            // A closure not started when the group aborts never starts, as an ordinary
            // child not yet polled never runs.
            if shared.is_aborted() {
                return Poll::Ready(ShieldOutput::Aborted);
            }
            shared.hold_open();
            let hold = Hold(shared);
            this.stage = Stage::Running(tokio::task::spawn_blocking(move || {
                let _hold = hold;
                closure()
            }));
        }
        let Stage::Running(handle) = &mut this.stage else {
            return Poll::Ready(ShieldOutput::Aborted);
        };
        let joined = ready!(Pin::new(handle).poll(cx));
        this.stage = Stage::Ended;
        match joined {
            Ok(output) => Poll::Ready(ShieldOutput::Done(output)),
            // The child catches it: a `TaskPanic` with the closure's message.
            Err(error) if error.is_panic() => resume_unwind(error.into_panic()),
            // The runtime shut down before the pool ran it.
            Err(_) => Poll::Ready(ShieldOutput::Aborted),
        }
    }
}

fn spawn_blocking<C, O>(shared: &Arc<Shared>, closure: C) -> Task<O::Ok>
where
    C: FnOnce() -> O + Send + 'static,
    O: TaskOutput,
{
    let blocking = Blocking {
        stage: Stage::Ready {
            closure,
            shared: Arc::clone(shared),
        },
    };
    // Not started, it is dropped with the line when the group stops.
    shared.spawn_shielded(blocking, InLine::Dropped)
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Runs `f` on tokio's blocking pool ([`tokio::task::spawn_blocking`]) as a child of the
    /// group: blocking I/O or CPU-heavy work, Python's `loop.run_in_executor`. The closure
    /// returns what a child's future returns, `()` or `Result<T, E>` (for a plain value,
    /// return `Ok::<_, Infallible>(value)`). Its error joins the group as any child's (under
    /// fail-fast it cancels the siblings), a panic is a [`TaskPanic`](crate::TaskPanic) leaf,
    /// and the handle gives the value, inside the scope (`task.await`) and after it
    /// ([`Task::result`]).
    ///
    /// # It cannot be aborted
    /// Nothing can stop a thread from outside. Once the closure runs, the group's cancellation
    /// (a sibling's failure, [`cancel`](Self::cancel), the deadline, the end of a
    /// [`grace`](crate::Builder::grace) period) does not stop it: the scope waits for it to
    /// return, and its error or value still counts. [`Task::cancel`] does not stop it either:
    /// the handle then says [`Cancelled`](crate::TaskError::Cancelled) and the result is
    /// dropped, but the scope still waits for the closure. Only a closure that has not started
    /// can be stopped: one waiting for a slot of the [`limit`](crate::Builder::limit) (it holds
    /// one while it runs, as any child does), or one not yet handed to the pool when the group
    /// aborts, never runs. If the scope's future is dropped, nothing can wait: a running
    /// closure runs on, detached, and its result is lost.
    ///
    /// To stop early when the group is cancelled, the closure asks: move a clone of the
    /// group's [`token`](Self::token) into it and check
    /// [`is_cancelled`](crate::CancellationToken::is_cancelled) between steps.
    ///
    /// # Panics
    /// Never for a refused spawn, including outside a runtime: the handle then says why
    /// ([`TaskError::NotStarted`](crate::TaskError::NotStarted)), and the closure never runs.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{TaskError, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// let token = tg.token();
    /// let sum = tg
    ///     .run(async {
    ///         let sum = tg.spawn_blocking(move || {
    ///             let mut sum = 0u64;
    ///             for chunk in 1..=100u64 {
    ///                 if token.is_cancelled() {
    ///                     break; // the group is stopping: no need to go on
    ///                 }
    ///                 sum += chunk; // blocking work on one chunk
    ///             }
    ///             Ok::<_, std::io::Error>(sum)
    ///         });
    ///         Ok::<_, TaskError>(sum.await?)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(sum, 5050);
    /// # }
    /// ```
    pub fn spawn_blocking<C, O>(&self, f: C) -> Task<O::Ok>
    where
        C: FnOnce() -> O + Send + 'static,
        O: TaskOutput,
    {
        spawn_blocking(&self.shared, f)
    }
}

impl Spawner {
    /// Runs `f` on tokio's blocking pool as a child of the group, as
    /// [`TaskGroup::spawn_blocking`] does (read it for what cannot be aborted).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let task = tg
    ///     .run(async move {
    ///         let parse = spawner.spawn_blocking(|| "42".parse::<u32>());
    ///         Ok::<_, std::io::Error>(parse)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(task.result().unwrap(), 42);
    /// # }
    /// ```
    pub fn spawn_blocking<C, O>(&self, f: C) -> Task<O::Ok>
    where
        C: FnOnce() -> O + Send + 'static,
        O: TaskOutput,
    {
        spawn_blocking(&self.shared, f)
    }
}
