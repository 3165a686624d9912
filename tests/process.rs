//! Process children (issue 14, part 2): `tg.spawn_process(command)` runs an OS process as a
//! child. A non-zero exit, a signal or a program that cannot start is a `ProcessFailed` leaf;
//! a cancelled group sends SIGTERM, then SIGKILL when its grace period ends (at once without
//! one), and the scope returns only once the process has been reaped.
//!
//! Real processes, real time: each test waits on the process or the scope, never on a sleep. A
//! process says it is ready by printing its pid on a socket the test reads (`echo $$`), and a
//! process is known to be reaped when `kill -0 <pid>` fails (a zombie still answers it).
#![cfg(all(unix, feature = "process"))]

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use taskgroup::{Member, ProcessFailed, SpawnError, TaskError, TaskGroup};
use tokio::process::Command;

type Body<T> = Result<T, Member>;

/// Well under the `sleep 60` of the processes that must be stopped: a scope that returns
/// sooner did not wait for the process to end by itself.
const PROMPT: Duration = Duration::from_secs(20);

/// `sh -c script`.
fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    command
}

/// `sh -c script` whose stdout is a socket the test reads: the script prints its pid
/// (`echo $$`) once it is ready.
fn sh_ready(script: &str) -> (Command, UnixStream) {
    let (ours, theirs) = UnixStream::pair().expect("a socket pair");
    let mut command = sh(script);
    command.stdout(Stdio::from(OwnedFd::from(theirs)));
    (command, ours)
}

/// Blocks until the process has printed its pid.
fn read_pid(stream: UnixStream) -> u32 {
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("the process prints its pid");
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("a pid, not {line:?}"))
}

/// Whether no process `pid` exists any more, not even a zombie: it has been reaped.
fn reaped(pid: u32) -> bool {
    let alive = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -0 {pid} 2>/dev/null"))
        .status()
        .expect("sh runs");
    !alive.success()
}

/// A sibling that fails once the process is ready, sending its pid to the test.
fn fail_when_ready(
    stream: UnixStream,
    pids: mpsc::Sender<u32>,
) -> impl FnOnce() -> Res<()> + Send + 'static {
    move || {
        let _ = pids.send(read_pid(stream));
        Err(value_error("sibling failed"))
    }
}

fn process_failed(eg: &taskgroup::ErrorGroup) -> &ProcessFailed {
    eg.leaves()
        .find_map(|leaf| leaf.downcast_ref::<ProcessFailed>())
        .expect("a ProcessFailed leaf")
}

#[tokio::test]
async fn process_exit_status_3_is_a_leaf_error() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_process(sh("exit 3"));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    let failed = process_failed(&eg);
    assert_eq!(failed.program(), "sh");
    assert_eq!(failed.code(), Some(3));
    assert_eq!(failed.signal(), None);
    assert!(!failed.not_started());
    assert_eq!(failed.stderr(), None, "stderr was inherited, not captured");
    assert_eq!(failed.to_string(), "process `sh` exited with status 3");
}

#[tokio::test]
async fn process_success_gives_its_status_or_its_output() {
    let tg = TaskGroup::new();
    let (status, output) = tg
        .run(async {
            let status = tg.spawn_process(sh("exit 0"));
            let output = tg.spawn_process_output(sh("echo out; echo err >&2"));
            Body::Ok((status.await?, output.await?))
        })
        .await
        .unwrap();
    assert!(status.success());
    assert!(output.status.success());
    assert_eq!(output.stdout, b"out\n");
    assert_eq!(output.stderr, b"err\n");
}

#[tokio::test]
async fn process_sleep_cancelled_by_a_failing_sibling_is_killed_and_reaped() {
    let started = Instant::now();
    let (command, stream) = sh_ready("echo $$; exec sleep 60");
    let (pids, pid) = mpsc::channel();
    let tg = TaskGroup::new(); // no grace period: SIGKILL at once
    let settled = tg
        .run_settled(async {
            let sleeper = tg.spawn_process(command);
            tg.spawn_blocking(fail_when_ready(stream, pids));
            Body::Ok(sleeper)
        })
        .await;
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    let pid = pid.recv().unwrap();
    assert!(reaped(pid), "process {pid} is still there after the scope");
    let eg = settled.errors.unwrap();
    assert_eq!(
        eg.len(),
        1,
        "killed as asked, the process is cancelled, not failed: {eg}"
    );
    assert!(eg.contains::<ValueError>());
    assert_eq!(settled.value.unwrap().result(), Err(TaskError::Cancelled));
}

#[tokio::test]
async fn process_trapping_sigterm_exits_cleanly_inside_the_grace_period() {
    let grace = Duration::from_secs(30);
    let started = Instant::now();
    // On SIGTERM it stops its own child and exits 0.
    let (command, stream) = sh_ready("trap 'kill $!; exit 0' TERM; sleep 60 & echo $$; wait");
    let (pids, pid) = mpsc::channel();
    let tg = TaskGroup::builder().grace(grace).build();
    let settled = tg
        .run_settled(async {
            let process = tg.spawn_process(command);
            tg.spawn_blocking(fail_when_ready(stream, pids));
            Body::Ok(process)
        })
        .await;
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    let pid = pid.recv().unwrap();
    assert!(reaped(pid), "process {pid} is still there after the scope");
    let eg = settled.errors.unwrap();
    assert_eq!(eg.len(), 1, "{eg}");
    assert!(eg.contains::<ValueError>());
    let status = settled.value.unwrap().result().expect("it exited 0");
    assert!(status.success());
}

#[tokio::test]
async fn process_ignoring_sigterm_is_killed_when_the_grace_period_ends() {
    let grace = Duration::from_millis(300);
    let started = Instant::now();
    // SIGTERM ignored, and the `sleep` it becomes inherits that.
    let (command, stream) = sh_ready("trap '' TERM; echo $$; exec sleep 60");
    let (pids, pid) = mpsc::channel();
    let tg = TaskGroup::builder().grace(grace).build();
    let settled = tg
        .run_settled(async {
            let process = tg.spawn_process(command);
            tg.spawn_blocking(fail_when_ready(stream, pids));
            Body::Ok(process)
        })
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= grace,
        "killed before the grace period ended: {elapsed:?}"
    );
    assert!(elapsed < PROMPT, "took {elapsed:?}");
    let pid = pid.recv().unwrap();
    assert!(reaped(pid), "process {pid} is still there after the scope");
    assert_eq!(settled.errors.unwrap().len(), 1);
    assert_eq!(settled.value.unwrap().result(), Err(TaskError::Cancelled));
}

#[tokio::test]
async fn process_ignoring_sigterm_is_killed_at_once_without_a_grace_period() {
    let started = Instant::now();
    let (command, stream) = sh_ready("trap '' TERM; echo $$; exec sleep 60");
    let (pids, pid) = mpsc::channel();
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let process = tg.spawn_process(command);
            tg.spawn_blocking(fail_when_ready(stream, pids));
            Body::Ok(process)
        })
        .await;
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    let pid = pid.recv().unwrap();
    assert!(reaped(pid), "process {pid} is still there after the scope");
    assert_eq!(settled.value.unwrap().result(), Err(TaskError::Cancelled));
}

#[tokio::test]
async fn process_in_a_nested_group_gets_the_enclosing_grace_period() {
    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let (command, stream) = sh_ready("trap '' TERM; echo $$; exec sleep 60");
    let (pids, pid) = mpsc::channel();
    let outer = TaskGroup::builder().grace(grace).build();
    let settled = outer
        .run_settled(async {
            let process = outer.spawn(async move {
                // No grace of its own: the enclosing group's cancellation reaches it through
                // the token (SIGTERM), its abort at the end of the outer grace (SIGKILL).
                let inner = TaskGroup::new();
                inner
                    .run(async {
                        let process = inner.spawn_process(command);
                        Body::Ok(process.await?)
                    })
                    .await
            });
            outer.spawn_blocking(fail_when_ready(stream, pids));
            Body::Ok(process)
        })
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= grace,
        "killed before the outer grace period ended: {elapsed:?}"
    );
    assert!(elapsed < PROMPT, "took {elapsed:?}");
    let pid = pid.recv().unwrap();
    assert!(reaped(pid), "process {pid} is still there after the scope");
    assert_eq!(settled.errors.unwrap().len(), 1);
    assert!(settled.value.unwrap().result().is_err());
}

#[tokio::test]
async fn process_nonexistent_program_is_a_leaf_error_not_a_panic() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_process(Command::new("taskgroup-test-no-such-program"));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 1);
    let failed = process_failed(&eg);
    assert!(failed.not_started());
    assert_eq!(failed.status(), None);
    assert_eq!(
        failed.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::NotFound)
    );
    let message = failed.to_string();
    assert!(
        message.starts_with("process `taskgroup-test-no-such-program` could not be started: "),
        "{message}"
    );
    assert!(
        message.contains("check that the program exists"),
        "{message}"
    );
    assert!(std::error::Error::source(failed).is_some());
}

#[tokio::test]
async fn process_captured_stderr_ends_the_error() {
    let script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line $i >&2; done; exit 2";
    let mut piped = sh("echo 'only this' >&2; exit 1");
    piped.stderr(Stdio::piped());
    let tg = TaskGroup::builder()
        .policy(taskgroup::Policy::WaitAll)
        .build();
    let eg = tg
        .run(async {
            tg.spawn_process_output(sh(script));
            tg.spawn_process(piped);
            Body::Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.len(), 2);
    let mut codes = Vec::new();
    for leaf in eg.leaves() {
        let failed = leaf.downcast_ref::<ProcessFailed>().unwrap();
        codes.push(failed.code());
        match failed.code() {
            Some(2) => {
                let last_ten: Vec<String> = (3..=12).map(|i| format!("line {i}")).collect();
                assert_eq!(failed.stderr(), Some(last_ten.join("\n").as_str()));
                let message = failed.to_string();
                assert!(
                    message.starts_with(
                        "process `sh` exited with status 2; the end of its stderr:\n  line 3\n"
                    ),
                    "{message}"
                );
                assert!(message.ends_with("\n  line 12"), "{message}");
            }
            _ => {
                // A piped stderr in `spawn_process` is captured too.
                assert_eq!(failed.stderr(), Some("only this"));
            }
        }
    }
    codes.sort();
    assert_eq!(codes, [Some(1), Some(2)]);
}

#[tokio::test]
async fn process_killed_by_a_signal_it_was_not_sent_is_a_leaf_error() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn_process(sh("kill -KILL $$"));
            Body::Ok(())
        })
        .await
        .unwrap_err();
    let failed = process_failed(&eg);
    assert_eq!((failed.code(), failed.signal()), (None, Some(9)));
    assert_eq!(
        failed.to_string(),
        "process `sh` was killed by signal 9 (SIGKILL)"
    );
}

#[tokio::test]
async fn process_task_cancel_kills_it_and_the_scope_waits_for_the_reaping() {
    let (command, stream) = sh_ready("echo $$; exec sleep 60");
    let started = Instant::now();
    let tg = TaskGroup::new();
    let (task, pid) = tg
        .run(async {
            let task = tg.spawn_process(command);
            let pid = tg.spawn_blocking(move || Ok::<_, std::io::Error>(read_pid(stream)));
            let pid = pid.await?;
            task.cancel();
            Body::Ok((task, pid))
        })
        .await
        .unwrap();
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    assert!(reaped(pid), "process {pid} is still there after the scope");
    assert_eq!(task.result(), Err(TaskError::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_in_a_dropped_scope_is_reaped_before_the_enclosing_scope_returns() {
    let (command, stream) = sh_ready("echo $$; exec sleep 60");
    let started = Instant::now();
    let outer = TaskGroup::new();
    let pid = outer
        .run(async {
            let pid = outer.spawn(async move {
                let inner = TaskGroup::new();
                let scope = inner.run(async {
                    inner.spawn_process(command);
                    std::future::pending::<Body<()>>().await
                });
                let pid = tokio::task::spawn_blocking(move || read_pid(stream));
                // The inner scope's future is dropped once the process is ready.
                tokio::select! {
                    _ = scope => unreachable!("the inner body never returns"),
                    pid = pid => Ok::<_, TaskError>(pid.unwrap()),
                }
            });
            Body::Ok(pid.await?)
        })
        .await
        .unwrap();
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    assert!(
        reaped(pid),
        "process {pid} is still there after the enclosing scope"
    );
}

#[tokio::test]
async fn process_spawned_before_the_group_cancels_never_starts() {
    let marker = std::env::temp_dir().join(format!("taskgroup-process-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let tg = TaskGroup::new();
    let (task, refused) = tg
        .run(async {
            let task = tg.spawn_process(sh(&format!("touch '{}'", marker.display())));
            tg.cancel(); // before the child's first poll
            let refused = tg.spawn_process(sh("exit 0"));
            Body::Ok((task, refused))
        })
        .await
        .unwrap();
    assert_eq!(task.result(), Err(TaskError::Cancelled));
    assert_eq!(
        refused.result(),
        Err(TaskError::NotStarted(SpawnError::Cancelled))
    );
    assert!(!marker.exists(), "the process ran");
}

#[tokio::test]
async fn process_piped_stdout_is_drained_so_the_process_never_blocks() {
    // A megabyte is more than a pipe holds: unread, the process would block forever.
    let mut command = sh("head -c 1000000 /dev/zero");
    command.stdout(Stdio::piped());
    let tg = TaskGroup::new();
    let (status, output) = tg
        .run(async {
            let status = tg.spawn_process(command);
            let output = tg.spawn_process_output(sh("head -c 1000000 /dev/zero"));
            Body::Ok((status.await?, output.await?))
        })
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(output.stdout.len(), 1_000_000);
}

#[tokio::test]
async fn process_under_a_limit_takes_a_slot() {
    let tg = TaskGroup::builder().limit(1).build();
    let outputs = tg
        .run(async {
            let first = tg.spawn_process_output(sh("echo 1"));
            let second = tg.spawn_process_output(sh("echo 2"));
            Body::Ok([first.await?, second.await?])
        })
        .await
        .unwrap();
    assert_eq!(
        outputs.map(|o| o.stdout),
        [b"1\n".to_vec(), b"2\n".to_vec()]
    );
}
