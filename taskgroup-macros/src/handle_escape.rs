//! The handle given as (part of) the body's value: refused with a message of our own, since
//! rustc's for this borrow error ("consider using a `let` binding") is the wrong advice.

use proc_macro2::Ident;
use syn::spanned::Spanned;
use syn::{Expr, Stmt};

/// The first place where the body's value is the handle itself, or holds it directly (in a
/// tuple, an array, a struct literal, `Some(..)`, a reference).
pub(crate) fn in_value(handle: &Ident, body: &Expr) -> Option<proc_macro2::Span> {
    let tail = match body {
        Expr::Block(block) => match block.block.stmts.last()? {
            Stmt::Expr(expr, None) => expr,
            _ => return None,
        },
        expr => expr,
    };
    let mut pending = vec![tail];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::Path(path) if path.qself.is_none() && path.path.is_ident(handle) => {
                return Some(expr.span());
            }
            Expr::Tuple(tuple) => pending.extend(tuple.elems.iter().rev()),
            Expr::Array(array) => pending.extend(array.elems.iter().rev()),
            Expr::Call(call) => pending.extend(call.args.iter().rev()),
            Expr::Struct(lit) => pending.extend(lit.fields.iter().rev().map(|f| &f.expr)),
            Expr::Paren(inner) => pending.push(&inner.expr),
            Expr::Group(inner) => pending.push(&inner.expr),
            Expr::Reference(inner) => pending.push(&inner.expr),
            _ => {}
        }
    }
    None
}

/// The message for a handle in the body's value.
pub(crate) fn refused(handle: &Ident, span: proc_macro2::Span) -> syn::Error {
    syn::Error::new(
        span,
        format!(
            "`{handle}` cannot leave the scope: it borrows the task group, which lives only \
             until `task_group!` returns (the scope's children are done by then); return the \
             tasks' handles or values instead; code inside the body that spawns can take \
             `{handle}` (a `&TaskGroup`) or `{handle}.spawner()`"
        ),
    )
}
