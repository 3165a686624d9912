//! On error, still emit something plausible beside the error, so that one mistake gives one
//! message and not a cascade ("cannot find function", "type annotations needed", ...).

use proc_macro2::TokenStream;
use quote::quote;
use syn::FnArg;

use crate::handler::{HandlerImpl, handler_type};

/// The expansion of the valid parts of a `task_group!` (bad options and clauses left out),
/// after the errors.
pub(crate) fn task_group(error: syn::Error, expanded: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!({ #error #expanded })
}

/// The fn as written and a handler type that matches nothing, so that clauses and calls that
/// name the handler raise no errors of their own.
pub(crate) fn except_star(error: syn::Error, item: &syn::ItemFn) -> TokenStream {
    let error = error.into_compile_error();
    let is_method = item
        .sig
        .inputs
        .iter()
        .any(|input| matches!(input, FnArg::Receiver(_)));
    if is_method {
        // Inside an `impl` block: no struct may go there.
        return quote!(#error #item);
    }
    let handler_type = handler_type(
        item,
        HandlerImpl {
            leaf: quote!(_),
            matches: quote!(false),
            group: quote!(_),
            handle: quote!(async { ::core::result::Result::Ok(()) }),
        },
    );
    quote!(#error #item #handler_type)
}

/// An item `#[except_star]` could not read: the error, and the item untouched.
pub(crate) fn unparsed_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
