//! [`TaskOutput`]: what a child's future may return.

use crate::error_group::Member;
use crate::task_error::TaskError;

/// What a child's future may return: `Result<T, E>` for any error `E` that converts into a
/// [`Member`] (every `std::error::Error + Send + Sync + 'static`, `ErrorGroup`,
/// `Box<dyn Error + Send + Sync>`, strings, and with their features `anyhow::Error` and
/// `eyre::Report`), or `()`.
/// A future that returns a plain value is spawned with
/// [`TaskGroup::spawn_value`](crate::TaskGroup::spawn_value) or wrapped in
/// [`value`](crate::value).
#[diagnostic::on_unimplemented(
    message = "a child's future must return `()` or `Result<T, E>`, not `{Self}`",
    label = "this future's output is `{Self}`",
    note = "for a plain value, spawn it with `tg.spawn_value(future)` or wrap it in `taskgroup::value(future)`; a `spawn_blocking` closure returns `()` or `Ok::<_, E>(value)`",
    note = "for an error type `E`, it must be a `std::error::Error + Send + Sync + 'static` or an `ErrorGroup`",
    note = "a future that never returns (an endless `loop`, say a background reporter) has output `!`: write it as an `async fn` that returns `Result<(), E>`, its body the loop"
)]
pub trait TaskOutput: Send + 'static {
    /// The value a successful task yields.
    type Ok: Send + 'static;

    /// Splits the output into the success value or the failure to record in the group.
    fn into_result(self) -> Result<Self::Ok, Member>;
}

impl TaskOutput for () {
    type Ok = ();
    fn into_result(self) -> Result<(), Member> {
        Ok(())
    }
}

impl<T: Send + 'static, E: Into<Member> + Send + 'static> TaskOutput for Result<T, E> {
    type Ok = T;
    fn into_result(self) -> Result<T, Member> {
        self.map_err(Into::into)
    }
}

/// How a spawned child ends, as its future returns it to tokio: the error is boxed and a
/// cancellation (`None`) allocates nothing, so that the output fits tokio's smallest cell.
pub(crate) type Outcome<T> = Result<T, Option<Box<TaskError>>>;
