//! [`ProcessFailed`]: the leaf of a process child that failed (feature `process`; the
//! children themselves are in `group/process.rs`).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::process::ExitStatus;

/// The leaf of a process child that failed: it could not be started, it exited with a non-zero
/// status, or a signal killed it (one the group did not send). When its stderr was captured
/// ([`spawn_process_output`](crate::TaskGroup::spawn_process_output), or a command whose
/// stderr is [`Stdio::piped`](std::process::Stdio::piped)), the leaf keeps its last lines, and prints them.
///
/// ```
/// # use taskgroup_core as taskgroup;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use taskgroup::{ProcessFailed, TaskGroup};
/// use tokio::process::Command;
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo 'disk full' >&2; exit 3"]);
/// let tg = TaskGroup::new();
/// let eg = tg
///     .run(async {
///         tg.spawn_process_output(command);
///         Ok::<_, std::io::Error>(())
///     })
///     .await
///     .unwrap_err();
/// let failed = eg.leaves().next().unwrap().downcast_ref::<ProcessFailed>().unwrap();
/// assert_eq!((failed.program(), failed.code()), ("sh", Some(3)));
/// assert_eq!(failed.stderr(), Some("disk full"));
/// assert_eq!(
///     failed.to_string(),
///     "process `sh` exited with status 3; the end of its stderr:\n  disk full"
/// );
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
#[derive(Debug)]
pub struct ProcessFailed {
    program: String,
    failure: Failure,
    stderr: Option<String>,
}

#[derive(Debug)]
enum Failure {
    /// The command could not be spawned.
    NotStarted(io::Error),
    /// It ended unsuccessfully; `asked_to_stop` if the group had signalled it.
    Ended {
        status: ExitStatus,
        asked_to_stop: bool,
    },
    /// Waiting for it failed: it was killed and handed to a reaper.
    Lost(io::Error),
}

impl ProcessFailed {
    /// The command of `program` could not be spawned.
    pub(crate) fn unstarted(program: String, error: io::Error) -> Self {
        ProcessFailed {
            program,
            failure: Failure::NotStarted(error),
            stderr: None,
        }
    }

    /// It ended with `status`, not a success; `asked_to_stop` if its group had signalled it.
    pub(crate) fn ended(
        program: String,
        status: ExitStatus,
        asked_to_stop: bool,
        stderr: Option<String>,
    ) -> Self {
        ProcessFailed {
            program,
            failure: Failure::Ended {
                status,
                asked_to_stop,
            },
            stderr,
        }
    }

    /// Waiting for it failed with `error`.
    pub(crate) fn lost(program: String, error: io::Error, stderr: Option<String>) -> Self {
        ProcessFailed {
            program,
            failure: Failure::Lost(error),
            stderr,
        }
    }

    /// The program the command ran (its first word, as given to `Command::new`).
    pub fn program(&self) -> &str {
        &self.program
    }

    /// How the process ended; `None` when it never started, or could not be waited for.
    pub fn status(&self) -> Option<ExitStatus> {
        match self.failure {
            Failure::Ended { status, .. } => Some(status),
            Failure::NotStarted(_) | Failure::Lost(_) => None,
        }
    }

    /// Its exit code, when it exited (rather than being killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status().and_then(|status| status.code())
    }

    /// The signal that killed it, when one did.
    #[cfg(unix)]
    pub fn signal(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status().and_then(|status| status.signal())
    }

    /// Whether it never started: the program does not exist, is not executable, the working
    /// directory does not exist... [`io_error`](Self::io_error) says which.
    pub fn not_started(&self) -> bool {
        matches!(self.failure, Failure::NotStarted(_))
    }

    /// The I/O error that kept it from starting, or from being waited for.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.failure {
            Failure::NotStarted(error) | Failure::Lost(error) => Some(error),
            Failure::Ended { .. } => None,
        }
    }

    /// The last lines of its stderr (at most 10, from its last 4 KiB, decoded lossily, trailing
    /// whitespace trimmed), when stderr was captured and not empty.
    pub fn stderr(&self) -> Option<&str> {
        self.stderr.as_deref()
    }
}

impl fmt::Display for ProcessFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = &self.program;
        match &self.failure {
            Failure::NotStarted(error) => {
                write!(f, "process `{program}` could not be started: {error}")?;
                match error.kind() {
                    io::ErrorKind::NotFound => f.write_str(
                        "; check that the program exists (a path, or a name on PATH) and that \
                         the command's working directory exists",
                    )?,
                    io::ErrorKind::PermissionDenied => {
                        f.write_str("; check that the program is executable")?;
                    }
                    _ => {}
                }
            }
            Failure::Ended {
                status,
                asked_to_stop,
            } => {
                match (status.code(), signal_of(status)) {
                    (Some(code), _) => write!(f, "process `{program}` exited with status {code}")?,
                    (None, Some(signal)) => {
                        write!(
                            f,
                            "process `{program}` was killed by {}",
                            SignalName(signal)
                        )?;
                    }
                    (None, None) => write!(f, "process `{program}` failed: {status}")?,
                }
                if *asked_to_stop {
                    f.write_str(" after its group asked it to stop")?;
                }
            }
            Failure::Lost(error) => write!(
                f,
                "waiting for process `{program}` failed ({error}); it was killed and is \
                 reaped in the background"
            )?,
        }
        if let Some(stderr) = &self.stderr {
            f.write_str("; the end of its stderr:")?;
            for line in stderr.lines() {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl StdError for ProcessFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.io_error().map(|error| error as _)
    }
}

/// The signal that killed a process, if one did.
#[cfg(unix)]
pub(crate) fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// No signals here.
#[cfg(not(unix))]
pub(crate) fn signal_of(_: &ExitStatus) -> Option<i32> {
    None
}

/// A signal by number, with its name when it is a common one.
struct SignalName(i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(unix)]
        let name = match self.0 {
            libc::SIGHUP => Some("SIGHUP"),
            libc::SIGINT => Some("SIGINT"),
            libc::SIGQUIT => Some("SIGQUIT"),
            libc::SIGILL => Some("SIGILL"),
            libc::SIGABRT => Some("SIGABRT"),
            libc::SIGBUS => Some("SIGBUS"),
            libc::SIGFPE => Some("SIGFPE"),
            libc::SIGKILL => Some("SIGKILL"),
            libc::SIGSEGV => Some("SIGSEGV"),
            libc::SIGPIPE => Some("SIGPIPE"),
            libc::SIGTERM => Some("SIGTERM"),
            _ => None,
        };
        #[cfg(not(unix))]
        let name: Option<&str> = None;
        match name {
            Some(name) => write!(f, "signal {} ({name})", self.0),
            None => write!(f, "signal {}", self.0),
        }
    }
}
