//! Runtimes, rounds of several contenders in a rotating order, and the spread of the samples.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};

/// The two tokio schedulers every timing scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Multi-thread runtime with 2 workers; the measured code runs inside a spawned task.
    Multi,
    /// Current-thread runtime; the measured code runs in `block_on`.
    Current,
}

impl Flavor {
    pub const BOTH: [Flavor; 2] = [Flavor::Multi, Flavor::Current];

    pub fn label(self) -> &'static str {
        match self {
            Flavor::Multi => "mt",
            Flavor::Current => "ct",
        }
    }

    pub fn runtime(self) -> Runtime {
        let mut builder = match self {
            Flavor::Multi => {
                let mut b = Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
            Flavor::Current => Builder::new_current_thread(),
        };
        builder
            .enable_time()
            .build()
            .expect("a tokio runtime builds")
    }

    /// Runs `work` to completion: on a worker thread of the multi-thread runtime (as a server's
    /// handler would), or in `block_on` on the current-thread one.
    pub fn run<F, T>(self, rt: &Runtime, work: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Flavor::Multi => rt
                .block_on(rt.spawn(work))
                .expect("the measured task does not panic"),
            Flavor::Current => rt.block_on(work),
        }
    }
}

/// The smallest, median (the mean of the two middle ones for an even count) and largest of a
/// set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Spread {
        assert!(!samples.is_empty(), "spread of no samples");
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Spread {
            min: v[0],
            median,
            max: v[v.len() - 1],
        }
    }
}

/// One contender in a measurement: a name and a closure giving one sample.
pub type Contender<'a, T = f64> = (&'static str, Box<dyn FnMut() -> T + 'a>);

/// The order in which round `round` runs `count` contenders: rotated by one place each round,
/// so that each contender runs first, last and in between in turn, and reversed in every other
/// block of `count` rounds, so that each one also follows more than one other contender (the
/// allocator's and the caches' state is what the previous contender left).
pub fn round_order(round: usize, count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).map(|i| (i + round) % count).collect();
    if (round / count.max(1)) % 2 == 1 {
        order.reverse();
    }
    order
}

/// How many rounds [`rounds`] records for `count` contenders: at least `runs`, rounded up to a
/// multiple of `count`, so that each contender takes each place equally often.
pub fn recorded_rounds(runs: usize, count: usize) -> usize {
    runs.div_ceil(count.max(1)) * count.max(1)
}

/// Takes [`recorded_rounds`] samples of each contender, one round at a time in [`round_order`]
/// (a burst of load from another process hits every contender of a round alike), after one
/// unrecorded warm-up round. Returns each contender's name and its samples in round order, so
/// that the samples of two contenders at the same index were taken in the same round.
pub fn rounds<T>(
    runs: usize,
    mut contenders: Vec<Contender<'_, T>>,
) -> Vec<(&'static str, Vec<T>)> {
    for (_, sample) in &mut contenders {
        sample();
    }
    let runs = recorded_rounds(runs, contenders.len());
    let mut samples: Vec<Vec<T>> = (0..contenders.len())
        .map(|_| Vec::with_capacity(runs))
        .collect();
    for round in 0..runs {
        for i in round_order(round, contenders.len()) {
            samples[i].push((contenders[i].1)());
        }
    }
    contenders
        .iter()
        .map(|(name, _)| *name)
        .zip(samples)
        .collect()
}

/// `1k`, `100k`, `1m`.
pub fn size_label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

pub fn nanos(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}
