//! A set of futures polled only when woken, like `FuturesUnordered`, without `unsafe`: each
//! slot gets a waker that queues its index, so a poll touches only the futures that are ready.
//!
//! A future's first poll gets the set owner's own waker, and a waker of its own only if it
//! returns `Pending`: then it is polled again, with that waker, at the owner's next poll (which
//! the first waker's wake-up brings). A future that finishes at once costs no waker.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

struct Queue {
    ready: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

struct SlotWaker {
    index: usize,
    queue: Arc<Queue>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = {
            let mut ready = self.queue.ready.lock().unwrap_or_else(|e| e.into_inner());
            ready.0.push_back(self.index);
            ready.1.clone()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The waker of slot `index`: it queues the index and wakes the set's owner.
fn slot_waker(queue: &Arc<Queue>, index: usize) -> Waker {
    Waker::from(Arc::new(SlotWaker {
        index,
        queue: Arc::clone(queue),
    }))
}

struct Slot<F> {
    future: F,
    /// `None` until the first poll returned `Pending`.
    waker: Option<Waker>,
}

pub(crate) struct ReadySet<F> {
    slots: Vec<Option<Slot<F>>>,
    free: Vec<usize>,
    queue: Arc<Queue>,
    /// Woken indices taken from the queue in one lock, polled one by one.
    batch: VecDeque<usize>,
    /// Futures that were first polled with the owner's waker and returned `Pending`.
    fresh: Vec<usize>,
    len: usize,
}

impl<F> Default for ReadySet<F> {
    fn default() -> Self {
        ReadySet {
            slots: Vec::new(),
            free: Vec::new(),
            queue: Arc::new(Queue {
                ready: Mutex::new((VecDeque::new(), None)),
            }),
            batch: VecDeque::new(),
            fresh: Vec::new(),
            len: 0,
        }
    }
}

impl<F: Future + Unpin> ReadySet<F> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a future; it is polled on the next [`poll_next`](Self::poll_next).
    pub(crate) fn push(&mut self, future: F) {
        let index = self.insert(future, false);
        // A new future needs its first poll: no wake-up, so no lock.
        self.batch.push_back(index);
    }

    /// Puts a future in a free slot, with a waker of its own if `own_waker`.
    fn insert(&mut self, future: F, own_waker: bool) -> usize {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let waker = own_waker.then(|| slot_waker(&self.queue, index));
        let slot = Some(Slot { future, waker });
        if index == self.slots.len() {
            self.slots.push(slot);
        } else {
            self.slots[index] = slot;
        }
        self.len += 1;
        index
    }

    /// Polls a new future once, with the owner's waker, and gives its output if it finished:
    /// then it never enters the set. One that waits is added with a waker of its own, and is
    /// polled again with it at the next [`poll_all`](Self::poll_all) or
    /// [`poll_next`](Self::poll_next).
    pub(crate) fn poll_new(&mut self, mut future: F, cx: &mut Context<'_>) -> Option<F::Output> {
        if let Poll::Ready(output) = Pin::new(&mut future).poll(cx) {
            return Some(output);
        }
        let index = self.insert(future, true);
        self.fresh.push(index);
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<usize>, Option<Waker>)> {
        self.queue.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls the woken futures until one completes; gives its index and output.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        self.begin(cx);
        loop {
            if self.len == 0 {
                return Poll::Ready(None);
            }
            let Some(index) = self.next_woken() else {
                return Poll::Pending;
            };
            if let Some(output) = self.poll_slot(index, cx) {
                return Poll::Ready(Some((index, output)));
            }
        }
    }

    /// Polls every woken future, those woken meanwhile included, dropping the finished ones:
    /// `Ready` once the set is empty. At most as many polls as there are futures (and at least
    /// 32): a future that keeps waking itself cannot keep the owner from returning; the owner
    /// is woken to go on.
    pub(crate) fn poll_all(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.begin(cx);
        let mut budget = self.len.max(32);
        while self.len != 0 {
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Some(index) = self.next_woken() else {
                return Poll::Pending;
            };
            budget -= 1;
            self.poll_slot(index, cx);
        }
        Poll::Ready(())
    }

    fn register(&self, cx: &Context<'_>) {
        let mut ready = self.lock();
        match &ready.1 {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => ready.1 = Some(cx.waker().clone()),
        }
    }

    /// Registers the owner's waker, and queues the futures that need their own waker now.
    fn begin(&mut self, cx: &Context<'_>) {
        self.register(cx);
        self.batch.extend(self.fresh.drain(..));
    }

    /// The next woken index: from the batch, refilled from the queue in one lock.
    fn next_woken(&mut self) -> Option<usize> {
        if self.batch.is_empty() {
            let mut ready = self.queue.ready.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut self.batch, &mut ready.0);
        }
        self.batch.pop_front()
    }

    /// Polls one slot; frees it and gives the output if the future finished.
    fn poll_slot(&mut self, index: usize, cx: &Context<'_>) -> Option<F::Output> {
        // A stale wake-up for a finished future finds the slot empty.
        let Some(Some(Slot { future, waker })) = self.slots.get_mut(index) else {
            return None;
        };
        let polled = match waker {
            Some(waker) => Pin::new(future).poll(&mut Context::from_waker(waker)),
            None => match Pin::new(future).poll(&mut Context::from_waker(cx.waker())) {
                Poll::Pending => {
                    *waker = Some(slot_waker(&self.queue, index));
                    self.fresh.push(index);
                    Poll::Pending
                }
                ready => ready,
            },
        };
        let output = match polled {
            Poll::Ready(output) => output,
            Poll::Pending => return None,
        };
        self.slots[index] = None;
        self.free.push(index);
        self.len -= 1;
        Some(output)
    }
}

impl<F> ReadySet<F> {
    /// Drops every future in place.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.len = 0;
        self.batch.clear();
        self.fresh.clear();
        self.queue
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Pending until `done`, keeping the waker of its latest poll.
    #[derive(Default)]
    struct Signal {
        done: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    fn wait(signal: Arc<Signal>) -> Pin<Box<dyn Future<Output = ()>>> {
        Box::pin(std::future::poll_fn(move |cx| {
            if signal.done.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *signal.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }))
    }

    #[test]
    fn a_future_gets_its_own_waker_only_after_a_pending_first_poll() {
        let owner = Arc::new(CountingWaker::default());
        let owner_waker = Waker::from(Arc::clone(&owner));
        let mut cx = Context::from_waker(&owner_waker);
        let signal = Arc::new(Signal::default());
        let mut set: ReadySet<Pin<Box<dyn Future<Output = ()>>>> = ReadySet::default();
        set.push(Box::pin(async {}));
        set.push(wait(Arc::clone(&signal)));

        assert!(set.poll_all(&mut cx).is_pending());
        assert_eq!(set.len(), 1, "the ready future finished on its first poll");
        assert_eq!(
            set.fresh,
            [1],
            "only the waiting future got a waker of its own"
        );
        let first = signal.waker.lock().unwrap().clone().unwrap();
        assert!(
            first.will_wake(&owner_waker),
            "a first poll sees the owner's waker"
        );

        // The owner's next poll gives the waiting future its own waker.
        assert!(set.poll_all(&mut cx).is_pending());
        let own = signal.waker.lock().unwrap().clone().unwrap();
        assert!(!own.will_wake(&owner_waker));

        // Its own waker queues it and wakes the owner, whose poll finishes it.
        let before = owner.0.load(Ordering::SeqCst);
        signal.done.store(true, Ordering::SeqCst);
        own.wake();
        assert_eq!(owner.0.load(Ordering::SeqCst), before + 1);
        assert!(set.poll_all(&mut cx).is_ready());
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn a_wake_through_the_first_waker_is_not_lost() {
        let owner = Arc::new(CountingWaker::default());
        let owner_waker = Waker::from(Arc::clone(&owner));
        let mut cx = Context::from_waker(&owner_waker);
        let signal = Arc::new(Signal::default());
        let mut set: ReadySet<Pin<Box<dyn Future<Output = ()>>>> = ReadySet::default();
        set.push(wait(Arc::clone(&signal)));
        assert!(set.poll_all(&mut cx).is_pending());

        // The event fires before the future was polled again: the owner is woken, and its
        // next poll reaches the future.
        signal.done.store(true, Ordering::SeqCst);
        let first = signal.waker.lock().unwrap().take().unwrap();
        first.wake();
        assert_eq!(owner.0.load(Ordering::SeqCst), 1);
        assert!(set.poll_all(&mut cx).is_ready());
    }
}
