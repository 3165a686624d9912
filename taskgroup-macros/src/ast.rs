//! What the macros' input says, parsed into small structs (see `parse.rs`), before any check.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Expr, Ident, Pat, Path, Token, Type};

/// `task_group!(options; |tg| body except* ...)`.
pub(crate) struct TaskGroupInput {
    pub options: Vec<OptionArg>,
    pub handle: Handle,
    pub body: Expr,
    pub clauses: Vec<Clause>,
}

/// The options `task_group!` takes, in the order messages list them: the one list that
/// parsing, checking and the "did you mean" use.
pub(crate) const OPTIONS: &[&str] = &[
    "timeout",
    "deadline",
    "name",
    "policy",
    "limit",
    "grace",
    "stall",
    "keep_errors",
    "on_failure",
    "local",
];

/// One `key = value` option before the body.
pub(crate) struct OptionArg {
    pub key: Ident,
    pub value: Expr,
}

/// The name the body gives the group's handle: `|tg|` or `|_|`.
pub(crate) enum Handle {
    Named(Ident),
    Ignored(Token![_]),
}

impl ToTokens for Handle {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Handle::Named(ident) => ident.to_tokens(tokens),
            Handle::Ignored(underscore) => underscore.to_tokens(tokens),
        }
    }
}

/// One `except*` clause after the body.
pub(crate) struct Clause {
    pub kind: ClauseKind,
}

pub(crate) enum ClauseKind {
    /// `except* A | E::V(..) as eg => body`.
    Inline {
        alternatives: Vec<Alternative>,
        binding: Option<Binding>,
        body: Expr,
    },
    /// `except* handler`: a fn made by `#[except_star]`.
    Handler(Path),
}

/// `as eg` or `as mut eg`.
pub(crate) struct Binding {
    pub mutability: Option<Token![mut]>,
    pub ident: Ident,
}

impl ToTokens for Binding {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.mutability.to_tokens(tokens);
        self.ident.to_tokens(tokens);
    }
}

/// One alternative of a clause (`except* A | B`) or of `#[except_star(A, B)]`.
pub(crate) enum Alternative {
    /// A plain path such as `FetchError` or `std::io::Error` (or any other type): every leaf
    /// of the type.
    Type(Type),
    /// A Rust pattern on an error type, such as `FetchError::Status(404)` or
    /// `FetchError::Timeout { .. }`: a path followed by `(...)` or `{...}`. Only the leaves
    /// of the type that it matches.
    Pattern(Pat),
}

impl ToTokens for Alternative {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Alternative::Type(ty) => ty.to_tokens(tokens),
            Alternative::Pattern(pat) => pat.to_tokens(tokens),
        }
    }
}

/// `#[except_star(A, E::V(..), ...)]` and the fn under it.
pub(crate) struct ExceptStarInput {
    pub alternatives: Vec<Alternative>,
    pub item: syn::ItemFn,
}
