//! [`InPlace`]: a pinned future that its holder can drop in place, before the holder itself is
//! dropped, with no `Option` around it.
//!
//! A child drops its own future as soon as it ends, so that a panic in the future's destructor
//! is the child's panic. `Option<F>` would do it safely, but an async block has no niche, so
//! the `Option` adds eight bytes, which takes a small child past tokio's smallest task cell
//! (128 bytes) into the next one (256; docs/DESIGN.md, "Where the core uses `unsafe`"). The
//! holder records elsewhere whether the future is gone: [`Child`](super::child::Child) in its
//! guard's group index; a local or queued child's node by its one owner (see `local_node`).
#![allow(unsafe_code)]

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future, structurally pinned, dropped only by [`drop_in_place`](InPlace::drop_in_place):
/// dropping an `InPlace` itself never drops the future (it leaks it), so its holder must call
/// `drop_in_place` exactly once, on every path, before letting go of it.
pub(super) struct InPlace<F> {
    future: ManuallyDrop<F>,
}

impl<F> InPlace<F> {
    pub(super) fn new(future: F) -> Self {
        InPlace {
            future: ManuallyDrop::new(future),
        }
    }

    /// The future, to read.
    ///
    /// # Safety
    /// The future must not have been dropped by [`drop_in_place`](InPlace::drop_in_place).
    pub(super) unsafe fn get(&self) -> &F {
        &self.future
    }

    /// The future, pinned.
    ///
    /// # Safety
    /// The future must not have been dropped by [`drop_in_place`](InPlace::drop_in_place).
    pub(super) unsafe fn pinned(self: Pin<&mut Self>) -> Pin<&mut F> {
        // SAFETY: the future is structurally pinned: it is never moved out of `self` (no method
        // gives it by value or `&mut` outside a `Pin`), and it is dropped in place.
        unsafe { self.map_unchecked_mut(|this| &mut *this.future) }
    }

    /// Drops the future where it is. A panic in its destructor propagates; the future counts
    /// as dropped all the same.
    ///
    /// # Safety
    /// Call it at most once, and never [`poll`](InPlace::poll) afterwards.
    pub(super) unsafe fn drop_in_place(self: Pin<&mut Self>) {
        // SAFETY: dropping in place keeps the pinning promise (the memory is not reused before
        // the drop); the caller promises it is the only drop and the last use.
        unsafe { ManuallyDrop::drop(&mut self.get_unchecked_mut().future) }
    }
}

impl<F: Future> InPlace<F> {
    /// Polls the future.
    ///
    /// # Safety
    /// The future must not have been dropped by [`drop_in_place`](InPlace::drop_in_place).
    pub(super) unsafe fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: not dropped yet (the caller's promise).
        unsafe { self.pinned() }.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    //! Run under Miri too: `cargo +nightly miri test -p taskgroup-core --lib in_place`.
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::pin::pin;
    use std::rc::Rc;
    use std::task::Waker;

    /// A future holding a counted resource, and borrowing its own state across a poll.
    struct Holds(#[allow(dead_code)] Rc<()>, Option<Box<u64>>);

    impl Future for Holds {
        type Output = u64;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u64> {
            let this = self.get_mut();
            match this.1.take() {
                Some(value) => Poll::Ready(*value),
                None => Poll::Pending,
            }
        }
    }

    #[test]
    fn in_place_polls_and_drops_once() {
        let token = Rc::new(());
        let mut cx = Context::from_waker(Waker::noop());
        let mut slot = pin!(InPlace::new(Holds(Rc::clone(&token), Some(Box::new(7)))));
        // SAFETY: not dropped yet.
        assert_eq!(unsafe { slot.as_mut().poll(&mut cx) }, Poll::Ready(7));
        assert_eq!(Rc::strong_count(&token), 2);
        // SAFETY: the only drop; no poll after it.
        unsafe { slot.as_mut().drop_in_place() };
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[allow(dead_code)]
    struct PanicsOnDrop(Rc<()>, Box<u8>);

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("destructor");
        }
    }

    impl Future for PanicsOnDrop {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    #[test]
    fn in_place_a_panicking_destructor_still_drops_the_fields() {
        let token = Rc::new(());
        let mut slot = pin!(InPlace::new(PanicsOnDrop(Rc::clone(&token), Box::new(1))));
        // SAFETY: the only drop.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            slot.as_mut().drop_in_place()
        }));
        assert!(dropped.is_err());
        // The fields were dropped while unwinding: nothing leaks, nothing is dropped twice.
        assert_eq!(Rc::strong_count(&token), 1);
    }
}
