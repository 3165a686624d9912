//! `return` in a `task_group!` body: refused, because it would leave only the body's `async`
//! block, while a user writing it means to leave the enclosing fn.

use proc_macro2::Span;
use syn::Expr;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};

/// Finds the `return`s that belong to the body itself (not to a closure, an `async` block or
/// an item inside it, whose `return`s are their own) and gives the first one's span. Each is
/// rewritten to diverge without returning, so that the refused code raises no type errors of
/// its own beside the message.
pub(crate) fn take_returns(body: &mut Expr) -> Option<Span> {
    struct Find(Option<Span>);
    impl VisitMut for Find {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            match expr {
                Expr::Closure(_) | Expr::Async(_) => {}
                Expr::Return(ret) => {
                    let span = ret.return_token.span();
                    self.0.get_or_insert(span);
                    let value = match ret.expr.take() {
                        Some(mut value) => {
                            self.visit_expr_mut(&mut value);
                            quote::quote!(let _ = #value;)
                        }
                        None => quote::quote!(),
                    };
                    *expr = syn::parse_quote_spanned!(span=> { #value ::core::unreachable!() });
                }
                _ => visit_mut::visit_expr_mut(self, expr),
            }
        }

        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    let mut find = Find(None);
    find.visit_expr_mut(body);
    find.0
}

/// The message for a `return` in the body.
pub(crate) fn refused(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "`return` in a `task_group!` body would leave only the body, not the enclosing fn: \
         give the body's value as its tail and return after the scope, fail the scope with \
         `?`, or end the body early with a labeled block (`'body: { ... break 'body value; }`)",
    )
}
