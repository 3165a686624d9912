//! A concurrency limit: N trivial children spawned and joined with at most `LIMIT` running at
//! once. Ours is the group's `limit` (a spawn beyond it queues without blocking the body);
//! the peer is a JoinSet and a tokio `Semaphore`: the spawning loop awaits `acquire_owned`
//! before each spawn and moves the permit into the task.

use std::convert::Infallible;
use std::sync::Arc;

use taskgroup::TaskGroup;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::measure::{Contender, Flavor, rounds, size_label};
use crate::report::Report;
use crate::spawn_join::{JOINSET_TARGET, reps, sample};
use crate::{Mode, Opts};

/// Children running at once.
const LIMIT: usize = 64;

async fn taskgroup(n: usize) -> usize {
    let tg = TaskGroup::builder().limit(LIMIT).build();
    let tasks = tg
        .run(async {
            let mut tasks = Vec::with_capacity(n);
            for i in 0..n {
                tasks.push(tg.spawn(async move { Ok::<usize, Infallible>(i) }));
            }
            Ok::<_, Infallible>(tasks)
        })
        .await
        .expect("no child fails");
    tasks
        .into_iter()
        .map(|t| t.result().expect("every child finished"))
        .sum()
}

async fn joinset_semaphore(n: usize) -> usize {
    let permits = Arc::new(Semaphore::new(LIMIT));
    let mut set = JoinSet::new();
    for i in 0..n {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        set.spawn(async move {
            let _permit = permit;
            i
        });
    }
    let mut sum = 0;
    while let Some(r) = set.join_next().await {
        sum += r.expect("no child panics");
    }
    sum
}

pub fn run(opts: &Opts, report: &mut Report) {
    let n = match opts.mode {
        Mode::Full | Mode::Quick => 100_000,
        Mode::Smoke => 1_000,
    };
    println!(
        "\n== limit {LIMIT}: {} trivial children (ns/task) ==",
        size_label(n)
    );
    let reps = reps(opts.mode, n);
    for flavor in Flavor::BOTH {
        let rt = flavor.runtime();
        let rt = &rt;
        let contenders: Vec<Contender<'_>> = vec![
            (
                "taskgroup",
                Box::new(move || sample(flavor, rt, n, reps, taskgroup)),
            ),
            (
                "joinset_semaphore",
                Box::new(move || sample(flavor, rt, n, reps, joinset_semaphore)),
            ),
        ];
        let measured = rounds(opts.runs, contenders);
        let scenario = format!("limit{LIMIT}_{}_{}", flavor.label(), size_label(n));
        report.contest(&scenario, "ns/task", &measured, |_| Some(JOINSET_TARGET));
    }
}
