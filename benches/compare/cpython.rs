//! CPython's asyncio.TaskGroup: runs benches/cpython_taskgroup.py when python3 is present and
//! compares it with our current-thread spawn+join (both are single-threaded event loops).

use std::process::Command;

use crate::measure::size_label;
use crate::report::Report;
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

pub fn run(opts: &Opts, report: &mut Report) {
    println!("\n== CPython asyncio.TaskGroup spawn+join (us/task) ==");
    if opts.mode == Mode::Smoke {
        report.note("cpython: skipped in the smoke run");
        return;
    }
    let Some(version) = version() else {
        report.note("cpython: python3 not found, CPython row skipped");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/cpython_taskgroup.py");
    let out = Command::new(python())
        .arg(script)
        .args(["--sizes", "1000,100000", "--runs"])
        .arg(opts.runs.to_string())
        .output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            report.note(format!(
                "cpython: {version} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return;
        }
        Err(e) => {
            report.note(format!("cpython: could not run {script}: {e}"));
            return;
        }
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let ["CPYTHON", "spawn_join", n, us] = fields[..] else {
            continue;
        };
        let (Ok(n), Ok(us)) = (n.parse::<usize>(), us.parse::<f64>()) else {
            continue;
        };
        let scenario = format!("spawn_join_ct_{}", size_label(n));
        let theirs = us * 1_000.0;
        report.figure(&scenario, "cpython_taskgroup", theirs, "ns/task");
        match report.lookup(&scenario, "taskgroup") {
            Some(ours) => report.compare(
                &scenario,
                "cpython_taskgroup",
                ours,
                theirs,
                "ns/task",
                Some(TARGET),
            ),
            None => report.note(format!(
                "cpython: {scenario} has no figure of ours to compare with (run spawn_join too)"
            )),
        }
    }
}
