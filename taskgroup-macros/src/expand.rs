//! Expansion: checked input to tokens. Generated code names everything through
//! `::taskgroup::__private` and `::core`, so user imports and shadowing never matter, and its
//! own locals are `Span::mixed_site()`, invisible to the user's body.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, FnArg, Ident, Pat, ReturnType, Stmt, Type};

use crate::ast::Handle;
use crate::errors::Errors;
use crate::handler::{HandlerImpl, handler_type};
use crate::options::BuilderCall;
use crate::valid::{self, CheckedClause, HandlerFn, Matcher, Scope, distinct_types};
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
        Err(error) => {
            return Ok(match syn::parse2::<syn::ItemFn>(item.clone()) {
                Ok(item) => fallback::except_star(error, &item),
                Err(_) => fallback::unparsed_item(error, item),
            });
        }
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

/// A local invisible to user code, whose errors point at `at` (the user's token).
fn private_ident_at(name: &str, at: Span) -> Ident {
    Ident::new(name, Span::mixed_site().located_at(at))
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
    let handle_span = match &scope.handle {
        Handle::Named(ident) => ident.span(),
        Handle::Ignored(underscore) => underscore.span,
    };
    let group = private_ident_at("task_group", handle_span);
    let result = private_ident("result");
    let builder = if scope.config.is_empty() && !scope.local {
        quote!(::taskgroup::__private::TaskGroup::new())
    } else {
        let calls = scope
            .config
            .iter()
            .map(|BuilderCall { method, arg }| quote_spanned!(method.span()=> .#method(#arg)));
        let build = if scope.local {
            quote!(build_local)
        } else {
            quote!(build)
        };
        quote!(::taskgroup::__private::TaskGroup::builder() #(#calls)* .#build())
    };
    let handle = &scope.handle;
    let body = &scope.body;
    let value = private_ident_at("value", body.span());
    let run = quote! {
        let #result = {
            let #group = #builder;
            let #handle = &#group;
            let #result = #group
                .run(async {
                    let #value = #body;
                    // A body that never returns (a server's accept loop) is not a mistake.
                    #[allow(unreachable_code)]
                    let #result = ::core::result::Result::Ok::<_, ::taskgroup::__private::Member>(#value);
                    #result
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
    let (checks, take, binding, body) = match clause {
        CheckedClause::Handler(path) => {
            // Every token on the handler's path, so that a path that is no handler gets its
            // messages there and not on the whole macro.
            let clauses = private_ident_at("clauses", path.span());
            return quote_spanned!(path.span()=> #clauses.handle::<#path>().await;);
        }
        CheckedClause::One {
            ty,
            patterns,
            binding,
            body,
        } => {
            let check = type_check(ty, Some(clauses));
            let take = if patterns.is_empty() {
                quote_spanned!(ty.span()=> #clauses.take::<#ty>())
            } else {
                let matcher = pattern_matcher(ty, patterns);
                quote_spanned!(ty.span()=> #clauses.take_matching::<#ty, _>(#matcher))
            };
            (check, take, binding, body)
        }
        CheckedClause::Any {
            matchers,
            binding,
            body,
        } => {
            let checks = distinct_types(matchers)
                .into_iter()
                .map(|ty| type_check(ty, Some(clauses)))
                .collect();
            let leaf = private_ident("leaf");
            let tests = any_of(matchers, &leaf);
            let take = quote!(#clauses.take_by(|#leaf| #tests));
            (checks, take, binding, body)
        }
    };
    let binding = match binding {
        Some(binding) => quote!(#binding),
        None => quote!(_),
    };
    let raised = private_ident("raised");
    // A copy to rewrite (syn's `Clone` impls are a feature this crate does without).
    let run = match syn::parse2::<Expr>(body.to_token_stream()) {
        Ok(mut body) => {
            returns_raise(&mut body);
            clause_body(&body)
        }
        Err(_) => clause_body(body),
    };
    quote! {
        #checks
        if let ::core::option::Option::Some(#binding) = #take {
            let #raised = async { #run }.await;
            #clauses.record(#raised);
        }
    }
}

/// `return value` in a clause's body leaves the clause with `value` as its outcome, converted
/// as the tail is (`return Err(MyError)` raises `MyError`, no `.into()` needed; a bare `return`
/// is handled), not in closures, `async` blocks or nested items, whose `return`s are theirs.
fn returns_raise(body: &mut Expr) {
    struct Returns;
    impl VisitMut for Returns {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            match expr {
                Expr::Closure(_) | Expr::Async(_) => {}
                Expr::Return(ret) => {
                    if let Some(value) = &mut ret.expr {
                        self.visit_expr_mut(value);
                    }
                    let span = ret.return_token.span;
                    let value = match ret.expr.take() {
                        Some(value) => value.to_token_stream(),
                        None => quote_spanned!(span=> ()),
                    };
                    ret.expr = Some(Box::new(syn::parse_quote_spanned!(span=>
                        ::taskgroup::__private::ClauseOutput::into_raised(#value)
                    )));
                }
                _ => visit_mut::visit_expr_mut(self, expr),
            }
        }

        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    Returns.visit_expr_mut(body);
}

/// The clause's body, its value passed to `ClauseOutput::into_raised` with the user's span
/// (so that a wrong type gets the message on the user's expression). A plain block is
/// flattened into the clause's `async` block, its tail being the argument, since a block as
/// an argument draws `unused_braces`.
fn clause_body(body: &Expr) -> TokenStream {
    let into_raised = |value: &dyn ToTokens| {
        // An invisible group keeps the expression whole and its span the user's.
        let value = Group::new(Delimiter::None, value.to_token_stream());
        quote_spanned!(value.span()=> ::taskgroup::__private::ClauseOutput::into_raised(#value))
    };
    let Expr::Block(block) = body else {
        return into_raised(body);
    };
    if !block.attrs.is_empty() || block.label.is_some() {
        return into_raised(body);
    }
    let stmts = &block.block.stmts;
    match stmts.split_last() {
        Some((Stmt::Expr(tail, None), init)) => {
            let tail = into_raised(tail);
            quote!(#(#init)* #tail)
        }
        Some((Stmt::Macro(tail), init)) if tail.semi_token.is_none() => {
            let tail = into_raised(&tail.mac);
            quote!(#(#init)* #tail)
        }
        // A clause that ends in `return ...;` leaves by it: no tail after it (it would be
        // unreachable code in the user's clause).
        Some((Stmt::Expr(Expr::Return(_), Some(_)), _)) => quote!(#(#stmts)*),
        _ => {
            let unit = into_raised(&quote_spanned!(block.block.brace_token.span.close()=> ()));
            quote!(#(#stmts)* #unit)
        }
    }
}

/// `ClauseTypeCheck::<T>::NEW.clause(&mut clauses);` for an inline clause, `.handler();` for
/// a handler (`clauses` is `None`), every token spanned on `ty`: refuses `ErrorGroup` by any
/// name (an alias, a renaming import), which only the type checker sees through.
fn type_check(ty: &Type, clauses: Option<&Ident>) -> TokenStream {
    let check = quote_spanned!(ty.span()=> ::taskgroup::__private::ClauseTypeCheck::<#ty>::NEW);
    match clauses {
        Some(clauses) => quote_spanned!(ty.span()=> #check.clause(&mut #clauses);),
        None => quote_spanned!(ty.span()=> #check.handler();),
    }
}

/// `leaf_is::<A>(leaf) || leaf_matches::<B, _>(leaf, |error: &B| ...) || ...`, each spanned on
/// its type.
fn any_of(matchers: &[Matcher], leaf: &Ident) -> TokenStream {
    let mut tests = TokenStream::new();
    for (i, Matcher { ty, pattern, .. }) in matchers.iter().enumerate() {
        if i > 0 {
            tests.extend(quote!(||));
        }
        tests.extend(match pattern {
            None => quote_spanned!(ty.span()=> ::taskgroup::__private::leaf_is::<#ty>(#leaf)),
            Some(pattern) => {
                let matcher = pattern_matcher(ty, std::slice::from_ref(pattern));
                quote_spanned!(ty.span()=>
                    ::taskgroup::__private::leaf_matches::<#ty>(#leaf, #matcher)
                )
            }
        });
    }
    tests
}

/// `|error: &T| matches!(error, P1 | P2)`: the patterns match a `&T` by match ergonomics
/// (they bind nothing: `valid.rs` refuses bindings). A pattern that matches every `T`
/// (`StructError { .. }`) draws no `unreachable_patterns`, and a unit variant written
/// `E::Unit { .. }`, as clauses must write it, no `clippy::unneeded_struct_pattern`.
fn pattern_matcher(ty: &Type, patterns: &[Pat]) -> TokenStream {
    // Mixed-site hygiene hides locals, not items: a user's `const error` would turn a plain
    // `error` binding into a constant pattern. These names no user item has.
    let error = private_ident("__taskgroup_error");
    let matched = private_ident("__taskgroup_matched");
    quote! {
        |#error: &#ty| {
            #[allow(unreachable_patterns, clippy::unneeded_struct_pattern)]
            let #matched = ::core::matches!(#error, #(#patterns)|*);
            #matched
        }
    }
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
    let name = &item.sig.ident;
    let group = private_ident("group");
    let leaf = private_ident("leaf");
    let types = distinct_types(&handler.matchers);
    let checks: TokenStream = types.iter().map(|ty| type_check(ty, None)).collect();
    let matches = any_of(&handler.matchers, &leaf);
    let output_span = match &item.sig.output {
        ReturnType::Default => name.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    // The call is spanned on the return type (a wrong one gets the `ClauseOutput` message
    // there), the typed group on the parameter (a mismatch gets its message there).
    let mut callee = name.clone();
    callee.set_span(name.span().located_at(output_span));
    let call = match (&types[..], item.sig.inputs.first()) {
        ([ty], Some(FnArg::Typed(param))) => {
            let typed = private_ident_at("typed", param.ty.span());
            let typed_group = quote_spanned!(ty.span()=>
                ::taskgroup::__private::typed::<#ty>(#group)?
            );
            quote_spanned! {output_span=>
                let #typed: ::taskgroup::__private::ErrorGroup<#ty> = #typed_group;
                ::taskgroup::__private::ClauseOutput::into_raised(#callee(#typed).await)
            }
        }
        _ => quote_spanned! {output_span=>
            ::taskgroup::__private::ClauseOutput::into_raised(#callee(#group).await)
        },
    };
    let handler_type = handler_type(
        item,
        HandlerImpl {
            leaf: leaf.to_token_stream(),
            matches: quote!(#checks #matches),
            group: group.to_token_stream(),
            handle: quote!(async move { #call }),
        },
    );
    quote!(#item #handler_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(source: &str) -> String {
        task_group(source.parse().expect("tokens"))
            .expect("expands")
            .to_string()
    }

    #[test]
    fn paths_are_fully_qualified() {
        let out = expand(
            "timeout = d, policy = wait_all; |tg| { tg.spawn(x); }
             except* A as eg => f(eg), except* B | C => (), except* h",
        );
        for path in [
            "TaskGroup",
            "Member",
            "ExceptStar",
            "Outcome",
            "Policy",
            "leaf_is",
            "ClauseTypeCheck",
        ] {
            assert!(
                out.contains(&format!(":: taskgroup :: __private :: {path}")),
                "{path}"
            );
        }
        // No bare prelude name: each is reached through `::core::...` (the sample's own
        // tokens use none of them).
        let words: Vec<&str> = out.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            if [
                "Ok", "Err", "Some", "None", "Result", "Option", "Box", "Future",
            ]
            .contains(word)
            {
                assert_eq!(words[i - 1], "::", "bare `{word}` in {out}");
            }
        }
    }

    #[test]
    fn without_clauses_the_value_is_the_scope_result() {
        let out = expand("|tg| { 1 }");
        assert!(!out.contains("Outcome"));
        assert!(out.contains("TaskGroup :: new ()"));
    }

    #[test]
    fn a_path_followed_by_parentheses_or_braces_is_a_pattern() {
        let out = expand(
            "|tg| {} except* E::Timeout { .. } | E::Status(500..=599) as eg => f(eg),
             except* io::Error | E::Io(_) => (), except* E => (), except* std::io::Error => ()",
        );
        assert!(out.contains("take_matching :: < E , _ >"), "{out}");
        assert!(out.contains("leaf_matches :: < E >"), "{out}");
        assert!(out.contains("take :: < E > ()"), "{out}");
        assert!(out.contains("take :: < std :: io :: Error > ()"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn pattern_mistakes_are_refused() {
        for (source, message) in [
            ("|tg| {} except* E::V(e) => ()", "`e` binds a value"),
            ("|tg| {} except* E::V { code } => ()", "write `code: _`"),
            (
                "|tg| {} except* E => (), except* E::V(..) => ()",
                "would never run",
            ),
            (
                "|tg| {} except* E::V(1) => (), except* E::V(1) => ()",
                "would never run",
            ),
            (
                "|tg| {} except* E | E::V(..) => ()",
                "`E` already takes every `E`",
            ),
            (
                "|tg| {} except* E::V(1) | E::V(1) => ()",
                "listed twice in this clause",
            ),
            (
                "|tg| {} except* ErrorGroup::V(..) => ()",
                "cannot match `ErrorGroup`",
            ),
            ("|tg| {} except* E::V(..)", "`=>` and the clause's body"),
        ] {
            let out = match task_group(source.parse().expect("tokens")) {
                Ok(tokens) => tokens.to_string(),
                Err(error) => error.to_string(),
            };
            assert!(out.contains(message), "{source}: {out}");
        }
    }

    /// Prints expansions for docs/DSL.md: `cargo test -p taskgroup-macros print_expansion -- --nocapture`.
    #[test]
    fn print_expansion() {
        let scope = "limit = 8, policy = wait_all; |tg| {
                tg.spawn(task_raises_value_error());
                tg.spawn(task_raises_type_error());
            }
            except* ValueError as eg => println!(\"Handled ValueError: {eg}\"),
            except* TypeError | KeyError as eg => { log(eg); }
            except* on_runtime_error,
            except* FetchError::Timeout { .. } | FetchError::Status(500..=599) as eg => retry(eg),
            except* io::Error | FetchError::Io(_) as eg => log(eg),";
        println!("{}", expand(scope));
        let handler = except_star(
            "ValueError".parse().unwrap(),
            "async fn on_value(eg: ErrorGroup<ValueError>) { }"
                .parse()
                .unwrap(),
        )
        .unwrap();
        println!("{handler}");
    }
}
