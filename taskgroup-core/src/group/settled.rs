//! [`Settled`]: a scope's outcome with what succeeded, failed or not.

use crate::error_group::ErrorGroup;

/// What a scope ended with, kept whole: the body's value if the body returned one, and the
/// group of failures if there were any. [`TaskGroup::run_settled`](crate::TaskGroup::run_settled)
/// gives it, so that a failed scope still gives back what succeeded (asyncio's
/// `gather(return_exceptions=True)`, JavaScript's `allSettled`): under
/// [`Policy::WaitAll`](crate::Policy::WaitAll) every child's handle, under fail-fast those that
/// finished before the cancellation, when the body returned them.
///
/// `value` is `None` only if the body did not return a value (it failed, or was cancelled
/// before it finished); `errors` is `None` only if nothing failed. Both are `Some` when the
/// body returned but a child failed.
#[derive(Debug)]
#[must_use = "a settled scope holds the body's value and the failures"]
pub struct Settled<R> {
    /// The body's value, if it returned one.
    pub value: Option<R>,
    /// The failures, in the order [`TaskGroup::run`](crate::TaskGroup::run) reports them.
    pub errors: Option<ErrorGroup>,
}

impl<R> Settled<R> {
    /// `Ok(value)` if nothing failed, else the failures, as [`run`](crate::TaskGroup::run)
    /// gives them (the value, if any, is dropped).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let settled = taskgroup::Settled { value: Some(3), errors: None };
    /// assert_eq!(settled.into_result().unwrap(), 3);
    /// ```
    pub fn into_result(self) -> Result<R, ErrorGroup> {
        match (self.value, self.errors) {
            (Some(value), None) => Ok(value),
            (_, Some(errors)) => Err(errors),
            // `finish` never makes this one: no value and no failure is a cancelled body.
            (None, None) => Err(ErrorGroup::from_parts(
                crate::error_group::TASK_GROUP_MESSAGE.into(),
                vec![crate::error_group::Member::Leaf(crate::leaf::Leaf::new(
                    crate::BodyCancelled,
                ))],
            )),
        }
    }

    /// Whether nothing failed.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// let settled: taskgroup::Settled<()> = taskgroup::Settled { value: Some(()), errors: None };
    /// assert!(settled.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.errors.is_none()
    }
}
