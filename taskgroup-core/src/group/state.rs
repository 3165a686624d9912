//! The group's state word: how many children are alive, and the group's flags.
//!
//! One `AtomicUsize` per group. Only this file reads or changes its bits; every transition is a
//! method named after it that returns what the caller must do next.
//!
//! # Layout
//! | bits | meaning |
//! |---|---|
//! | 0 `REFUSE` | spawns are refused |
//! | 1 `ABORT` | children must stop at their next wake-up |
//! | 2 `CLOSED` | the scope has returned |
//! | 3 `WAITING` | the scope waits for the count to reach zero |
//! | 4 `HELD` | this group holds one unit of its enclosing group's count |
//! | 5 `ENTERED` | a scope (`run`) has started on this group |
//! | 6..=8 | the [`Stop`] reason, `Running` until the first stop |
//! | 9.. | the count, in units of `UNIT` |
//!
//! # Invariants
//! 1. The count is the number of live spawned children (running or queued behind the limit)
//!    plus the holds that groups nested in this one have on it, plus one per running blocking
//!    closure (it may outlive its child, which is cancelled while the closure runs on). A child's unit is added before
//!    it can run and removed after its future is dropped, so a count of zero means no spawned
//!    child of this group's is alive. (Local children live in the scope's own future, which
//!    polls them until none is left, and are pushed under the lock of its final close check.)
//! 2. `REFUSE`, `ABORT`, `CLOSED`, `WAITING`, `ENTERED` and the stop reason are set once and
//!    never cleared. `ABORT` and `CLOSED` imply `REFUSE`; the stop reason is not `Running`
//!    once `REFUSE` is set by [`State::stop`] or [`State::try_close`].
//! 3. The first stop reason wins: later stops change nothing but return `false`.
//! 4. Close is one compare-and-swap from a word whose count is zero to the same word with
//!    `CLOSED | REFUSE`: a spawn that counted itself first makes the swap fail (the scope waits
//!    for it), and a spawn after it sees `REFUSE` and uncounts itself (a non-nested spawn
//!    counts first and checks after, so the count may be one for a moment on a closed group).
//! 5. `HELD` is set only by a spawn (or a hold) whose unit is published in the same swap, and
//!    only after the hold on the enclosing group was taken; it is cleared only by a swap from a
//!    count of zero. So the enclosing group is held exactly while this group has a live unit,
//!    and a group that never ran, or whose children are all gone, holds nothing.
//! 6. The last unit's release wakes the scope if `WAITING` was set before it: the scope sets
//!    `WAITING` before its final close attempt, so either the close sees zero or the release
//!    sees `WAITING`.

use crate::sync::{AtomicUsize, Ordering};

const REFUSE: usize = 1;
const ABORT: usize = 1 << 1;
const CLOSED: usize = 1 << 2;
const WAITING: usize = 1 << 3;
const HELD: usize = 1 << 4;
const ENTERED: usize = 1 << 5;
const STOP_SHIFT: u32 = 6;
const STOP_MASK: usize = 0b111 << STOP_SHIFT;
/// One live child (or one hold of a nested group).
const UNIT: usize = 1 << 9;

/// Why a group stopped accepting children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Still accepting children.
    Running,
    /// A child failed under fail-fast.
    Failed,
    /// `cancel()` was called.
    Cancelled,
    /// The deadline passed.
    TimedOut,
    /// Under first-ok, a child succeeded.
    Won,
    /// The scope returned.
    Closed,
    /// The group or its scope's future was dropped before the scope returned.
    Dropped,
}

impl Stop {
    const ALL: [Stop; 7] = [
        Stop::Running,
        Stop::Failed,
        Stop::Cancelled,
        Stop::TimedOut,
        Stop::Won,
        Stop::Closed,
        Stop::Dropped,
    ];

    fn bits(self) -> usize {
        (self as usize) << STOP_SHIFT
    }

    fn from_word(word: usize) -> Stop {
        Stop::ALL[(word & STOP_MASK) >> STOP_SHIFT]
    }
}

/// A copy of the word, to ask questions of.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn count(self) -> usize {
        self.0 / UNIT
    }
    #[inline]
    pub(crate) fn is_refusing(self) -> bool {
        self.0 & REFUSE != 0
    }
    #[inline]
    pub(crate) fn is_aborted(self) -> bool {
        self.0 & ABORT != 0
    }
    pub(crate) fn is_closed(self) -> bool {
        self.0 & CLOSED != 0
    }
    pub(crate) fn is_waiting(self) -> bool {
        self.0 & WAITING != 0
    }
    #[cfg(any(test, taskgroup_loom))]
    pub(crate) fn is_held(self) -> bool {
        self.0 & HELD != 0
    }
    pub(crate) fn reason(self) -> Stop {
        Stop::from_word(self.0)
    }
}

/// What a caller of [`State::acquire`] must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquire {
    /// The unit is counted.
    Counted,
    /// The unit is counted, and the hold the caller took on the enclosing group was not
    /// needed (another unit already holds it): release it.
    CountedReturnHold,
    /// The group has nothing alive and holds nothing: take a hold on the enclosing group,
    /// then call again with `have_hold`.
    NeedsHold,
    /// Refused for this reason; nothing is counted. Release a hold taken for it, and wake the
    /// scope if `wake_scope` (a close attempt may have seen this spawn's passing unit).
    Refused {
        /// Why the group refuses.
        reason: Stop,
        /// The scope must be woken.
        wake_scope: bool,
    },
}

/// What a caller of [`State::release`] must do next.
#[must_use]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Release {
    /// This was the last unit and the scope waits for it: wake the scope.
    pub(crate) wake_scope: bool,
    /// This was the last unit of a nested group: release its hold on the enclosing group.
    pub(crate) release_hold: bool,
}

/// The state word of one group.
pub(crate) struct State(AtomicUsize);

impl State {
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(0))
    }

    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// Counts a new unit: a child (`hold == false`, refused once the group refuses spawns) or
    /// a nested group's hold (`hold == true`, never refused: a group nested in this one has a
    /// live child that must keep this scope open). `nested` says whether this group has an
    /// enclosing group, which it must hold while it has a live unit (invariant 5).
    #[inline]
    pub(crate) fn acquire(&self, nested: bool, hold: bool, have_hold: bool) -> Acquire {
        if !nested {
            // One read-modify-write on the spawn path; a refused spawn uncounts itself.
            let prev = self.0.fetch_add(UNIT, Ordering::AcqRel);
            if !hold && prev & REFUSE != 0 {
                let release = self.release();
                debug_assert!(!release.release_hold);
                return Acquire::Refused {
                    reason: Stop::from_word(prev),
                    wake_scope: release.wake_scope,
                };
            }
            return Acquire::Counted;
        }
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            if !hold && current & REFUSE != 0 {
                return Acquire::Refused {
                    reason: Stop::from_word(current),
                    wake_scope: false,
                };
            }
            let held = current & HELD != 0;
            if !held && !have_hold {
                return Acquire::NeedsHold;
            }
            let next = (current + UNIT) | HELD;
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if held && have_hold => return Acquire::CountedReturnHold,
                Ok(_) => return Acquire::Counted,
                Err(actual) => current = actual,
            }
        }
    }

    /// Uncounts a unit.
    #[inline]
    pub(crate) fn release(&self) -> Release {
        let prev = self.0.fetch_sub(UNIT, Ordering::AcqRel);
        debug_assert!(prev >= UNIT, "a unit released twice");
        if prev / UNIT != 1 {
            return Release::default();
        }
        let wake_scope = prev & WAITING != 0;
        let mut release_hold = false;
        if prev & HELD != 0 {
            // Clear `HELD` unless a new unit came in meanwhile (it then owns the hold).
            let mut current = prev - UNIT;
            while current / UNIT == 0 && current & HELD != 0 {
                match self.0.compare_exchange_weak(
                    current,
                    current & !HELD,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        release_hold = true;
                        break;
                    }
                    Err(actual) => current = actual,
                }
            }
        }
        Release {
            wake_scope,
            release_hold,
        }
    }

    /// Stops accepting children for `reason`. Returns whether this call was the first stop
    /// (invariant 3); a later call only makes sure `REFUSE` is set.
    pub(crate) fn stop(&self, reason: Stop) -> bool {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let first = Stop::from_word(current) == Stop::Running;
            let next = if first {
                current | REFUSE | reason.bits()
            } else {
                current | REFUSE
            };
            if next == current {
                return false;
            }
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return first,
                Err(actual) => current = actual,
            }
        }
    }

    /// Makes children stop at their next wake-up. Returns whether this call set the flag.
    pub(crate) fn abort(&self) -> bool {
        self.0.fetch_or(ABORT | REFUSE, Ordering::AcqRel) & ABORT == 0
    }

    /// The scope is about to wait for the count to reach zero (invariant 6).
    pub(crate) fn set_waiting(&self) {
        self.0.fetch_or(WAITING, Ordering::AcqRel);
    }

    /// Marks the start of a scope. Returns `false` if one had already started on this group.
    pub(crate) fn enter(&self) -> bool {
        self.0.fetch_or(ENTERED, Ordering::AcqRel) & ENTERED == 0
    }

    /// Closes the group if nothing of it is alive (invariant 4); returns whether it did.
    pub(crate) fn try_close(&self) -> bool {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            if current / UNIT != 0 {
                return false;
            }
            let mut next = current | CLOSED | REFUSE;
            if Stop::from_word(current) == Stop::Running {
                next |= Stop::Closed.bits();
            }
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(all(test, not(taskgroup_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_first_stop_reason_wins() {
        let state = State::new();
        assert!(state.stop(Stop::Failed));
        assert!(!state.stop(Stop::Cancelled));
        assert_eq!(state.load().reason(), Stop::Failed);
        assert!(state.load().is_refusing());
    }

    #[test]
    fn a_spawn_after_close_is_refused_and_uncounted() {
        let state = State::new();
        assert!(state.try_close());
        assert_eq!(state.load().reason(), Stop::Closed);
        assert_eq!(
            state.acquire(false, false, false),
            Acquire::Refused {
                reason: Stop::Closed,
                wake_scope: false
            }
        );
        assert_eq!(state.load().count(), 0);
    }

    #[test]
    fn a_nested_group_holds_only_while_it_has_a_unit() {
        let state = State::new();
        assert_eq!(state.acquire(true, false, false), Acquire::NeedsHold);
        assert_eq!(state.acquire(true, false, true), Acquire::Counted);
        assert_eq!(state.acquire(true, false, false), Acquire::Counted);
        assert!(state.load().is_held());
        assert!(!state.release().release_hold);
        let last = state.release();
        assert!(last.release_hold);
        assert!(!state.load().is_held());
    }

    #[test]
    fn a_second_scope_is_refused() {
        let state = State::new();
        assert!(state.enter());
        assert!(!state.enter());
    }
}
