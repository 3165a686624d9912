//! Errors whose concrete type is erased: `Box<dyn Error + Send + Sync>`, `anyhow::Error`
//! (feature `anyhow`) and `eyre::Report` (feature `eyre`). A [`Leaf`](crate::Leaf) keeps each
//! whole ([`Payload`]) and answers `is`/`downcast_ref` for the error inside; this file holds
//! that dispatch, the recognition of those types in `From<E> for Member` ([`take`]), and the
//! type names of erased errors ([`known_type_name`]).
//!
//! Matching rules, in one place:
//! 1. A boxed error is its concrete type: `is::<E>()` is `<dyn Error>::is::<E>()` on the box.
//! 2. An anyhow or eyre error is an `E` when any error of its chain (`chain()`: its contexts,
//!    the error under them and that error's sources) is one. Their own `downcast_ref` needs
//!    `E: Send + Sync`, which `Leaf::is` cannot require, so the chain is walked instead; it
//!    finds the error under any number of `.context(..)` layers, as their `downcast_ref` does,
//!    and also the error's sources, which theirs does not. A context value that is itself an
//!    error type (`.context(MyError)`) is not matched: the chain shows it only as a layer.
//! 3. The type name is the short name of the first error (the box's own, or the first of the
//!    chain) whose type taskgroup knows ([`known_type_name`]: std's, tokio's and its own
//!    error types), else the container's: `Error` for a box and for anyhow (`anyhow::Error`),
//!    `Report` for eyre. A message (`anyhow!("...")`, `"...".into()`) is thus an `Error`.

use std::any::{Any, TypeId};
use std::error::Error as StdError;
use std::fmt;

use crate::box_error::{BoxError, short_type_name};

/// What a [`Leaf`](crate::Leaf) holds: a boxed error, or an anyhow/eyre error kept whole so
/// that its chain, context and backtrace stay with it.
pub(crate) enum Payload {
    /// Any `std::error::Error`, boxed; its concrete type is the box's.
    Boxed(BoxError),
    /// An `anyhow::Error`, as the child returned it.
    #[cfg(feature = "anyhow")]
    Anyhow(anyhow::Error),
    /// An `eyre::Report`, as the child returned it.
    #[cfg(feature = "eyre")]
    Eyre(eyre::Report),
}

impl Payload {
    /// The error as a `dyn Error`: for anyhow and eyre, the outermost of the chain.
    pub(crate) fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        match self {
            Payload::Boxed(boxed) => &**boxed,
            #[cfg(feature = "anyhow")]
            Payload::Anyhow(error) => &**error,
            #[cfg(feature = "eyre")]
            Payload::Eyre(report) => &**report,
        }
    }

    /// The first error that is an `E`: the box itself, or one of the chain (rule 2).
    pub(crate) fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            Payload::Boxed(boxed) => boxed.downcast_ref::<E>(),
            #[cfg(feature = "anyhow")]
            Payload::Anyhow(error) => error.chain().find_map(|e| e.downcast_ref::<E>()),
            #[cfg(feature = "eyre")]
            Payload::Eyre(report) => report.chain().find_map(|e| e.downcast_ref::<E>()),
        }
    }

    /// The error boxed, with its concrete type where the container allows it.
    pub(crate) fn into_boxed(self) -> BoxError {
        match self {
            Payload::Boxed(boxed) => boxed,
            // `.into()` would box anyhow's own wrapper, hiding the type from `downcast`.
            #[cfg(feature = "anyhow")]
            Payload::Anyhow(error) => error.reallocate_into_boxed_dyn_error_without_backtrace(),
            // eyre's `From` boxes the error itself.
            #[cfg(feature = "eyre")]
            Payload::Eyre(report) => report.into(),
        }
    }

    /// The type name of rule 3.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Payload::Boxed(boxed) => known_type_name(&**boxed).unwrap_or(BOXED_TYPE_NAME),
            #[cfg(feature = "anyhow")]
            Payload::Anyhow(error) => error
                .chain()
                .find_map(known_type_name)
                .unwrap_or(short_type_name(std::any::type_name::<anyhow::Error>())),
            #[cfg(feature = "eyre")]
            Payload::Eyre(report) => report
                .chain()
                .find_map(known_type_name)
                .unwrap_or(short_type_name(std::any::type_name::<eyre::Report>())),
        }
    }
}

impl fmt::Display for Payload {
    /// The container's own `Display`, flags included: `{:#}` of an anyhow error is its chain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Boxed(boxed) => fmt::Display::fmt(boxed, f),
            #[cfg(feature = "anyhow")]
            Payload::Anyhow(error) => fmt::Display::fmt(error, f),
            #[cfg(feature = "eyre")]
            Payload::Eyre(report) => fmt::Display::fmt(report, f),
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Boxed(boxed) => fmt::Debug::fmt(boxed, f),
            #[cfg(feature = "anyhow")]
            Payload::Anyhow(error) => fmt::Debug::fmt(error, f),
            #[cfg(feature = "eyre")]
            Payload::Eyre(report) => fmt::Debug::fmt(report, f),
        }
    }
}

/// The type name of a boxed error whose type taskgroup does not know, such as the one
/// `Box::<dyn Error + Send + Sync>::from("message")` makes: `dyn Error`'s.
pub(crate) const BOXED_TYPE_NAME: &str = "Error";

/// Whether `E` is a string that `Into<BoxError>` turns into an error of a private type.
pub(crate) fn is_message<E: 'static>() -> bool {
    let id = TypeId::of::<E>();
    id == TypeId::of::<String>()
        || id == TypeId::of::<&'static str>()
        || id == TypeId::of::<std::borrow::Cow<'static, str>>()
}

/// `value` as a `T`, if `E` is `T`; otherwise `value` back. Moves, never allocates.
pub(crate) fn take<T: 'static, E: 'static>(value: E) -> Result<T, E> {
    let mut slot = Some(value);
    if let Some(same) = (&mut slot as &mut dyn Any).downcast_mut::<Option<T>>() {
        return Ok(same.take().expect("the slot was just filled"));
    }
    Err(slot.expect("the slot is still full"))
}

/// The short name of `error`'s type, if it is one taskgroup knows: the errors of std, of
/// tokio, and of taskgroup itself. Erased errors of other types fall back to their
/// container's name (rule 3 of the module doc).
pub(crate) fn known_type_name(error: &(dyn StdError + 'static)) -> Option<&'static str> {
    macro_rules! known {
        ($($ty:ty),+ $(,)?) => {
            $(
                if error.is::<$ty>() {
                    return Some(short_type_name(std::any::type_name::<$ty>()));
                }
            )+
        };
    }
    known!(
        std::io::Error,
        std::fmt::Error,
        std::num::ParseIntError,
        std::num::ParseFloatError,
        std::num::TryFromIntError,
        std::str::ParseBoolError,
        std::str::Utf8Error,
        std::string::FromUtf8Error,
        std::char::ParseCharError,
        std::net::AddrParseError,
        std::env::VarError,
        std::time::SystemTimeError,
        std::array::TryFromSliceError,
        tokio::task::JoinError,
        tokio::time::error::Elapsed,
        tokio::sync::oneshot::error::RecvError,
        crate::ErrorGroup,
        crate::EmptyGroup,
        crate::TaskPanic,
        crate::TimedOut,
        crate::BodyCancelled,
        crate::AlreadyEntered,
        crate::TaskError,
        crate::SpawnError,
        crate::StartError,
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_moves_only_the_same_type() {
        assert_eq!(take::<u8, u8>(3), Ok(3));
        assert_eq!(take::<u16, u8>(3), Err(3));
    }

    #[test]
    fn known_names() {
        let io: BoxError = std::io::Error::other("x").into();
        assert_eq!(known_type_name(&*io), Some("Error"));
        let message: BoxError = "x".into();
        assert_eq!(known_type_name(&*message), None);
        assert_eq!(Payload::Boxed(message).type_name(), BOXED_TYPE_NAME);
    }
}
