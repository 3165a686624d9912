//! Process children ([`TaskGroup::spawn_process`], feature `process`): an OS process as a
//! child of the group, asked to stop with SIGTERM when the group cancels, killed when the
//! group's grace period ends, and always reaped before the scope returns.
//!
//! A process child is a shielded child (see `shield`): the group's abort does not drop its
//! future, which must outlive the process to reap it. The future learns the two moments of a
//! cancellation itself: the group's token (the group asks its children to stop: SIGTERM) and
//! the group's abort (the grace period is over, or there was none: SIGKILL), which it watches
//! through the group's `aborted` token (made on first use; an abort does not wake a shield
//! otherwise). It returns once the process is reaped. If its future is dropped all the same ([`Task::cancel`], the scope's future
//! dropped), the process is killed and a task of its own reaps it, holding a unit of the
//! group's count meanwhile, so that the scope (and any enclosing one) still waits for it.
// The one `unsafe` here is `libc::kill` in `terminate` (see its SAFETY comment).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::TaskGroup;
use super::locality::Locality;
use super::shared::{Shared, lock};
use super::shield::{InLine, Shield, ShieldOutput};
use super::spawner::Spawner;
use super::task::Task;
use crate::process_failed::{ProcessFailed, signal_of};

/// How many lines of a failed process's stderr its [`ProcessFailed`] keeps (documented in
/// [`ProcessFailed::stderr`]).
const STDERR_LINES: usize = 10;
/// How many bytes of stderr those lines are taken from, at most.
const STDERR_BYTES: usize = 4096;
/// Reads of one pipe per poll before the child lets the others run.
const READS_PER_POLL: usize = 16;

/// What the child keeps of its process's output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    /// The status; a piped stderr's tail for the error, a piped stdout drained.
    Status,
    /// Stdout and stderr piped and kept whole.
    Output,
}

/// What is kept of one pipe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    All,
    Tail,
    Nothing,
}

/// One of the process's pipes, read until its end (or until the group aborts).
struct Pipe<R> {
    reader: Option<R>,
    keep: Keep,
    bytes: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: Option<R>, keep: Keep) -> Self {
        Pipe {
            reader,
            keep,
            bytes: Vec::new(),
        }
    }

    fn is_done(&self) -> bool {
        self.reader.is_none()
    }

    /// Reads what is there; a read error ends the pipe as its end would.
    fn poll_read(&mut self, cx: &mut Context<'_>) {
        let Some(reader) = &mut self.reader else {
            return;
        };
        let mut chunk = [0u8; 4096];
        for _ in 0..READS_PER_POLL {
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(&mut *reader).poll_read(cx, &mut buf) {
                Poll::Pending => return,
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.reader = None;
                    return;
                }
                Poll::Ready(Ok(())) => keep(&mut self.bytes, self.keep, buf.filled()),
                Poll::Ready(Err(error)) if error.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(_)) => {
                    self.reader = None;
                    return;
                }
            }
        }
        // More may be waiting: read it at the next poll, after the rest of the runtime ran.
        cx.waker().wake_by_ref();
    }

    /// The last lines of what was read, if any.
    fn tail(&self) -> Option<String> {
        let start = self.bytes.len().saturating_sub(STDERR_BYTES);
        let text = String::from_utf8_lossy(&self.bytes[start..]);
        let lines: Vec<&str> = text
            .trim_end()
            .trim_start_matches(['\n', '\r'])
            .lines()
            .collect();
        let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
        (!tail.is_empty()).then_some(tail)
    }
}

fn keep(bytes: &mut Vec<u8>, keep: Keep, read: &[u8]) {
    match keep {
        Keep::All => bytes.extend_from_slice(read),
        Keep::Tail => {
            bytes.extend_from_slice(read);
            // Amortised: cut back to the last STDERR_BYTES once twice that has piled up.
            if bytes.len() > 2 * STDERR_BYTES {
                let cut = bytes.len() - STDERR_BYTES;
                bytes.drain(..cut);
            }
        }
        Keep::Nothing => {}
    }
}

/// How far the group has gone in stopping the process.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asked {
    Nothing,
    /// SIGTERM: the group cancels, its grace period runs.
    Terminate,
    /// SIGKILL: the group aborted.
    Kill,
}

/// The process until it is reaped. Dropped unreaped (its child's future dropped), it kills the
/// process and hands it to a task of its own that reaps it, holding the group open meanwhile.
struct Running {
    /// `None` once reaped.
    child: Option<Child>,
    shared: Arc<Shared>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Not reaped: its pid is still its own.
        let _ = child.start_kill();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Dropped with `kill_on_drop`: tokio reaps it in the background when it can.
            return;
        };
        self.shared.hold_open();
        let hold = Hold(Arc::clone(&self.shared));
        drop(runtime.spawn(async move {
            let _hold = hold;
            let _ = child.wait().await;
        }));
    }
}

/// The token cancelled when the group aborts (the end of its grace period, or its
/// cancellation when it has none), which a shielded child is not woken by otherwise.
fn aborted_token(shared: &Shared) -> CancellationToken {
    lock(&shared.aborted)
        .get_or_insert_with(CancellationToken::new)
        .clone()
}

/// A unit of the group's count held by a reaper task, released when it is done (or dropped
/// unfinished by a runtime shutting down).
struct Hold(Arc<Shared>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Asks the process to stop: SIGTERM on Unix. Elsewhere there is nothing gentler than killing
/// it.
#[cfg(unix)]
#[allow(unsafe_code)]
fn terminate(child: &mut Child) {
    let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) else {
        return;
    };
    // SAFETY: `kill` takes two integers and touches no memory of this process. The pid is
    // this child's own: the caller's last poll of its `wait` was pending, and only the poll
    // that returns its status reaps it, so the pid cannot have been given to another process.
    // An error (none is expected for an unreaped child of ours) leaves SIGKILL to the abort.
    let _ = unsafe { libc::kill(pid, libc::SIGTERM) };
}

#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    let _ = child.start_kill();
}

/// Whether a process the group signalled ended because of it: killed by SIGTERM or SIGKILL,
/// or exited with 128 + SIGTERM (the shells' way of passing a SIGTERM death on).
#[cfg(unix)]
fn stopped_as_asked(status: ExitStatus) -> bool {
    match (status.code(), signal_of(&status)) {
        (_, Some(signal)) => signal == libc::SIGTERM || signal == libc::SIGKILL,
        (Some(code), None) => code == 128 + libc::SIGTERM,
        (None, None) => false,
    }
}

#[cfg(not(unix))]
fn stopped_as_asked(status: ExitStatus) -> bool {
    !status.success()
}

/// A process child's future, from spawning the command to reaping the process.
async fn run(
    mut command: Command,
    capture: Capture,
    shared: Arc<Shared>,
) -> ShieldOutput<Result<Output, ProcessFailed>> {
    // A process not started when its group cancels never starts.
    if shared.token.is_cancelled() || shared.is_aborted() {
        return ShieldOutput::Aborted;
    }
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    if capture == Capture::Output {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // The last resort, if not even a reaper task can be spawned (see `Running`).
    command.kill_on_drop(true);
    let spawned = command.spawn();
    // The command may hold this process's copy of a descriptor it handed the child (a pipe's
    // write end): closed now, the pipe's reader sees the end when the process ends.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            return ShieldOutput::Done(Err(ProcessFailed::unstarted(program, error)));
        }
    };
    // Nothing writes to it: a piped stdin ends at once.
    drop(child.stdin.take());
    let (out, err) = match capture {
        Capture::Output => (Keep::All, Keep::All),
        Capture::Status => (Keep::Nothing, Keep::Tail),
    };
    let mut stdout = Pipe::new(child.stdout.take(), out);
    let mut stderr = Pipe::new(child.stderr.take(), err);
    let mut running = Running {
        child: Some(child),
        shared: Arc::clone(&shared),
    };
    let mut cancelled = pin!(shared.token.clone().cancelled_owned());
    // Taken before any read of the abort flag: an abort after the read cancels it.
    let mut aborting = pin!(aborted_token(&shared).cancelled_owned());
    let mut asked = Asked::Nothing;
    let mut status = None;
    let ended = poll_fn(|cx| {
        stdout.poll_read(cx);
        stderr.poll_read(cx);
        let aborted = running.shared.is_aborted() || aborting.as_mut().poll(cx).is_ready();
        if let Some(child) = running.child.as_mut() {
            let waited = {
                let wait = pin!(child.wait());
                wait.poll(cx)
            };
            match waited {
                Poll::Ready(Ok(ended)) => {
                    status = Some(ended);
                    running.child = None;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // Not reaped: its pid is still its own, to signal.
                Poll::Pending => {
                    if aborted {
                        if asked != Asked::Kill {
                            asked = Asked::Kill;
                            let _ = child.start_kill();
                        }
                    } else if asked == Asked::Nothing && cancelled.as_mut().poll(cx).is_ready() {
                        asked = Asked::Terminate;
                        terminate(child);
                    }
                    return Poll::Pending;
                }
            }
        }
        // Reaped. Its pipes are read to their end, unless the group aborted: a process of its
        // own that keeps one open does not hold the scope then.
        match status {
            Some(ended) if aborted || (stdout.is_done() && stderr.is_done()) => {
                Poll::Ready(Ok(ended))
            }
            _ => Poll::Pending,
        }
    })
    .await;
    drop(running);
    let status = match ended {
        Ok(status) => status,
        Err(error) => {
            return ShieldOutput::Done(Err(ProcessFailed::lost(program, error, stderr.tail())));
        }
    };
    if status.success() {
        return ShieldOutput::Done(Ok(Output {
            status,
            stdout: stdout.bytes,
            stderr: stderr.bytes,
        }));
    }
    if asked != Asked::Nothing && stopped_as_asked(status) {
        // Stopped by its group: a cancellation, as an ordinary child's.
        return ShieldOutput::Aborted;
    }
    let asked_to_stop = asked != Asked::Nothing;
    ShieldOutput::Done(Err(ProcessFailed::ended(
        program,
        status,
        asked_to_stop,
        stderr.tail(),
    )))
}

fn spawn_process<T: Send + 'static>(
    shared: &Arc<Shared>,
    command: Command,
    capture: Capture,
    value: fn(Output) -> T,
) -> Task<T> {
    let process = run(command, capture, Arc::clone(shared));
    let future = async move {
        match process.await {
            ShieldOutput::Done(result) => ShieldOutput::Done(result.map(value)),
            ShieldOutput::Aborted => ShieldOutput::Aborted,
            ShieldOutput::Expired(bound) => ShieldOutput::Expired(bound),
        }
    };
    // Not started, it is dropped with the line when the group stops.
    shared.spawn_shielded(Shield::new(future, shared, None), InLine::Dropped)
}

impl<'env, K: Locality> TaskGroup<'env, K> {
    /// Runs `command` as a child of the group: an OS process, which succeeds when it exits
    /// with status 0. The handle gives its [`ExitStatus`]; for its output, use
    /// [`spawn_process_output`](Self::spawn_process_output). Feature `process`.
    ///
    /// # Failure
    /// A non-zero exit, a signal the group did not send (a crash), or a command that cannot
    /// start (the program does not exist, is not executable...) is a [`ProcessFailed`] leaf,
    /// never a panic: it joins the group as any child's failure (under fail-fast it cancels the
    /// siblings), and the handle says [`TaskError::Failed`](crate::TaskError::Failed).
    ///
    /// # Cancellation, and reaping
    /// When the group cancels (a sibling's failure, [`cancel`](Self::cancel), the deadline),
    /// the process gets SIGTERM (on Unix; elsewhere it is killed at once), then SIGKILL when
    /// the group's [`grace`](crate::Builder::grace) period ends, or at once when the group has
    /// none. Either way the scope does not return until the process has been reaped: no
    /// zombie and no orphan. A process that ends as it was asked (killed by the signal, or
    /// exiting with 128 + SIGTERM as shells do) ends as cancelled, not as a failure; one that
    /// cleans up and exits 0 within the grace period succeeds, its handle giving the status.
    ///
    /// Only the process itself is signalled, not processes it started: a shell script should
    /// `exec` its last command, or trap TERM and stop its own children.
    ///
    /// [`Task::cancel`] kills it (SIGKILL) and the scope still waits for it to be reaped; so
    /// does any enclosing scope if this scope's future is dropped. A process not yet started
    /// when the group cancels (waiting for a slot of the [`limit`](crate::Builder::limit),
    /// whose slot it takes while it runs, or not yet polled) never starts.
    ///
    /// # Standard streams
    /// As the command sets them: inherited by default. A piped stderr is read, its last lines
    /// kept for the [`ProcessFailed`]; a piped stdout is read and discarded, so that the
    /// process never blocks on a full pipe; a piped stdin is closed at once. The child ends
    /// when the process has been reaped and its pipes have ended (a background process that
    /// keeps a pipe open holds the child until the group aborts).
    ///
    /// # Runtime
    /// Tokio's process support needs a runtime with its I/O driver (`enable_all()`, as
    /// `#[tokio::main]` and `#[tokio::test]` build). On a runtime without it tokio panics
    /// once the process has started, and nothing can reap it: the child ends with a
    /// [`TaskPanic`](crate::TaskPanic) whose message says to call `enable_io`, and the process
    /// is left to run unreaped. Outside a runtime the spawn is refused, as any spawn is: the
    /// handle says [`TaskError::NotStarted`](crate::TaskError::NotStarted).
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::{Duration, Instant};
    /// use taskgroup::{ProcessFailed, TaskError, TaskGroup};
    /// use tokio::process::Command;
    ///
    /// let mut sleeper = Command::new("sleep");
    /// sleeper.arg("60");
    /// let mut failing = Command::new("sh");
    /// failing.args(["-c", "exit 3"]);
    ///
    /// let started = Instant::now();
    /// let tg = TaskGroup::builder().grace(Duration::from_secs(5)).build();
    /// let settled = tg
    ///     .run_settled(async {
    ///         let sleeper = tg.spawn_process(sleeper);
    ///         tg.spawn_process(failing); // fails: `sleep 60` gets SIGTERM
    ///         Ok::<_, TaskError>(sleeper)
    ///     })
    ///     .await;
    /// assert!(started.elapsed() < Duration::from_secs(5), "SIGTERM stopped it at once");
    /// let eg = settled.errors.unwrap();
    /// let failed = eg.leaves().next().unwrap().downcast_ref::<ProcessFailed>().unwrap();
    /// assert_eq!(failed.code(), Some(3));
    /// assert_eq!(settled.value.unwrap().result(), Err(TaskError::Cancelled));
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn spawn_process(&self, command: impl Into<Command>) -> Task<ExitStatus> {
        spawn_process(&self.shared, command.into(), Capture::Status, |o| o.status)
    }

    /// Like [`spawn_process`](Self::spawn_process), capturing the process's output: its
    /// stdout and stderr are piped (whatever the command set them to, as
    /// [`Command::output`] does) and read whole, and the handle gives the [`Output`], whose
    /// status is a success. On failure the [`ProcessFailed`] keeps the last lines of its
    /// stderr (the rest of the output is dropped). Feature `process`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use taskgroup::{TaskError, TaskGroup};
    /// use tokio::process::Command;
    ///
    /// let mut hello = Command::new("sh");
    /// hello.args(["-c", "echo hello"]);
    /// let tg = TaskGroup::new();
    /// let output = tg
    ///     .run(async {
    ///         let output = tg.spawn_process_output(hello);
    ///         Ok::<_, TaskError>(output.await?)
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(output.stdout, b"hello\n");
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn spawn_process_output(&self, command: impl Into<Command>) -> Task<Output> {
        spawn_process(&self.shared, command.into(), Capture::Output, |o| o)
    }
}

impl Spawner {
    /// Runs `command` as a child of the group, as [`TaskGroup::spawn_process`] does (read it
    /// for how the process is cancelled and reaped). Feature `process`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tokio::process::Command;
    ///
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let status = tg
    ///     .run(async move {
    ///         Ok::<_, std::io::Error>(spawner.spawn_process(Command::new("true")))
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert!(status.result().unwrap().success());
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn spawn_process(&self, command: impl Into<Command>) -> Task<ExitStatus> {
        spawn_process(&self.shared, command.into(), Capture::Status, |o| o.status)
    }

    /// Runs `command` as a child of the group capturing its output, as
    /// [`TaskGroup::spawn_process_output`] does. Feature `process`.
    ///
    /// # Examples
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tokio::process::Command;
    ///
    /// let mut printf = Command::new("printf");
    /// printf.arg("42");
    /// let tg = taskgroup::TaskGroup::new();
    /// let spawner = tg.spawner();
    /// let output = tg
    ///     .run(async move { Ok::<_, std::io::Error>(spawner.spawn_process_output(printf)) })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(output.result().unwrap().stdout, b"42");
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn spawn_process_output(&self, command: impl Into<Command>) -> Task<Output> {
        spawn_process(&self.shared, command.into(), Capture::Output, |o| o)
    }
}
