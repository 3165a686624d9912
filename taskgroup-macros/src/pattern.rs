//! Rust patterns in `except*` clauses and `#[except_star(...)]`: the error type a pattern is
//! on, and the bindings a clause refuses (a clause receives the matched group, not one error).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Pat, Type};

use crate::errors::Errors;

/// The error type of a pattern: its path minus the last segment (`FetchError::Status(..)` is
/// on `FetchError`, `io::ErrorKind::NotFound { .. }` would be on `io::ErrorKind`), or the
/// path itself when it has a single segment (a struct error: `Timeout { .. }`). The prefix
/// keeps the user's tokens, so type errors land on them.
pub(crate) fn error_type_of(pat: &Pat) -> syn::Result<Type> {
    let (qself, path) = match pat {
        Pat::TupleStruct(p) => (&p.qself, &p.path),
        Pat::Struct(p) => (&p.qself, &p.path),
        Pat::Path(p) => (&p.qself, &p.path),
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "expected a pattern on an error type, such as `FetchError::Status(404)` or \
                 `FetchError::Timeout { .. }`",
            ));
        }
    };
    if let Some(qself) = qself {
        return Err(syn::Error::new_spanned(
            &qself.ty,
            "write the error type's path, such as `FetchError::Status(404)`: the error type \
             of a pattern is its path minus the last segment",
        ));
    }
    let n = path.segments.len();
    let mut prefix = TokenStream::new();
    if n <= 1 {
        path.to_tokens(&mut prefix);
    } else {
        path.leading_colon.to_tokens(&mut prefix);
        for (i, pair) in path.segments.pairs().take(n - 1).enumerate() {
            pair.value().to_tokens(&mut prefix);
            if i + 2 < n {
                pair.punct().to_tokens(&mut prefix);
            }
        }
    }
    syn::parse2::<Type>(prefix).map_err(|_| {
        syn::Error::new_spanned(
            path,
            "expected a pattern on an error type, such as `FetchError::Status(404)`: the error \
             type of a pattern is its path minus the last segment",
        )
    })
}

/// Refuses every binding in `pat` (`e`, `ref e`, `e @ ..`, a field shorthand `{ code }`): a
/// clause receives the whole matched group `eg`, not one error, so a binding would be
/// nothing the body could use. Names that start with an uppercase letter are constants or
/// unit variants (`NOT_FOUND`, `None`), as rustc's naming lints assume. Returns whether
/// `pat` binds nothing.
pub(crate) fn check_no_bindings(pat: &Pat, errors: &mut Errors) -> bool {
    match pat {
        Pat::Ident(ident) => {
            let name = ident.ident.to_string();
            let binds = ident.by_ref.is_some()
                || ident.mutability.is_some()
                || ident.subpat.is_some()
                || !name.starts_with(|c: char| c.is_uppercase());
            if binds {
                let what = format!("`{}` binds a value", pattern_text(ident));
                errors.push(binding_refused(ident, &what, "`_` or `..`"));
            }
            !binds
        }
        Pat::TupleStruct(p) => all_without_bindings(p.elems.iter(), errors),
        Pat::Tuple(p) => all_without_bindings(p.elems.iter(), errors),
        Pat::Slice(p) => all_without_bindings(p.elems.iter(), errors),
        Pat::Or(p) => all_without_bindings(p.cases.iter(), errors),
        Pat::Struct(p) => {
            let mut ok = true;
            for field in &p.fields {
                if field.colon_token.is_none() {
                    if let Pat::Ident(ident) = &*field.pat {
                        let name = &ident.ident;
                        ok = false;
                        errors.push(binding_refused(
                            field,
                            &format!("`{name}` binds the field `{name}`"),
                            &format!("`{name}: _` or `..`"),
                        ));
                        continue;
                    }
                }
                ok &= check_no_bindings(&field.pat, errors);
            }
            ok
        }
        Pat::Paren(p) => check_no_bindings(&p.pat, errors),
        Pat::Reference(p) => check_no_bindings(&p.pat, errors),
        Pat::Type(p) => check_no_bindings(&p.pat, errors),
        _ => true,
    }
}

fn all_without_bindings<'a>(pats: impl Iterator<Item = &'a Pat>, errors: &mut Errors) -> bool {
    // Every one checked, so that each binding gets its message.
    let mut ok = true;
    for pat in pats {
        ok &= check_no_bindings(pat, errors);
    }
    ok
}

fn binding_refused(tokens: &dyn ToTokens, what: &str, write: &str) -> syn::Error {
    syn::Error::new_spanned(
        tokens,
        format!(
            "{what}, but a clause receives the whole matched group `eg`, not one error: write \
             {write} here, and read the errors from the group (`eg.errors()`)"
        ),
    )
}

/// A pattern as the user wrote it, for messages: `FetchError::Status(500..=599)`.
pub(crate) fn pattern_text(tokens: &dyn ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" ,", ","),
        (" ..= ", "..="),
        (" .. ", ".."),
        ("(..", "(.."),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        ("& ", "&"),
    ] {
        s = s.replace(from, to);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(source: &str) -> Pat {
        syn::parse::Parser::parse_str(Pat::parse_single, source).expect("a pattern")
    }

    fn type_of(source: &str) -> String {
        pattern_text(&error_type_of(&pat(source)).expect("a type"))
    }

    #[test]
    fn the_type_is_the_path_minus_its_last_segment() {
        assert_eq!(type_of("FetchError::Status(404)"), "FetchError");
        assert_eq!(
            type_of("crate::errors::FetchError::Timeout { .. }"),
            "crate::errors::FetchError"
        );
        assert_eq!(type_of("::errors::E::V(..)"), "::errors::E");
        assert_eq!(type_of("Generic::<u8>::V(..)"), "Generic::<u8>");
        assert_eq!(type_of("StructError { code: 500, .. }"), "StructError");
    }

    #[test]
    fn bindings_are_refused() {
        for (source, ok) in [
            ("E::V(_)", true),
            ("E::V(..)", true),
            ("E::V(404 | 410)", true),
            ("E::V(500..=599)", true),
            ("E::V(NOT_FOUND)", true),
            ("E::V { code: 1, .. }", true),
            ("E::V(e)", false),
            ("E::V(_e)", false),
            ("E::V(ref e)", false),
            ("E::V(x @ 1..=2)", false),
            ("E::V { code }", false),
            ("E::V { code: c }", false),
        ] {
            let mut errors = Errors::default();
            assert_eq!(check_no_bindings(&pat(source), &mut errors), ok, "{source}");
            assert_eq!(errors.into_error().is_none(), ok, "{source}");
        }
    }
}
