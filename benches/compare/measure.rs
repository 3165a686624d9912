//! Runtimes, medians, and interleaved runs of several peers.

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

/// The median of the samples (the mean of the two middle ones for an even count).
pub fn median(samples: &[f64]) -> f64 {
    assert!(!samples.is_empty(), "median of no samples");
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// One contender in an interleaved measurement: a name and a closure giving one sample.
pub type Contender<'a> = (&'static str, Box<dyn FnMut() -> f64 + 'a>);

/// Takes `runs` samples of each contender, one round at a time (so that a burst of load from
/// another process hits every contender alike), after one unrecorded warm-up round.
/// Returns each contender's name and median sample.
pub fn interleaved(runs: usize, mut contenders: Vec<Contender<'_>>) -> Vec<(&'static str, f64)> {
    for (_, sample) in &mut contenders {
        sample();
    }
    let mut samples = vec![Vec::with_capacity(runs); contenders.len()];
    for _ in 0..runs {
        for (i, (_, sample)) in contenders.iter_mut().enumerate() {
            samples[i].push(sample());
        }
    }
    contenders
        .iter()
        .zip(&samples)
        .map(|((name, _), s)| (*name, median(s)))
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
