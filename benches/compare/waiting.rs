//! Children that wait before they return, spawned and joined as in spawn_join.rs: ours against
//! tokio's JoinSet and a `Vec<JoinHandle>`.
//! - yield once: each child calls `tokio::task::yield_now().await`, then returns its value, so
//!   every child is polled twice and woken once by itself.
//! - park: each child parks on one shared notification; once all of them are parked (a counter
//!   says so) the spawning code releases them together with `Notify::notify_waiters`, and every
//!   child is woken from outside. The gate and the release are the same for every contender.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use taskgroup::TaskGroup;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::measure::{Contender, Flavor, rounds, size_label};
use crate::report::Report;
use crate::spawn_join::{reps, sample, target};
use crate::{Mode, Opts};

/// What every child does before it returns its value.
trait Wait: Copy + Send + 'static {
    const LABEL: &'static str;
    /// A child that waits, then returns `i`; only a parking child holds the gate.
    fn child(gate: &Arc<Gate>, i: usize) -> impl Future<Output = usize> + Send + 'static;
    /// What the spawning code does once every child is spawned, before it joins them.
    fn after_spawning(gate: &Gate, n: usize) -> impl Future<Output = ()> + Send;
}

#[derive(Clone, Copy)]
struct YieldOnce;

impl Wait for YieldOnce {
    const LABEL: &'static str = "yield_once";

    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would capture the gate's borrow, and a child must be 'static"
    )]
    fn child(_: &Arc<Gate>, i: usize) -> impl Future<Output = usize> + Send + 'static {
        async move {
            tokio::task::yield_now().await;
            i
        }
    }

    async fn after_spawning(_: &Gate, _: usize) {}
}

#[derive(Clone, Copy)]
struct Park;

impl Wait for Park {
    const LABEL: &'static str = "park";

    fn child(gate: &Arc<Gate>, i: usize) -> impl Future<Output = usize> + Send + 'static {
        let gate = Arc::clone(gate);
        async move {
            gate.park().await;
            i
        }
    }

    async fn after_spawning(gate: &Gate, n: usize) {
        gate.release_when_parked(n).await;
    }
}

/// One notification that `n` children park on, and how many have parked.
#[derive(Default)]
struct Gate {
    notify: Notify,
    parked: AtomicUsize,
}

impl Gate {
    /// Parks until the release. The waiter is registered before the count says it is parked,
    /// so that a release that follows the count never misses it.
    async fn park(&self) {
        let mut notified = pin!(self.notify.notified());
        notified.as_mut().enable();
        self.parked.fetch_add(1, Ordering::Release);
        notified.await;
    }

    /// Waits (yielding to the children) until `n` children are parked, then releases them all.
    async fn release_when_parked(&self, n: usize) {
        while self.parked.load(Ordering::Acquire) < n {
            tokio::task::yield_now().await;
        }
        self.notify.notify_waiters();
    }
}

async fn taskgroup<W: Wait>(n: usize) -> usize {
    let gate = Arc::new(Gate::default());
    let tg = TaskGroup::new();
    let tasks = tg
        .run(async {
            let mut tasks = Vec::with_capacity(n);
            for i in 0..n {
                // The same future every contender spawns: a wrapping `async` block would hold
                // it as a captured value beside its own awaiting copy, twice its size.
                tasks.push(tg.spawn_value(W::child(&gate, i)));
            }
            W::after_spawning(&gate, n).await;
            Ok::<_, Infallible>(tasks)
        })
        .await
        .expect("no child fails");
    tasks
        .into_iter()
        .map(|t| t.result().expect("every child finished"))
        .sum()
}

async fn joinset<W: Wait>(n: usize) -> usize {
    let gate = Arc::new(Gate::default());
    let mut set = JoinSet::new();
    for i in 0..n {
        set.spawn(W::child(&gate, i));
    }
    W::after_spawning(&gate, n).await;
    let mut sum = 0;
    while let Some(r) = set.join_next().await {
        sum += r.expect("no child panics");
    }
    sum
}

async fn vec_joinhandle<W: Wait>(n: usize) -> usize {
    let gate = Arc::new(Gate::default());
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(W::child(&gate, i))).collect();
    W::after_spawning(&gate, n).await;
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("no child panics");
    }
    sum
}

fn size(mode: Mode) -> usize {
    match mode {
        Mode::Full | Mode::Quick => 100_000,
        Mode::Smoke => 1_000,
    }
}

fn measure<W: Wait>(opts: &Opts, report: &mut Report) {
    let n = size(opts.mode);
    let reps = reps(opts.mode, n);
    for flavor in Flavor::BOTH {
        let rt = flavor.runtime();
        let rt = &rt;
        let contenders: Vec<Contender<'_>> = vec![
            (
                "taskgroup",
                Box::new(move || sample(flavor, rt, n, reps, taskgroup::<W>)),
            ),
            (
                "joinset",
                Box::new(move || sample(flavor, rt, n, reps, joinset::<W>)),
            ),
            (
                "vec_joinhandle",
                Box::new(move || sample(flavor, rt, n, reps, vec_joinhandle::<W>)),
            ),
        ];
        let measured = rounds(opts.runs, contenders);
        let scenario = format!("{}_{}_{}", W::LABEL, flavor.label(), size_label(n));
        report.contest(&scenario, "ns/task", &measured, target);
    }
}

pub fn run_yield_once(opts: &Opts, report: &mut Report) {
    println!("\n== spawn+join of children that yield once (ns/task) ==");
    measure::<YieldOnce>(opts, report);
}

pub fn run_park(opts: &Opts, report: &mut Report) {
    println!(
        "\n== spawn+join of children parked on one notification, released together (ns/task) =="
    );
    measure::<Park>(opts, report);
    report.note(
        "park: every child registers on one tokio Notify, then counts itself parked; the \
         spawning code (the scope's body, for ours) yields until all are counted and releases \
         them with notify_waiters; the same gate for every contender",
    );
}
