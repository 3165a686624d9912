//! [`TaskGroup`]: the scope that owns its children, and the [`Spawner`] that children use.
//!
//! One atomic word counts the live children and holds the group's flags, so spawning takes no
//! lock. A child registers its waker only if its first poll returns `Pending`, so that a
//! cancellation can wake it; it deregisters when it ends. The scope's own task polls the body
//! and waits until the count reaches zero.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::{fmt, mem};

use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::config::{Builder, Config, Deadline, Policy};
use crate::error_group::{ErrorGroup, TASK_GROUP_MESSAGE};
use crate::leaf::{BodyCancelled, Leaf, Member, TaskInfo, TaskPanic, TimedOut};
use crate::ready_set::ReadySet;
use crate::task::{Outcome, Task, TaskCell, TaskError, TaskOutput};

/// Spawns are refused.
const REFUSE: usize = 1;
/// Children must stop at their next wake-up.
const ABORT: usize = 2;
/// The scope has returned.
const CLOSED: usize = 4;
/// The scope waits for the count to reach zero; the last child must wake it.
const WAITING: usize = 8;
/// The group was dropped; the last child to end releases the enclosing group's hold.
const ORPHANED: usize = 16;
/// One live child.
const UNIT: usize = 32;

thread_local! {
    /// Groups whose limit slot was freed while this thread was already freeing one (see
    /// `Shared::free_slot`); `None` when no call is under way.
    static FREEING: std::cell::RefCell<Option<Vec<Arc<Shared>>>> =
        const { std::cell::RefCell::new(None) };

    /// The group whose child (or scope body) this thread is polling right now, so that a group
    /// created there can hold the enclosing group open until its own children are gone.
    static CURRENT: Cell<Option<Arc<Shared>>> = const { Cell::new(None) };
}

/// Swaps `slot` with the thread's current group: call it before and after a poll.
fn swap_current(slot: &mut Option<Arc<Shared>>) {
    let _ = CURRENT.try_with(|current| {
        let previous = current.replace(slot.take());
        *slot = previous;
    });
}

fn enclosing_group() -> Option<Arc<Shared>> {
    CURRENT
        .try_with(|current| {
            let group = current.take();
            let copy = group.clone();
            current.set(group);
            copy
        })
        .ok()
        .flatten()
}

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
    /// The group this one was created in, held open (one unit of its count) until this group's
    /// children are all gone: a cancelled child's grandchildren must not outlive the scope.
    enclosing: Mutex<Option<Arc<Shared>>>,
    /// Present when the group has a concurrency limit.
    limiter: Option<Mutex<Limiter>>,
    config: Config,
}

/// Children beyond the limit wait here, unpolled, in spawn order.
struct Limiter {
    running: usize,
    limit: usize,
    queue: VecDeque<Queued>,
}

struct Queued {
    future: Pin<Box<dyn Future<Output = Outcome<()>> + Send>>,
    runtime: tokio::runtime::Handle,
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
        let enclosing = enclosing_group();
        if let Some(outer) = &enclosing {
            // A hold, not a spawn: taken even if the enclosing group is stopping.
            outer.state.fetch_add(UNIT, Ordering::AcqRel);
        }
        Shared {
            enclosing: Mutex::new(enclosing),
            state: AtomicUsize::new(0),
            stop: AtomicU8::new(Stop::Running as u8),
            failures: Mutex::new(Vec::new()),
            waiting: Mutex::new(WakerSlab::default()),
            scope_waker: Mutex::new(None),
            token: CancellationToken::new(),
            limiter: config.limit.map(|limit| {
                Mutex::new(Limiter {
                    running: 0,
                    limit,
                    queue: VecDeque::new(),
                })
            }),
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

    /// Uncounts a child, waking the scope if it was the last one the scope waits for, and
    /// releasing the enclosing group if this group was dropped before its children ended.
    fn release(&self) {
        let prev = self.state.fetch_sub(UNIT, Ordering::AcqRel);
        if prev / UNIT == 1 {
            if prev & WAITING != 0 {
                self.wake_scope();
            }
            if prev & ORPHANED != 0 {
                self.release_enclosing();
            }
        }
    }

    /// Gives back the unit this group holds in its enclosing group (once). A loop, not
    /// recursion: a cascade through thousands of dropped nested groups stays flat.
    fn release_enclosing(&self) {
        let mut next = lock(&self.enclosing).take();
        while let Some(outer) = next.take() {
            let prev = outer.state.fetch_sub(UNIT, Ordering::AcqRel);
            if prev / UNIT == 1 {
                if prev & WAITING != 0 {
                    outer.wake_scope();
                }
                if prev & ORPHANED != 0 {
                    next = lock(&outer.enclosing).take();
                }
            }
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
            // Children still queued behind the limit never start, grace period or not.
            self.drop_queue();
            if self.config.grace.is_none() {
                self.abort_all();
            }
            self.wake_scope();
        }
        first
    }

    /// Drops the children queued behind the limit; their handles resolve as cancelled.
    fn drop_queue(&self) {
        if let Some(limiter) = &self.limiter {
            let queued = mem::take(&mut lock(limiter).queue);
            drop(queued);
        }
    }

    /// Makes every child stop at its next wake-up, and wakes the waiting ones now.
    fn abort_all(&self) {
        let prev = self.state.fetch_or(ABORT | REFUSE, Ordering::AcqRel);
        if prev & ABORT != 0 {
            return;
        }
        self.token.cancel();
        // Take the wakers out and wake them outside the lock: every woken child ends at once,
        // and an aborted child no longer deregisters (see `ChildGuard::drop`).
        let waiting = mem::take(&mut *lock(&self.waiting));
        for waker in waiting.slots.into_iter().flatten() {
            waker.wake();
        }
        self.drop_queue();
    }

    /// A child that held one of the limit's slots ended: start the next queued one.
    ///
    /// A runtime that is shutting down drops what it is given to spawn at once, which frees
    /// the slot again from inside this call: such nested calls are queued on the thread and
    /// run by the outermost one, so that a long queue does not recurse.
    fn free_slot(self: &Arc<Self>) {
        /// Ends the outermost call's turn, also if a dropped future panics.
        struct Done;
        impl Drop for Done {
            fn drop(&mut self) {
                let _ = FREEING.try_with(|freeing| freeing.borrow_mut().take());
            }
        }
        let nested = FREEING
            .try_with(|freeing| {
                let mut freeing = freeing.borrow_mut();
                match &mut *freeing {
                    Some(later) => {
                        later.push(Arc::clone(self));
                        true
                    }
                    None => {
                        *freeing = Some(Vec::new());
                        false
                    }
                }
            })
            .unwrap_or(false);
        if nested {
            return;
        }
        let _done = Done;
        let mut next = Some(Arc::clone(self));
        while let Some(group) = next {
            group.start_next_queued();
            next = FREEING
                .try_with(|freeing| freeing.borrow_mut().as_mut().and_then(Vec::pop))
                .ok()
                .flatten();
        }
    }

    fn start_next_queued(self: &Arc<Self>) {
        let Some(limiter) = &self.limiter else { return };
        if self.state.load(Ordering::Acquire) & REFUSE != 0 {
            // A spawn that raced the stop may have queued after the queue was dropped.
            self.drop_queue();
        }
        let next = {
            let mut limiter = lock(limiter);
            let next = limiter.queue.pop_front();
            if next.is_none() {
                limiter.running -= 1;
            }
            next
        };
        if let Some(next) = next {
            // A cancel requested while it was queued is seen at its first poll.
            drop(next.runtime.spawn(HoldsSlot {
                child: next.future,
                _slot: SlotGuard(Arc::clone(self)),
            }));
        }
    }

    /// Whether the scope has returned: every child has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
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
        let mut slot = NO_SLOT;
        if let Some(limiter) = &self.limiter {
            let mut limiter = lock(limiter);
            if limiter.running == limiter.limit {
                // Queued: no tokio task yet, so the result goes to a cell the handle shares.
                let cell = Arc::new(TaskCell::new());
                let child = InCell::new(
                    future,
                    Arc::clone(&cell),
                    Arc::clone(self),
                    name.clone(),
                    tokio::task::try_id,
                );
                let child = Child::new(child, Arc::clone(self), NO_SLOT, RecordedInside);
                #[cfg(feature = "tracing")]
                let child = instrument(child, name.as_deref());
                limiter.queue.push_back(Queued {
                    future: Box::pin(child),
                    runtime,
                });
                return Ok(Task::with_cell(cell, name));
            }
            limiter.running += 1;
            slot |= LIMITED;
        }
        // Unnamed children carry no name field: a small future keeps tokio's smallest cell.
        let handle = match &name {
            None => self.start(&runtime, future, slot, ()),
            Some(name) => self.start(&runtime, future, slot, Arc::clone(name)),
        };
        Ok(Task::spawned(handle, Arc::clone(self), name))
    }

    /// Puts a child on the runtime.
    fn start<F, N>(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        future: F,
        slot: u32,
        kind: N,
    ) -> tokio::task::JoinHandle<Outcome<<F::Output as TaskOutput>::Ok>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
        N: ChildKind,
    {
        #[cfg(feature = "tracing")]
        let name = kind.name().cloned();
        let child = Child::new(future, Arc::clone(self), slot, kind);
        #[cfg(feature = "tracing")]
        let child = instrument(child, name.as_deref());
        runtime.spawn(child)
    }
}

#[cfg(feature = "tracing")]
fn instrument<F>(child: F, name: Option<&str>) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(
        child,
        tracing::info_span!("taskgroup.task", name = name.unwrap_or("")),
    )
}

/// New local children waiting for their first poll: small chunks, newest first, so that a
/// large batch never needs one large buffer, whose growth makes glibc's allocator merge its
/// caches of small blocks (one growing vector: 271 ns per trivial local child at 100k).
struct Arrivals<F: ?Sized> {
    newest: Option<Box<Chunk<F>>>,
}

/// 62 boxes: a 992-byte buffer, which glibc serves from its small-block bins.
const CHUNK: usize = 62;

struct Chunk<F: ?Sized> {
    items: Vec<Pin<Box<F>>>,
    older: Option<Box<Chunk<F>>>,
}

impl<F: ?Sized> Drop for Chunk<F> {
    fn drop(&mut self) {
        // A loop, not recursion: a list of millions of children stays flat on the stack.
        let mut next = self.older.take();
        while let Some(mut chunk) = next {
            next = chunk.older.take();
        }
    }
}

impl<F: ?Sized> Default for Arrivals<F> {
    fn default() -> Self {
        Arrivals { newest: None }
    }
}

impl<F: ?Sized> Arrivals<F> {
    /// Adds a child; returns whether it is the first since the list was last taken.
    fn push(&mut self, child: Pin<Box<F>>) -> bool {
        let first = self.newest.is_none();
        match &mut self.newest {
            Some(chunk) if chunk.items.len() < CHUNK => chunk.items.push(child),
            newest => {
                let mut items = Vec::with_capacity(CHUNK);
                items.push(child);
                let older = newest.take();
                *newest = Some(Box::new(Chunk { items, older }));
            }
        }
        first
    }

    fn is_empty(&self) -> bool {
        self.newest.is_none()
    }

    /// Every child, oldest first.
    fn into_oldest_first(mut self) -> impl Iterator<Item = Pin<Box<F>>> {
        let mut oldest = None;
        let mut next = self.newest.take();
        while let Some(mut chunk) = next {
            next = mem::replace(&mut chunk.older, oldest);
            oldest = Some(chunk);
        }
        let mut items = Vec::new().into_iter();
        std::iter::from_fn(move || {
            loop {
                if let Some(child) = items.next() {
                    return Some(child);
                }
                let mut chunk = oldest.take()?;
                oldest = chunk.older.take();
                items = mem::take(&mut chunk.items).into_iter();
            }
        })
    }
}

/// `ChildGuard::slot` of a child with no waker among the group's waiting ones.
const NO_SLOT: u32 = u32::MAX >> 1;
/// The bit of `ChildGuard::slot` set when the child holds one of the limit's running slots.
const LIMITED: u32 = !NO_SLOT;

/// A child started from the limit's queue: it holds a running slot until it is dropped.
struct HoldsSlot {
    child: Pin<Box<dyn Future<Output = Outcome<()>> + Send>>,
    // Dropped after the child (whose guard releases its unit of the count first): harmless,
    // since queued children hold units of their own, so the queue is empty at zero.
    _slot: SlotGuard,
}

struct SlotGuard(Arc<Shared>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.free_slot();
    }
}

impl Future for HoldsSlot {
    type Output = Outcome<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<()>> {
        self.child.as_mut().poll(cx)
    }
}

/// What a child's future carries besides the user's future: its name (a field only in named
/// children's futures), and whether the child records its own ending in the group.
trait ChildKind: Send + 'static {
    /// False for a queued child, whose inner [`InCell`] has recorded it already.
    const RECORDS: bool = true;
    fn name(&self) -> Option<&Arc<str>>;
}

impl ChildKind for () {
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

impl ChildKind for Arc<str> {
    fn name(&self) -> Option<&Arc<str>> {
        Some(self)
    }
}

/// The kind of a child queued behind the limit: its [`InCell`] records how it ended.
struct RecordedInside;

impl ChildKind for RecordedInside {
    const RECORDS: bool = false;
    fn name(&self) -> Option<&Arc<str>> {
        None
    }
}

/// Ends a child's accounting however it ends: completion, abort, panic or runtime shutdown.
struct ChildGuard<N> {
    /// `None` only while the child's future is polled (lent to [`CURRENT`]).
    shared: Option<Arc<Shared>>,
    /// The child's index among the group's waiting wakers (or `NO_SLOT`), and `LIMITED`.
    slot: u32,
    name: N,
}

impl<N> Drop for ChildGuard<N> {
    fn drop(&mut self) {
        let Some(shared) = &self.shared else { return };
        let slot = self.slot & NO_SLOT;
        // After an abort the slab was emptied; a child registered later stays in the new one
        // until the group is dropped, which is soon: no lock per cancelled child.
        if slot != NO_SLOT && !shared.is_aborted() {
            lock(&shared.waiting).remove(slot as usize);
        }
        if self.slot & LIMITED != 0 {
            shared.free_slot();
        }
        shared.release();
    }
}

enum Ending<T> {
    Value(T),
    Failed(Member),
    Panicked(TaskPanic),
    Cancelled,
}

pin_project_lite::pin_project! {
    /// A child on the runtime: the user's future, the group and a 4-byte slot (plus the name
    /// of a named child), so that a future of up to 8 bytes fits tokio's smallest task cell
    /// (128 bytes on x86_64). Its output is the task's result, which tokio keeps for the
    /// handle.
    struct Child<F, N> {
        #[pin]
        future: F,
        guard: ChildGuard<N>,
    }
}

impl<F, N> Child<F, N> {
    fn new(future: F, shared: Arc<Shared>, slot: u32, name: N) -> Self {
        Child {
            future,
            guard: ChildGuard {
                shared: Some(shared),
                slot,
                name,
            },
        }
    }
}

impl<F, N> Future for Child<F, N>
where
    F: Future,
    F::Output: TaskOutput,
    N: ChildKind,
{
    type Output = Outcome<<F::Output as TaskOutput>::Ok>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let guard = this.guard;
        if guard
            .shared
            .as_ref()
            .is_none_or(|shared| shared.is_aborted())
        {
            // Tokio drops the future now; the handle reads a cancellation.
            return Poll::Ready(Err(None));
        }
        let future = this.future;
        // Groups created while this child is polled are nested in its group: the child lends
        // its own `Arc` to the thread-local for the poll and takes it back after (scopes
        // polled inside restore what they swap), with no reference counting per poll.
        swap_current(&mut guard.shared);
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        swap_current(&mut guard.shared);
        // Every scope polled inside restores what it swapped, so the child's own `Arc` is back.
        debug_assert!(guard.shared.is_some(), "the current group was not restored");
        let Some(shared) = &guard.shared else {
            return Poll::Ready(Err(None));
        };
        let ending = match polled {
            Ok(Poll::Pending) => {
                if guard.slot & NO_SLOT == NO_SLOT {
                    let index = lock(&shared.waiting).insert(cx.waker().clone());
                    let index = u32::try_from(index)
                        .ok()
                        .filter(|&i| i < NO_SLOT)
                        .expect("fewer than 2^31 children waiting in one group");
                    guard.slot = (guard.slot & LIMITED) | index;
                    // An abort that came before the registration did not see this waker.
                    if shared.is_aborted() {
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
        if !N::RECORDS {
            if let Ending::Value(value) = ending {
                return Poll::Ready(Ok(value));
            }
        }
        let result = conclude(shared, ending, guard.name.name(), tokio::task::try_id());
        Poll::Ready(result.map_err(|error| match error {
            TaskError::Cancelled => None,
            error => Some(Box::new(error)),
        }))
    }
}

/// Records how a child ended in the group, and returns the result its handle gives. A panic
/// while recording (an error's `Display`, say) is recorded as the child's panic instead.
fn conclude<T>(
    shared: &Shared,
    ending: Ending<T>,
    name: Option<&Arc<str>>,
    id: Option<tokio::task::Id>,
) -> Result<T, TaskError> {
    catch_unwind(AssertUnwindSafe(|| record(shared, ending, name, id))).unwrap_or_else(|payload| {
        // Recording a panic runs no user code.
        let panic = TaskPanic::from_payload(&*payload);
        record(shared, Ending::Panicked(panic), name, id)
    })
}

fn record<T>(
    shared: &Shared,
    ending: Ending<T>,
    name: Option<&Arc<str>>,
    id: Option<tokio::task::Id>,
) -> Result<T, TaskError> {
    let info = || TaskInfo {
        id,
        name: name.cloned(),
    };
    match ending {
        Ending::Value(value) => {
            shared.succeed();
            Ok(value)
        }
        Ending::Failed(mut member) => {
            #[cfg(feature = "tracing")]
            tracing::warn!(error = %member, error_type = member.type_name(), "task failed");
            member.tag_task(&info());
            let error = TaskError::Failed {
                type_name: member.type_name(),
                message: member.to_string(),
            };
            shared.fail(member);
            Err(error)
        }
        Ending::Panicked(panic) => {
            #[cfg(feature = "tracing")]
            tracing::error!(panic = panic.message(), "task panicked");
            let error = TaskError::Panicked(panic.message().to_owned());
            let mut leaf = Leaf::new(panic);
            leaf.set_task(&info());
            shared.fail(Member::Leaf(leaf));
            Err(error)
        }
        Ending::Cancelled => Err(TaskError::Cancelled),
    }
}

/// Resolves the handle as cancelled if the child is dropped before it settled, even unpolled.
struct SettleOnDrop<T>(Arc<TaskCell<T>>);

impl<T> SettleOnDrop<T> {
    /// Stores the result unless the handle is gone (it is not `Clone`: nobody can read it).
    fn settle(&self, result: Result<T, TaskError>) {
        if Arc::strong_count(&self.0) > 1 {
            self.0.complete(result);
        }
    }
}

impl<T> Drop for SettleOnDrop<T> {
    fn drop(&mut self) {
        // No-op after the child stored its result.
        self.settle(Err(TaskError::Cancelled));
    }
}

pin_project_lite::pin_project! {
    /// A child whose handle reads a [`TaskCell`]: a local child (on the scope's task, see
    /// [`TaskGroup::spawn_local`]) or one queued behind the limit (inside a [`Child`]).
    struct InCell<F, T> {
        #[pin]
        future: Option<F>,
        cell: SettleOnDrop<T>,
        shared: Arc<Shared>,
        name: Option<Arc<str>>,
        id: fn() -> Option<tokio::task::Id>,
        // The waker a cancel request wakes: the one of the latest `Pending` poll.
        waker: Option<Waker>,
    }
}

impl<F, T> InCell<F, T> {
    fn new(
        future: F,
        cell: Arc<TaskCell<T>>,
        shared: Arc<Shared>,
        name: Option<Arc<str>>,
        id: fn() -> Option<tokio::task::Id>,
    ) -> Self {
        InCell {
            future: Some(future),
            cell: SettleOnDrop(cell),
            shared,
            name,
            id,
            waker: None,
        }
    }
}

impl<F> Future for InCell<F, <F::Output as TaskOutput>::Ok>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let cell = &*this.cell.0;
        let ending = if this.shared.is_aborted() || cell.cancel_requested() {
            Ending::Cancelled
        } else {
            let Some(future) = this.future.as_mut().as_pin_mut() else {
                return Poll::Ready(());
            };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => {
                    // Only a child that waits needs its waker known, for a cancel request;
                    // the registration re-reads the request, so none is lost. A local
                    // child's waker changes once, after its first poll (see `ReadySet`).
                    if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *this.waker = Some(cx.waker().clone());
                        cell.set_local_waker(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
                Ok(Poll::Ready(output)) => match output.into_result() {
                    Ok(value) => Ending::Value(value),
                    Err(member) => Ending::Failed(member),
                },
                Err(payload) => Ending::Panicked(TaskPanic::from_payload(&*payload)),
            }
        };
        this.future.set(None);
        this.cell.settle(conclude(
            this.shared,
            ending,
            this.name.as_ref(),
            (this.id)(),
        ));
        Poll::Ready(())
    }
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
pub struct TaskGroup<'env, K: Locality = Parallel> {
    shared: Arc<Shared>,
    /// Local children spawned since the scope last polled; the scope polls each once and keeps
    /// those that wait. (Pushing to a list and taking it in one pass measured faster than
    /// pushing to the set itself.)
    incoming: Mutex<Arrivals<K::Future<'env>>>,
    _env: PhantomData<&'env mut &'env ()>,
}

mod sealed {
    pub trait Sealed {}
}

/// What kind of local children a [`TaskGroup`] takes: [`Parallel`] (the default) or [`Local`].
pub trait Locality: sealed::Sealed + 'static {
    /// How a local child is stored.
    #[doc(hidden)]
    type Future<'env>: ?Sized + Future<Output = ()> + 'env;
}

/// The default kind of group: local children must be `Send`, so the scope's future is `Send`
/// and can run inside `tokio::spawn`.
#[derive(Debug)]
pub enum Parallel {}

/// A group whose local children may be non-`Send` (holding an `Rc`, a `RefCell` borrow, ...).
/// Its scope's future is not `Send`: run it on a current-thread runtime, in a `LocalSet`, or
/// with `block_on`. Made by [`TaskGroup::new_local`] or [`Builder::build_local`].
#[derive(Debug)]
pub enum Local {}

impl sealed::Sealed for Parallel {}
impl sealed::Sealed for Local {}

impl Locality for Parallel {
    type Future<'env> = dyn Future<Output = ()> + Send + 'env;
}

impl Locality for Local {
    type Future<'env> = dyn Future<Output = ()> + 'env;
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

    /// Starts a *local* child: a future that may borrow the caller's locals (`&` and `&mut`),
    /// polled on the scope's own task rather than spawned on the runtime. It lives under the
    /// same policy, cancellation and error collection as spawned children, and the scope does
    /// not return before it finishes. Local children run concurrently with the body, not in
    /// parallel: use them for I/O-bound work that borrows, and [`spawn`](Self::spawn) for
    /// parallel work.
    ///
    /// The future must be `Send` so that the scope itself stays `Send`; it need not be
    /// `'static`. For non-`Send` local children, use a [`Local`] group
    /// ([`TaskGroup::new_local`]). If the group no longer accepts children the future is
    /// dropped unpolled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup_core::{Member, TaskGroup};
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
        match self.local_child(future) {
            Ok((task, child)) => {
                self.push_local(Box::pin(child));
                task
            }
            Err(task) => task,
        }
    }
}

impl<'env> TaskGroup<'env, Local> {
    /// A [`Local`] group: its local children may be non-`Send`, and its scope is not `Send`.
    pub fn new_local() -> Self {
        Self::with_config(Config::default())
    }

    /// Like [`TaskGroup::spawn_local`], for futures that are not `Send`.
    ///
    /// ```
    /// # fn main() {
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use taskgroup_core::{Member, TaskGroup};
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
        match self.local_child(future) {
            Ok((task, child)) => {
                self.push_local(Box::pin(child));
                task
            }
            Err(task) => task,
        }
    }
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// A local child's handle and future, or its handle resolved at once if the group no
    /// longer accepts children.
    #[allow(clippy::type_complexity)]
    fn local_child<F>(
        &self,
        future: F,
    ) -> Result<
        (
            Task<<F::Output as TaskOutput>::Ok>,
            impl Future<Output = ()> + 'env + use<'env, F, K>,
        ),
        Task<<F::Output as TaskOutput>::Ok>,
    >
    where
        F: Future + 'env,
        F::Output: TaskOutput,
    {
        if self.is_stopped() {
            drop(future);
            return Err(Task::with_cell(
                Arc::new(TaskCell::done(Err(TaskError::NotStarted(
                    self.shared.refusal(),
                )))),
                None,
            ));
        }
        let cell = Arc::new(TaskCell::new());
        let child = InCell::new(
            future,
            Arc::clone(&cell),
            Arc::clone(&self.shared),
            None,
            || None,
        );
        Ok((Task::with_cell(cell, None), child))
    }

    fn push_local(&self, child: Pin<Box<K::Future<'env>>>) {
        let first = lock(&self.incoming).push(child);
        // The scope polls every new local child at once: one wake-up per batch is enough.
        if first {
            self.shared.wake_scope();
        }
    }

    pub(crate) fn with_config(config: Config) -> Self {
        TaskGroup {
            shared: Arc::new(Shared::new(config)),
            incoming: Mutex::new(Arrivals::default()),
            _env: PhantomData,
        }
    }

    /// Starts `future` as a child at once, on the current tokio runtime, in parallel with the
    /// body and its siblings. The future returns `Result<T, E>` (a failure if `Err`) or `()`.
    ///
    /// If the group no longer accepts children (failing, cancelled, timed out or closed) the
    /// future is dropped without ever being polled and the task's result says why
    /// ([`TaskError::NotStarted`]); [`try_spawn`](Self::try_spawn) reports it instead.
    ///
    /// The future must be `'static`: it runs on the runtime's threads and may outlive any
    /// borrow of the caller's. To borrow local variables (`does not live long enough` /
    /// `borrowed for 'static` errors), use [`spawn_local`](TaskGroup::spawn_local) instead, or
    /// move owned data into the future (`async move`).
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

    /// Trio's `start`: spawns a child and waits until it signals readiness through the
    /// [`Ready`] it is given, returning the value it passed (a server's bound address, say).
    /// The child keeps running in the group afterwards.
    ///
    /// A failure before readiness is returned by `start` itself and is not added to the group;
    /// a failure after readiness is the group's, as for any child. A child that returns
    /// without signalling is [`StartError::NotSignalled`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup_core::{Member, TaskGroup};
    ///
    /// let tg = TaskGroup::new();
    /// tg.run(async {
    ///     let port = tg
    ///         .start(|ready| async move {
    ///             ready.started(8080_u16);
    ///             // ... serve until the group is done
    ///         })
    ///         .await?;
    ///     assert_eq!(port, 8080);
    ///     Ok::<_, Member>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub async fn start<F, Fut, V>(&self, child: F) -> Result<V, StartError>
    where
        F: FnOnce(Ready<V>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
        V: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let slot = Arc::new(Mutex::new(Some(tx)));
        let future = child(Ready {
            slot: Arc::clone(&slot),
        });
        let task = self.try_spawn(async move {
            let outcome = future.await.into_result();
            let waiting = lock(&slot).take();
            match (outcome, waiting) {
                // Before readiness, the outcome belongs to `start`'s caller, not the group.
                (Err(member), Some(tx)) => {
                    let _ = tx.send(Err(StartError::Failed(member)));
                    Ok(())
                }
                (Ok(_), Some(tx)) => {
                    let _ = tx.send(Err(StartError::NotSignalled));
                    Ok(())
                }
                (outcome, None) => outcome.map(drop),
            }
        });
        if let Err((why, _)) = task {
            return Err(StartError::Refused(why));
        }
        rx.await.unwrap_or(Err(StartError::Ended))
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
        let mut grace: Pin<&mut Option<Sleep>> = pin!(None);
        let mut locals: ReadySet<K::Future<'env>> = ReadySet::default();

        let mut current = Some(Arc::clone(&self.shared));
        let scope = std::future::poll_fn(|cx| {
            // Groups made in the body or in local children are nested in this one.
            swap_current(&mut current);
            let _restore = Restore(&mut current);
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
            let locals_left = loop {
                if shared.is_aborted() {
                    locals.clear();
                }
                // The children woken since the last poll; they end as cancelled by themselves
                // once the group aborts, and so do new ones.
                let _ = locals.poll_all(cx);
                // New children: one that finishes on its first poll never enters the set.
                let arrivals = mem::take(&mut *lock(&self.incoming));
                for future in arrivals.into_oldest_first() {
                    let _ = locals.poll_new(future, cx);
                }
                // Only the body spawns local children (they cannot borrow the group); another
                // thread holding `&TaskGroup` could, while they were polled.
                if lock(&self.incoming).is_empty() {
                    break locals.len() != 0;
                }
            };
            if body.is_some() || locals_left {
                return Poll::Pending;
            }
            shared.state.fetch_or(WAITING, Ordering::AcqRel);
            if shared.try_close() {
                shared.release_enclosing();
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        #[cfg(feature = "tracing")]
        let scope = tracing::Instrument::instrument(
            scope,
            tracing::info_span!(
                "taskgroup.group",
                name = shared.config.name.as_deref().unwrap_or(""),
                policy = ?shared.config.policy,
            ),
        );
        scope.await;

        if let Some(payload) = body_panic {
            std::panic::resume_unwind(payload);
        }
        let mut members = mem::take(&mut *lock(&shared.failures));
        let reason = shared.stop_reason();
        #[cfg(feature = "tracing")]
        tracing::debug!(failures = members.len(), reason = ?reason, "task group closed");
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

/// Puts the thread's previous current group back when a scope poll ends, however it ends.
struct Restore<'a>(&'a mut Option<Arc<Shared>>);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        swap_current(self.0);
    }
}

/// The readiness signal handed to a child started with [`TaskGroup::start`].
pub struct Ready<V> {
    slot: ReadySlot<V>,
}

/// Where `start` waits for the child's readiness value; taken by the first signal.
type ReadySlot<V> = Arc<Mutex<Option<tokio::sync::oneshot::Sender<Result<V, StartError>>>>>;

impl<V> Ready<V> {
    /// Signals readiness: `start` returns `value`. Only the first call counts.
    pub fn started(&self, value: V) {
        if let Some(tx) = lock(&self.slot).take() {
            let _ = tx.send(Ok(value));
        }
    }
}

impl<V> fmt::Debug for Ready<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready").finish_non_exhaustive()
    }
}

/// Why [`TaskGroup::start`] has no value.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The child failed before it signalled readiness; here is its error.
    Failed(Member),
    /// The child returned without signalling readiness.
    NotSignalled,
    /// The child was cancelled or panicked before signalling readiness.
    Ended,
    /// The group refused the spawn.
    Refused(SpawnError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Failed(member) => {
                write!(f, "the child failed before it was ready: {member}")
            }
            StartError::NotSignalled => f.write_str(
                "the child returned without signalling readiness; call `ready.started(value)`",
            ),
            StartError::Ended => {
                f.write_str("the child was cancelled or panicked before it was ready")
            }
            StartError::Refused(why) => write!(f, "the child was not started: {why}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Failed(Member::Leaf(leaf)) => Some(leaf.error()),
            StartError::Failed(Member::Group(group)) => Some(group),
            StartError::Refused(why) => Some(why),
            _ => None,
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

impl<K: Locality> Drop for TaskGroup<'_, K> {
    fn drop(&mut self) {
        if self.shared.state.load(Ordering::Acquire) & CLOSED == 0 {
            self.shared.stop(Stop::Dropped);
            self.shared.abort_all();
        }
        // The enclosing group stays open until the last of our children is gone.
        let prev = self.shared.state.fetch_or(ORPHANED, Ordering::AcqRel);
        if prev / UNIT == 0 {
            self.shared.release_enclosing();
        }
    }
}

impl<K: Locality> fmt::Debug for TaskGroup<'_, K> {
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
            Task::with_cell(
                Arc::new(TaskCell::done(Err(TaskError::NotStarted(why)))),
                name,
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(i: usize) -> Pin<Box<dyn Future<Output = usize> + Send>> {
        Box::pin(std::future::ready(i))
    }

    fn value(mut f: Pin<Box<dyn Future<Output = usize> + Send>>) -> usize {
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(i) => i,
            Poll::Pending => unreachable!("ready futures"),
        }
    }

    #[test]
    fn arrivals_come_out_oldest_first_across_chunks() {
        let mut arrivals = Arrivals::default();
        assert!(arrivals.is_empty());
        let n = CHUNK * 3 + 5;
        let firsts: Vec<bool> = (0..n).map(|i| arrivals.push(numbered(i))).collect();
        assert_eq!(firsts.iter().filter(|&&first| first).count(), 1);
        assert!(firsts[0]);
        let order: Vec<usize> = mem::take(&mut arrivals)
            .into_oldest_first()
            .map(value)
            .collect();
        assert_eq!(order, (0..n).collect::<Vec<_>>());
        assert!(arrivals.is_empty());
        assert!(arrivals.push(numbered(0)), "first again once taken");
    }

    #[test]
    fn a_long_list_of_arrivals_drops_without_recursion() {
        let mut arrivals = Arrivals::default();
        for i in 0..CHUNK * 20_000 {
            arrivals.push(numbered(i));
        }
        // On a small stack: a recursive drop of 20,000 chunks would overflow it.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || drop(arrivals))
            .expect("a thread")
            .join()
            .expect("no overflow");
    }
}
