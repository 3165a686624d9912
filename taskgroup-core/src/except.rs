//! `except*` as a library: [`ExceptStar`] takes a failed scope's [`ErrorGroup`] apart clause by
//! clause with PEP 654's rules, and [`Outcome`] tells success, all-handled and remains apart.
//!
//! The `task_group!` macro expands its `except*` clauses to these calls, and the
//! `#[except_star]` attribute implements [`Handler`]; both can be used by hand too.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use crate::error_group::ErrorGroup;
use crate::error_group::Member;
use crate::leaf::Leaf;
use crate::reraise::Places;

/// What a scope with `except*` clauses gives back: its value, the news that every error was
/// handled, or the errors that remain.
///
/// The three cases are apart in the type, as they are apart in Python's control flow: the
/// `try` body finished, an `except*` clause swallowed everything, or an exception propagates.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// use taskgroup::{ErrorGroup, Outcome};
///
/// let ok: Outcome<u32> = Outcome::Ok(7);
/// assert_eq!(ok.into_result().unwrap(), Some(7));
///
/// let handled: Outcome<u32> = Outcome::Handled;
/// assert_eq!(handled.into_result().unwrap(), None);
///
/// let eg = ErrorGroup::new("boom", vec![std::fmt::Error.into()]).unwrap();
/// let remains: Outcome<u32> = Outcome::Unhandled(eg);
/// assert_eq!(remains.into_result().unwrap_err().message(), "boom");
/// ```
#[must_use = "an `Outcome` may hold errors that no clause handled"]
pub enum Outcome<T> {
    /// The scope succeeded with this value; no clause ran.
    Ok(T),
    /// The scope failed and the clauses handled every error (none raised).
    Handled,
    /// Errors remain: the leaves no clause matched or a clause re-raised
    /// ([`ErrorGroup::reraise`]), as the original group (same message and shape), or, when a
    /// clause raised a new error, CPython's `ErrorGroup("", [raised..., rest])`.
    Unhandled(ErrorGroup),
}

impl<T> Outcome<T> {
    /// `Ok(Some(value))` on success, `Ok(None)` when every error was handled, `Err(group)` when
    /// errors remain, so that `?` propagates what is left.
    pub fn into_result(self) -> Result<Option<T>, ErrorGroup> {
        match self {
            Outcome::Ok(value) => Ok(Some(value)),
            Outcome::Handled => Ok(None),
            Outcome::Unhandled(group) => Err(group),
        }
    }

    /// The value, if the scope succeeded.
    pub fn ok(self) -> Option<T> {
        match self {
            Outcome::Ok(value) => Some(value),
            Outcome::Handled | Outcome::Unhandled(_) => None,
        }
    }

    /// The remaining errors, if any.
    pub fn unhandled(self) -> Option<ErrorGroup> {
        match self {
            Outcome::Unhandled(group) => Some(group),
            Outcome::Ok(_) | Outcome::Handled => None,
        }
    }

    /// Whether the scope succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// Whether the scope failed and every error was handled.
    pub fn is_handled(&self) -> bool {
        matches!(self, Outcome::Handled)
    }

    /// Whether errors remain.
    pub fn is_unhandled(&self) -> bool {
        matches!(self, Outcome::Unhandled(_))
    }

    /// Maps the success value, leaving the other cases as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Ok(value) => Outcome::Ok(f(value)),
            Outcome::Handled => Outcome::Handled,
            Outcome::Unhandled(group) => Outcome::Unhandled(group),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Outcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(value) => f.debug_tuple("Ok").field(value).finish(),
            Outcome::Handled => f.write_str("Handled"),
            Outcome::Unhandled(group) => f.debug_tuple("Unhandled").field(group).finish(),
        }
    }
}

/// An error type that an `except*` clause can match: any `std::error::Error + 'static`.
///
/// Implemented for every such type; the bound exists so that a clause naming something else
/// gets a message saying what to write. [`ErrorGroup`] is an error but is never a leaf (a
/// nested group stays a group), so `task_group!` and `#[except_star]` refuse it as a clause
/// type, as CPython refuses `except* ExceptionGroup`: by name, and through an alias with a
/// check of their own in the code they generate (this blanket impl cannot leave one error
/// type out on stable Rust). Called by hand, [`ExceptStar::take::<ErrorGroup>`](ExceptStar::take)
/// takes only leaves that hold a group themselves (made with [`Leaf::new`]), never the
/// nested groups.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be matched by `except*`: it is not an error type",
    label = "not an error type",
    note = "an `except*` clause lists error types, each implementing `std::error::Error + 'static`, such as `std::io::Error`"
)]
pub trait ClauseType: StdError + 'static {}

impl<E: StdError + 'static> ClauseType for E {}

/// What an `except*` clause or handler may evaluate to: `()` when it handled its group, or
/// `Result<(), E>`, where `Err(e)` raises `e` (any error that converts into a [`Member`],
/// an [`ErrorGroup`] included).
#[diagnostic::on_unimplemented(
    message = "an `except*` clause must evaluate to `()` or `Result<(), E>`, not `{Self}`",
    label = "this is a `{Self}`",
    note = "end the clause with `;` to discard its value, or give `Err(error)` to raise `error`"
)]
pub trait ClauseOutput {
    /// `Ok(())` when handled, `Err(member)` when the clause raised.
    fn into_raised(self) -> Result<(), Member>;
}

impl ClauseOutput for () {
    fn into_raised(self) -> Result<(), Member> {
        Ok(())
    }
}

impl<E: Into<Member>> ClauseOutput for Result<(), E> {
    fn into_raised(self) -> Result<(), Member> {
        self.map_err(Into::into)
    }
}

/// A reusable `except*` clause: what the `#[except_star(T1, T2, ...)]` attribute makes of an
/// async fn. The attribute emits a type with the fn's name that implements this trait, so the
/// name works in a `task_group!` clause (`except* on_value,`), with [`except_star`], and with
/// [`ExceptStar::handle`]; the fn itself stays callable.
///
/// Implementing it by hand is possible: [`matches`](Handler::matches) chooses the leaves,
/// [`handle`](Handler::handle) runs once on the group of the chosen leaves.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `except*` handler",
    label = "not made by `#[except_star(...)]`",
    note = "put `#[except_star(ErrorType)]` on an `async fn` to make a handler, or match a type inline with `except* ErrorType as eg => ...`"
)]
pub trait Handler {
    /// Whether the handler takes this leaf.
    fn matches(leaf: &Leaf) -> bool;

    /// Runs the handler on the group of the leaves it matched (as
    /// [`split_by`](ErrorGroup::split_by)`(Self::matches)` leaves them); `Err` is what it raised.
    /// A handler made by `#[except_star]` given leaves it does not match raises the whole
    /// group back without running.
    fn handle(group: ErrorGroup) -> impl Future<Output = Result<(), Member>>;
}

/// Applies one [`Handler`] to a scope's result, as a `try` with a single `except*` clause.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::future::Future;
/// use taskgroup::{ErrorGroup, Handler, Leaf, Member, except_star};
///
/// // A handler written by hand; `#[except_star(std::fmt::Error)]` makes the same from a fn.
/// #[allow(non_camel_case_types)]
/// struct on_fmt {}
/// impl Handler for on_fmt {
///     fn matches(leaf: &Leaf) -> bool {
///         leaf.is::<std::fmt::Error>()
///     }
///     fn handle(group: ErrorGroup) -> impl Future<Output = Result<(), Member>> {
///         async move { assert_eq!(group.len(), 1); Ok(()) }
///     }
/// }
///
/// let failed: Result<(), ErrorGroup> =
///     Err(ErrorGroup::new("boom", vec![std::fmt::Error.into()]).unwrap());
/// assert!(except_star::<on_fmt, _>(failed).await.is_handled());
/// # }
/// ```
pub async fn except_star<H: Handler, T>(result: Result<T, ErrorGroup>) -> Outcome<T> {
    match result {
        Ok(value) => Outcome::Ok(value),
        Err(group) => {
            let mut clauses = ExceptStar::new(group);
            clauses.handle::<H>().await;
            clauses.into_outcome()
        }
    }
}

/// The state of a series of `except*` clauses over one [`ErrorGroup`], with PEP 654's rules:
///
/// - each clause takes the leaves it matches out of what is left, as a group with the
///   original message and nesting, and runs at most once (not at all if nothing matched);
/// - so a leaf goes to the first matching clause only;
/// - what a clause raises is set aside: later clauses never see it;
/// - at the end, if nothing was raised, what is left propagates as it is (or everything was
///   handled); if something was raised, the result is `ErrorGroup("", [raised..., rest])`,
///   the rest nested whole as the last member, as CPython does;
/// - a group raised with [`ErrorGroup::reraise`] (CPython's bare `raise`) goes back to its
///   original place: what propagates is the original group restricted to the re-raised and
///   unhandled leaves.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::{fmt, io};
/// use taskgroup::{ErrorGroup, ExceptStar};
///
/// let eg = ErrorGroup::new(
///     "unhandled errors in a TaskGroup",
///     vec![io::Error::other("disk").into(), fmt::Error.into()],
/// )
/// .unwrap();
/// let mut clauses = ExceptStar::new(eg);
/// if let Some(io_errors) = clauses.take::<io::Error>() {
///     // The clause raises a new error about what it matched.
///     clauses.raise(io::Error::other(format!("gave up after {} io errors", io_errors.error_count())));
/// }
/// let left = clauses.finish().unwrap();
/// assert_eq!(left.message(), "");
/// assert_eq!(left.len(), 2); // [raised io::Error, ErrorGroup(original message, [fmt::Error])]
/// # }
/// ```
pub struct ExceptStar {
    rest: Option<ErrorGroup>,
    raised: Vec<Member>,
    places: Places,
}

impl ExceptStar {
    /// Starts the clauses over a scope's group.
    pub fn new(mut group: ErrorGroup) -> Self {
        ExceptStar {
            places: Places::new(&mut group),
            rest: Some(group),
            raised: Vec::new(),
        }
    }

    /// The leaves no clause has taken yet.
    pub fn rest(&self) -> Option<&ErrorGroup> {
        self.rest.as_ref()
    }

    /// Takes the leaves of type `E` out of what is left, as a typed group (a clause
    /// `except* E as eg`). `None` when no leaf matches: the clause must not run.
    pub fn take<E: ClauseType>(&mut self) -> Option<ErrorGroup<E>> {
        let (matched, rest) = self.rest.take()?.split::<E>();
        self.rest = rest;
        matched
    }

    /// Takes the leaves of type `E` that `predicate` accepts out of what is left, as a typed
    /// group: a clause with Rust patterns on one error type,
    /// `except* FetchError::Status(404) | FetchError::Timeout { .. } as eg`. The leaves of type
    /// `E` it refuses stay for later clauses. `None` when no leaf matches. Only the leaf is
    /// matched, never its `source()` chain (CPython matches the exception, not its cause).
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use std::io;
    /// use taskgroup::{ErrorGroup, ExceptStar};
    ///
    /// let eg = ErrorGroup::new(
    ///     "io",
    ///     vec![io::Error::from(io::ErrorKind::NotFound).into(), io::Error::other("disk").into()],
    /// )
    /// .unwrap();
    /// let mut clauses = ExceptStar::new(eg);
    /// let missing = clauses
    ///     .take_matching(|e: &io::Error| e.kind() == io::ErrorKind::NotFound)
    ///     .unwrap();
    /// assert_eq!(missing.error_count(), 1);
    /// let other = clauses.take::<io::Error>().unwrap(); // what is left of the type
    /// assert_eq!(other.first().unwrap().to_string(), "disk");
    /// assert!(clauses.finish().is_none());
    /// ```
    pub fn take_matching<E: ClauseType, P: FnMut(&E) -> bool>(
        &mut self,
        predicate: P,
    ) -> Option<ErrorGroup<E>> {
        let (matched, rest) = self.rest.take()?.split_matching::<E, P>(predicate);
        self.rest = rest;
        matched
    }

    /// Takes the leaves that `predicate` accepts (a clause listing several types).
    pub fn take_by<P: FnMut(&Leaf) -> bool>(&mut self, predicate: P) -> Option<ErrorGroup> {
        let (matched, rest) = self.rest.take()?.split_by(predicate);
        self.rest = rest;
        matched
    }

    /// Records an error a clause raised; later clauses will not see it. A group marked by
    /// [`ErrorGroup::reraise`] goes back in its original place instead.
    pub fn raise(&mut self, error: impl Into<Member>) {
        match error.into() {
            Member::Group(group) if group.is_reraised() => {
                if let Some(foreign) = self.places.put_back(group) {
                    self.raised.push(Member::Group(foreign));
                }
            }
            member => self.raised.push(member),
        }
    }

    /// Records a clause's result: `Err` is raised (see [`raise`](Self::raise)), `Ok` means
    /// handled.
    pub fn record(&mut self, result: Result<(), Member>) {
        if let Err(member) = result {
            self.raise(member);
        }
    }

    /// Runs handler `H` as the next clause: on its matching leaves, if there are any.
    pub async fn handle<H: Handler>(&mut self) {
        if let Some(group) = self.take_by(H::matches) {
            let result = H::handle(group).await;
            self.record(result);
        }
    }

    /// Ends the clauses: `None` when everything was handled, otherwise what propagates: the
    /// rest unchanged, or, when a clause re-raised ([`ErrorGroup::reraise`]), the original
    /// group restricted to the re-raised leaves and the rest; and when a clause raised a new
    /// error, `ErrorGroup("", [raised..., that])`.
    pub fn finish(self) -> Option<ErrorGroup> {
        let ExceptStar {
            rest,
            mut raised,
            mut places,
        } = self;
        let rest = if places.any_back() {
            if let Some(foreign) = rest.and_then(|rest| places.put_back(rest)) {
                // Never the case (the rest is the original's); kept rather than dropped.
                raised.push(Member::Group(foreign));
            }
            places.project()
        } else {
            rest
        };
        if raised.is_empty() {
            return rest;
        }
        raised.extend(rest.map(Member::Group));
        ErrorGroup::new("", raised).ok()
    }

    /// Ends the clauses as the [`Outcome`] of a failed scope.
    pub fn into_outcome<T>(self) -> Outcome<T> {
        match self.finish() {
            None => Outcome::Handled,
            Some(group) => Outcome::Unhandled(group),
        }
    }
}

impl fmt::Debug for ExceptStar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExceptStar")
            .field("rest", &self.rest)
            .field("raised", &self.raised)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{fmt, io};

    fn group() -> ErrorGroup {
        let inner = ErrorGroup::new("inner", vec![io::Error::other("b").into()]).unwrap();
        ErrorGroup::new(
            "outer",
            vec![
                io::Error::other("a").into(),
                fmt::Error.into(),
                inner.into(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn unmatched_rest_propagates_unchanged() {
        let mut c = ExceptStar::new(group());
        assert!(c.take::<TestError>().is_none());
        let left = c.finish().unwrap();
        assert_eq!(left.message(), "outer");
        assert_eq!(left.len(), 3);
    }

    #[test]
    fn leaf_goes_to_first_matching_clause() {
        let mut c = ExceptStar::new(group());
        let first = c.take::<io::Error>().unwrap();
        assert_eq!(first.errors().count(), 2);
        assert_eq!(first.message(), "outer");
        assert!(c.take::<io::Error>().is_none());
        let left = c.finish().unwrap();
        assert_eq!(left.len(), 1);
        assert!(left.contains::<fmt::Error>());
    }

    #[test]
    fn everything_handled_is_none() {
        let mut c = ExceptStar::new(group());
        c.take_by(|_| true).unwrap();
        assert!(c.finish().is_none());
    }

    #[test]
    fn raised_come_first_then_rest_nested() {
        let mut c = ExceptStar::new(group());
        c.take::<fmt::Error>().unwrap();
        c.raise(TestError);
        let left = c.finish().unwrap();
        assert_eq!(left.message(), "");
        assert_eq!(left.len(), 2);
        assert!(left.members()[0].is::<TestError>());
        let rest = left.members()[1].as_group().unwrap();
        assert_eq!(rest.message(), "outer");
        assert_eq!(rest.len(), 2);
    }

    #[test]
    fn raised_with_no_rest_is_still_wrapped() {
        let mut c = ExceptStar::new(group());
        c.take_by(|_| true).unwrap();
        c.record(Err(TestError.into()));
        let left = c.finish().unwrap();
        assert_eq!(left.message(), "");
        assert_eq!(left.len(), 1);
    }

    #[derive(Debug)]
    struct TestError;
    impl fmt::Display for TestError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("test")
        }
    }
    impl StdError for TestError {}
}
