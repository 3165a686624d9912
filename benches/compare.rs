//! `cargo bench -p taskgroup-bench --bench compare`: taskgroup against its peers, measured in
//! the same run. This crate is benches/ (taskgroup-bench, not published), apart from the facade
//! so that the facade's examples and tests do not build the peers.
//!
//! Scenarios (SPEC §7): spawn+join of trivial tasks, of children that yield once and of
//! children parked on one notification; nested groups; a concurrency limit; fail-fast
//! cancellation; bytes per pending task; ErrorGroup scaling; spawn_local; macro compile time;
//! and CPython's asyncio.TaskGroup.
//!
//! Every scenario runs its contenders in rounds (one warm-up round, then at least `--runs`
//! recorded ones, a multiple of the contenders' count) in an order that rotates every round (see `measure::round_order`), and prints every
//! figure as median (min - max) and every comparison as
//! `RATIO <scenario> <peer> <ratio of medians> rounds <min>-<max> target <= <t> <status>`,
//! then a table. The full run also writes docs/PERFORMANCE.md. `--quick` is the CI variant:
//! the same lines and targets with smaller sizes and fewer rounds, nothing written, and a
//! missed target never fails it. Without `--bench` (as `cargo test -p taskgroup-bench
//! --benches` runs it) it is a smoke run: tiny sizes, one round, no compile or CPython scenario.

#[path = "compare/alloc_count.rs"]
mod alloc_count;
#[path = "compare/compile_time.rs"]
mod compile_time;
#[path = "compare/cpython.rs"]
mod cpython;
#[path = "compare/error_group.rs"]
mod error_group;
#[path = "compare/fail_fast.rs"]
mod fail_fast;
#[path = "compare/limit.rs"]
mod limit;
#[path = "compare/measure.rs"]
mod measure;
#[path = "compare/memory.rs"]
mod memory;
#[path = "compare/nested.rs"]
mod nested;
#[path = "compare/report.rs"]
mod report;
#[path = "compare/spawn_join.rs"]
mod spawn_join;
#[path = "compare/spawn_local.rs"]
mod spawn_local;
#[path = "compare/waiting.rs"]
mod waiting;

use std::process::ExitCode;
use std::time::Instant;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

/// How much to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench -p taskgroup-bench --bench compare`: every size, `FULL_RUNS`+ rounds,
    /// writes docs/PERFORMANCE.md.
    Full,
    /// `-- --quick`: the CI run, a few minutes on 2 cores: smaller sizes, `QUICK_RUNS`+ rounds.
    Quick,
    /// No `--bench` flag (`cargo test -p taskgroup-bench --benches`): seconds, to prove the
    /// code still runs.
    Smoke,
}

/// Parsed command line.
#[derive(Clone, Debug)]
pub struct Opts {
    pub mode: Mode,
    pub runs: usize,
    pub only: Option<Vec<String>>,
    pub write_doc: bool,
}

impl Opts {
    pub fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|g| g == group))
    }
}

/// Recorded rounds per scenario in the full run, at least.
pub const FULL_RUNS: usize = 9;
/// Recorded rounds per scenario in the quick run, at least.
pub const QUICK_RUNS: usize = 5;

/// One scenario group: its name for `--only`, and what measures it.
type Scenario = fn(&Opts, &mut report::Report);

/// Every scenario group, in the order a run measures them.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("spawn_join", spawn_join::run),
    ("yield_once", waiting::run_yield_once),
    ("park", waiting::run_park),
    ("nested", nested::run),
    ("limit", limit::run),
    ("cpython", cpython::run),
    ("fail_fast", fail_fast::run),
    ("memory", memory::run),
    ("error_group", error_group::run),
    ("spawn_local", spawn_local::run),
    ("compile", compile_time::run),
];

fn group_names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|&(name, _)| name).collect()
}

fn usage() -> String {
    format!(
        "usage: cargo bench -p taskgroup-bench --bench compare [-- OPTIONS]\n\
         \n\
         options:\n\
         \x20 --quick          CI run: {QUICK_RUNS} rounds, 100k pending tasks for memory, 50 macro\n\
         \x20                  uses and no dev build for compile; writes no file\n\
         \x20 --runs N         recorded rounds per scenario, at least (rounded up to a multiple\n\
         \x20                  of its contenders; their order rotates every round);\n\
         \x20                  default {FULL_RUNS}, {QUICK_RUNS} with --quick\n\
         \x20 --only LIST      comma-separated scenario groups (writes no file): {}\n\
         \x20 --no-write       do not write docs/PERFORMANCE.md\n\
         \x20 --bench          passed by cargo bench (without it: a seconds-long smoke run)\n\
         \x20 -h, --help       this message",
        group_names().join(",")
    )
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Opts, String> {
    let mut quick = false;
    let mut bench = false;
    let mut runs = None;
    let mut only = None;
    let mut write = true;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--bench" => bench = true,
            "--no-write" => write = false,
            "-h" | "--help" => return Err(String::new()),
            "--runs" => {
                let value = args.next().ok_or("--runs needs a number, e.g. --runs 7")?;
                let n: usize = value
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| format!("--runs needs a positive number, got `{value}`"))?;
                runs = Some(n);
            }
            "--only" => {
                let value = args
                    .next()
                    .ok_or("--only needs a list, e.g. --only memory,compile")?;
                let list: Vec<String> = value.split(',').map(str::to_owned).collect();
                if let Some(bad) = list.iter().find(|g| !group_names().contains(&g.as_str())) {
                    return Err(format!(
                        "unknown scenario group `{bad}`; choose from {}",
                        group_names().join(",")
                    ));
                }
                only = Some(list);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let mode = match (quick, bench) {
        (true, _) => Mode::Quick,
        (false, true) => Mode::Full,
        (false, false) => Mode::Smoke,
    };
    let runs = runs.unwrap_or(match mode {
        Mode::Full => FULL_RUNS,
        Mode::Quick => QUICK_RUNS,
        Mode::Smoke => 1,
    });
    // A document of some scenarios only would pass for the whole report.
    let write_doc = write && mode == Mode::Full && only.is_none();
    Ok(Opts {
        mode,
        runs,
        only,
        write_doc,
    })
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(message) if message.is_empty() => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    println!(
        "taskgroup compare: mode {:?}, at least {} recorded round(s) per scenario (order rotated \
         every round), {} CPU(s)",
        opts.mode,
        opts.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut report = report::Report::default();
    println!("code measured: {}", report.source());
    println!("load average at start: {}", report.load_at_start());
    for &(name, scenario) in SCENARIOS {
        if opts.wants(name) {
            let started = Instant::now();
            scenario(&opts, &mut report);
            println!("({name}: {:.1} s)", started.elapsed().as_secs_f64());
        }
    }
    report.print_table();
    let elapsed = started.elapsed();
    println!("total time: {:.1} s", elapsed.as_secs_f64());
    println!("load average at the end: {}", report::load_average());
    if opts.write_doc {
        match report.write_doc(&opts, elapsed) {
            Ok(path) => println!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("error: could not write docs/PERFORMANCE.md: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
