//! [`Shared`]: what the scope, its spawners, its handles and its children share.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::background::Background;
use super::limit::Limiter;
use super::state::{Snapshot, State, Stop};
use super::wakers::Waiting;
use crate::cancel_reason::CancelReason;
use crate::config::{Config, Deadline, Policy};
use crate::error_group::Member;
use crate::leaf::{Leaf, TaskInfo, TaskPanic};
use crate::spawn_error::SpawnError;

/// State shared by the scope, its [`Spawner`](crate::Spawner)s and its children.
pub(crate) struct Shared {
    pub(super) state: State,
    /// The failures kept, and the counts of those that are not (see `failures`).
    pub(super) failures: super::failures::Failures,
    /// Wakers of children that are waiting, so that a cancellation can wake them.
    pub(super) waiting: Waiting,
    scope_waker: Mutex<Option<Waker>>,
    pub(super) token: CancellationToken,
    /// The group this one was created in: held (one unit of its count) while this group has a
    /// live unit, so that a cancelled child's grandchildren never outlive the enclosing scope.
    enclosing: Option<Arc<Shared>>,
    /// Nested groups that have held this one: an abort here aborts them too, so that a
    /// nested group returned or stored with live children cannot keep this scope open once
    /// it is cancelled. Weak: they may be long gone.
    holders: Mutex<Vec<Weak<Shared>>>,
    /// Nested groups made inside this group's shielded children that have held it: its
    /// cancellation does not reach them, only its abandonment.
    shielded_holders: Mutex<Vec<Weak<Shared>>>,
    /// Whether this group is on its enclosing group's `holders` (or `shielded_holders`).
    registered: AtomicBool,
    /// Made inside a shielded child of its enclosing group: shielded with it.
    in_shield: bool,
    /// Cancelled when the scope is gone and nothing can wait: shielded children watch it.
    /// Made on first use, a child of the enclosing group's, so that abandoning a scope reaches
    /// the shields of every group nested in it.
    abandoned: OnceLock<CancellationToken>,
    /// When the scope started (`run` was called): failures are stamped from it.
    started: OnceLock<tokio::time::Instant>,
    /// Why the group stopped: set by the stop that won, before children can see it.
    why: OnceLock<CancelReason>,
    /// Cancelled when the group aborts (`abort_here`), for a child the abort does not stop
    /// that must still act on it (a process child's SIGKILL). Put there by that child, which
    /// reads [`is_aborted`](Self::is_aborted) after: an abort before then has the flag set.
    pub(super) aborted: Mutex<Option<CancellationToken>>,
    /// Present when the group has a concurrency limit.
    pub(super) limiter: Option<Mutex<Limiter>>,
    /// The group's background children, made by the first `spawn_background`: a group of its
    /// own, counted apart, which the scope cancels once nothing else is alive (see
    /// `background`). Taken out by the scope's end or the group's abandonment, which breaks
    /// the cycle through its `enclosing`.
    pub(super) background: Mutex<Option<Background>>,
    /// This is a group's background group: it holds nothing of its enclosing group's count, and
    /// its failures are that group's.
    is_background: bool,
    /// The group's index (see `index`), taken by its first child on the runtime.
    index: OnceLock<u32>,
    pub(super) config: Config,
}

/// Locks a mutex of the group's. Nothing user-supplied runs under these locks, so a poisoned
/// lock still holds valid data.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// A group's shared state; `enclosing` is the group it is created in, if any, and
    /// `in_shield` whether it was created inside a shielded child of that group.
    pub(super) fn new(config: Config, enclosing: Option<Arc<Shared>>, in_shield: bool) -> Self {
        Shared {
            state: State::new(),
            failures: super::failures::Failures::new(&config),
            waiting: Waiting::default(),
            scope_waker: Mutex::new(None),
            // A nested group's children see the enclosing group's cancellation too, unless a
            // shield stands between them.
            token: match &enclosing {
                Some(outer) if !in_shield => outer.token.child_token(),
                _ => CancellationToken::new(),
            },
            enclosing,
            holders: Mutex::new(Vec::new()),
            shielded_holders: Mutex::new(Vec::new()),
            registered: AtomicBool::new(false),
            in_shield,
            abandoned: OnceLock::new(),
            started: OnceLock::new(),
            why: OnceLock::new(),
            aborted: Mutex::new(None),
            limiter: config.limit.map(|limit| Mutex::new(Limiter::new(limit))),
            background: Mutex::new(None),
            is_background: false,
            index: OnceLock::new(),
            config,
        }
    }

    /// The group's index, by which its children on the runtime name it (see `Child`).
    pub(super) fn index(self: &Arc<Self>) -> u32 {
        *self.index.get_or_init(|| {
            super::index::take(Arc::as_ptr(self))
                .expect("fewer than 2^32 - 1 task groups alive at once")
        })
    }

    /// The background group of this one: nested in it (its cancellation and abort reach the
    /// background children), timed from its start, and holding none of its count.
    pub(super) fn new_background(self: &Arc<Self>) -> Arc<Shared> {
        let name: Arc<str> = match &self.config.name {
            Some(name) => format!("{name}/background").into(),
            None => "background".into(),
        };
        let config = Config {
            // Its failures go to this group, which applies its own policy to them; a
            // background child's success wins nothing.
            policy: Policy::WaitAll,
            grace: self.config.grace,
            stall: self.config.stall,
            name: Some(name),
            ..Config::default()
        };
        let mut group = Shared::new(config, Some(Arc::clone(self)), false);
        group.is_background = true;
        if let Some(started) = self.started.get() {
            let _ = group.started.set(*started);
        }
        let group = Arc::new(group);
        self.add_holder(&group);
        group
    }

    /// Whether this group holds a unit of its enclosing group's count while it has live units.
    pub(super) fn holds_enclosing(&self) -> bool {
        self.enclosing.is_some() && !self.is_background
    }

    #[inline]
    pub(super) fn load(&self) -> Snapshot {
        self.state.load()
    }

    pub(super) fn stop_reason(&self) -> Stop {
        self.load().reason()
    }

    /// Why a spawn is refused now.
    pub(super) fn refusal(&self) -> SpawnError {
        refusal(self.stop_reason())
    }

    #[inline]
    pub(super) fn is_aborted(&self) -> bool {
        self.load().is_aborted()
    }

    /// Whether the scope has returned: every child has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.load().is_closed()
    }

    pub(super) fn wake_scope(&self) {
        let waker = lock(&self.scope_waker).clone();
        if let Some(waker) = waker {
            self.guarded(|| waker.wake());
        }
    }

    pub(super) fn register_scope(&self, cx: &Context<'_>) {
        let mut slot = lock(&self.scope_waker);
        match &*slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
    }

    /// Stops accepting children for `reason`; the first reason wins. Returns whether this call
    /// was the one that stopped the group.
    ///
    /// Every flag is set before any user code runs (a waker, a queued child's destructor), and
    /// each piece of user code runs on its own, its panic recorded as a [`TaskPanic`]: a panic
    /// cannot leave the group half-stopped.
    pub(super) fn stop(&self, reason: Stop) -> bool {
        self.stop_because(reason, || match reason {
            Stop::TimedOut => CancelReason::TimedOut,
            Stop::Dropped | Stop::Closed | Stop::Running => CancelReason::Dropped,
            Stop::Won => CancelReason::Won { task: None },
            Stop::Failed => CancelReason::Failed {
                task: None,
                error_type: "Error",
            },
            Stop::Cancelled => CancelReason::Cancelled { reason: None },
        })
    }

    /// [`stop`](Self::stop), recording `why` if this is the stop that wins (before any child
    /// can see the cancellation).
    pub(super) fn stop_because(&self, reason: Stop, why: impl FnOnce() -> CancelReason) -> bool {
        if !self.state.stop(reason) {
            return false;
        }
        let _ = self.why.set(why());
        if self.config.grace.is_none() {
            // Wakes the scope too.
            self.abort_all();
        } else {
            self.guarded(|| self.token.cancel());
            // Children still queued behind the limit never start, grace period or not.
            self.drop_queue();
            self.wake_scope();
        }
        true
    }

    /// The group or its scope's future is gone before the scope returned: every child is
    /// aborted at once (dropping cannot wait for them), shielded ones too.
    pub(super) fn abandon(&self) {
        // Even after a close: the scope may be dropped while its background children end.
        if let Some(background) = lock(&self.background).take() {
            background.abandon();
        }
        if self.is_closed() {
            return;
        }
        self.stop(Stop::Dropped);
        self.abort_all();
        let abandoned = self.abandoned_token();
        self.guarded(|| abandoned.cancel());
        // After the cancel: a holder added later sees it (see `add_holder`).
        let shielded = std::mem::take(&mut *lock(&self.shielded_holders));
        for inner in shielded {
            if let Some(inner) = inner.upgrade() {
                inner.abandon();
            }
        }
        // The abort above kept shielded children in the limit's line.
        self.drop_queue();
    }

    /// Whether the scope is gone (see [`abandon`](Self::abandon)).
    pub(super) fn is_abandoned(&self) -> bool {
        self.abandoned
            .get()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// The token cancelled when this group, or a group it is nested in, is abandoned. Made on
    /// first use: walks out to the first group that has one, then makes them inwards (a loop,
    /// not recursion, through a deep chain).
    pub(super) fn abandoned_token(&self) -> CancellationToken {
        if let Some(token) = self.abandoned.get() {
            return token.clone();
        }
        let mut chain = vec![self];
        let mut level = self;
        while let Some(outer) = &level.enclosing {
            if outer.abandoned.get().is_some() {
                chain.push(outer);
                break;
            }
            chain.push(outer);
            level = outer;
        }
        let mut token: Option<CancellationToken> = None;
        for group in chain.into_iter().rev() {
            let made = group.abandoned.get_or_init(|| match &token {
                Some(outer) => outer.child_token(),
                None => CancellationToken::new(),
            });
            token = Some(made.clone());
        }
        token.unwrap_or_default()
    }

    /// Makes every child stop at its next wake-up, and wakes the waiting ones now; and so for
    /// every nested group that holds this one, and theirs (a list, not recursion).
    pub(super) fn abort_all(&self) {
        if !self.abort_here() {
            return;
        }
        let mut nested = std::mem::take(&mut *lock(&self.holders));
        while let Some(inner) = nested.pop() {
            let Some(inner) = inner.upgrade() else {
                continue;
            };
            if inner.state.stop(Stop::Cancelled) {
                inner.inherit_reason(self);
            }
            if inner.abort_here() {
                nested.append(&mut lock(&inner.holders));
            }
        }
    }

    /// This group's part of an abort; `false` if it was aborted already.
    fn abort_here(&self) -> bool {
        if !self.state.abort() {
            return false;
        }
        self.guarded(|| self.token.cancel());
        // Take the wakers out and wake them outside the lock: every woken child ends at once,
        // and an aborted child no longer deregisters (see `ChildGuard::drop`).
        let mut wakers = self.waiting.take();
        // One `catch_unwind` for the whole loop; after a panic, the rest are still woken.
        while let Err(payload) =
            catch_unwind(AssertUnwindSafe(|| wakers.by_ref().for_each(Waker::wake)))
        {
            self.record_panic(&*payload);
        }
        let aborted = lock(&self.aborted).clone();
        if let Some(aborted) = aborted {
            self.guarded(|| aborted.cancel());
        }
        self.drop_queue();
        self.wake_scope();
        true
    }

    /// `inner`, nested in this group, has just taken its first hold here: it joins the
    /// holders, or is aborted at once if this group already was.
    pub(super) fn add_holder(&self, inner: &Arc<Shared>) {
        if inner.registered.swap(true, Ordering::AcqRel) {
            return;
        }
        if inner.in_shield {
            push_pruned(&mut lock(&self.shielded_holders), inner);
            // After the push: an abandonment that took the list before it has cancelled.
            if self.is_abandoned() {
                inner.abandon();
            }
            return;
        }
        push_pruned(&mut lock(&self.holders), inner);
        // After the push: an abort that took the list before it has set the flag by now.
        if self.is_aborted() {
            if inner.state.stop(Stop::Cancelled) {
                inner.inherit_reason(self);
            }
            inner.abort_all();
        }
    }

    /// Runs user code (a waker, a destructor) that the group runs on its own behalf; a panic in
    /// it becomes a [`TaskPanic`] leaf of the group instead of unwinding the caller.
    pub(super) fn guarded(&self, f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            self.record_panic(&*payload);
        }
    }

    #[cold]
    pub(super) fn record_panic(&self, payload: &(dyn std::any::Any + Send)) {
        self.fail(Member::Leaf(Leaf::new(TaskPanic::from_payload(payload))));
    }

    /// Marks the start of the scope, from which failures are timed.
    pub(super) fn mark_started(&self, now: tokio::time::Instant) {
        let _ = self.started.set(now);
    }

    /// The group's own deadline as an instant: known once its scope started (a `timeout`
    /// counts from then), or at once for a `deadline`.
    pub(super) fn own_deadline(&self) -> Option<tokio::time::Instant> {
        match (self.config.deadline?, self.started.get()) {
            (Deadline::At(at), _) => Some(at),
            (Deadline::After(after), Some(started)) => {
                Some(super::scope::saturating_after(*started, after))
            }
            (Deadline::After(_), None) => None,
        }
    }

    /// The group it was created in, if any.
    pub(super) fn enclosing_group(&self) -> Option<&Arc<Shared>> {
        self.enclosing.as_ref()
    }

    /// The group it was created in, unless a shield stands between them (that group's
    /// cancellation, its deadline's included, does not reach this one).
    pub(super) fn cancelled_with(&self) -> Option<&Arc<Shared>> {
        self.enclosing.as_ref().filter(|_| !self.in_shield)
    }

    /// How long the scope has run (zero before it started).
    fn elapsed(&self) -> Duration {
        self.started
            .get()
            .map_or(Duration::ZERO, |started| started.elapsed())
    }

    /// Times the leaves of `member` that no group timed yet: now, from the scope's start.
    pub(super) fn stamp(&self, member: &mut Member) {
        stamp(member, self.elapsed());
    }

    /// Times the deadline's leaf: when the deadline was, from the scope's start.
    pub(super) fn stamp_deadline(&self, member: &mut Member) {
        let at = match (self.config.deadline, self.started.get()) {
            (Some(Deadline::After(after)), _) => after,
            (Some(Deadline::At(at)), Some(started)) => at.saturating_duration_since(*started),
            _ => self.elapsed(),
        };
        stamp(member, at);
    }

    pub(super) fn fail(&self, mut member: Member) {
        if let (true, Some(group)) = (self.is_background, &self.enclosing) {
            return group.fail(member);
        }
        self.stamp(&mut member);
        let why = (self.config.policy == Policy::FailFast).then(|| CancelReason::Failed {
            task: member.as_leaf().and_then(|leaf| leaf.task().cloned()),
            error_type: member.type_name(),
        });
        self.failures.push(member);
        if let Some(why) = why {
            self.stop_because(Stop::Failed, || why);
        }
    }

    /// A child succeeded; under first-ok, `task` won.
    /// Whether a child's success stops the group (a first-ok group): only then is it recorded.
    #[inline]
    pub(super) fn success_stops(&self) -> bool {
        self.config.policy == Policy::FirstOk
    }

    pub(super) fn succeed(&self, task: impl FnOnce() -> TaskInfo) {
        if self.config.policy == Policy::FirstOk {
            self.stop_because(Stop::Won, || CancelReason::Won { task: Some(task()) });
        }
    }

    /// Why the group stopped, once it has.
    pub(super) fn cancel_reason(&self) -> Option<CancelReason> {
        if let Some(why) = self.why.get() {
            return Some(why.clone());
        }
        // Cancelled through its token alone: an enclosing group stopping with a grace period
        // cancels the tokens inward and stops nothing else until the grace ends.
        if !self.token.is_cancelled() {
            return None;
        }
        let mut outer = self.cancelled_with();
        while let Some(group) = outer {
            if let Some(why) = group.why.get() {
                return Some(CancelReason::Enclosing(Box::new(why.clone())));
            }
            outer = group.cancelled_with();
        }
        None
    }

    /// This nested group was stopped by `outer`'s cancellation.
    fn inherit_reason(&self, outer: &Shared) {
        let why = outer
            .why
            .get()
            .cloned()
            .unwrap_or(CancelReason::Cancelled { reason: None });
        let _ = self.why.set(CancelReason::Enclosing(Box::new(why)));
    }

    pub(super) fn take_failures(&self) -> Vec<Member> {
        self.failures.take()
    }
}

/// Gives every leaf of `member` that no group has timed yet the time `at` (iteratively: a
/// nested group may be deep).
fn stamp(member: &mut Member, at: Duration) {
    match member {
        Member::Leaf(leaf) => leaf.stamp(at),
        Member::Group(group) => {
            let mut pending = vec![group.members_vec().iter_mut()];
            while let Some(top) = pending.last_mut() {
                match top.next() {
                    Some(Member::Leaf(leaf)) => leaf.stamp(at),
                    Some(Member::Group(inner)) => pending.push(inner.members_vec().iter_mut()),
                    None => {
                        pending.pop();
                    }
                }
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(&index) = self.index.get() {
            super::index::release(index);
        }
        // A loop, not recursion: the last reference to a chain of thousands of nested groups
        // drops them one by one.
        let mut next = self.enclosing.take();
        while let Some(outer) = next {
            next = Arc::into_inner(outer).and_then(|mut outer| outer.enclosing.take());
        }
    }
}

/// Adds a holder to a list, first dropping the dead ones when the list would grow.
fn push_pruned(holders: &mut Vec<Weak<Shared>>, inner: &Arc<Shared>) {
    if holders.len() == holders.capacity() {
        holders.retain(|holder| holder.strong_count() > 0);
    }
    holders.push(Arc::downgrade(inner));
}

pub(super) fn refusal(stop: Stop) -> SpawnError {
    match stop {
        Stop::Failed => SpawnError::Failing,
        Stop::Cancelled | Stop::Dropped => SpawnError::Cancelled,
        Stop::TimedOut => SpawnError::TimedOut,
        Stop::Won => SpawnError::Finished,
        Stop::Closed | Stop::Running => SpawnError::Closed,
    }
}
