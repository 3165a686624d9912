//! Parsing: token streams into the structs of `ast.rs`. Only the shape is checked here; what
//! the parts mean (known options, error types, the handler's signature) is `valid.rs`'s job.

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, Pat, Path, Token, Type, token};

use crate::ast::{
    Alternative, Binding, Clause, ClauseKind, ExceptStarInput, Handle, OPTIONS, OptionArg,
    TaskGroupInput,
};
use crate::suggest::listed;

const USAGE: &str = "write `task_group!(|tg| { ... })`";

/// Parses the input of `task_group!`.
pub(crate) fn task_group(input: TokenStream) -> syn::Result<TaskGroupInput> {
    if input.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("`task_group!` needs a body: {USAGE}"),
        ));
    }
    let (options, scope) = split_options(input)?;
    let options = match options {
        Some(tokens) => options_list.parse2(tokens)?,
        None => Vec::new(),
    };
    let (handle, body, clauses) = scope_and_clauses.parse2(scope)?;
    Ok(TaskGroupInput {
        options,
        handle,
        body,
        clauses,
    })
}

/// Parses the arguments and the item of `#[except_star(...)]`.
pub(crate) fn except_star(args: TokenStream, item: TokenStream) -> syn::Result<ExceptStarInput> {
    let alternatives = alternative_list.parse2(args)?;
    let item = syn::parse2::<syn::ItemFn>(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "`#[except_star]` goes on an `async fn` that takes the matched group: \
             write `async fn on_value(eg: ErrorGroup<ValueError>) { ... }`",
        )
    })?;
    Ok(ExceptStarInput { alternatives, item })
}

/// Splits `options; scope` at the first top-level `;`. The input has options only if it does
/// not start with `|`: a body never contains a top-level `;`, since blocks are groups.
fn split_options(input: TokenStream) -> syn::Result<(Option<TokenStream>, TokenStream)> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let starts_with_bar = matches!(tokens.first(), Some(TokenTree::Punct(p)) if p.as_char() == '|');
    if starts_with_bar {
        return Ok((None, tokens.into_iter().collect()));
    }
    let semi = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'));
    match semi {
        Some(i) => {
            if i + 1 == tokens.len() {
                return Err(syn::Error::new(
                    tokens[i].span(),
                    "expected the body after the options: write `; |tg| { ... }`",
                ));
            }
            let mut tokens = tokens.into_iter();
            let options = tokens.by_ref().take(i).collect();
            let _semi = tokens.next();
            Ok((Some(options), tokens.collect()))
        }
        None => {
            if let [TokenTree::Ident(key), TokenTree::Punct(eq), ..] = &tokens[..] {
                if eq.as_char() == '=' && eq.spacing() == Spacing::Alone {
                    return Err(syn::Error::new(
                        key.span(),
                        "options end with `;` before the body: \
                         write `task_group!(timeout = ..., limit = 8; |tg| { ... })`",
                    ));
                }
            }
            Ok((None, tokens.into_iter().collect()))
        }
    }
}

/// `key = value, key = value` (a trailing `,` allowed).
fn options_list(input: ParseStream) -> syn::Result<Vec<OptionArg>> {
    let mut options = Vec::new();
    while !input.is_empty() {
        if !input.peek(Ident) {
            return Err(input.error(format!(
                "expected an option such as `timeout = Duration::from_secs(2)`; \
                 the options are {}",
                listed(OPTIONS)
            )));
        }
        let key: Ident = input.parse()?;
        if !input.peek(Token![=]) || input.peek(Token![==]) || input.peek(Token![=>]) {
            return Err(syn::Error::new(
                key.span(),
                format!("expected `=` after `{key}`: write `{key} = value`"),
            ));
        }
        let eq: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(syn::Error::new(
                eq.span,
                format!("expected a value after `{key} =`"),
            ));
        }
        let value: Expr = input.parse()?;
        options.push(OptionArg { key, value });
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between options, or `;` before `|tg|`"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(options)
}

/// `|tg| body except* ... , except* ...`.
fn scope_and_clauses(input: ParseStream) -> syn::Result<(Handle, Expr, Vec<Clause>)> {
    if input.peek(Token![move]) {
        return Err(input.error(
            "remove `move`: the body runs in place and borrows local variables; write `|tg| { ... }`",
        ));
    }
    if input.peek(Token![||]) {
        return Err(input.error("the body takes the group's handle: write `|tg| { ... }`"));
    }
    if !input.peek(Token![|]) {
        return Err(input.error(format!("expected `|tg|` before the body: {USAGE}")));
    }
    input.parse::<Token![|]>()?;
    let handle = if input.peek(Token![_]) {
        Handle::Ignored(input.parse()?)
    } else if input.peek(Ident) && !input.peek(Token![mut]) {
        Handle::Named(
            input
                .parse()
                .map_err(|_| input.error("expected a name for the group's handle, such as `tg`"))?,
        )
    } else {
        return Err(input.error("expected a name for the group's handle, such as `|tg|`"));
    };
    if input.peek(Token![:]) {
        return Err(
            input.error("remove the type: the handle is always a `&TaskGroup`; write `|tg|`")
        );
    }
    if input.peek(Token![,]) {
        return Err(input.error("the body takes one parameter, the group's handle: write `|tg|`"));
    }
    if !input.peek(Token![|]) || input.peek(Token![||]) {
        return Err(input.error("expected `|` after the handle's name: write `|tg|`"));
    }
    input.parse::<Token![|]>()?;
    if input.is_empty() {
        return Err(input.error("expected the body after `|tg|`: write `|tg| { ... }`"));
    }
    let body: Expr = input.parse()?;
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    }
    let mut clauses = Vec::new();
    while !input.is_empty() {
        clauses.push(clause(input)?);
    }
    Ok((handle, body, clauses))
}

/// `except* A | B as eg => body,` or `except* handler,`.
fn clause(input: ParseStream) -> syn::Result<Clause> {
    let found_except = input
        .cursor()
        .ident()
        .is_some_and(|(ident, _)| ident == "except");
    if !found_except {
        return Err(input.error(
            "expected an `except*` clause after the body: write `except* ErrorType as eg => { ... }`",
        ));
    }
    let except: Ident = input.parse()?;
    if !input.peek(Token![*]) {
        return Err(syn::Error::new(
            except.span(),
            "write `except*`, with the star: a clause matches the errors of a group, \
             as in `except* ErrorType as eg => { ... }`",
        ));
    }
    input.parse::<Token![*]>()?;
    if input.is_empty() || input.peek(Token![=>]) || input.peek(Token![,]) || input.peek(Token![as])
    {
        return Err(input.error(
            "expected an error type after `except*`, as in `except* ValueError as eg => { ... }`",
        ));
    }
    let mut alternatives = vec![alternative(input)?];
    while input.peek(Token![|]) || input.peek(Token![||]) {
        if input.peek(Token![||]) {
            return Err(input.error("separate the types with a single `|`: `except* A | B`"));
        }
        input.parse::<Token![|]>()?;
        alternatives.push(alternative(input)?);
    }
    let binding = if input.peek(Token![as]) {
        input.parse::<Token![as]>()?;
        let mutability: Option<Token![mut]> = input.parse()?;
        if !input.peek(Ident) || input.peek(Token![_]) {
            return Err(input.error("expected a name after `as`, such as `as eg`"));
        }
        let ident: Ident = input
            .parse()
            .map_err(|_| input.error("expected a name after `as`, such as `as eg`"))?;
        Some(Binding { mutability, ident })
    } else {
        None
    };
    if input.peek(Token![=>]) {
        input.parse::<Token![=>]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(
                "expected the clause's body after `=>`: write `=> { ... }`, or `=> ()` to ignore the errors",
            ));
        }
        let body: Expr = input.parse()?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if !input.is_empty() && !ends_like_a_block(&body) {
            return Err(input.error("expected `,` after the clause's body"));
        }
        return Ok(Clause {
            kind: ClauseKind::Inline {
                alternatives,
                binding,
                body,
            },
        });
    }
    if binding.is_some() || alternatives.len() > 1 {
        return Err(input
            .error("expected `=>` and the clause's body: write `except* A | B as eg => { ... }`"));
    }
    let path = match alternatives.pop() {
        Some(Alternative::Type(Type::Path(type_path))) if type_path.qself.is_none() => {
            type_path.path
        }
        Some(Alternative::Pattern(pat)) => {
            return Err(syn::Error::new_spanned(
                pat,
                "expected `=>` and the clause's body after the pattern: \
                 write `except* FetchError::Status(404) as eg => { ... }`",
            ));
        }
        Some(Alternative::Type(other)) => {
            return Err(syn::Error::new_spanned(
                other,
                "expected a handler made with `#[except_star(...)]`, or `=>` and a body: \
                 write `except* ErrorType as eg => { ... }`",
            ));
        }
        None => return Err(input.error("expected an error type after `except*`")),
    };
    if !input.is_empty() {
        if !input.peek(Token![,]) {
            return Err(input.error(
                "expected `=>` or `,`: write `except* ErrorType as eg => { ... }` for an inline clause, \
                 or `except* handler,` for a handler made with `#[except_star(...)]`",
            ));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(Clause {
        kind: ClauseKind::Handler(path),
    })
}

/// Like a match arm, a clause whose body ends in a block needs no `,`.
fn ends_like_a_block(body: &Expr) -> bool {
    matches!(
        body,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Unsafe(_)
            | Expr::Const(_)
            | Expr::TryBlock(_)
    )
}

/// One alternative of an `except*` clause or of `#[except_star(...)]`: a Rust pattern if it
/// is a path followed by `(...)` or `{...}` (`FetchError::Status(404)`,
/// `FetchError::Timeout { .. }`), otherwise a type (`FetchError`, `std::io::Error`): a plain
/// path stays a type, as clauses always read it.
fn alternative(input: ParseStream) -> syn::Result<Alternative> {
    let fork = input.fork();
    let is_pattern =
        fork.parse::<Path>().is_ok() && (fork.peek(token::Paren) || fork.peek(token::Brace));
    if !is_pattern {
        return error_type(input).map(Alternative::Type);
    }
    Pat::parse_single(input)
        .map(Alternative::Pattern)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a pattern on an error type, such as `FetchError::Status(404)` or \
             `FetchError::Timeout { .. }`",
            )
        })
}

/// One type in an `except*` clause or in `#[except_star(...)]`.
fn error_type(input: ParseStream) -> syn::Result<Type> {
    if input.peek(syn::Lit) {
        return Err(input.error(
            "expected an error type, found a literal: name the type, such as `ValueError`",
        ));
    }
    Type::without_plus(input).map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected an error type, such as `ValueError` or `std::io::Error`",
        )
    })
}

/// `T1, E::V(..), ...` in `#[except_star(...)]` (a trailing `,` allowed).
fn alternative_list(input: ParseStream) -> syn::Result<Vec<Alternative>> {
    let mut types = Vec::new();
    while !input.is_empty() {
        types.push(alternative(input)?);
        if input.is_empty() {
            break;
        }
        if input.peek(Token![|]) {
            return Err(input.error(
                "separate the types with `,`, not `|`: `#[except_star(ValueError, TypeError)]`",
            ));
        }
        if !input.peek(Token![,]) {
            return Err(input
                .error("expected `,` between the types: `#[except_star(ValueError, TypeError)]`"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(types)
}
