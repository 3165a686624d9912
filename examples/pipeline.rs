//! A producer -> workers -> aggregator pipeline over tokio channels, every stage a child of one
//! task group, and what happens when one worker fails midway.
//!
//! ```text
//! cargo run --example pipeline                  # worker 2 fails on record 50 of 100
//! cargo run --example pipeline -- --no-failure  # every record processed, the aggregate printed
//! cargo run --example pipeline -- --workers 8 --items 1000
//! ```
//!
//! What it shows:
//!
//! - **Stages as children**: the producer, each worker and the aggregator are spawned with
//!   `spawn_named` into one group and talk over bounded `mpsc` channels. The scope returns when
//!   they are all done, so the pipeline cannot leak a stage.
//! - **Fail-fast**: a worker that meets a corrupt record returns a typed error
//!   ([`WorkError`]). The group cancels every other stage at its next `.await` (a send into a
//!   full channel, a receive, the simulated work), so nothing hangs waiting on a channel whose
//!   other end is gone, and the scope returns the one failure.
//! - **`except*` and task names**: the `except* WorkError` clause takes the failure by type;
//!   each leaf knows the task it came from (`Leaf::task()`, `TaskInfo::name()`), which names
//!   the failing worker. `{:#}` prints the group as CPython's traceback does.
//! - **Quiet shutdown of the stages themselves**: a stage whose downstream channel closed stops
//!   without an error of its own, so the failure that started the shutdown is the only one
//!   reported.
//!
//! The producer deals record `n` to worker `(n - 1) % WORKERS + 1`, so which worker meets the
//! corrupt record (the middle one, `(ITEMS + 1) / 2`) is fixed, and with `--no-failure` so is
//! how many records each worker processes. How many records were processed before the failure
//! varies from run to run and is not printed.
//!
//! Exit status: 0 when the pipeline completes, 1 when it failed (the failure is printed), 2 for
//! bad arguments.

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use taskgroup::{Outcome, Task, TaskInfo, task_group};
use tokio::sync::mpsc;
use tokio::time::sleep;

const USAGE: &str = "\
usage: pipeline [--no-failure] [--workers N] [--items N]

Runs a producer -> N workers -> aggregator pipeline in one task group. By default the middle
record is corrupt and the worker that meets it fails, which stops the whole pipeline.

  --no-failure   no corrupt record: the pipeline runs to completion and prints the aggregate
  --workers N    how many workers (default 4, at most 64)
  --items N      how many records the producer sends (default 100, at most 100000)
  -h, --help     print this message";

/// Each channel holds this many messages; a stage ahead of the next one waits.
const CAPACITY: usize = 4;

/// The simulated work per record.
const WORK: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------------------------
// Records and the error a worker fails with

/// What the producer sends: a value and a checksum over it.
#[derive(Debug)]
struct Record {
    id: u64,
    value: u64,
    checksum: u16,
}

/// A 16-bit checksum over a record's id and value.
fn checksum(id: u64, value: u64) -> u16 {
    ((id.wrapping_mul(31) ^ value.wrapping_mul(17)) % 65_521) as u16
}

/// What a worker sends on: the result of its work.
struct Processed {
    square: u64,
}

/// Why a worker stopped: a typed error, which `except* WorkError` matches.
#[derive(Debug, thiserror::Error)]
enum WorkError {
    /// The record's checksum does not match its contents.
    #[error("record {id} is corrupt: checksum {found:#06x}, expected {expected:#06x}")]
    Corrupt { id: u64, found: u16, expected: u16 },
}

// ---------------------------------------------------------------------------------------------
// The stages

/// Sends records `1..=items` to the workers in turn; `corrupt` (if any) gets a wrong checksum.
/// Returns how many records it sent. A worker that is gone means the pipeline is stopping: the
/// producer stops too, quietly (the group reports why it stopped).
async fn produce(
    items: u64,
    corrupt: Option<u64>,
    workers: Vec<mpsc::Sender<Record>>,
) -> Result<u64, Infallible> {
    for id in 1..=items {
        let value = id;
        let mut record = Record {
            id,
            value,
            checksum: checksum(id, value),
        };
        if Some(id) == corrupt {
            record.checksum ^= 1;
        }
        let worker = &workers[((id - 1) % workers.len() as u64) as usize];
        if worker.send(record).await.is_err() {
            return Ok(id - 1);
        }
    }
    Ok(items)
    // Dropping the senders closes the workers' channels: they finish what they hold and end.
}

/// Checks and processes records until its channel closes; returns how many it processed.
async fn work(
    mut records: mpsc::Receiver<Record>,
    results: mpsc::Sender<Processed>,
) -> Result<usize, WorkError> {
    let mut processed = 0;
    while let Some(record) = records.recv().await {
        sleep(WORK).await;
        let expected = checksum(record.id, record.value);
        if record.checksum != expected {
            return Err(WorkError::Corrupt {
                id: record.id,
                found: record.checksum,
                expected,
            });
        }
        let square = record.value * record.value;
        if results.send(Processed { square }).await.is_err() {
            break; // the aggregator is gone: the pipeline is stopping
        }
        processed += 1;
    }
    Ok(processed)
}

/// The aggregate of everything the workers sent.
struct Aggregate {
    count: u64,
    sum_of_squares: u64,
}

/// Sums the results until every worker has dropped its sender. (A child returns `()` or a
/// `Result`: one that cannot fail says so with `Infallible`.)
async fn aggregate(mut results: mpsc::Receiver<Processed>) -> Result<Aggregate, Infallible> {
    let mut total = Aggregate {
        count: 0,
        sum_of_squares: 0,
    };
    while let Some(Processed { square }) = results.recv().await {
        total.count += 1;
        total.sum_of_squares += square;
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/// How the pipeline is set up.
struct Config {
    workers: usize,
    items: u64,
    failure: bool,
}

/// The handles the scope hands back when the pipeline completes.
struct Stages {
    producer: Task<u64>,
    workers: Vec<Task<usize>>,
    aggregator: Task<Aggregate>,
}

/// Runs the pipeline; returns the exit code.
async fn run(config: Config) -> ExitCode {
    let corrupt = config.failure.then_some(config.items.div_ceil(2));
    print!(
        "pipeline: producer -> {} -> aggregator, {}",
        plural(config.workers as u64, "worker"),
        plural(config.items, "record")
    );
    match corrupt {
        Some(id) => println!("; record {id} is corrupt"),
        None => println!(),
    }

    let outcome = task_group!(name = "pipeline"; |tg| {
        let (results_tx, results_rx) = mpsc::channel(CAPACITY);
        let mut inboxes = Vec::with_capacity(config.workers);
        let workers: Vec<Task<usize>> = (1..=config.workers)
            .map(|n| {
                let (tx, rx) = mpsc::channel(CAPACITY);
                inboxes.push(tx);
                tg.spawn_named(format!("worker {n}"), work(rx, results_tx.clone()))
            })
            .collect();
        // Only the workers hold senders of the results: the aggregator ends when they all do.
        drop(results_tx);
        let producer = tg.spawn_named("producer", produce(config.items, corrupt, inboxes));
        let aggregator = tg.spawn_named("aggregator", aggregate(results_rx));
        // The body is done; the scope waits for the stages.
        Stages { producer, workers, aggregator }
    }
    except* WorkError as eg => {
        println!("pipeline failed: {eg}");
        for leaf in eg.leaves() {
            let task = leaf.task().and_then(TaskInfo::name).unwrap_or("an unnamed task");
            println!("  `{task}` failed with {}: {leaf}", leaf.type_name());
        }
        let others = config.workers + 2 - eg.leaves().count();
        let others = plural(others as u64, "stage");
        println!("fail-fast stopped the other {others}; none is left running");
        println!("the error group, as a traceback ({{:#}}):");
        print!("{eg:#}");
    }
    );

    match outcome {
        Outcome::Ok(stages) => report(stages, &config),
        // The failure was printed by the `except*` clause.
        Outcome::Handled => ExitCode::FAILURE,
        Outcome::Unhandled(eg) => {
            eprintln!("error: the pipeline failed unexpectedly:\n{eg:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints what each stage did after a completed run.
fn report(stages: Stages, config: &Config) -> ExitCode {
    let (sent, total) = match (stages.producer.result(), stages.aggregator.result()) {
        (Ok(sent), Ok(total)) => (sent, total),
        (sent, total) => {
            // Unreachable after a successful scope; printed rather than trusted.
            eprintln!(
                "error: producer {:?}, aggregator {:?}",
                sent.err(),
                total.err().map(|e| e.to_string())
            );
            return ExitCode::FAILURE;
        }
    };
    println!("producer: sent {}", plural(sent, "record"));
    for (n, worker) in (1..).zip(stages.workers) {
        match worker.result() {
            Ok(processed) => println!(
                "worker {n}: processed {}",
                plural(processed as u64, "record")
            ),
            Err(why) => println!("worker {n}: {why}"),
        }
    }
    let expected: u64 = (1..=config.items).map(|v| v * v).sum();
    println!(
        "aggregator: {} results, sum of squares {} (expected {expected})",
        total.count, total.sum_of_squares
    );
    if total.count == config.items && total.sum_of_squares == expected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `1 record`, `2 records`.
fn plural(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{s}")
}

// ---------------------------------------------------------------------------------------------
// Command line

/// What the command line asks for.
enum Command {
    Run(Config),
    Help,
}

fn parse_count(flag: &str, value: &str, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{flag}: `{value}` is not a number from 1 to {max}")),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut config = Config {
        workers: 4,
        items: 100,
        failure: true,
    };
    let mut seen = Vec::new();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
            _ => (arg.clone(), None),
        };
        if seen.contains(&flag) {
            return Err(format!("{flag} given twice"));
        }
        let mut value = || match inline {
            Some(value) => Ok(value.to_owned()),
            None => args.next().ok_or_else(|| format!("{flag} needs a number")),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--no-failure" if inline.is_none() => config.failure = false,
            "--workers" => config.workers = parse_count(&flag, &value()?, 64)? as usize,
            "--items" => config.items = parse_count(&flag, &value()?, 100_000)?,
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
        seen.push(flag);
    }
    Ok(Command::Run(config))
}

#[tokio::main]
async fn main() -> ExitCode {
    // Arguments that are not UTF-8 are refused like any other bad argument, not a panic.
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let command = match args {
        Ok(args) => parse_args(args.into_iter()),
        Err(arg) => Err(format!("argument {arg:?} is not UTF-8")),
    };
    match command {
        Ok(Command::Run(config)) => run(config).await,
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
