//! The options before `;` in `task_group!`: each checked, and turned into a builder call.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote_spanned};
use syn::{Expr, Ident};

use crate::ast::{OPTIONS, OptionArg};
use crate::errors::Errors;
use crate::suggest::{did_you_mean_hint, listed};

/// The policies by name, with the `Policy` variant each stands for.
const POLICIES: &[(&str, &str)] = &[
    ("fail_fast", "FailFast"),
    ("wait_all", "WaitAll"),
    ("first_ok", "FirstOk"),
];

/// One option as a call on the group's builder.
pub(crate) struct BuilderCall {
    /// The builder method, spanned on the user's option name.
    pub method: Ident,
    pub arg: TokenStream,
}

/// The builder calls, and whether `local = true` was given.
pub(crate) fn options_to_calls(
    options: Vec<OptionArg>,
    errors: &mut Errors,
) -> (Vec<BuilderCall>, bool) {
    let mut calls = Vec::new();
    let mut local = false;
    let mut seen: Vec<Ident> = Vec::new();
    for OptionArg { key, value } in options {
        let name = key.to_string();
        if !OPTIONS.contains(&name.as_str()) {
            let hint = did_you_mean_hint(&name, OPTIONS);
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "unknown option `{name}`{hint} The options are {}",
                    listed(OPTIONS)
                ),
            ));
            continue;
        }
        if seen.contains(&key) {
            errors.push(syn::Error::new(
                key.span(),
                format!("`{name}` is given twice: keep one `{name} = ...`"),
            ));
            continue;
        }
        let clash = match name.as_str() {
            "timeout" => seen.iter().find(|k| *k == "deadline"),
            "deadline" => seen.iter().find(|k| *k == "timeout"),
            _ => None,
        };
        if let Some(other) = clash {
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "`{name}` and `{other}` both set when the scope ends: keep one \
                     (`timeout` is a duration from the start, `deadline` an instant)"
                ),
            ));
            continue;
        }
        let arg = match name.as_str() {
            "policy" => match policy(&value) {
                Ok(arg) => arg,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            "limit" => {
                if is_zero(&value) {
                    errors.push(syn::Error::new_spanned(
                        &value,
                        "a limit of 0 would never run a child: write `limit = 1` or more",
                    ));
                    continue;
                }
                unparenthesized(&value).into_token_stream()
            }
            "keep_errors" => {
                if let Some(why) = not_a_count(&value) {
                    errors.push(syn::Error::new_spanned(
                        &value,
                        format!(
                            "`keep_errors` is how many failures to keep (a `usize`), {why}: \
                             write `keep_errors = 100` (0 keeps only the counts)"
                        ),
                    ));
                    continue;
                }
                unparenthesized(&value).into_token_stream()
            }
            "local" => {
                match unparenthesized(&value) {
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Bool(flag),
                        ..
                    }) => local = flag.value,
                    other => errors.push(syn::Error::new_spanned(
                        other,
                        "`local` chooses the group's type, so it must be written as `true` or \
                         `false`: `local = true` lets local children be non-`Send`",
                    )),
                }
                seen.push(key.clone());
                continue;
            }
            _ => unparenthesized(&value).into_token_stream(),
        };
        seen.push(key.clone());
        calls.push(BuilderCall { method: key, arg });
    }
    (calls, local)
}

/// `fail_fast`, `wait_all`, `first_ok`, or any non-identifier expression of type `Policy`.
fn policy(value: &Expr) -> syn::Result<TokenStream> {
    let Some(ident) = bare_ident(value) else {
        return Ok(unparenthesized(value).into_token_stream());
    };
    let word = ident.to_string();
    let Some((_, variant)) = POLICIES.iter().find(|(name, _)| *name == word) else {
        let names: Vec<&str> = POLICIES.iter().map(|(name, _)| *name).collect();
        let hint = did_you_mean_hint(&word, &names);
        return Err(syn::Error::new(
            ident.span(),
            format!(
                "unknown policy `{word}`{hint} The policies are {}; for a `Policy` value \
                 computed at run time, write `policy = ({word})`",
                listed(&names)
            ),
        ));
    };
    let variant = Ident::new(variant, ident.span());
    Ok(quote_spanned!(ident.span()=> ::taskgroup::__private::Policy::#variant))
}

/// `(expr)` as `expr`, so that the builder call `.policy(expr)` draws no `unused_parens`.
fn unparenthesized(value: &Expr) -> &Expr {
    match value {
        Expr::Paren(p) if p.attrs.is_empty() => unparenthesized(&p.expr),
        other => other,
    }
}

fn bare_ident(value: &Expr) -> Option<&Ident> {
    match value {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => p.path.get_ident(),
        _ => None,
    }
}

/// Why a literal `keep_errors` value is no count of failures, if it is not one.
fn not_a_count(value: &Expr) -> Option<String> {
    let why = match unparenthesized(value) {
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => "not a negative number",
        Expr::Lit(syn::ExprLit { lit, .. }) => match lit {
            syn::Lit::Int(int) if matches!(int.suffix(), "" | "usize") => return None,
            syn::Lit::Int(int) => return Some(format!("not a `{}`", int.suffix())),
            syn::Lit::Str(_) => "not a string",
            syn::Lit::Float(_) => "not a fraction",
            syn::Lit::Bool(_) => "not a `bool`",
            _ => "not this literal",
        },
        _ => return None,
    };
    Some(why.to_owned())
}

fn is_zero(value: &Expr) -> bool {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int.base10_parse::<u128>().is_ok_and(|n| n == 0),
        _ => false,
    }
}
