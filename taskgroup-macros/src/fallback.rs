//! On error, still emit something plausible beside the error, so that one mistake gives one
//! message and not a cascade ("cannot find function", "type annotations needed", ...).

use proc_macro2::TokenStream;
use quote::quote;
use syn::FnArg;

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
    let vis = &item.vis;
    let name = &item.sig.ident;
    quote! {
        #error
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        impl ::taskgroup::__private::Handler for #name {
            fn matches(_: &::taskgroup::__private::Leaf) -> bool {
                false
            }

            fn handle(
                _: ::taskgroup::__private::ErrorGroup,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), ::taskgroup::__private::Member>,
            > {
                async { ::core::result::Result::Ok(()) }
            }
        }
    }
}

/// An item `#[except_star]` could not read: the error, and the item untouched.
pub(crate) fn unparsed_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
