//! Expansion: checked input to tokens. Generated code names everything through
//! `::taskgroup::__private` and `::core`, so user imports and shadowing never matter, and its
//! own locals are `Span::mixed_site()`, invisible to the user's body.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ReturnType, Type};

use crate::valid::{self, BuilderCall, CheckedClause, Errors, HandlerFn, Scope};
use crate::{fallback, parse};

/// `task_group!`: parse, check, expand (or fall back beside the errors).
pub(crate) fn task_group(input: TokenStream) -> syn::Result<TokenStream> {
    let input = parse::task_group(input)?;
    let mut errors = Errors::default();
    let scope = valid::task_group(input, &mut errors);
    let expanded = scope_tokens(&scope);
    Ok(match errors.into_error() {
        None => expanded,
        Some(error) => fallback::task_group(error, expanded),
    })
}

/// `#[except_star(...)]`: parse, check, expand (or fall back beside the errors).
pub(crate) fn except_star(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let input = match parse::except_star(args, item.clone()) {
        Ok(input) => input,
        Err(error) => return Ok(fallback::unparsed_item(error, item)),
    };
    let mut errors = Errors::default();
    let handler = valid::except_star(input, &mut errors);
    Ok(match errors.into_error() {
        None => handler_tokens(&handler),
        Some(error) => fallback::except_star(error, &handler.item),
    })
}

fn private_ident(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// ```text
/// {
///     let result = {
///         let task_group = TaskGroup::builder().option(value)....build();
///         let tg = &task_group;
///         let result = task_group.run(async { let value = body; Ok::<_, Member>(value) }).await;
///         result
///     };
///     result                                   // without clauses: Result<R, ErrorGroup>
///     match result { Ok(v) => Outcome::Ok(v), Err(g) => { clauses...; into_outcome() } }
/// }
/// ```
fn scope_tokens(scope: &Scope) -> TokenStream {
    let group = private_ident("task_group");
    let result = private_ident("result");
    let builder = if scope.config.is_empty() {
        quote!(::taskgroup::__private::TaskGroup::new())
    } else {
        let calls = scope
            .config
            .iter()
            .map(|BuilderCall { method, arg }| quote_spanned!(method.span()=> .#method(#arg)));
        quote!(::taskgroup::__private::TaskGroup::builder() #(#calls)* .build())
    };
    let handle = &scope.handle;
    let body = &scope.body;
    let value = private_ident("value");
    let run = quote! {
        let #result = {
            let #group = #builder;
            let #handle = &#group;
            let #result = #group
                .run(async {
                    let #value = #body;
                    ::core::result::Result::Ok::<_, ::taskgroup::__private::Member>(#value)
                })
                .await;
            #result
        };
    };
    if !scope.has_clauses {
        return quote!({ #run #result });
    }

    let clauses = private_ident("clauses");
    let failed = private_ident("failed");
    let each = scope.clauses.iter().map(|c| clause_tokens(c, &clauses));
    quote!({
        #run
        match #result {
            ::core::result::Result::Ok(#value) => ::taskgroup::__private::Outcome::Ok(#value),
            ::core::result::Result::Err(#failed) => {
                let mut #clauses = ::taskgroup::__private::ExceptStar::new(#failed);
                #(#each)*
                #clauses.into_outcome()
            }
        }
    })
}

/// One clause: take its leaves out of what is left; if there were any, run it once and
/// record what it raised.
fn clause_tokens(clause: &CheckedClause, clauses: &Ident) -> TokenStream {
    let (take, binding, body) = match clause {
        CheckedClause::Handler(path) => {
            return quote_spanned!(path.span()=> #clauses.handle::<#path>().await;);
        }
        CheckedClause::One { ty, binding, body } => {
            let take = quote_spanned!(ty.span()=> #clauses.take::<#ty>());
            (take, binding, body)
        }
        CheckedClause::Any {
            types,
            binding,
            body,
        } => {
            let leaf = private_ident("leaf");
            let tests = any_of(types, &leaf);
            let take = quote!(#clauses.take_by(|#leaf| #tests));
            (take, binding, body)
        }
    };
    let binding = match binding {
        Some(binding) => quote!(#binding),
        None => quote!(_),
    };
    let raised = private_ident("raised");
    let value = private_ident("value");
    let run =
        quote_spanned!(body.span()=> ::taskgroup::__private::ClauseOutput::into_raised(#value));
    quote! {
        if let ::core::option::Option::Some(#binding) = #take {
            let #raised = async {
                let #value = #body;
                #run
            }
            .await;
            #clauses.record(#raised);
        }
    }
}

/// `leaf_is::<A>(leaf) || leaf_is::<B>(leaf) || ...`, each spanned on its type.
fn any_of(types: &[Type], leaf: &Ident) -> TokenStream {
    let mut tests = TokenStream::new();
    for (i, ty) in types.iter().enumerate() {
        if i > 0 {
            tests.extend(quote!(||));
        }
        tests.extend(quote_spanned!(ty.span()=> ::taskgroup::__private::leaf_is::<#ty>(#leaf)));
    }
    tests
}

/// ```text
/// async fn on_value(eg: ErrorGroup<ValueError>) { ... }      // as written
/// struct on_value {}                                          // type namespace only
/// impl Handler for on_value { fn matches; fn handle }
/// ```
/// The impl names the listed types only inside fn bodies, so that private error types stay
/// private (an associated type would have to be as visible as the struct).
fn handler_tokens(handler: &HandlerFn) -> TokenStream {
    let item = &handler.item;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let group = private_ident("group");
    let leaf = private_ident("leaf");
    let matches = any_of(&handler.types, &leaf);
    let argument = match &handler.types[..] {
        [ty] => quote_spanned!(ty.span()=> ::taskgroup::__private::typed::<#ty>(#group)?),
        _ => quote!(#group),
    };
    let output_span = match &item.sig.output {
        ReturnType::Default => name.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let call = quote_spanned!(output_span=>
        ::taskgroup::__private::ClauseOutput::into_raised(#name(#argument).await)
    );
    quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        impl ::taskgroup::__private::Handler for #name {
            fn matches(#leaf: &::taskgroup::__private::Leaf) -> bool {
                #matches
            }

            fn handle(
                #group: ::taskgroup::__private::ErrorGroup,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), ::taskgroup::__private::Member>,
            > {
                async move { #call }
            }
        }
    }
}
