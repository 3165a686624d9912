//! How a child ended, and how that is recorded in its group.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;

use super::shared::Shared;
use crate::error_group::Member;
use crate::leaf::{Leaf, TaskInfo, TaskPanic};
use crate::task_error::TaskError;
use crate::task_output::TaskOutput;

pub(super) enum Ending<T> {
    Value(T),
    Failed(Member),
    Panicked(TaskPanic),
    Cancelled,
}

impl<T> Ending<T> {
    /// How a child whose future returned `output` ended. A child that returns a cancellation
    /// (`sibling.await?` on a cancelled sibling) ends as cancelled, as in CPython, not failed.
    pub(super) fn of<O: TaskOutput<Ok = T>>(output: O) -> Self {
        match output.into_result() {
            Ok(value) => Ending::Value(value),
            Err(member) if is_cancellation(&member) => Ending::Cancelled,
            Err(member) => Ending::Failed(member),
        }
    }

    pub(super) fn panicked(payload: &(dyn Any + Send)) -> Self {
        Ending::Panicked(TaskPanic::from_payload(payload))
    }

    /// Drops the child's future, so that a panic in its destructor is the child's panic (the
    /// first panic wins).
    pub(super) fn after_drop<F>(self, future: Pin<&mut Option<F>>) -> Self {
        self.after(drop_future(future))
    }

    /// The ending once the future's drop gave `dropped`: a panic in it is the child's, unless
    /// the child panicked already (the first panic wins).
    pub(super) fn after(self, dropped: Result<(), Box<dyn Any + Send>>) -> Self {
        match dropped {
            Err(payload) if !matches!(self, Ending::Panicked(_)) => Ending::panicked(&*payload),
            _ => self,
        }
    }
}

/// Drops a child's future; the payload if its destructor panicked.
pub(super) fn drop_future<F>(mut future: Pin<&mut Option<F>>) -> Result<(), Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(|| future.set(None)))
}

/// Whether a failure is really a cancellation passed on (`TaskError::Cancelled`).
pub(super) fn is_cancellation(member: &Member) -> bool {
    matches!(
        member.downcast_ref::<TaskError>(),
        Some(TaskError::Cancelled)
    )
}

/// Records how a child ended in the group, and returns the result its handle gives. A panic
/// while recording (an error's `Display`, say) is recorded as the child's panic instead.
/// `id` is asked for only when something is recorded.
#[inline]
pub(super) fn conclude<T>(
    shared: &Shared,
    ending: Ending<T>,
    name: Option<&Arc<str>>,
    id: impl FnOnce() -> Option<tokio::task::Id>,
) -> Result<T, TaskError> {
    match ending {
        // A success records nothing, unless it wins a first-ok group: no unwind guard, no
        // task id.
        Ending::Value(value) if !shared.success_stops() => Ok(value),
        ending => record_guarded(shared, ending, name, id()),
    }
}

/// [`record`], with a panic while recording recorded as the child's panic instead.
fn record_guarded<T>(
    shared: &Shared,
    ending: Ending<T>,
    name: Option<&Arc<str>>,
    id: Option<tokio::task::Id>,
) -> Result<T, TaskError> {
    catch_unwind(AssertUnwindSafe(|| record(shared, ending, name, id))).unwrap_or_else(|payload| {
        // Recording a panic runs no user code.
        record(shared, Ending::panicked(&*payload), name, id)
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
            shared.succeed(info);
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
