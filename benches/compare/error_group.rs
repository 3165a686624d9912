//! ErrorGroup at 10k and 100k leaves: build, print, split and drop, in ns per leaf. Linear time
//! means the same ns per leaf at both sizes; the ratio reported is ns/leaf at the large size over
//! ns/leaf at the small one.

use std::fmt::{self, Write as _};
use std::hint::black_box;
use std::time::Instant;

use taskgroup::{ErrorGroup, Member, TASK_GROUP_MESSAGE};

use crate::measure::{Contender, nanos, rounds, size_label};
use crate::report::Report;
use crate::{Mode, Opts};

/// Per-leaf cost may grow this much from the small size to the large one (caches) and still be
/// called linear; a quadratic step would give 10x.
const TARGET: f64 = 1.5;
/// Leaves per nested group: the tree is a top group of groups, as nested scopes give.
const FANOUT: usize = 100;

#[derive(Debug)]
struct ValueError(usize);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad value {}", self.0)
    }
}

impl std::error::Error for ValueError {}

#[derive(Debug)]
struct TypeError(usize);

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad type {}", self.0)
    }
}

impl std::error::Error for TypeError {}

/// A `fmt::Write` that only counts, so that printing is measured without a growing buffer.
struct Sink(usize);

impl fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

fn build(n: usize) -> ErrorGroup {
    let groups = (0..n / FANOUT)
        .map(|g| {
            let leaves = (g * FANOUT..(g + 1) * FANOUT)
                .map(|i| {
                    if i % 2 == 0 {
                        Member::from(ValueError(i))
                    } else {
                        Member::from(TypeError(i))
                    }
                })
                .collect();
            Member::Group(ErrorGroup::new("inner", leaves).expect("non-empty"))
        })
        .collect();
    ErrorGroup::new(TASK_GROUP_MESSAGE, groups).expect("non-empty")
}

const OPS: [&str; 5] = ["build", "print_debug", "print_traceback", "split", "drop"];

/// ns per leaf of each operation, over `reps` rounds.
fn sample(n: usize, reps: usize) -> [f64; 5] {
    let mut total = [0.0; 5];
    for _ in 0..reps {
        let t0 = Instant::now();
        let group = black_box(build(n));
        let t1 = Instant::now();
        let mut sink = Sink(0);
        write!(sink, "{group:?}").expect("a sink never fails");
        let t2 = Instant::now();
        write!(sink, "{group:#}").expect("a sink never fails");
        let t3 = Instant::now();
        let (values, rest) = group.split::<ValueError>();
        let t4 = Instant::now();
        let values = values.expect("half the leaves are ValueError");
        assert_eq!(values.errors().count(), n / 2);
        assert!(rest.is_some() && sink.0 > n);
        let t5 = Instant::now();
        drop(black_box((values, rest)));
        let t6 = Instant::now();
        let lap = [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t6 - t5];
        for (acc, d) in total.iter_mut().zip(lap) {
            *acc += nanos(d);
        }
    }
    total.map(|ns| ns / (n * reps) as f64)
}

pub fn run(opts: &Opts, report: &mut Report) {
    println!("\n== ErrorGroup scaling (ns/leaf) ==");
    let (small, large) = match opts.mode {
        Mode::Smoke => (1_000, 10_000),
        _ => (10_000, 100_000),
    };
    // The two sizes are the contenders: rotated rounds, so that each size's sample of a round
    // meets the same load and follows the other size as often as it leads it.
    let size = |n: usize| move || sample(n, (100_000 / n).max(1));
    let contenders: Vec<Contender<'_, [f64; 5]>> = vec![
        ("small", Box::new(size(small))),
        ("large", Box::new(size(large))),
    ];
    let measured = rounds(opts.runs, contenders);
    let column =
        |slot: usize, op: usize| -> Vec<f64> { measured[slot].1.iter().map(|r| r[op]).collect() };
    for (slot, n) in [small, large].into_iter().enumerate() {
        for (op, name) in OPS.iter().enumerate() {
            report.figure(
                format!("errorgroup_{name}_{}", size_label(n)),
                "taskgroup",
                &column(slot, op),
                "ns/leaf",
            );
        }
    }
    for (op, name) in OPS.iter().enumerate() {
        report.compare(
            format!(
                "errorgroup_{name}_{}_vs_{}",
                size_label(large),
                size_label(small)
            ),
            format!("ns_per_leaf_at_{}", size_label(small)),
            &column(1, op),
            &column(0, op),
            "ns/leaf",
            Some(TARGET),
        );
    }
    report.note(
        "errorgroup: `{:#}` (CPython's traceback) prints at most 15 members per group and 10 \
         levels, so its cost per leaf falls as the group grows; `{:?}` visits every leaf",
    );
}
