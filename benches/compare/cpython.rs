//! CPython's asyncio.TaskGroup: benches/cpython_taskgroup.py, when python3 is present, against
//! our current-thread spawn+join of the same trivial children (both are single-threaded event
//! loops). Each round runs ours once and the script once, in a rotating order like every other
//! scenario; the script warms up in its own process before it times.

use std::process::Command;

use crate::measure::{Contender, Flavor, rounds, size_label};
use crate::report::Report;
use crate::spawn_join::{reps, sample, taskgroup, vec_joinhandle};
use crate::{Mode, Opts};

/// SPEC §7: at least 20x ahead of CPython's TaskGroup.
const TARGET: f64 = 1.0 / 20.0;

fn python() -> String {
    std::env::var("PYTHON3").unwrap_or_else(|_| "python3".to_owned())
}

/// `Python 3.11.7`, or `None` when there is no python3.
pub fn version() -> Option<String> {
    let out = Command::new(python()).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/cpython_taskgroup.py");

/// One sample of CPython in ns per task: the script's median of `runs` scopes of `n` tasks.
fn cpython_sample(n: usize, runs: usize) -> Result<f64, String> {
    let out = Command::new(python())
        .arg(SCRIPT)
        .arg("--sizes")
        .arg(n.to_string())
        .arg("--runs")
        .arg(runs.to_string())
        .output()
        .map_err(|e| format!("could not run {SCRIPT}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["CPYTHON", "spawn_join", size, us] if size == n.to_string() => {
                    us.parse::<f64>().ok().map(|us| us * 1_000.0)
                }
                _ => None,
            },
        )
        .ok_or_else(|| format!("{SCRIPT} printed no figure for {n} tasks"))
}

pub fn run(opts: &Opts, report: &mut Report) {
    println!("\n== CPython asyncio.TaskGroup against our current-thread spawn+join (ns/task) ==");
    if opts.mode == Mode::Smoke {
        report.note("cpython: skipped in the smoke run");
        return;
    }
    let Some(version) = version() else {
        report.note("cpython: python3 not found, CPython rows skipped");
        return;
    };
    let flavor = Flavor::Current;
    let rt = flavor.runtime();
    let rt = &rt;
    for n in [1_000, 100_000] {
        let reps = reps(opts.mode, n);
        // Scopes per CPython sample: as many tasks as one sample of ours, at most 20 scopes.
        let runs = reps.min(20);
        let contenders: Vec<Contender<'_, Result<f64, String>>> = vec![
            (
                "taskgroup",
                Box::new(move || Ok(sample(flavor, rt, n, reps, taskgroup))),
            ),
            (
                "cpython_taskgroup",
                Box::new(move || cpython_sample(n, runs)),
            ),
            // The floor of any design that spawns each child on tokio: bare `tokio::spawn`.
            (
                "vec_joinhandle",
                Box::new(move || Ok(sample(flavor, rt, n, reps, vec_joinhandle))),
            ),
        ];
        let mut measured = Vec::new();
        for (who, samples) in rounds(opts.runs, contenders) {
            match samples.into_iter().collect::<Result<Vec<f64>, String>>() {
                Ok(ns) => measured.push((who, ns)),
                Err(e) => {
                    report.note(format!("cpython: {version} failed: {e}"));
                    return;
                }
            }
        }
        let floor = measured.pop().expect("three contenders");
        let scenario = format!("cpython_spawn_join_ct_{}", size_label(n));
        report.contest(&scenario, "ns/task", &measured, |_| Some(TARGET));
        // Bare tokio::spawn against CPython in the same rounds: no target, the floor's own.
        report.figure(&scenario, floor.0, &floor.1, "ns/task");
        let cpython = &measured[1].1;
        report.compare(
            format!("tokio_spawn_vs_cpython_ct_{}", size_label(n)),
            "cpython_taskgroup",
            &floor.1,
            cpython,
            "ns/task",
            None,
        );
    }
    report.note(format!(
        "cpython: {version}; ours is the current-thread spawn+join (tg.spawn of trivial \
         children), measured in the same rounds as the script; a CPython sample is the median \
         of up to 20 scopes, timed inside its own process after one warm-up scope; \
         tokio_spawn_vs_cpython_ct_* is bare tokio::spawn + JoinHandle (a Vec<JoinHandle>) \
         against CPython in the same rounds, without a target: the floor of any design that \
         spawns each child as a tokio task"
    ));
}
