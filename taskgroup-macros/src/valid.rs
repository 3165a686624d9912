//! Checks: what the parsed input means, with every mistake collected (not only the first).
//!
//! Each check turns the `ast.rs` structs into the checked ones below, keeping what is valid,
//! so that `fallback.rs` can still expand the valid parts beside the errors: one mistake gives
//! one message, not a cascade of follow-up errors.

use std::collections::HashSet;

use proc_macro2::Span;
use quote::ToTokens;
use syn::{Expr, FnArg, GenericArgument, Ident, Pat, Path, PathArguments, Type};

use crate::ast::{Alternative, Binding, ClauseKind, ExceptStarInput, Handle, TaskGroupInput};
use crate::body_return;
use crate::errors::Errors;
use crate::handle_escape;
use crate::options::BuilderCall;
use crate::options::options_to_calls;
use crate::pattern::{check_no_bindings, error_type_of, pattern_text};

/// A checked `task_group!`.
pub(crate) struct Scope {
    /// `.method(arg)` calls on the builder, in the order written.
    pub config: Vec<BuilderCall>,
    /// `local = true`: a group whose local children may be non-`Send`.
    pub local: bool,
    pub handle: Handle,
    pub body: Expr,
    /// Whether the input had `except*` clauses at all (it decides the expression's type).
    pub has_clauses: bool,
    pub clauses: Vec<CheckedClause>,
}

pub(crate) enum CheckedClause {
    /// `except* T as eg => body` or `except* T::V(..) | T::W { .. } as eg => body`: one
    /// error type, a typed group.
    One {
        ty: Box<Type>,
        /// The patterns on `ty`; empty for the whole type.
        patterns: Vec<Pat>,
        binding: Option<Binding>,
        body: Expr,
    },
    /// `except* A | B::V(..) as eg => body`: several error types, an untyped group.
    Any {
        matchers: Vec<Matcher>,
        binding: Option<Binding>,
        body: Expr,
    },
    /// `except* handler`.
    Handler(Path),
}

/// One checked alternative: every leaf of `ty`, or those that `pattern` matches.
pub(crate) struct Matcher {
    pub ty: Type,
    pub pattern: Option<Pat>,
    /// `ty` as written, the key of "listed twice" and "never runs".
    type_name: String,
    /// The alternative as written.
    text: String,
}

/// The error types of some matchers, each once, in the order written.
pub(crate) fn distinct_types(matchers: &[Matcher]) -> Vec<&Type> {
    let mut seen = HashSet::new();
    matchers
        .iter()
        .filter(|m| seen.insert(m.type_name.as_str()))
        .map(|m| &m.ty)
        .collect()
}

/// What earlier clauses take: whole types, and patterns by their text.
#[derive(Default)]
struct Taken {
    types: HashSet<String>,
    patterns: HashSet<String>,
}

impl Taken {
    /// Whether an earlier clause takes every leaf `matcher` matches.
    fn covers(&self, matcher: &Matcher) -> bool {
        self.types.contains(&matcher.type_name)
            || (matcher.pattern.is_some() && self.patterns.contains(&matcher.text))
    }

    fn record(&mut self, matcher: &Matcher) {
        match matcher.pattern {
            None => self.types.insert(matcher.type_name.clone()),
            Some(_) => self.patterns.insert(matcher.text.clone()),
        };
    }
}

/// Checks the alternatives of one clause or handler: each a path to an error type or a
/// pattern on one, none listed twice, no pattern beside its whole type. Returns the
/// matchers (those that could be read) and whether all is fine. `twice` ends the "listed
/// twice" message.
fn matchers(
    alternatives: Vec<Alternative>,
    twice: &str,
    errors: &mut Errors,
) -> (Vec<Matcher>, bool) {
    let mut ok = true;
    let mut matchers: Vec<Matcher> = Vec::new();
    for alternative in alternatives {
        let matcher = match alternative {
            Alternative::Type(ty) => {
                ok &= error_type(&ty, errors);
                let type_name = type_name(&ty);
                Matcher {
                    text: type_name.clone(),
                    type_name,
                    ty,
                    pattern: None,
                }
            }
            Alternative::Pattern(pat) => {
                let ty = match error_type_of(&pat) {
                    Ok(ty) => ty,
                    Err(e) => {
                        errors.push(e);
                        ok = false;
                        continue;
                    }
                };
                ok &= error_type(&ty, errors);
                ok &= check_no_bindings(&pat, errors);
                Matcher {
                    type_name: type_name(&ty),
                    text: pattern_text(&pat),
                    ty,
                    pattern: Some(pat),
                }
            }
        };
        let spanned: &dyn ToTokens = match &matcher.pattern {
            Some(pat) => pat,
            None => &matcher.ty,
        };
        if matchers.iter().any(|m| m.text == matcher.text) {
            ok = false;
            errors.push(syn::Error::new_spanned(
                spanned,
                format!("`{}` is listed twice{twice}: remove one", matcher.text),
            ));
        } else if let Some(whole) = matchers.iter().find(|m| {
            m.type_name == matcher.type_name && (m.pattern.is_none() || matcher.pattern.is_none())
        }) {
            ok = false;
            let (pattern, ty) = if matcher.pattern.is_some() {
                (&matcher.text, &whole.text)
            } else {
                (&whole.text, &matcher.text)
            };
            errors.push(syn::Error::new_spanned(
                spanned,
                format!(
                    "`{ty}` already takes every `{ty}`, so `{pattern}` beside it adds nothing: \
                     keep `{ty}`, or only the patterns"
                ),
            ));
        }
        matchers.push(matcher);
    }
    (matchers, ok)
}

/// Checks a parsed `task_group!`.
pub(crate) fn task_group(input: TaskGroupInput, errors: &mut Errors) -> Scope {
    let TaskGroupInput {
        options,
        handle,
        mut body,
        clauses,
    } = input;
    let (config, local) = options_to_calls(options, errors);
    if let Expr::Async(block) = &body {
        errors.push(syn::Error::new(
            block.async_token.span,
            "remove `async`: the body already runs inside the scope's async block, and an \
             `async` block here would be returned unawaited; write `|tg| { ... }`",
        ));
    }

    if let Some(span) = body_return::take_returns(&mut body) {
        errors.push(body_return::refused(span));
    }
    if let Handle::Named(ident) = &handle
        && let Some(span) = handle_escape::in_value(ident, &body)
    {
        errors.push(handle_escape::refused(ident, span));
    }

    let has_clauses = !clauses.is_empty();
    let mut taken = Taken::default();
    let mut checked = Vec::new();
    for clause in clauses {
        match clause.kind {
            ClauseKind::Inline {
                alternatives,
                binding,
                body,
            } => {
                let (matchers, mut ok) = matchers(alternatives, " in this clause", errors);
                // A clause all of whose alternatives earlier clauses take would never run.
                if ok && matchers.iter().all(|m| taken.covers(m)) {
                    ok = false;
                    errors.push(never_runs(&matchers));
                }
                for matcher in &matchers {
                    taken.record(matcher);
                }
                if !ok {
                    continue;
                }
                if distinct_types(&matchers).len() == 1 {
                    let mut patterns = Vec::new();
                    let mut ty = None;
                    for matcher in matchers {
                        patterns.extend(matcher.pattern);
                        ty.get_or_insert(Box::new(matcher.ty));
                    }
                    let Some(ty) = ty else { continue };
                    checked.push(CheckedClause::One {
                        ty,
                        patterns,
                        binding,
                        body,
                    });
                } else {
                    checked.push(CheckedClause::Any {
                        matchers,
                        binding,
                        body,
                    });
                }
            }
            ClauseKind::Handler(path) => {
                if path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "ErrorGroup")
                {
                    errors.push(error_group_refused(&path));
                    continue;
                }
                checked.push(CheckedClause::Handler(path));
            }
        }
    }
    Scope {
        config,
        local,
        handle,
        body,
        has_clauses,
        clauses: checked,
    }
}

/// "this clause would never run", on its first alternative.
fn never_runs(matchers: &[Matcher]) -> syn::Error {
    let first: &dyn ToTokens = match &matchers[0].pattern {
        Some(pat) => pat,
        None => &matchers[0].ty,
    };
    let names: Vec<&str> = matchers.iter().map(|m| m.text.as_str()).collect();
    let names = names.join(" | ");
    let message = if matchers.iter().all(|m| m.pattern.is_none()) {
        format!(
            "this clause would never run: earlier clauses already take every `{names}` (a leaf \
             goes to the first clause that matches it); remove this clause or merge it into \
             the earlier one"
        )
    } else {
        format!(
            "this clause would never run: earlier clauses already take every error that \
             `{names}` matches (a leaf goes to the first clause that matches it, and \
             `except* T` takes every `T`); move this clause above the one that takes its \
             errors, or remove it"
        )
    };
    syn::Error::new_spanned(first, message)
}

/// Unwraps the invisible groups that `macro_rules!` puts around a `$t:ty`, and parentheses.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        other => other,
    }
}

/// Checks one type of a clause or of `#[except_star]`: a path to an error type, not
/// `ErrorGroup`. Returns whether it is fine.
fn error_type(ty: &Type, errors: &mut Errors) -> bool {
    let Type::Path(type_path) = peel(ty) else {
        errors.push(syn::Error::new_spanned(
            ty,
            format!(
                "`{}` is not an error type name: list error types by path, such as `ValueError` \
                 or `std::io::Error`",
                type_name(ty)
            ),
        ));
        return false;
    };
    let Some(last) = type_path.path.segments.last() else {
        return true;
    };
    if let PathArguments::Parenthesized(_) = last.arguments {
        errors.push(syn::Error::new_spanned(
            ty,
            format!(
                "`{}` is not an error type: name the type, such as `ValueError`",
                type_name(ty)
            ),
        ));
        return false;
    }
    if last.ident == "ErrorGroup" {
        errors.push(error_group_refused(ty));
        return false;
    }
    true
}

fn error_group_refused(tokens: &dyn ToTokens) -> syn::Error {
    syn::Error::new_spanned(
        tokens,
        "`except*` cannot match `ErrorGroup`: a nested group is never a leaf, so the clause \
         would never run (CPython refuses `except* ExceptionGroup` too); list the error types \
         inside the group, such as `except* ValueError`",
    )
}

/// A type as the user wrote it, for messages: `std::io::Error`, not `std :: io :: Error`.
pub(crate) fn type_name(ty: &dyn ToTokens) -> String {
    let mut s = ty.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// A checked `#[except_star]` handler.
pub(crate) struct HandlerFn {
    pub matchers: Vec<Matcher>,
    pub item: syn::ItemFn,
}

/// Checks a parsed `#[except_star]`.
pub(crate) fn except_star(input: ExceptStarInput, errors: &mut Errors) -> HandlerFn {
    let ExceptStarInput { alternatives, item } = input;
    let sig = &item.sig;
    let name = &sig.ident;

    if alternatives.is_empty() {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "`#[except_star]` needs the error types the handler takes: write \
                 `#[except_star(ValueError)]` above `async fn {name}`"
            ),
        ));
    }
    let listed = !alternatives.is_empty();
    let (matchers, ok) = matchers(alternatives, "", errors);
    let types_ok = listed && ok;
    let types = distinct_types(&matchers);

    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!("the `async` keyword is missing: a handler is an `async fn`; write `async fn {name}`"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new(
            unsafety.span,
            "a handler cannot be `unsafe`: remove `unsafe`",
        ));
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            "a handler cannot be `const`: remove `const`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a handler cannot be generic: the types it matches are fixed by `#[except_star(...)]`; \
             remove the generic parameters",
        ));
    }

    for input in &sig.inputs {
        if let FnArg::Receiver(receiver) = input {
            errors.push(syn::Error::new_spanned(
                receiver,
                "a handler is a free `async fn`, not a method: remove `self` and define it \
                 outside the `impl` block",
            ));
        }
    }
    let mut params = sig.inputs.iter().filter_map(|input| match input {
        FnArg::Typed(param) => Some(param),
        FnArg::Receiver(_) => None,
    });
    match params.next() {
        None => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!(
                "a handler takes the matched group: write `async fn {name}(eg: {})`",
                expected_param(&types)
            ),
        )),
        Some(param) => {
            if types_ok && !param_matches(&param.ty, &types) {
                errors.push(syn::Error::new_spanned(
                    &param.ty,
                    format!(
                        "the parameter must be `{}`, {}",
                        expected_param(&types),
                        if types.len() == 1 {
                            "the group of the type listed in `#[except_star(...)]`"
                        } else {
                            "the untyped group: a handler for several types gets leaves of any \
                             of them"
                        }
                    ),
                ));
            }
        }
    }
    for extra in params {
        errors.push(syn::Error::new_spanned(
            extra,
            "a handler takes exactly one parameter, the matched group: remove this one",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "a handler takes exactly one parameter, the matched group: remove this one",
        ));
    }

    HandlerFn { matchers, item }
}

fn expected_param(types: &[&Type]) -> String {
    match types {
        [one] => format!("ErrorGroup<{}>", type_name(one)),
        _ => "ErrorGroup".to_owned(),
    }
}

/// `ErrorGroup<T>` for one listed type, `ErrorGroup` (or `ErrorGroup<AnyError>`) for several.
/// Paths may differ (`io::Error` against `std::io::Error`): the type checker has the last word.
fn param_matches(param: &Type, types: &[&Type]) -> bool {
    let Type::Path(param) = peel(param) else {
        return false;
    };
    let Some(last) = param.path.segments.last() else {
        return false;
    };
    if last.ident != "ErrorGroup" {
        return false;
    }
    let args: Vec<&GenericArgument> = match &last.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        PathArguments::Parenthesized(_) => return false,
    };
    match (types, &args[..]) {
        ([one], [GenericArgument::Type(arg)]) => same_type(one, arg),
        ([_], _) => false,
        (_, []) => true,
        (_, [GenericArgument::Type(arg)]) => last_ident(arg).is_some_and(|i| i == "AnyError"),
        _ => false,
    }
}

/// The same type as written, or one path a suffix of the other (`io::Error` and
/// `std::io::Error`): imports may differ, and the type checker has the last word then.
fn same_type(a: &Type, b: &Type) -> bool {
    match (peel(a), peel(b)) {
        (Type::Path(a), Type::Path(b)) if a.qself.is_none() && b.qself.is_none() => {
            let a: Vec<String> = a.path.segments.iter().map(|s| type_name(s)).collect();
            let b: Vec<String> = b.path.segments.iter().map(|s| type_name(s)).collect();
            a.ends_with(&b) || b.ends_with(&a)
        }
        (a, b) => type_name(a) == type_name(b),
    }
}

fn last_ident(ty: &Type) -> Option<&Ident> {
    match peel(ty) {
        Type::Path(p) => p.path.segments.last().map(|s| &s.ident),
        _ => None,
    }
}
