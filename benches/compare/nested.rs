//! Nested scopes: one outer group whose children each open a group of their own and spawn its
//! children; against the same shape with JoinSets (an outer JoinSet whose tasks each own a
//! JoinSet). Every leaf child is trivial; each inner scope sums its children's values and the
//! outer one sums the inner sums.

use std::convert::Infallible;

use taskgroup::{ErrorGroup, TaskGroup};
use tokio::task::JoinSet;

use crate::measure::{Contender, Flavor, rounds, size_label};
use crate::report::Report;
use crate::spawn_join::{JOINSET_TARGET, reps, sample};
use crate::{Mode, Opts};

/// Children per inner group.
const PER_GROUP: usize = 100;

async fn taskgroup(n: usize) -> usize {
    let outer = TaskGroup::new();
    let groups = outer
        .run(async {
            let mut groups = Vec::with_capacity(n / PER_GROUP);
            for g in 0..n / PER_GROUP {
                groups.push(outer.spawn(async move {
                    // Made inside the outer group's child: nested in the outer group.
                    let inner = TaskGroup::new();
                    let tasks = inner
                        .run(async {
                            let mut tasks = Vec::with_capacity(PER_GROUP);
                            for i in g * PER_GROUP..(g + 1) * PER_GROUP {
                                tasks.push(inner.spawn(async move { Ok::<usize, Infallible>(i) }));
                            }
                            Ok::<_, Infallible>(tasks)
                        })
                        .await?;
                    Ok::<usize, ErrorGroup>(
                        tasks
                            .into_iter()
                            .map(|t| t.result().expect("every child finished"))
                            .sum(),
                    )
                }));
            }
            Ok::<_, Infallible>(groups)
        })
        .await
        .expect("no child fails");
    groups
        .into_iter()
        .map(|t| t.result().expect("every group finished"))
        .sum()
}

async fn joinset(n: usize) -> usize {
    let mut outer = JoinSet::new();
    for g in 0..n / PER_GROUP {
        outer.spawn(async move {
            let mut inner = JoinSet::new();
            for i in g * PER_GROUP..(g + 1) * PER_GROUP {
                inner.spawn(async move { i });
            }
            let mut sum = 0;
            while let Some(r) = inner.join_next().await {
                sum += r.expect("no child panics");
            }
            sum
        });
    }
    let mut sum = 0;
    while let Some(r) = outer.join_next().await {
        sum += r.expect("no inner task panics");
    }
    sum
}

pub fn run(opts: &Opts, report: &mut Report) {
    // Leaf children in all: `n / PER_GROUP` inner groups of `PER_GROUP`.
    let n = match opts.mode {
        Mode::Full | Mode::Quick => 100_000,
        Mode::Smoke => 1_000,
    };
    println!(
        "\n== nested: {} groups of {PER_GROUP} children in one outer group (ns per leaf child) ==",
        n / PER_GROUP
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
                "nested_joinset",
                Box::new(move || sample(flavor, rt, n, reps, joinset)),
            ),
        ];
        let measured = rounds(opts.runs, contenders);
        let scenario = format!(
            "nested_{}_{}x{PER_GROUP}",
            flavor.label(),
            size_label(n / PER_GROUP)
        );
        report.contest(&scenario, "ns/task", &measured, |_| Some(JOINSET_TARGET));
    }
}
