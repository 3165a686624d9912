//! [`BoxError`], the boxed error a leaf stores, and short type names.

use std::error::Error as StdError;

/// A boxed error as stored in a leaf.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `std::any::type_name` without the module path or generic arguments.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}
