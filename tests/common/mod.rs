//! Fixtures shared by the behaviour tests: Python-named error types, drop counters, and a way
//! to wait until tokio has released every task.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ValueError(pub String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct TypeError(pub String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct RuntimeError(pub String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?}")]
pub struct KeyError(pub String);

pub fn value_error(msg: &str) -> ValueError {
    ValueError(msg.to_owned())
}

pub type Res<T> = Result<T, ValueError>;

/// Sleeps on tokio's clock (paused in most tests, so this takes no real time).
pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Counts how many futures were created and how many were dropped.
#[derive(Clone, Default)]
pub struct DropCounter {
    created: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
}

pub struct Tracked {
    counter: DropCounter,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counter.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl DropCounter {
    /// Wraps `fut` so that its drop (completed or cancelled) is counted.
    pub fn track<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> + use<F> {
        self.created.fetch_add(1, Ordering::SeqCst);
        let tracked = Tracked {
            counter: self.clone(),
        };
        let counter = self.clone();
        async move {
            let _tracked = tracked;
            let out = fut.await;
            counter.completed.fetch_add(1, Ordering::SeqCst);
            out
        }
    }

    pub fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Every tracked future was dropped exactly once.
    pub fn assert_all_dropped(&self) {
        assert_eq!(self.created(), self.dropped(), "created vs dropped futures");
    }
}

/// Tasks alive on the current runtime.
pub fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Yields until tokio has released every task but `baseline`, and asserts it does so.
/// A finished task is released by the runtime just after it wakes its awaiter, so the count
/// can trail the scope's return by a few scheduler turns; this waits for those turns only,
/// failing once the count has not fallen for 5 s of wall time.
pub async fn assert_no_tasks_beyond(baseline: usize) {
    const STALL: Duration = Duration::from_secs(5);
    let mut lowest = alive();
    let mut since = std::time::Instant::now();
    while alive() > baseline {
        tokio::task::yield_now().await;
        if alive() < lowest {
            lowest = alive();
            since = std::time::Instant::now();
        }
        assert!(
            since.elapsed() < STALL,
            "{} tasks still alive, expected {baseline}",
            alive()
        );
    }
}
