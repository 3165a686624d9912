//! Converting an error into a [`Member`]: the one `From` impl that lets `?` raise any error
//! into a group, and keeps groups, `StartError`s and foreign errors whole.

use crate::box_error::{BoxError, short_type_name};
use crate::error_group::{ErrorGroup, Member};
use crate::foreign::{self, Payload};
use crate::group::StartError;
use crate::leaf::Leaf;

impl<E: Into<BoxError> + 'static> From<E> for Member {
    fn from(error: E) -> Self {
        // Each test is on a constant `TypeId`, so a monomorphised `from` keeps one branch.
        let error = match foreign::take::<ErrorGroup, E>(error) {
            Ok(group) => return Member::Group(group),
            Err(error) => error,
        };
        let error = match foreign::take::<StartError, E>(error) {
            Ok(start) => return start.into_member(),
            Err(error) => error,
        };
        let error = match foreign::take::<BoxError, E>(error) {
            Ok(boxed) => return Member::from_boxed(boxed),
            Err(error) => error,
        };
        #[cfg(feature = "anyhow")]
        let error = match foreign::take::<anyhow::Error, E>(error) {
            Ok(error) => return Member::from_anyhow(error),
            Err(error) => error,
        };
        #[cfg(feature = "eyre")]
        let error = match foreign::take::<eyre::Report, E>(error) {
            Ok(report) => return Member::from_eyre(report),
            Err(error) => error,
        };
        let type_name = if foreign::is_message::<E>() {
            foreign::BOXED_TYPE_NAME
        } else {
            // A std error: `Into<BoxError>` boxes it as it is.
            short_type_name(std::any::type_name::<E>())
        };
        Member::Leaf(Leaf::from_boxed(error.into(), type_name))
    }
}

impl Member {
    /// A boxed error: a group or a `StartError` inside is unboxed, anything else kept boxed.
    fn from_boxed(boxed: BoxError) -> Self {
        let boxed = match boxed.downcast::<ErrorGroup>() {
            Ok(group) => return Member::Group(*group),
            Err(boxed) => boxed,
        };
        match boxed.downcast::<StartError>() {
            Ok(start) => start.into_member(),
            Err(boxed) => Member::Leaf(Leaf::from_payload(Payload::Boxed(boxed))),
        }
    }

    /// An anyhow error: a group or a `StartError` with no context on it is taken out (under
    /// a context it stays a leaf, still matched through its chain), anything else kept whole.
    #[cfg(feature = "anyhow")]
    fn from_anyhow(error: anyhow::Error) -> Self {
        let error = if (*error).is::<ErrorGroup>() {
            match error.downcast::<ErrorGroup>() {
                Ok(group) => return Member::Group(group),
                Err(error) => error,
            }
        } else {
            error
        };
        let error = if (*error).is::<StartError>() {
            match error.downcast::<StartError>() {
                Ok(start) => return start.into_member(),
                Err(error) => error,
            }
        } else {
            error
        };
        Member::Leaf(Leaf::from_payload(Payload::Anyhow(error)))
    }

    /// An eyre report, as [`from_anyhow`](Self::from_anyhow).
    #[cfg(feature = "eyre")]
    fn from_eyre(report: eyre::Report) -> Self {
        let report = if (*report).is::<ErrorGroup>() {
            match report.downcast::<ErrorGroup>() {
                Ok(group) => return Member::Group(group),
                Err(report) => report,
            }
        } else {
            report
        };
        let report = if (*report).is::<StartError>() {
            match report.downcast::<StartError>() {
                Ok(start) => return start.into_member(),
                Err(report) => report,
            }
        } else {
            report
        };
        Member::Leaf(Leaf::from_payload(Payload::Eyre(report)))
    }
}

/// A typed view (what a clause receives as `eg`) raises as its untyped group: `Err(eg)` in a
/// clause, or `?`, needs no `into_untyped()`.
impl<E: std::error::Error + 'static> From<ErrorGroup<E>> for Member {
    fn from(group: ErrorGroup<E>) -> Self {
        Member::Group(group.into_untyped())
    }
}
