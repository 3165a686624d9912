//! The type `#[except_star]` puts beside its fn, shared by the expansion and the fallback.

use proc_macro2::TokenStream;
use quote::quote;

/// The two bodies of a handler's `impl Handler`, with the names of their parameters.
pub(crate) struct HandlerImpl {
    /// `fn matches(leaf: &Leaf) -> bool { matches }`.
    pub leaf: TokenStream,
    pub matches: TokenStream,
    /// `fn handle(group: ErrorGroup) -> impl Future<Output = Result<(), Member>> { handle }`.
    pub group: TokenStream,
    pub handle: TokenStream,
}

/// The type that `#[except_star]` puts beside the fn, and its `Handler` impl: the one
/// skeleton of both the expansion and the fallback.
pub(crate) fn handler_type(item: &syn::ItemFn, body: HandlerImpl) -> TokenStream {
    let vis = &item.vis;
    let name = &item.sig.ident;
    let HandlerImpl {
        leaf,
        matches,
        group,
        handle,
    } = body;
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        impl ::taskgroup::__private::Handler for #name {
            fn matches(#leaf: &::taskgroup::__private::Leaf) -> ::core::primitive::bool {
                #matches
            }

            fn handle(
                #group: ::taskgroup::__private::ErrorGroup,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), ::taskgroup::__private::Member>,
            > {
                #handle
            }
        }
    }
}
