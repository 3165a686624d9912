//! Procedural macros of the [`taskgroup`](https://docs.rs/taskgroup) crate: `task_group!` and
//! `#[except_star]`. Use them through `taskgroup`, which re-exports and documents them; the
//! code they generate names only `::taskgroup::__private` paths.
//!
//! Each macro is parse (`parse.rs`, into `ast.rs`) -> check (`valid.rs`, every error
//! collected) -> expand (`expand.rs`), with `fallback.rs` emitting a plausible expansion beside
//! the errors and `handler.rs` the handler type both share.
#![forbid(unsafe_code)]

mod ast;
mod body_return;
mod errors;
mod expand;
mod fallback;
mod handle_escape;
mod handler;
mod options;
mod parse;
mod pattern;
mod suggest;
mod valid;

#[cfg(test)]
mod fuzz;

use proc_macro::TokenStream;

/// Opens a task group scope around a body and awaits it; see `taskgroup::task_group!`.
#[proc_macro]
pub fn task_group(input: TokenStream) -> TokenStream {
    expand::task_group(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes an async fn a reusable `except*` handler; see `taskgroup::except_star`.
#[proc_macro_attribute]
pub fn except_star(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::except_star(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
