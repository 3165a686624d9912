//! [`TaskGroup`]: the scope that owns its children, and the [`Spawner`] that children use.
//!
//! One atomic word counts the live children and holds the group's flags, so spawning takes no
//! lock. A child registers its waker only if its first poll returns `Pending`, so that a
//! cancellation can wake it; it deregisters when it ends. The scope's own task polls the body
//! and waits until the count reaches zero.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::{fmt, mem};

use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::config::{Builder, Config, Deadline, Policy};
use crate::error_group::{ErrorGroup, TASK_GROUP_MESSAGE};
use crate::leaf::{BodyCancelled, Leaf, Member, TaskInfo, TaskPanic, TimedOut};
use crate::task::{Task, TaskCell, TaskError, TaskOutput};

/// Spawns are refused.
const REFUSE: usize = 1;
/// Children must stop at their next wake-up.
const ABORT: usize = 2;
/// The scope has returned.
const CLOSED: usize = 4;
/// The scope waits for the count to reach zero; the last child must wake it.
const WAITING: usize = 8;
/// One live child.
const UNIT: usize = 16;

/// Why a group stopped accepting children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stop {
    Running = 0,
    Failed = 1,
    Cancelled = 2,
    TimedOut = 3,
    Won = 4,
    Closed = 5,
    Dropped = 6,
}

impl Stop {
    fn from_u8(v: u8) -> Stop {
        match v {
            1 => Stop::Failed,
            2 => Stop::Cancelled,
            3 => Stop::TimedOut,
            4 => Stop::Won,
            5 => Stop::Closed,
            6 => Stop::Dropped,
            _ => Stop::Running,
        }
    }
}

/// Why a spawn was refused; see [`TaskGroup::try_spawn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// A child failed and the group is cancelling the others.
    Failing,
    /// The group was cancelled with [`TaskGroup::cancel`] or its scope was dropped.
    Cancelled,
    /// The group's timeout or deadline passed.
    TimedOut,
    /// Under [`Policy::FirstOk`], a child already succeeded.
    Finished,
    /// The scope has returned; its children are all done.
    Closed,
    /// There is no tokio runtime on this thread.
    NoRuntime,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnError::Failing => {
                "the task group is failing: a child failed and the others are being cancelled"
            }
            SpawnError::Cancelled => "the task group was cancelled",
            SpawnError::TimedOut => "the task group timed out",
            SpawnError::Finished => "the task group already has its first success",
            SpawnError::Closed => "the task group's scope has returned; spawn inside the scope",
            SpawnError::NoRuntime => {
                "no tokio runtime is running on this thread; spawn from inside one"
            }
        })
    }
}

impl std::error::Error for SpawnError {}

/// State shared by the scope, its [`Spawner`]s and its children.
pub(crate) struct Shared {
    /// Live children times [`UNIT`], plus the flags.
    state: AtomicUsize,
    stop: AtomicU8,
    failures: Mutex<Vec<Member>>,
    /// Wakers of children that are waiting, so that a cancellation can wake them.
    waiting: Mutex<WakerSlab>,
    scope_waker: Mutex<Option<Waker>>,
    token: CancellationToken,
    config: Config,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-supplied runs under these locks, so a poisoned lock still holds valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct WakerSlab {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl WakerSlab {
    fn insert(&mut self, waker: Waker) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(waker);
                i
            }
            None => {
                self.slots.push(Some(waker));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.take().is_some() {
                self.free.push(i);
            }
        }
    }
}

impl Shared {
    fn new(config: Config) -> Self {
        Shared {
            state: AtomicUsize::new(0),
            stop: AtomicU8::new(Stop::Running as u8),
            failures: Mutex::new(Vec::new()),
            waiting: Mutex::new(WakerSlab::default()),
            scope_waker: Mutex::new(None),
            token: CancellationToken::new(),
            config,
        }
    }

    fn stop_reason(&self) -> Stop {
        Stop::from_u8(self.stop.load(Ordering::Acquire))
    }

    fn refusal(&self) -> SpawnError {
        match self.stop_reason() {
            Stop::Failed => SpawnError::Failing,
            Stop::Cancelled | Stop::Dropped => SpawnError::Cancelled,
            Stop::TimedOut => SpawnError::TimedOut,
            Stop::Won => SpawnError::Finished,
            Stop::Closed | Stop::Running => SpawnError::Closed,
        }
    }

    fn is_aborted(&self) -> bool {
        self.state.load(Ordering::Acquire) & ABORT != 0
    }

    /// Counts a new child unless the group refuses spawns.
    fn acquire(&self) -> Result<(), SpawnError> {
        let prev = self.state.fetch_add(UNIT, Ordering::AcqRel);
        if prev & REFUSE != 0 {
            self.release();
            return Err(self.refusal());
        }
        Ok(())
    }

    /// Uncounts a child, waking the scope if it was the last one the scope waits for.
    fn release(&self) {
        let prev = self.state.fetch_sub(UNIT, Ordering::AcqRel);
        if prev & WAITING != 0 && prev / UNIT == 1 {
            self.wake_scope();
        }
    }

    fn wake_scope(&self) {
        let waker = lock(&self.scope_waker).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn register_scope(&self, cx: &Context<'_>) {
        let mut slot = lock(&self.scope_waker);
        match &*slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
    }

    /// Stops accepting children for `reason`; the first reason wins. Returns whether this call
    /// was the one that stopped the group.
    fn stop(&self, reason: Stop) -> bool {
        let first = self
            .stop
            .compare_exchange(
                Stop::Running as u8,
                reason as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        self.state.fetch_or(REFUSE, Ordering::AcqRel);
        if first {
            self.token.cancel();
            if self.config.grace.is_none() {
                self.abort_all();
            }
            self.wake_scope();
        }
        first
    }

    /// Makes every child stop at its next wake-up, and wakes the waiting ones now.
    fn abort_all(&self) {
        let prev = self.state.fetch_or(ABORT | REFUSE, Ordering::AcqRel);
        if prev & ABORT != 0 {
            return;
        }
        self.token.cancel();
        let waiting = lock(&self.waiting);
        for waker in waiting.slots.iter().flatten() {
            waker.wake_by_ref();
        }
    }

    fn fail(&self, member: Member) {
        lock(&self.failures).push(member);
        if self.config.policy == Policy::FailFast {
            self.stop(Stop::Failed);
        }
    }

    fn succeed(&self) {
        if self.config.policy == Policy::FirstOk {
            self.stop(Stop::Won);
        }
    }

    /// Closes the scope if no child is alive; returns whether it did.
    fn try_close(&self) -> bool {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if current / UNIT != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                current,
                current | CLOSED | REFUSE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let _ = self.stop.compare_exchange(
                        Stop::Running as u8,
                        Stop::Closed as u8,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                    return true;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Starts a child on the runtime, or resolves its handle at once if the group refuses it.
    fn spawn<F>(
        self: &Arc<Self>,
        name: Option<Arc<str>>,
        future: F,
    ) -> Result<Task<<F::Output as TaskOutput>::Ok>, (SpawnError, F)>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle,
            Err(_) => return Err((SpawnError::NoRuntime, future)),
        };
        if let Err(why) = self.acquire() {
            return Err((why, future));
        }
        let cell = Arc::new(TaskCell::new());
        let guard = ChildGuard {
            shared: Arc::clone(self),
            cell: Arc::clone(&cell),
            waker_slot: None,
        };
        let child = run_child(future, guard, name.clone());
        let handle = runtime.spawn(child);
        let info = TaskInfo {
            id: handle.id(),
            name,
        };
        Ok(Task {
            cell,
            abort: Some(handle.abort_handle()),
            info: Some(info),
        })
    }
}

/// Ends a child's accounting however it ends: completion, abort, panic or runtime shutdown.
struct ChildGuard<T> {
    shared: Arc<Shared>,
    cell: Arc<TaskCell<T>>,
    waker_slot: Option<usize>,
}

impl<T> Drop for ChildGuard<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.waker_slot.take() {
            lock(&self.shared.waiting).remove(slot);
        }
        // No-op if the child stored its result already; otherwise it was aborted or dropped.
        self.cell.complete(Err(TaskError::Cancelled));
        self.shared.release();
    }
}

enum Ending<T> {
    Value(T),
    Failed(Member),
    Panicked(TaskPanic),
    Cancelled,
}

async fn run_child<F>(
    future: F,
    mut guard: ChildGuard<<F::Output as TaskOutput>::Ok>,
    name: Option<Arc<str>>,
) where
    F: Future,
    F::Output: TaskOutput,
{
    let mut future = pin!(Some(future));
    let ending = std::future::poll_fn(|cx| {
        if guard.shared.is_aborted() {
            future.set(None);
            return Poll::Ready(Ending::Cancelled);
        }
        let Some(fut) = future.as_mut().as_pin_mut() else {
            return Poll::Ready(Ending::Cancelled);
        };
        let ending = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => {
                if guard.waker_slot.is_none() {
                    guard.waker_slot = Some(lock(&guard.shared.waiting).insert(cx.waker().clone()));
                    // An abort that came before the registration did not see this waker.
                    if guard.shared.is_aborted() {
                        cx.waker().wake_by_ref();
                    }
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => match output.into_result() {
                Ok(value) => Ending::Value(value),
                Err(member) => Ending::Failed(member),
            },
            Err(payload) => Ending::Panicked(TaskPanic::from_payload(&*payload)),
        };
        future.set(None);
        Poll::Ready(ending)
    })
    .await;

    let shared = Arc::clone(&guard.shared);
    let info = || TaskInfo {
        id: tokio::task::id(),
        name: name.clone(),
    };
    match ending {
        Ending::Value(value) => {
            guard.cell.complete(Ok(value));
            shared.succeed();
        }
        Ending::Failed(mut member) => {
            member.tag_task(&info());
            guard.cell.complete(Err(TaskError::Failed {
                type_name: member.type_name(),
                message: member.to_string(),
            }));
            shared.fail(member);
        }
        Ending::Panicked(panic) => {
            guard
                .cell
                .complete(Err(TaskError::Panicked(panic.message().to_owned())));
            let mut leaf = Leaf::new(panic);
            leaf.set_task(&info());
            shared.fail(Member::Leaf(leaf));
        }
        Ending::Cancelled => guard.cell.complete(Err(TaskError::Cancelled)),
    }
    drop(guard);
}

/// A structured-concurrency scope: children spawned into it run in parallel on tokio, and
/// [`run`](TaskGroup::run) returns only when every one has finished or been cancelled, with
/// all failures gathered in one [`ErrorGroup`].
///
/// This is the runtime under `task_group!`; use it directly when a macro is not wanted.
/// The `'env` lifetime is the scope's environment: what borrowing local tasks may borrow.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use taskgroup_core::TaskGroup;
///
/// async fn fetch(url: &'static str, secs: u64) -> Result<String, std::io::Error> {
///     tokio::time::sleep(Duration::from_millis(secs)).await;
///     Ok(format!("Data from {url}"))
/// }
///
/// let tg = TaskGroup::new();
/// let (a, b) = tg
///     .run(async {
///         let a = tg.spawn(fetch("api1.com", 2));
///         let b = tg.spawn(fetch("api2.com", 1));
///         Ok::<_, std::io::Error>((a, b))
///     })
///     .await
///     .unwrap();
/// assert_eq!(a.result().unwrap(), "Data from api1.com");
/// assert_eq!(b.result().unwrap(), "Data from api2.com");
/// # }
/// ```
///
/// # Cancellation
/// A cancelled child stops at its next `.await` and its future is dropped, running its
/// destructors, as tokio's `abort` does. If the future of `run` is dropped (by
/// `tokio::time::timeout`, `select!`, or an enclosing group's cancellation), every child is
/// cancelled the same way, and so is every child of a group dropped before `run` finished.
pub struct TaskGroup<'env> {
    shared: Arc<Shared>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl Default for TaskGroup<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'env> TaskGroup<'env> {
    /// A group with the default [`Policy::FailFast`], no deadline and no limit.
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// Configures a group: policy, timeout, grace period, limit, name.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn with_config(config: Config) -> Self {
        TaskGroup {
            shared: Arc::new(Shared::new(config)),
            _env: PhantomData,
        }
    }

    /// Starts `future` as a child at once, on the current tokio runtime, in parallel with the
    /// body and its siblings. The future returns `Result<T, E>` (a failure if `Err`) or `()`.
    ///
    /// If the group no longer accepts children (failing, cancelled, timed out or closed) the
    /// future is dropped without ever being polled and the task's result says why
    /// ([`TaskError::NotStarted`]); [`try_spawn`](Self::try_spawn) reports it instead.
    pub fn spawn<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve(&self.shared, None, future)
    }

    /// Like [`spawn`](Self::spawn), with a name that appears in the task's errors.
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

    /// An owned handle that spawns into this group from anywhere, children included.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Cancels every child and the body's pending `.await`. Not a failure: the scope returns
    /// without error if the body had finished, and with [`BodyCancelled`] if it had not.
    pub fn cancel(&self) {
        self.shared.stop(Stop::Cancelled);
    }

    /// Whether the group has stopped accepting children.
    pub fn is_stopped(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) & REFUSE != 0
    }

    /// The group's cancellation token: cancelled when the group starts cancelling. With a
    /// [`grace`](Builder::grace) period, children watch it to clean up before they are aborted.
    pub fn token(&self) -> CancellationToken {
        self.shared.token.clone()
    }

    /// Runs `body` as the scope: returns when the body has finished and every child has
    /// finished or been cancelled.
    ///
    /// On success, the body's value. Otherwise an [`ErrorGroup`] whose members are the
    /// children's failures in completion order, then a [`TimedOut`] leaf if the deadline
    /// passed, then the body's own error, if any. Cancelled children are not failures.
    ///
    /// # Panics
    /// A panic in the body propagates, after every child has been cancelled and reaped.
    pub async fn run<B, R, E>(&self, body: B) -> Result<R, ErrorGroup>
    where
        B: Future<Output = Result<R, E>>,
        E: Into<Member>,
    {
        let shared = &*self.shared;
        let _on_drop = AbortOnDrop(shared);
        let mut body = pin!(Some(body));
        let mut body_out: Option<Result<R, Member>> = None;
        let mut body_panic = None;
        let mut deadline = pin!(shared.config.deadline.map(|d| {
            tokio::time::sleep_until(match d {
                Deadline::After(duration) => Instant::now() + duration,
                Deadline::At(at) => at,
            })
        }));
        let mut grace: std::pin::Pin<&mut Option<Sleep>> = pin!(None);

        std::future::poll_fn(|cx| {
            shared.register_scope(cx);
            if let Some(sleep) = deadline.as_mut().as_pin_mut() {
                if sleep.poll(cx).is_ready() {
                    deadline.set(None);
                    shared.stop(Stop::TimedOut);
                }
            }
            let stopped = shared.stop_reason();
            if let Some(fut) = body.as_mut().as_pin_mut() {
                if matches!(stopped, Stop::Failed | Stop::Cancelled | Stop::TimedOut) {
                    body.set(None);
                } else {
                    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                        Ok(Poll::Ready(out)) => {
                            body.set(None);
                            let out = out.map_err(Into::into);
                            if out.is_err() && shared.config.policy == Policy::FailFast {
                                shared.stop(Stop::Failed);
                            }
                            body_out = Some(out);
                        }
                        Ok(Poll::Pending) => {}
                        Err(payload) => {
                            body.set(None);
                            shared.stop(Stop::Cancelled);
                            shared.abort_all();
                            body_panic = Some(payload);
                        }
                    }
                }
            }
            if stopped != Stop::Running && !shared.is_aborted() {
                if let Some(period) = shared.config.grace {
                    if grace.is_none() {
                        grace.set(Some(tokio::time::sleep(period)));
                    }
                    if let Some(sleep) = grace.as_mut().as_pin_mut() {
                        if sleep.poll(cx).is_ready() {
                            shared.abort_all();
                        }
                    }
                }
            }
            if body.is_some() {
                return Poll::Pending;
            }
            shared.state.fetch_or(WAITING, Ordering::AcqRel);
            if shared.try_close() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;

        if let Some(payload) = body_panic {
            std::panic::resume_unwind(payload);
        }
        let mut members = mem::take(&mut *lock(&shared.failures));
        let reason = shared.stop_reason();
        if reason == Stop::Won {
            members.clear();
        }
        if reason == Stop::TimedOut {
            let after = match shared.config.deadline {
                Some(Deadline::After(d)) => Some(d),
                _ => None,
            };
            members.push(Member::Leaf(Leaf::new(TimedOut { after })));
        }
        let value = match body_out {
            Some(Ok(value)) => Some(value),
            Some(Err(error)) => {
                members.push(error);
                None
            }
            None => None,
        };
        match value {
            Some(value) if members.is_empty() => Ok(value),
            _ => {
                if members.is_empty() {
                    members.push(Member::Leaf(Leaf::new(BodyCancelled)));
                }
                Err(ErrorGroup::from_parts(
                    Cow::Borrowed(TASK_GROUP_MESSAGE),
                    members,
                ))
            }
        }
    }
}

/// Cancels the children if `run` is dropped before it returns.
struct AbortOnDrop<'a>(&'a Shared);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        if self.0.state.load(Ordering::Acquire) & CLOSED == 0 {
            self.0.stop(Stop::Dropped);
            self.0.abort_all();
        }
    }
}

impl Drop for TaskGroup<'_> {
    fn drop(&mut self) {
        if self.shared.state.load(Ordering::Acquire) & CLOSED == 0 {
            self.shared.stop(Stop::Dropped);
            self.shared.abort_all();
        }
    }
}

impl fmt::Debug for TaskGroup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.load(Ordering::Acquire);
        f.debug_struct("TaskGroup")
            .field("name", &self.shared.config.name)
            .field("policy", &self.shared.config.policy)
            .field("live", &(state / UNIT))
            .field("stopped", &(state & REFUSE != 0))
            .finish()
    }
}

fn spawn_or_resolve<F>(
    shared: &Arc<Shared>,
    name: Option<Arc<str>>,
    future: F,
) -> Task<<F::Output as TaskOutput>::Ok>
where
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    match shared.spawn(name.clone(), future) {
        Ok(task) => task,
        Err((why, future)) => {
            drop(future);
            Task {
                cell: Arc::new(TaskCell::done(Err(TaskError::NotStarted(why)))),
                abort: None,
                info: None,
            }
        }
    }
}

/// An owned, cloneable handle that spawns into a [`TaskGroup`] from anywhere: from children,
/// from other tasks, while the scope waits at its exit. It cannot keep the group open: once
/// the scope has returned, its spawns are refused and never run.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup_core::TaskGroup;
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
    shared: Arc<Shared>,
}

impl Spawner {
    /// See [`TaskGroup::spawn`].
    pub fn spawn<F>(&self, future: F) -> Task<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        spawn_or_resolve(&self.shared, None, future)
    }

    /// See [`TaskGroup::spawn_named`].
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

    /// See [`TaskGroup::try_spawn`].
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

    /// See [`TaskGroup::cancel`].
    pub fn cancel(&self) {
        self.shared.stop(Stop::Cancelled);
    }

    /// See [`TaskGroup::token`].
    pub fn token(&self) -> CancellationToken {
        self.shared.token.clone()
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}
