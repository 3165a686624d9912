//! A group's count of live units (children, and the holds of groups nested in it), and the
//! hold a nested group with anything alive takes on its enclosing group: counting in,
//! counting out, and the cascade outwards.

use std::sync::Arc;

use super::shared::{Shared, refusal};
use super::state::{Acquire, Stop};
use crate::spawn_error::SpawnError;

impl Shared {
    /// Counts a new child, unless the group refuses spawns.
    #[inline]
    pub(super) fn acquire(self: &Arc<Self>) -> Result<(), SpawnError> {
        if !self.holds_enclosing() {
            // A group that holds no enclosing one counts in one step: no levels to walk.
            return match self.state.acquire(false, false, false) {
                Acquire::Refused { reason, wake_scope } => {
                    if wake_scope {
                        self.wake_scope();
                    }
                    Err(refusal(reason))
                }
                _ => Ok(()),
            };
        }
        count_unit(self, false).map_err(refusal)
    }

    /// Uncounts a unit; the last one wakes a waiting scope and gives back this group's hold on
    /// its enclosing group, and so on outwards. A loop, not recursion: a cascade through
    /// thousands of nested groups stays flat.
    #[inline]
    pub(super) fn release(&self) {
        let mut group = self;
        loop {
            let release = group.state.release();
            if release.wake_scope {
                group.wake_scope();
            }
            match (group.enclosing_group(), release.release_hold) {
                (Some(outer), true) => group = outer,
                _ => return,
            }
        }
    }

    /// Counts a unit that is never refused, for work that holds the scope open beside a
    /// child's own unit: a blocking child's closure, which outlives its child if the child is
    /// cancelled. Release it with [`release`](Self::release).
    pub(super) fn hold_open(self: &Arc<Self>) {
        // A hold is never refused.
        let _ = count_unit(self, true);
    }
}

/// Counts one unit in `group`: a child (`hold == false`) or a nested group's hold. A group
/// with nothing alive that is nested in another takes a hold there first, which may need a
/// hold further out: the levels waiting for their hold are kept on a list, not the stack.
fn count_unit(group: &Arc<Shared>, hold: bool) -> Result<(), Stop> {
    // Levels that asked for a hold on their enclosing group, innermost first.
    let mut waiting: Vec<(&Arc<Shared>, bool)> = Vec::new();
    let mut level = group;
    let mut level_hold = hold;
    let mut have_hold = false;
    loop {
        match level
            .state
            .acquire(level.holds_enclosing(), level_hold, have_hold)
        {
            Acquire::NeedsHold => {
                waiting.push((level, level_hold));
                // `NeedsHold` is only returned for a nested group.
                let Some(outer) = level.enclosing_group() else {
                    unreachable!("a hold asked of a group with no enclosing group")
                };
                level = outer;
                level_hold = true;
                have_hold = false;
                continue;
            }
            Acquire::Counted => {}
            Acquire::CountedReturnHold => {
                if let Some(outer) = level.enclosing_group() {
                    outer.release();
                }
            }
            Acquire::Refused { reason, wake_scope } => {
                // Only a child is refused, and a child is the first level.
                debug_assert!(waiting.is_empty());
                if wake_scope {
                    level.wake_scope();
                }
                if have_hold {
                    if let Some(outer) = level.enclosing_group() {
                        outer.release();
                    }
                }
                return Err(reason);
            }
        }
        match waiting.pop() {
            Some((inner, inner_hold)) => {
                // The hold on `level` is taken: `inner` is one of its holders.
                level.add_holder(inner);
                level = inner;
                level_hold = inner_hold;
                have_hold = true;
            }
            None => return Ok(()),
        }
    }
}
