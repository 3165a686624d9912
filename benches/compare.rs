//! `cargo bench -p taskgroup-bench --bench compare`: taskgroup against its peers, measured in
//! the same run. This crate is benches/ (taskgroup-bench, not published), apart from the facade
//! so that the facade's examples and tests do not build the peers.
//!
//! Scenarios (SPEC §7): spawn+join of trivial tasks, fail-fast cancellation, bytes per pending
//! task, ErrorGroup scaling, spawn_local, macro compile time, and CPython's asyncio.TaskGroup.
//! Every comparison prints `RATIO <scenario> <peer> <ours / peer>` (medians), then a table;
//! the full run also writes docs/PERFORMANCE.md. `--quick` is the CI variant: smaller sizes,
//! 3 runs, nothing written. Without `--bench` (as `cargo test -p taskgroup-bench --benches`
//! runs it) it is a smoke run: tiny sizes, one run, no compile or CPython scenario.

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
#[path = "compare/measure.rs"]
mod measure;
#[path = "compare/memory.rs"]
mod memory;
#[path = "compare/report.rs"]
mod report;
#[path = "compare/spawn_join.rs"]
mod spawn_join;
#[path = "compare/spawn_local.rs"]
mod spawn_local;

use std::process::ExitCode;
use std::time::Instant;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

/// How much to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench -p taskgroup-bench --bench compare`: every size, 5+ runs, writes
    /// docs/PERFORMANCE.md.
    Full,
    /// `-- --quick`: the CI run, under two minutes.
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

const GROUPS: &[&str] = &[
    "spawn_join",
    "fail_fast",
    "memory",
    "error_group",
    "spawn_local",
    "compile",
    "cpython",
];

fn usage() -> String {
    format!(
        "usage: cargo bench -p taskgroup-bench --bench compare [-- OPTIONS]\n\
         \n\
         options:\n\
         \x20 --quick          CI run: 1k and 100k tasks, 3 runs, 50 macro uses; writes no file\n\
         \x20 --runs N         runs per measurement (median reported); default 5, 3 with --quick\n\
         \x20 --only LIST      comma-separated scenario groups: {}\n\
         \x20 --no-write       do not write docs/PERFORMANCE.md\n\
         \x20 --bench          passed by cargo bench (without it: a seconds-long smoke run)\n\
         \x20 -h, --help       this message",
        GROUPS.join(",")
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
                if let Some(bad) = list.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                    return Err(format!(
                        "unknown scenario group `{bad}`; choose from {}",
                        GROUPS.join(",")
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
        Mode::Full => 5,
        Mode::Quick => 3,
        Mode::Smoke => 1,
    });
    Ok(Opts {
        mode,
        runs,
        only,
        write_doc: write && mode == Mode::Full,
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
        "taskgroup compare: mode {:?}, {} run(s) per measurement, {} CPU(s)",
        opts.mode,
        opts.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut report = report::Report::default();
    if opts.wants("spawn_join") {
        spawn_join::run(&opts, &mut report);
    }
    if opts.wants("cpython") {
        cpython::run(&opts, &mut report);
    }
    if opts.wants("fail_fast") {
        fail_fast::run(&opts, &mut report);
    }
    if opts.wants("memory") {
        memory::run(&opts, &mut report);
    }
    if opts.wants("error_group") {
        error_group::run(&opts, &mut report);
    }
    if opts.wants("spawn_local") {
        spawn_local::run(&opts, &mut report);
    }
    if opts.wants("compile") {
        compile_time::run(&opts, &mut report);
    }
    report.print_table();
    let elapsed = started.elapsed();
    println!("total time: {:.1} s", elapsed.as_secs_f64());
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
