//! [`Locality`]: what kind of local children a group takes, [`Parallel`] or [`Local`].

use std::future::Future;
use std::pin::Pin;

use super::slot::{HoldsSlot, SlotGuard};

pub(super) mod sealed {
    use super::*;

    pub trait Sealed {
        /// How a local child is stored.
        type Boxed<'env>: ?Sized + Future<Output = ()> + 'env;

        /// A local child that waited for a slot of the limit, holding it from now on.
        fn holding_slot<'env>(
            child: Pin<Box<Self::Boxed<'env>>>,
            slot: SlotGuard,
        ) -> Pin<Box<Self::Boxed<'env>>>;
    }
}

/// What kind of local children a [`TaskGroup`](crate::TaskGroup) takes: [`Parallel`] (the
/// default) or [`Local`].
pub trait Locality: sealed::Sealed + 'static {}

/// The default kind of group: local children must be `Send`, so the scope's future is `Send`
/// and can run inside `tokio::spawn`.
#[derive(Debug)]
pub enum Parallel {}

/// A group whose local children may be non-`Send` (holding an `Rc`, a `RefCell` borrow, ...).
/// Its scope's future is not `Send`: run it on a current-thread runtime, in a `LocalSet`, or
/// with `block_on`. Made by [`TaskGroup::new_local`](crate::TaskGroup::new_local) or
/// [`Builder::build_local`](crate::Builder::build_local).
#[derive(Debug)]
pub enum Local {}

impl sealed::Sealed for Parallel {
    type Boxed<'env> = dyn Future<Output = ()> + Send + 'env;

    fn holding_slot<'env>(
        child: Pin<Box<Self::Boxed<'env>>>,
        slot: SlotGuard,
    ) -> Pin<Box<Self::Boxed<'env>>> {
        Box::pin(HoldsSlot { child, _slot: slot })
    }
}

impl sealed::Sealed for Local {
    type Boxed<'env> = dyn Future<Output = ()> + 'env;

    fn holding_slot<'env>(
        child: Pin<Box<Self::Boxed<'env>>>,
        slot: SlotGuard,
    ) -> Pin<Box<Self::Boxed<'env>>> {
        Box::pin(HoldsSlot { child, _slot: slot })
    }
}

impl Locality for Parallel {}
impl Locality for Local {}
