//! [`Arrivals`]: local children spawned since the scope last polled.

use std::mem;

/// New local children waiting for their first poll: small chunks, newest first, so that a
/// large batch never needs one large buffer, whose growth makes glibc's allocator merge its
/// caches of small blocks.
pub(super) struct Arrivals<F> {
    newest: Option<Box<Chunk<F>>>,
}

/// A chunk's buffer, in bytes at most: glibc serves it from its small-block bins.
const CHUNK_BYTES: usize = 992;

struct Chunk<F> {
    items: Vec<F>,
    older: Option<Box<Chunk<F>>>,
}

impl<F> Chunk<F> {
    /// Children per chunk.
    const LEN: usize = {
        let len = CHUNK_BYTES / mem::size_of::<F>();
        if len == 0 { 1 } else { len }
    };
}

impl<F> Drop for Chunk<F> {
    fn drop(&mut self) {
        // A loop, not recursion: a list of millions of children stays flat on the stack.
        let mut next = self.older.take();
        while let Some(mut chunk) = next {
            next = chunk.older.take();
        }
    }
}

impl<F> Default for Arrivals<F> {
    fn default() -> Self {
        Arrivals { newest: None }
    }
}

impl<F> Arrivals<F> {
    /// Adds a child; returns whether it is the first since the list was last taken.
    pub(super) fn push(&mut self, child: F) -> bool {
        let first = self.newest.is_none();
        match &mut self.newest {
            Some(chunk) if chunk.items.len() < Chunk::<F>::LEN => chunk.items.push(child),
            newest => {
                let mut items = Vec::with_capacity(Chunk::<F>::LEN);
                items.push(child);
                let older = newest.take();
                *newest = Some(Box::new(Chunk { items, older }));
            }
        }
        first
    }

    pub(super) fn is_empty(&self) -> bool {
        self.newest.is_none()
    }

    /// Every child, oldest first.
    pub(super) fn into_oldest_first(mut self) -> impl Iterator<Item = F> {
        let mut oldest = None;
        let mut next = self.newest.take();
        while let Some(mut chunk) = next {
            next = mem::replace(&mut chunk.older, oldest);
            oldest = Some(chunk);
        }
        let mut items = Vec::new().into_iter();
        std::iter::from_fn(move || {
            loop {
                if let Some(child) = items.next() {
                    return Some(child);
                }
                let mut chunk = oldest.take()?;
                oldest = chunk.older.take();
                items = mem::take(&mut chunk.items).into_iter();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    const CHUNK: usize = Chunk::<Pin<Box<dyn Future<Output = usize> + Send>>>::LEN;

    fn numbered(i: usize) -> Pin<Box<dyn Future<Output = usize> + Send>> {
        Box::pin(std::future::ready(i))
    }

    fn value(mut f: Pin<Box<dyn Future<Output = usize> + Send>>) -> usize {
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(i) => i,
            Poll::Pending => unreachable!("ready futures"),
        }
    }

    #[test]
    fn arrivals_come_out_oldest_first_across_chunks() {
        let mut arrivals = Arrivals::default();
        assert!(arrivals.is_empty());
        let n = CHUNK * 3 + 5;
        let firsts: Vec<bool> = (0..n).map(|i| arrivals.push(numbered(i))).collect();
        assert_eq!(firsts.iter().filter(|&&first| first).count(), 1);
        assert!(firsts[0]);
        let order: Vec<usize> = mem::take(&mut arrivals)
            .into_oldest_first()
            .map(value)
            .collect();
        assert_eq!(order, (0..n).collect::<Vec<_>>());
        assert!(arrivals.is_empty());
        assert!(arrivals.push(numbered(0)), "first again once taken");
    }

    #[test]
    fn a_long_list_of_arrivals_drops_without_recursion() {
        let mut arrivals = Arrivals::default();
        for i in 0..CHUNK * 20_000 {
            arrivals.push(numbered(i));
        }
        // On a small stack: a recursive drop of 20,000 chunks would overflow it.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || drop(arrivals))
            .expect("a thread")
            .join()
            .expect("no overflow");
    }
}
