//! A set of futures polled only when woken, like `FuturesUnordered`, without `unsafe`: each
//! slot gets a waker that queues its index, so a poll touches only the futures that are ready.

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

struct Slot<F: ?Sized> {
    future: Pin<Box<F>>,
    waker: Waker,
}

pub(crate) struct ReadySet<F: ?Sized> {
    slots: Vec<Option<Slot<F>>>,
    free: Vec<usize>,
    queue: Arc<Queue>,
    /// Woken indices taken from the queue in one lock, polled one by one.
    batch: VecDeque<usize>,
    len: usize,
}

impl<F: ?Sized> Default for ReadySet<F> {
    fn default() -> Self {
        ReadySet {
            slots: Vec::new(),
            free: Vec::new(),
            queue: Arc::new(Queue {
                ready: Mutex::new((VecDeque::new(), None)),
            }),
            batch: VecDeque::new(),
            len: 0,
        }
    }
}

impl<F: ?Sized + Future> ReadySet<F> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a future; it is polled on the next [`poll_next`](Self::poll_next).
    pub(crate) fn push(&mut self, future: Pin<Box<F>>) -> usize {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let waker = Waker::from(Arc::new(SlotWaker {
            index,
            queue: Arc::clone(&self.queue),
        }));
        let slot = Some(Slot { future, waker });
        if index == self.slots.len() {
            self.slots.push(slot);
        } else {
            self.slots[index] = slot;
        }
        self.len += 1;
        self.lock().0.push_back(index);
        index
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<usize>, Option<Waker>)> {
        self.queue.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls the woken futures until one completes; gives its index and output.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        {
            let mut ready = self.lock();
            match &ready.1 {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => ready.1 = Some(cx.waker().clone()),
            }
        }
        loop {
            if self.len == 0 {
                return Poll::Ready(None);
            }
            if self.batch.is_empty() {
                let mut ready = self.queue.ready.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::swap(&mut self.batch, &mut ready.0);
            }
            let Some(index) = self.batch.pop_front() else {
                return Poll::Pending;
            };
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                continue; // a stale wake-up for a finished future
            };
            let waker = slot.waker.clone();
            let mut slot_cx = Context::from_waker(&waker);
            if let Poll::Ready(output) = slot.future.as_mut().poll(&mut slot_cx) {
                self.slots[index] = None;
                self.free.push(index);
                self.len -= 1;
                return Poll::Ready(Some((index, output)));
            }
        }
    }

    /// Drops every future in place.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.len = 0;
        self.batch.clear();
        self.lock().0.clear();
    }
}
