//! [`task_group!`] opens a scope whose children run in parallel and are all finished or
//! cancelled when it returns; its `except*` clauses and [`#[except_star]`](macro@except_star)
//! handlers take the resulting [`ErrorGroup`] apart by type, as PEP 654 does. The runtime
//! underneath is [`TaskGroup`]; every item of `taskgroup-core` is re-exported here.
//!
//! The README follows; its examples are this crate's doctests.
//!
#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use taskgroup_core::*;

/// Opens a task group scope around a body, inside an async fn, and awaits it: the
/// `async with asyncio.TaskGroup() as tg:` of Python.
///
/// # Grammar
/// ```text
/// task_group!( [OPTION = VALUE, ... ;] |tg| BODY [CLAUSE ...] )
///
/// OPTION  := timeout   (a Duration, from the start of the scope)
///          | deadline  (a tokio::time::Instant; not with timeout)
///          | name      (impl Into<Arc<str>>)
///          | policy    (fail_fast | wait_all | first_ok, or `(expr)` of type Policy)
///          | limit     (usize, at least 1: children running at once)
///          | grace     (a Duration: cancellation signals the token, then aborts after it)
///          | stall     (a Duration: report a child that waits unpolled this long)
///          | keep_errors (usize: keep the most recent failures, count the rest)
///          | on_failure  (an Fn(&Member) + Send + Sync + 'static, called at each failure)
///          | local     (true | false: `true` lets tg.spawn_local take non-Send futures,
///                       and makes the scope's future non-Send)
/// CLAUSE  := except* MATCH [| MATCH ...] [as NAME] => EXPR ,
///          | except* HANDLER ,          (an async fn made with #[except_star(...)])
/// MATCH   := TYPE                       (a plain path: every leaf of the type)
///          | PATH(...) | PATH { ... }   (a Rust pattern on an error type)
/// ```
/// `tg` (any name, or `_`) is a `&TaskGroup` for the body: spawn children with
/// [`tg.spawn(future)`](TaskGroup::spawn). The body is an expression, usually a block; it
/// runs in place (it is not `move`), so it borrows local variables, and `?` in it raises its
/// error into the group, after the children's errors, as CPython does.
///
/// # Value
/// - Without clauses: `Result<R, ErrorGroup>`, `R` being the body's value.
/// - With clauses: [`Outcome<R>`]: `Ok(R)` on success, `Handled` when the clauses handled every
///   error, `Unhandled(ErrorGroup)` with what remains. [`Outcome::into_result`] gives
///   `Result<Option<R>, ErrorGroup>`, for `?`.
///
/// # `except*` clauses (PEP 654)
/// - A clause runs at most once, on the subgroup of the errors it matches, with the original
///   message and nesting: `ErrorGroup<T>` for one type, the untyped `ErrorGroup` for
///   `A | B`. It does not run if nothing matches.
/// - A leaf goes to the first clause that matches it; the rest is left for later clauses.
/// - A clause evaluates to `()` (handled) or `Result<(), E>`: `Err(e)` raises `e`, and so does
///   `?` inside the clause. Raised errors are not seen by later clauses; the scope then gives
///   `ErrorGroup("", [raised..., rest])`, the unmatched rest nested whole as the last member,
///   as CPython does. When everything was handled and one error was raised, CPython raises
///   that error bare; the scope's error is always a group here, so it comes back as
///   `ErrorGroup("", [raised])`, its only leaf the raised error. With nothing raised, the
///   unmatched rest comes back unchanged. `Err(eg.reraise())` is CPython's bare `raise`: the
///   clause's leaves go back to their original place in the rest (original messages and
///   nesting), instead of being nested as a new error.
/// - The clause body runs in an `async` block: `.await` works; `return Err(e)` leaves the
///   clause raising `e` (no `.into()`, as with `?`), a bare `return` leaves it handled.
/// - A Rust pattern takes only the leaves of its type that it matches, as
///   `except* FetchError::Status(500..=599) | FetchError::Timeout { .. } as eg`; the other
///   leaves of the type stay for later clauses. A path followed by `(...)` or `{...}` is a
///   pattern, a plain path a type (write a unit variant `E::Unit { .. }`); the pattern's error
///   type is its path minus the last segment (the path itself if it has one segment, for a
///   struct error), and `eg` is `ErrorGroup<E>` when a clause names one error type. Patterns
///   bind nothing (the clause gets the group, not one error: write `_` or `..`), and match
///   the leaf itself, never its `source()` chain, as CPython matches the exception and not
///   its cause. A pattern clause after `except* E` would never run and is refused.
/// - `except* ErrorGroup` is refused at compile time, by that name or through an alias, a
///   renaming import or an associated type: a nested group is never a leaf, so the clause
///   could never run (CPython refuses `except* ExceptionGroup`). In a generic fn,
///   `except* T` with `T` turning out to be `ErrorGroup` cannot be seen at compile time; such
///   a clause, reached with errors left, raises a `TypeError` leaf saying so, as CPython does.
///
/// # Examples
/// A scope, and the handles' results after it:
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use taskgroup::task_group;
///
/// async fn fetch(url: &'static str) -> Result<String, std::io::Error> {
///     Ok(format!("data from {url}"))
/// }
///
/// let (a, b) = task_group!(|tg| {
///     let a = tg.spawn(fetch("api1.com"));
///     let b = tg.spawn(fetch("api2.com"));
///     (a, b)
/// })?;
/// assert_eq!(a.result()?, "data from api1.com");
/// assert_eq!(b.result()?, "data from api2.com");
/// # Ok(()) }
/// ```
/// Options, and `?` raising into the group:
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use taskgroup::{ErrorGroup, task_group};
///
/// let result: Result<u8, ErrorGroup> = task_group!(
///     timeout = Duration::from_secs(2), limit = 8, policy = wait_all, name = "parsers";
///     |tg| {
///         tg.spawn(async { "x".parse::<u8>().map(drop) });
///         "7".parse::<u8>()?
///     }
/// );
/// let eg = result.unwrap_err();
/// assert_eq!(eg.to_string(), "unhandled errors in a TaskGroup (1 sub-exception) [parsers]");
/// # }
/// ```
/// `except*` clauses:
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::{fmt, io, num::ParseIntError};
/// use taskgroup::{Outcome, task_group};
///
/// let outcome = task_group!(|tg| {
///     tg.spawn(async { Err::<(), _>(io::Error::other("disk full")) });
///     tg.spawn(async { "x".parse::<u8>().map(drop) });
/// }
/// except* io::Error as eg => println!("Handled io::Error: {eg}"),
/// except* ParseIntError | fmt::Error as eg => {
///     assert_eq!(eg.len(), 1);
/// }
/// );
/// assert!(matches!(outcome, Outcome::Handled));
/// # }
/// ```
/// Rust patterns on an error type, then what is left of the type:
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::task_group;
///
/// #[derive(Debug)]
/// enum FetchError {
///     Timeout,
///     Status(u16),
/// }
/// impl std::fmt::Display for FetchError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "{self:?}")
///     }
/// }
/// impl std::error::Error for FetchError {}
///
/// let mut retried = Vec::new();
/// let outcome = task_group!(policy = wait_all; |tg| {
///     tg.spawn(async { Err::<(), _>(FetchError::Status(503)) });
///     tg.spawn(async { Err::<(), _>(FetchError::Status(404)) });
///     tg.spawn(async { Err::<(), _>(FetchError::Timeout) });
/// }
/// except* FetchError::Timeout { .. } | FetchError::Status(500..=599) as eg => {
///     retried.extend(eg.errors().map(|e| e.to_string())); // e: &FetchError
/// }
/// except* FetchError as eg => assert_eq!(eg.first().unwrap().to_string(), "Status(404)"),
/// );
/// assert!(outcome.is_handled());
/// retried.sort();
/// assert_eq!(retried, ["Status(503)", "Timeout"]);
/// # }
/// ```
///
/// The expansion does not depend on the caller's edition (2021 keeps tail-expression
/// temporaries longer; the scope binds its result before its locals drop):
/// ```edition2021
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let n = taskgroup::task_group!(|tg| {
///     tg.spawn(async {});
///     1
/// });
/// assert_eq!(n.unwrap(), 1);
/// let outcome: taskgroup::Outcome<()> = taskgroup::task_group!(|_tg| { Err(std::fmt::Error)? }
///     except* std::fmt::Error => (),
/// );
/// assert!(outcome.is_handled());
/// # }
/// ```
///
/// # Expansion
/// `task_group!(limit = 8; |tg| { body })` becomes, in essence (every path goes through
/// `::taskgroup::__private`, and the locals are invisible to the body):
/// ```text
/// {
///     let result = {
///         let task_group = TaskGroup::builder().limit(8).build();
///         let tg = &task_group;
///         let result = task_group
///             .run(async { let value = { body }; Ok::<_, Member>(value) })
///             .await;
///         result
///     };
///     result
/// }
/// ```
/// and each clause `except* T as eg => expr` adds, on the `Err(group)` path:
/// ```text
/// let mut clauses = ExceptStar::new(group);
/// ClauseTypeCheck::<T>::NEW.clause(&mut clauses);   // refuses ErrorGroup by any name
/// if let Some(eg) = clauses.take::<T>() {
///     let raised = async { ClauseOutput::into_raised(expr) }.await;
///     clauses.record(raised);
/// }
/// // except* A | B as eg: clauses.take_by(|leaf| leaf_is::<A>(leaf) || leaf_is::<B>(leaf))
/// // except* handler:     clauses.handle::<handler>().await;
/// ...
/// clauses.into_outcome()
/// ```
/// `tg` borrows a local of the expansion, so it cannot leave the scope (a compile error).
/// `docs/DSL.md` shows a complete expansion.
pub use taskgroup_macros::task_group;

/// Turns an async fn into a reusable `except*` handler: the `except* (ValueError, TypeError)
/// as eg:` of Python, with a name.
///
/// # Grammar
/// ```text
/// #[except_star(MATCH, ...)]       // MATCH: a type, or a pattern such as E::V(..)
/// [pub] async fn NAME(eg: ErrorGroup<TYPE>) [-> Result<(), E>] { ... }   // one type
/// [pub] async fn NAME(eg: ErrorGroup) [-> Result<(), E>] { ... }         // several types
/// ```
/// Patterns follow the rules of [`task_group!`]'s clauses:
/// `#[except_star(FetchError::Timeout { .. }, FetchError::Status(500..=599))]` takes those
/// leaves of `FetchError` only, and the fn gets `ErrorGroup<FetchError>` (one error type).
/// The fn takes the matched group (the leaves of the listed types, with the original message
/// and nesting) and returns `()` when it handled them or `Result<(), E>` (`Err` raises). It
/// must be a free `async fn` without generics or `self`.
///
/// The fn stays callable by its name. The attribute also emits a type of the same name (a
/// braced struct lives only in the type namespace, so it does not clash with the fn) that
/// implements [`Handler`]; through it the name works:
/// - as a clause of [`task_group!`]: `except* on_value,`;
/// - on any `Result<T, ErrorGroup>`: [`except_star::<on_value, _>(result).await`](fn@except_star);
/// - in a chain of clauses written by hand with [`ExceptStar::handle`].
///
/// # Example
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::{fmt, io};
/// use taskgroup::{ErrorGroup, Outcome, except_star, task_group};
///
/// #[except_star(io::Error)]
/// async fn on_io(eg: ErrorGroup<io::Error>) {
///     for e in eg.errors() {
///         println!("io error: {e}"); // e: &io::Error
///     }
/// }
///
/// #[except_star(fmt::Error, std::num::ParseIntError)]
/// async fn on_format(eg: ErrorGroup) -> Result<(), io::Error> {
///     Err(io::Error::other(format!("{} formatting errors", eg.len())))
/// }
///
/// let outcome = task_group!(|tg| {
///     tg.spawn(async { Err::<(), _>(io::Error::other("disk full")) });
/// }
/// except* on_io,
/// except* on_format,
/// );
/// assert!(outcome.is_handled());
///
/// // The same handler on any result:
/// let failed: Result<(), ErrorGroup> =
///     Err(ErrorGroup::new("parse", vec![fmt::Error.into()]).unwrap());
/// let left = taskgroup::except_star::<on_format, _>(failed).await.unhandled().unwrap();
/// // CPython would raise the new error bare; here it is the only leaf of a group with no message.
/// assert_eq!(left.message(), "");
/// # }
/// ```
///
/// # Expansion
/// ```text
/// async fn on_io(eg: ErrorGroup<io::Error>) { ... }           // as written
///
/// #[doc(hidden)]
/// #[allow(non_camel_case_types, dead_code)]
/// struct on_io {}
///
/// impl Handler for on_io {
///     fn matches(leaf: &Leaf) -> bool {
///         ClauseTypeCheck::<io::Error>::NEW.handler(); // refuses ErrorGroup by any name
///         leaf_is::<io::Error>(leaf)
///     }
///     fn handle(group: ErrorGroup) -> impl Future<Output = Result<(), Member>> {
///         async move {
///             let typed: ErrorGroup<io::Error> = typed::<io::Error>(group)?;
///             ClauseOutput::into_raised(on_io(typed).await)
///         }
///     }
/// }
/// ```
pub use taskgroup_macros::except_star;

/// Not public API: the paths that macro expansions use, so that user imports never matter.
#[doc(hidden)]
pub mod __private {
    use std::any::TypeId;
    use std::marker::PhantomData;
    use std::ops::Deref;

    pub use taskgroup_core::*;

    /// Whether `leaf` holds an `E`: the matcher of a clause that lists several types. The
    /// [`ClauseType`] bound gives a clause naming a non-error type a message saying so.
    #[inline]
    pub fn leaf_is<E: ClauseType>(leaf: &Leaf) -> bool {
        leaf.is::<E>()
    }

    /// Whether `leaf` holds an `E` that `pattern` accepts: the matcher of one Rust pattern in a
    /// clause that lists several types (`except* io::Error | FetchError::Status(404)`);
    /// `pattern` is `|e: &E| match e { PATTERN => true, _ => false }`.
    #[inline]
    pub fn leaf_matches<E: ClauseType>(leaf: &Leaf, pattern: impl FnOnce(&E) -> bool) -> bool {
        leaf.downcast_ref::<E>().is_some_and(pattern)
    }

    /// The typed view of the group a one-type handler matched. Given other leaves too (only
    /// if `Handler::handle` is called by hand), raises them all back instead, without running.
    pub fn typed<E: ClauseType>(group: ErrorGroup) -> Result<ErrorGroup<E>, Member> {
        match group.split::<E>() {
            (Some(typed), None) => Ok(typed),
            (matched, rest) => {
                let matched = matched.map(|m| Member::Group(m.into_untyped()));
                let members = matched.into_iter().chain(rest.map(Member::Group)).collect();
                Err(match ErrorGroup::new("", members) {
                    Ok(group) => Member::Group(group),
                    Err(empty) => Member::Leaf(Leaf::new(empty)),
                })
            }
        }
    }

    /// The refusal of `ErrorGroup` as an `except*` type, by whatever name it goes: a clause or
    /// handler type `T` gets `ClauseTypeCheck::<T>::NEW.clause(&mut clauses)` (inline
    /// clauses) or `.handler()` (`#[except_star]`), spanned on the user's type.
    ///
    /// The macros refuse the name `ErrorGroup` themselves; an alias (`type Eg = ErrorGroup`),
    /// a renaming import or an associated type only the type checker sees through. Method
    /// resolution prefers the inherent methods below, which exist for groups only and require
    /// [`LeafType`], over the ones reached through `Deref`, which exist for every type: so a
    /// type known to be a group fails to compile with `LeafType`'s message, and any other
    /// passes. Inside a generic fn the type of `except* T` is not known when the fn is checked,
    /// so the `Deref` path is taken; if `T` is `ErrorGroup`, [`LeafTypeCheck::clause`] raises
    /// at run time instead, as CPython raises its `TypeError` when it reaches such a clause.
    pub struct ClauseTypeCheck<T: ?Sized>(LeafTypeCheck<T>);

    /// What [`ClauseTypeCheck`] dereferences to: the check for a type not known to be a group.
    pub struct LeafTypeCheck<T: ?Sized>(PhantomData<fn() -> *const T>);

    impl<T: ?Sized> ClauseTypeCheck<T> {
        /// The check of `T`.
        pub const NEW: Self = ClauseTypeCheck(LeafTypeCheck(PhantomData));
    }

    impl<E: ?Sized> ClauseTypeCheck<ErrorGroup<E>> {
        /// Never compiles: a group as an inline clause's type.
        #[inline]
        pub fn clause(&self, _: &mut ExceptStar)
        where
            ErrorGroup<E>: LeafType,
        {
        }

        /// Never compiles: a group as a handler's type.
        #[inline]
        pub fn handler(&self)
        where
            ErrorGroup<E>: LeafType,
        {
        }
    }

    impl<T: ?Sized> Deref for ClauseTypeCheck<T> {
        type Target = LeafTypeCheck<T>;

        #[inline]
        fn deref(&self) -> &LeafTypeCheck<T> {
            &self.0
        }
    }

    impl<T: ?Sized + 'static> LeafTypeCheck<T> {
        /// An inline clause's type, not known to be a group when the code was checked: one
        /// that turns out to be `ErrorGroup` (a type parameter) raises [`GROUP_CLAUSE`] when the
        /// clause is reached with errors left, so the clause is never silently dead.
        #[inline]
        pub fn clause(&self, clauses: &mut ExceptStar) {
            if TypeId::of::<T>() == TypeId::of::<ErrorGroup>() && clauses.rest().is_some() {
                let error: BoxError = GROUP_CLAUSE.into();
                clauses.raise(Leaf::from_boxed(error, "TypeError"));
            }
        }
    }

    impl<T: ?Sized> LeafTypeCheck<T> {
        /// A handler's type is never a type parameter: the compile-time check covers it.
        #[inline]
        pub fn handler(&self) {}
    }

    /// What a clause whose type parameter turned out to be `ErrorGroup` raises, as a leaf of
    /// type name `TypeError` (CPython raises a `TypeError` for `except* ExceptionGroup`).
    pub const GROUP_CLAUSE: &str = "`except*` cannot match `ErrorGroup` itself (CPython refuses \
        `except* ExceptionGroup`); name the leaf error types";

    /// Implemented by no type: a bound that `ErrorGroup` fails, for [`ClauseTypeCheck`].
    #[diagnostic::on_unimplemented(
        message = "`except*` cannot match `ErrorGroup` itself (CPython refuses `except* ExceptionGroup`); name the leaf error types",
        label = "this type is `{Self}`",
        note = "a nested group is never a leaf, so this clause would never run: list the error types inside the group, such as `except* std::io::Error`"
    )]
    pub trait LeafType {}
}
