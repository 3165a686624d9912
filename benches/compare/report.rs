//! Collects the comparisons, prints `RATIO` lines and the table, writes docs/PERFORMANCE.md.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::measure::Spread;
use crate::{Mode, Opts};

/// Hand-written analysis appended to the generated document.
const ANALYSIS: &str = include_str!("analysis.md");

/// One comparison: ours against one peer in one scenario, both measured in the same rounds.
pub struct Row {
    pub scenario: String,
    pub peer: String,
    pub ours: Spread,
    pub theirs: Spread,
    /// Ours over the peer's in each round: the spread of the ratio.
    pub per_round: Spread,
    pub unit: &'static str,
    /// The largest ratio (ours / peer) the SPEC accepts, if it sets one.
    pub target: Option<f64>,
}

impl Row {
    /// The ratio of the medians.
    pub fn ratio(&self) -> f64 {
        self.ours.median / self.theirs.median
    }

    /// Whether the ratio, as printed (three decimals), is at or below the target.
    fn met(&self) -> Option<bool> {
        let printed = (self.ratio() * 1_000.0).round() / 1_000.0;
        self.target.map(|t| printed <= t)
    }

    fn status(&self) -> &'static str {
        match self.met() {
            None => "-",
            Some(true) => "met",
            Some(false) => "not met",
        }
    }

    fn target_text(&self) -> String {
        self.target
            .map_or("none".to_owned(), |t| format!("<= {t:.2}"))
    }
}

/// One absolute figure: its spread over the rounds.
struct Figure {
    scenario: String,
    who: String,
    spread: Spread,
    unit: &'static str,
}

pub struct Report {
    rows: Vec<Row>,
    figures: Vec<Figure>,
    notes: Vec<String>,
    /// `/proc/loadavg`'s three figures when the run began.
    load_at_start: String,
    /// The commit measured, and whether the measured crates had uncommitted changes.
    source: String,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            rows: Vec::new(),
            figures: Vec::new(),
            notes: Vec::new(),
            load_at_start: load_average(),
            source: source_state(),
        }
    }
}

impl Report {
    /// The load average when this report (the run) began.
    pub fn load_at_start(&self) -> &str {
        &self.load_at_start
    }

    /// The commit the run measured, as [`source_state`] found it when the run began.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Records and prints one comparison as
    /// `RATIO <scenario> <peer> <ratio of medians> rounds <min>-<max> target <= <t> <status>`.
    /// `ours[i]` and `theirs[i]` must come from the same round.
    pub fn compare(
        &mut self,
        scenario: impl Into<String>,
        peer: impl Into<String>,
        ours: &[f64],
        theirs: &[f64],
        unit: &'static str,
        target: Option<f64>,
    ) {
        assert_eq!(
            ours.len(),
            theirs.len(),
            "a ratio pairs samples of the same rounds"
        );
        let per_round: Vec<f64> = ours.iter().zip(theirs).map(|(o, t)| o / t).collect();
        let row = Row {
            scenario: scenario.into(),
            peer: peer.into(),
            ours: Spread::of(ours),
            theirs: Spread::of(theirs),
            per_round: Spread::of(&per_round),
            unit,
            target,
        };
        println!(
            "RATIO {} {} {:.3} rounds {:.3}-{:.3} target {} {}",
            row.scenario,
            row.peer,
            row.ratio(),
            row.per_round.min,
            row.per_round.max,
            row.target_text(),
            row.status()
        );
        self.rows.push(row);
    }

    /// Records and prints one absolute figure: median (min-max) over its samples.
    pub fn figure(
        &mut self,
        scenario: impl Into<String>,
        who: impl Into<String>,
        samples: &[f64],
        unit: &'static str,
    ) {
        let (scenario, who) = (scenario.into(), who.into());
        let spread = Spread::of(samples);
        println!(
            "  {scenario:<34} {who:<26} {:>12} ({} - {}) {unit}",
            fmt_value(spread.median),
            fmt_value(spread.min),
            fmt_value(spread.max)
        );
        self.figures.push(Figure {
            scenario,
            who,
            spread,
            unit,
        });
    }

    /// Records the figures of one scenario's contenders, ours first, and compares ours with
    /// each peer against the target `target_of(peer)`.
    pub fn contest(
        &mut self,
        scenario: &str,
        unit: &'static str,
        measured: &[(&'static str, Vec<f64>)],
        target_of: impl Fn(&str) -> Option<f64>,
    ) {
        for (who, samples) in measured {
            self.figure(scenario, *who, samples, unit);
        }
        let (_, ours) = &measured[0];
        for (peer, theirs) in &measured[1..] {
            self.compare(scenario, *peer, ours, theirs, unit, target_of(peer));
        }
    }

    /// Records and prints a note (a skipped row, a caveat).
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("note: {text}");
        self.notes.push(text);
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| scenario | peer | ours (median) | peer's (median) | unit | ratio | per-round ratio (min - max) | target | status |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---|---:|---:|---:|---|");
        for r in &self.rows {
            let target = r.target.map_or("-".to_owned(), |t| format!("<= {t:.2}"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} - {:.3} | {} | {} |",
                r.scenario,
                r.peer,
                fmt_value(r.ours.median),
                fmt_value(r.theirs.median),
                r.unit,
                r.ratio(),
                r.per_round.min,
                r.per_round.max,
                target,
                r.status()
            );
        }
        out
    }

    /// `targets: N met, M not met (a vs b; ...)`.
    fn summary(&self) -> String {
        let missed: Vec<_> = self
            .rows
            .iter()
            .filter(|r| r.met() == Some(false))
            .map(|r| format!("{} vs {}", r.scenario, r.peer))
            .collect();
        format!(
            "targets: {} met, {} not met{}",
            self.rows.iter().filter(|r| r.met() == Some(true)).count(),
            missed.len(),
            if missed.is_empty() {
                String::new()
            } else {
                format!(" ({})", missed.join("; "))
            }
        )
    }

    pub fn print_table(&self) {
        println!("\n{}", self.table());
        for note in &self.notes {
            println!("note: {note}");
        }
        println!("{}", self.summary());
    }

    pub fn write_doc(&self, opts: &Opts, elapsed: Duration) -> std::io::Result<PathBuf> {
        let run = match opts.mode {
            Mode::Full => "the full run (`cargo bench -p taskgroup-bench --bench compare`)",
            Mode::Quick => {
                "a quick run (`cargo bench -p taskgroup-bench --bench compare -- --quick`), \
                 with fewer rounds and smaller memory and compile scenarios than the full run"
            }
            Mode::Smoke => "a smoke run (tiny sizes, not a measurement)",
        };
        let mut doc = String::new();
        let _ = writeln!(doc, "# Performance\n");
        let _ = writeln!(
            doc,
            "Regenerate this file with the full run, from the workspace root:\n\n\
             ```sh\ncargo bench -p taskgroup-bench --bench compare\n```\n"
        );
        let _ = writeln!(
            doc,
            "This copy was written by {run} on {} (UTC) in {:.0} s, at least {} recorded \
             round(s) per scenario. Do not edit the tables by hand: re-run the bench. The analysis at the end \
             is kept in `benches/compare/analysis.md`.\n",
            today(),
            elapsed.as_secs_f64(),
            opts.runs
        );
        let _ = writeln!(doc, "## How it measures\n");
        let _ = writeln!(
            doc,
            "- Every scenario runs its contenders (ours and its peers) in rounds: one unrecorded \
             warm-up round, then at least {} recorded ones, rounded up to a multiple of the \
             number of contenders. The contenders' order rotates by one place every round, so \
             that each runs first, last and in between equally often, and is reversed in every \
             other block of rounds, so that none always runs after the same one (the \
             allocator's state is what the previous contender left).\n\
             - In the spawning scenarios (spawn+join, yield once, park, nested, limit and ours \
             against CPython) every sample starts with one unrecorded scope of the same size, \
             so that a contender is timed on the heap it shaped itself rather than on the \
             free lists the previous contender left.\n\
             - Every figure is the median, with the smallest and largest sample of the rounds.\n\
             - A ratio is ours over the peer's: the median over the median, both measured in the \
             same rounds of this run. Its spread is the smallest and largest per-round ratio \
             (ours and the peer's sample of the same round).\n\
             - A target is the largest ratio SPEC §7 accepts. `met` means the ratio of the \
             medians is at or below it in this run, `not met` that it is above.\n\
             - The quick run (`-- --quick`, what CI runs) prints the same `RATIO` lines with \
             their targets and status, with fewer rounds (and smaller memory and compile \
             scenarios), writes no file and never fails on a target it misses.",
            opts.runs
        );
        let _ = writeln!(doc, "\n## Machine\n");
        let _ = writeln!(doc, "- Code measured: {}", self.source);
        let _ = writeln!(doc, "- CPUs (nproc): {}", nproc());
        let _ = writeln!(doc, "- CPU model: {}", cpu_model());
        let _ = writeln!(doc, "- rustc: {}", rustc_version());
        let _ = writeln!(
            doc,
            "- python3 (for the CPython rows): {}",
            crate::cpython::version().unwrap_or_else(|| "not found".to_owned())
        );
        let _ = writeln!(
            doc,
            "- Load average (1, 5, 15 min) at the start of the run: {}; at its end: {}",
            self.load_at_start,
            load_average()
        );
        let _ = writeln!(
            doc,
            "- Shared machine: other builds may run at the same time, so read ratios and their \
             per-round spread, not absolute times.\n"
        );
        let _ = writeln!(doc, "## Other runs\n");
        let _ = writeln!(
            doc,
            "```sh\ncargo bench -p taskgroup-bench --bench compare -- --quick   # CI: {}+ rounds, smaller memory and compile scenarios, writes nothing\n\
             cargo bench -p taskgroup-bench --bench compare -- --only memory,error_group   # some scenarios, writes nothing\n\
             cargo bench -p taskgroup-bench --bench compare -- --help\n```\n",
            crate::QUICK_RUNS
        );
        let _ = writeln!(
            doc,
            "## Ratios\n\nRatio = ours / peer (lower is better for us).\n"
        );
        doc.push_str(&self.table());
        let _ = writeln!(doc, "\n{}", self.summary());
        if !self.notes.is_empty() {
            let _ = writeln!(doc, "\n## Notes\n");
            for note in &self.notes {
                let _ = writeln!(doc, "- {note}");
            }
        }
        let _ = writeln!(
            doc,
            "\n## All figures\n\n| scenario | contender | median | min | max | unit |\n\
             |---|---|---:|---:|---:|---|"
        );
        for f in &self.figures {
            let _ = writeln!(
                doc,
                "| {} | {} | {} | {} | {} | {} |",
                f.scenario,
                f.who,
                fmt_value(f.spread.median),
                fmt_value(f.spread.min),
                fmt_value(f.spread.max),
                f.unit
            );
        }
        doc.push('\n');
        doc.push_str(ANALYSIS);
        // This crate is benches/ (taskgroup-bench); the document is the workspace's.
        let path = workspace_root().join("docs/PERFORMANCE.md");
        std::fs::write(&path, doc)?;
        Ok(path)
    }
}

/// The workspace root: the directory above this crate's (benches/).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.join(".."), PathBuf::from)
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The crates whose speed is measured: a change to them changes the figures.
const MEASURED: &[&str] = &[
    "taskgroup-core",
    "taskgroup-macros",
    "src",
    "benches",
    "Cargo.toml",
    "Cargo.lock",
];

/// `commit <hash>`, and which files of the measured crates differ from it, from git.
fn source_state() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]).map(|h| h.trim().to_owned()) else {
        return "unknown (not a git work tree)".to_owned();
    };
    let mut args = vec!["status", "--porcelain", "--"];
    args.extend_from_slice(MEASURED);
    let changed: Vec<String> = git(&args)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.get(3..).map(str::to_owned))
        .collect();
    if changed.is_empty() {
        format!("commit {head}, the measured crates as committed")
    } else {
        format!(
            "commit {head} plus uncommitted changes to {} file(s) of the measured crates ({})",
            changed.len(),
            changed.join(", ")
        )
    }
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minutes), or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|load| !load.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

pub fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned())
}

fn rustc_version() -> String {
    std::process::Command::new(rustc())
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Today's date as `YYYY-MM-DD`, from the system clock (days-to-civil, proleptic Gregorian).
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
