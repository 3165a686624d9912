//! [`Locality`]: what kind of local children a group takes, [`Parallel`] or [`Local`].

pub(super) mod sealed {
    use super::super::local_node::Run;

    pub trait Sealed {
        /// What the scope holds of a local child's node (see `local_node`).
        type Boxed<'env>: ?Sized + Run + 'env;
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
    type Boxed<'env> = dyn super::local_node::Run + Send + Sync + 'env;
}

impl sealed::Sealed for Local {
    type Boxed<'env> = dyn super::local_node::Run + 'env;
}

impl Locality for Parallel {}
impl Locality for Local {}
