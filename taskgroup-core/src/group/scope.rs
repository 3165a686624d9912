//! [`Scope`]: the future of [`TaskGroup::run`]: it polls the body, the deadline, the grace
//! period and the local children, and ends once nothing of the group is alive.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::background::Teardown;
use super::current::Lend;
use super::ending::is_cancellation;
use super::settled::Settled;
use super::shared::{Shared, lock};
use super::slot::SlotGuard;
use super::state::Stop;
use super::{Locality, TaskGroup};
use crate::cancel_reason::CancelReason;
use crate::config::{Deadline, Policy};
use crate::error_group::Member;
use crate::error_group::{ErrorGroup, TASK_GROUP_MESSAGE};
use crate::leaf::{BodyCancelled, Leaf, TimedOut};
use crate::ready_set::ReadySet;

pin_project_lite::pin_project! {
    /// The scope's own future. Dropping it before it ends cancels every child at once.
    pub(super) struct Scope<'g, 'env, K, B, R>
    where
        K: Locality,
    {
        group: &'g TaskGroup<'env, K>,
        #[pin]
        body: Option<B>,
        body_out: Option<Result<R, Member>>,
        body_panic: Option<Box<dyn Any + Send>>,
        #[pin]
        deadline: Option<Sleep>,
        #[pin]
        grace: Option<Sleep>,
        // The group's slot in the snapshot registry.
        registered: usize,
        // The stall watch's next check (`Builder::stall`).
        #[pin]
        stall: Option<Sleep>,
        locals: ReadySet<super::LocalOf<'env, K>>,
        // This group, lent to the thread while the scope polls (see `current`).
        current: Option<Arc<Shared>>,
        closed: bool,
        // After the close: the background children being stopped and reaped.
        teardown: Option<Teardown>,
    }

    impl<'g, 'env, K, B, R> PinnedDrop for Scope<'g, 'env, K, B, R>
    where
        K: Locality,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            super::snapshot::unregister(*this.registered);
            // Aborts the background children of a scope dropped while they end.
            drop(this.teardown.take());
            this.group.shared.abandon();
        }
    }
}

/// An instant `duration` after `now`, or one far in the future where that overflows (as
/// `tokio::time::sleep` saturates).
pub(super) fn saturating_after(now: Instant, duration: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(duration)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

impl<'g, 'env, K, B, R, E> Scope<'g, 'env, K, B, R>
where
    K: Locality,
    B: Future<Output = Result<R, E>>,
    E: Into<Member>,
{
    pub(super) fn new(group: &'g TaskGroup<'env, K>, body: B) -> Self {
        let now = Instant::now();
        group.shared.mark_started(now);
        let registered = super::snapshot::register(&group.shared);
        let deadline = group.shared.config.deadline.map(|d| {
            tokio::time::sleep_until(match d {
                Deadline::After(duration) => saturating_after(now, duration),
                Deadline::At(at) => at,
            })
        });
        Scope {
            group,
            body: Some(body),
            body_out: None,
            body_panic: None,
            deadline,
            registered,
            grace: None,
            stall: group
                .shared
                .config
                .stall
                .map(|after| tokio::time::sleep_until(saturating_after(now, stall_period(after)))),
            locals: ReadySet::default(),
            current: Some(Arc::clone(&group.shared)),
            closed: false,
            teardown: None,
        }
    }

    /// At each check of the stall watch, reports the children idle for too long, once each.
    fn poll_stall(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let this = self.project();
        let Some(mut sleep) = this.stall.as_pin_mut() else {
            return;
        };
        let Some(after) = this.group.shared.config.stall else {
            return;
        };
        while sleep.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let shared = &this.group.shared;
            let background = shared.background_group();
            for group in std::iter::once(shared).chain(background.as_ref()) {
                for child in group.waiting.newly_stalled(now, after) {
                    let idle = child
                        .polled
                        .map_or(after, |polled| now.saturating_duration_since(polled));
                    report_stall(&child, idle);
                }
            }
            sleep
                .as_mut()
                .reset(saturating_after(now, stall_period(after)));
        }
    }

    /// On expiry, the deadline stops the group.
    fn poll_deadline(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let mut this = self.project();
        if let Some(sleep) = this.deadline.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_ready() {
                this.deadline.set(None);
                this.group.shared.stop(Stop::TimedOut);
            }
        }
    }

    /// Polls the body, unless the group is stopping: then it is dropped at once, or, with a
    /// grace period, polled on (it can watch the token) until it returns or the grace ends.
    fn poll_body(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let mut this = self.project();
        let shared = &*this.group.shared;
        let Some(body) = this.body.as_mut().as_pin_mut() else {
            return;
        };
        let cancelled = matches!(
            shared.stop_reason(),
            Stop::Failed | Stop::Cancelled | Stop::TimedOut
        );
        if cancelled && (shared.config.grace.is_none() || shared.is_aborted()) {
            drop_body(this.body, this.body_panic, shared);
            return;
        }
        match catch_unwind(AssertUnwindSafe(|| body.poll(cx))) {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(out)) => {
                drop_body(this.body, this.body_panic, shared);
                match out.map_err(Into::into) {
                    // A body passing on a cancellation (`sibling.await?` on a cancelled
                    // sibling) cancels the group, as CPython's does: no value, no failure.
                    Err(member) if is_cancellation(&member) => {
                        shared.stop_because(Stop::Cancelled, || CancelReason::Body);
                    }
                    mut out => {
                        if let Err(member) = &mut out {
                            // Timed now: it is pushed last, when the scope closes.
                            shared.stamp(member);
                            if shared.config.policy == Policy::FailFast {
                                let error_type = member.type_name();
                                shared.stop_because(Stop::Failed, || CancelReason::Failed {
                                    task: None,
                                    error_type,
                                });
                            }
                        }
                        *this.body_out = Some(out);
                    }
                }
            }
            Err(payload) => {
                *this.body_panic = Some(payload);
                drop_body(this.body, this.body_panic, shared);
                shared.stop_because(Stop::Cancelled, || CancelReason::Body);
                shared.abort_all();
            }
        }
    }

    /// Once the group stops, a grace period (if any) runs; at its end, everything is aborted.
    /// Returns whether it ended now.
    fn poll_grace(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let mut this = self.project();
        let shared = &*this.group.shared;
        let Some(period) = shared.config.grace else {
            return false;
        };
        if shared.stop_reason() == Stop::Running || shared.is_aborted() {
            return false;
        }
        if this.grace.is_none() {
            this.grace.set(Some(tokio::time::sleep(period)));
        }
        let ended = this
            .grace
            .as_mut()
            .as_pin_mut()
            .is_some_and(|sleep| sleep.poll(cx).is_ready());
        if ended {
            shared.abort_all();
        }
        ended
    }

    /// Polls the local children: the woken ones, the new ones, and those granted a slot of
    /// the limit. Returns whether any is left.
    fn poll_locals(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let this = self.project();
        let group = *this.group;
        let shared = &group.shared;
        let locals = this.locals;
        let mut passes = 4;
        loop {
            let state = shared.load();
            if state.is_aborted() {
                // Each child's own drop catches a destructor's panic (see `CellChild`).
                locals.clear();
            }
            let granted = shared.take_local_grants();
            if state.is_refusing() {
                // Children waiting for a slot never start, grace period or not.
                let waiting = std::mem::take(&mut *lock(&group.waiting_locals));
                drop(waiting);
                for _ in 0..granted {
                    shared.free_slot();
                }
            } else {
                for _ in 0..granted {
                    let Some(mut child) = lock(&group.waiting_locals).pop_front() else {
                        break;
                    };
                    child.hold(SlotGuard(Arc::clone(shared)));
                    let _ = locals.poll_new(child, cx);
                }
            }
            // The children woken since the last poll; they end as cancelled by themselves
            // once the group aborts, and so do new ones.
            let _ = locals.poll_all(cx);
            // New children: one that finishes on its first poll never enters the set.
            let arrivals = std::mem::take(&mut *lock(&group.incoming));
            for child in arrivals.into_oldest_first() {
                let _ = locals.poll_new(child, cx);
            }
            // Another thread holding `&TaskGroup` may have spawned while they were polled: a
            // few more passes, then the scope yields (so that a chain of local spawns cannot
            // starve the body, the deadline or the runtime) and is woken to go on.
            if lock(&group.incoming).is_empty() {
                break;
            }
            passes -= 1;
            if passes == 0 {
                cx.waker().wake_by_ref();
                break;
            }
        }
        locals.len() != 0 || !lock(&group.waiting_locals).is_empty()
    }

    /// The body's outcome, once the scope has ended: its value, if it returned one, and the
    /// group of failures, if any.
    ///
    /// # Panics
    /// Resumes the body's panic.
    pub(super) fn finish(self: Pin<&mut Self>) -> Settled<R> {
        let this = self.project();
        if let Some(payload) = this.body_panic.take() {
            resume_unwind(payload);
        }
        let shared = &*this.group.shared;
        let mut members = shared.take_failures();
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
            let mut timed_out = Member::Leaf(Leaf::new(TimedOut { after }));
            shared.stamp_deadline(&mut timed_out);
            members.push(timed_out);
        }
        let value = match this.body_out.take() {
            Some(Ok(value)) => Some(value),
            Some(Err(error)) => {
                members.push(error);
                None
            }
            None => None,
        };
        if value.is_none() && members.is_empty() {
            members.push(Member::Leaf(Leaf::new(BodyCancelled)));
        }
        let errors = (!members.is_empty()).then(|| {
            ErrorGroup::from_parts(Cow::Borrowed(TASK_GROUP_MESSAGE), members)
                .named(shared.config.name.clone())
                .stopped(shared.cancel_reason())
        });
        Settled { value, errors }
    }
}

/// Polls the background children's teardown, if any, to its end.
fn end_teardown(teardown: &mut Option<Teardown>, cx: &mut Context<'_>) -> Poll<()> {
    if let Some(running) = teardown {
        if running.poll(cx).is_pending() {
            return Poll::Pending;
        }
        *teardown = None;
    }
    Poll::Ready(())
}

/// How often the stall watch looks: twice per `after`, at most once a millisecond.
fn stall_period(after: Duration) -> Duration {
    (after / 2).max(Duration::from_millis(1))
}

/// A stalled child, reported once: a `tracing` warning (the snapshot shows it too).
fn report_stall(child: &super::wakers::WaitingChild, idle: Duration) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        task.id = ?child.id,
        task.name = child.name.as_deref().unwrap_or(""),
        idle_ms = idle.as_millis() as u64,
        "task stalled: waiting, not polled"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (child, idle);
}

/// Drops the body; a panic in its destructor is the body's panic, resumed after every child
/// is reaped (the first panic wins), and stops the group at once.
fn drop_body<B>(
    mut body: Pin<&mut Option<B>>,
    body_panic: &mut Option<Box<dyn Any + Send>>,
    shared: &Shared,
) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| body.set(None))) {
        body_panic.get_or_insert(payload);
        shared.stop_because(Stop::Cancelled, || CancelReason::Body);
        shared.abort_all();
    }
}

impl<'g, 'env, K, B, R, E> Future for Scope<'g, 'env, K, B, R>
where
    K: Locality,
    B: Future<Output = Result<R, E>>,
    E: Into<Member>,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field through the projection, never `&self`: a shared borrow of the whole
        // scope would retag a body that may hold borrows into itself (Miri's Stacked Borrows
        // rejects it).
        let this = self.as_mut().project();
        if *this.closed {
            return end_teardown(this.teardown, cx);
        }
        // Groups made in the body or in local children are nested in this one.
        let mut current = this.current.take();
        let lent = Lend::new(&mut current);
        let group: &'g TaskGroup<'env, K> = this.group;
        let shared = &*group.shared;
        shared.register_scope(cx);
        self.as_mut().poll_deadline(cx);
        self.as_mut().poll_stall(cx);
        self.as_mut().poll_body(cx);
        if self.as_mut().poll_grace(cx) {
            // The body still cleaning up is dropped now.
            self.as_mut().poll_body(cx);
        }
        let locals_left = self.as_mut().poll_locals(cx);
        drop(lent);
        let this = self.project();
        *this.current = current;
        // Through `&mut`, not `&`: a shared borrow of the whole body would retag a future
        // that may hold borrows into itself (Miri's Stacked Borrows rejects it).
        if this.body.as_pin_mut().is_some() || locals_left {
            return Poll::Pending;
        }
        // Under the lock local spawns take, so that none is pushed after the close.
        let incoming = lock(&group.incoming);
        if !incoming.is_empty() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        shared.state.set_waiting();
        let closed = shared.state.try_close();
        drop(incoming);
        if closed {
            *this.closed = true;
            // Nothing else is alive: the background children are no longer needed.
            *this.teardown = Teardown::start(shared);
            end_teardown(this.teardown, cx)
        } else {
            Poll::Pending
        }
    }
}
