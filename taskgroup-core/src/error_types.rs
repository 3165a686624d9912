//! [`ErrorTypes`]: a set of error types written as a tuple, for splitting a group by several
//! types at once.

use std::error::Error as StdError;

use crate::leaf::Leaf;

/// A set of error types, written as a tuple: `(ValueError,)`, `(ValueError, TypeError)`, ...
/// Used by [`ErrorGroup::split_any`](crate::ErrorGroup::split_any) and `except*` clauses that list several types.
pub trait ErrorTypes {
    /// Whether the leaf's error is one of the types.
    fn matches(leaf: &Leaf) -> bool;
}

macro_rules! error_types {
    ($($name:ident)+) => {
        impl<$($name: StdError + 'static),+> ErrorTypes for ($($name,)+) {
            fn matches(leaf: &Leaf) -> bool {
                false $(|| leaf.is::<$name>())+
            }
        }
    };
}
error_types!(A);
error_types!(A B);
error_types!(A B C);
error_types!(A B C D);
error_types!(A B C D E);
error_types!(A B C D E F);
error_types!(A B C D E F G);
error_types!(A B C D E F G H);
