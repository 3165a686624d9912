//! What the macros' input says, parsed into small structs (see `parse.rs`), before any check.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Expr, Ident, Path, Token, Type};

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
    "timeout", "deadline", "name", "policy", "limit", "grace", "local",
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
    /// `except* A | B as eg => body`.
    Inline {
        types: Vec<Type>,
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

/// `#[except_star(T1, T2, ...)]` and the fn under it.
pub(crate) struct ExceptStarInput {
    pub types: Vec<Type>,
    pub item: syn::ItemFn,
}
