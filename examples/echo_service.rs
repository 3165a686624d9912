//! A line-based TCP service in one task group, with a graceful shutdown, and the clients that
//! drive it in the same process.
//!
//! ```text
//! cargo run --example echo_service                 # serve for 1 s, then shut down
//! cargo run --example echo_service -- --for 2.5    # serve for 2.5 s
//! ```
//!
//! What it shows:
//!
//! - **`tg.start(|ready| ...)`** (Trio's `start`): the listener is a child of the group. It binds
//!   127.0.0.1 on a free port and hands the bound address to the body through
//!   `ready.started(addr)`; `start` returns only then, so the clients never connect too early.
//! - **A [`Spawner`]**: the listener spawns one child per connection into the same group, so no
//!   connection outlives the service and the group's scope waits for all of them.
//! - **A graceful shutdown with `grace = ...`**: after `--for SECS` the body calls
//!   `tg.cancel()`. With a grace period that first cancels the group's token
//!   ([`Spawner::token`]): the listener stops accepting, and each connection handler finishes
//!   the line it is in the middle of, says goodbye and closes. What is still running when the
//!   grace period ends (here a client that stalled in the middle of a line) is aborted. The
//!   body too runs on during the grace period, so its clients hear the server out.
//! - **[`on_cancel`]**: a handler counts itself as aborted only when it is dropped unfinished.
//!
//! The protocol: every line the client sends comes back in upper case; at shutdown the server
//! sends `server shutting down, goodbye` and closes. Six clients take part: three send their
//! lines at once and close; one is idle at shutdown, one is in the middle of a line (it hears
//! its reply, then the goodbye) and one stalls in the middle of a line (the server aborts it).
//! Everything printed is deterministic: no port, no timing.
//!
//! Exit status: 0, 1 if the service or a client failed (the error group is printed), 2 for bad
//! arguments. No Ctrl-C handling: that needs tokio's `signal` feature, which this workspace
//! does not enable; the service stops after `--for SECS`.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskgroup::{CancellationToken, Ready, Spawner, on_cancel, task_group};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep_until};

const USAGE: &str = "\
usage: echo_service [--for SECS]

Runs a line-based upper-casing TCP server on 127.0.0.1 (a free port) and six clients against
it, then shuts the server down gracefully.

  --for SECS   serve for SECS seconds before the shutdown (default 1; fractions allowed)
  -h, --help   print this message";

/// How long the server serves by default.
const DEFAULT_SERVE_FOR: Duration = Duration::from_secs(1);

/// After the shutdown signal, how long handlers have to say goodbye before they are aborted.
const GRACE: Duration = Duration::from_millis(200);

/// The shutdown never comes sooner than this after the last client has set itself up, so that
/// the server has seen every byte the clients sent: the summary is the same on every run.
const SETTLE: Duration = Duration::from_millis(100);

/// The longest `--for` accepted: a day.
const MAX_SERVE_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// What the server says, on its own line, before it closes a connection at shutdown.
const GOODBYE: &str = "server shutting down, goodbye";

// ---------------------------------------------------------------------------------------------
// The server

/// What the server did, counted by its connection handlers.
#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    lines: AtomicUsize,
    closed_by_client: AtomicUsize,
    said_goodbye: AtomicUsize,
    aborted: AtomicUsize,
    failed: AtomicUsize,
}

impl Stats {
    fn bump(counter: &AtomicUsize) -> usize {
        counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// The listener: binds a free port on loopback, reports its address through `ready`, then
/// accepts connections until the group's token is cancelled, spawning one child per
/// connection into the group. An accept error fails the service (and so cancels the group).
async fn listen(
    ready: Ready<SocketAddr>,
    connections: Spawner,
    stats: Arc<Stats>,
) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    ready.started(listener.local_addr()?);
    let shutdown = connections.token();
    loop {
        let (stream, _) = tokio::select! {
            biased;
            // Stop accepting; the listening socket closes when this child returns.
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        let n = Stats::bump(&stats.accepted);
        let handler = serve(stream, shutdown.clone(), Arc::clone(&stats));
        connections.spawn_named(format!("connection {n}"), handler);
    }
}

/// How a conversation ended.
enum Ended {
    /// The client closed the connection.
    ByClient,
    /// The server shut down and said goodbye first.
    Goodbye,
}

/// One connection's handler. It never fails the group: a connection that goes wrong is
/// counted and closed, and the service goes on.
async fn serve(stream: TcpStream, shutdown: CancellationToken, stats: Arc<Stats>) {
    let counted = Arc::clone(&stats);
    // Dropped unfinished: the grace period ended while it waited for the rest of a line.
    let aborted = move || {
        Stats::bump(&counted.aborted);
    };
    match on_cancel(converse(stream, shutdown, &stats), aborted).await {
        Ok(Ended::ByClient) => Stats::bump(&stats.closed_by_client),
        Ok(Ended::Goodbye) => Stats::bump(&stats.said_goodbye),
        Err(_) => Stats::bump(&stats.failed),
    };
}

/// Answers each line in upper case. Between lines it watches the shutdown token; once a line
/// has begun it finishes it, shutdown or not.
async fn converse(
    mut stream: TcpStream,
    shutdown: CancellationToken,
    stats: &Stats,
) -> io::Result<Ended> {
    let (read, mut write) = stream.split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                write.write_all(format!("{GOODBYE}\n").as_bytes()).await?;
                write.shutdown().await?;
                return Ok(Ended::Goodbye);
            }
            // `fill_buf` consumes nothing, so losing the race to the token loses no data.
            buffered = read.fill_buf() => {
                if buffered?.is_empty() {
                    return Ok(Ended::ByClient);
                }
            }
        }
        // A line has begun: read it to its end (or to the client's end of the stream).
        line.clear();
        read.read_until(b'\n', &mut line).await?;
        let text = String::from_utf8_lossy(&line);
        let reply = text.trim_end_matches(['\r', '\n']).to_uppercase();
        write.write_all(format!("{reply}\n").as_bytes()).await?;
        Stats::bump(&stats.lines);
    }
}

// ---------------------------------------------------------------------------------------------
// The clients

/// A client saw something it did not expect.
#[derive(Debug, thiserror::Error)]
enum ClientError {
    #[error("client {client}: {source}")]
    Io {
        client: usize,
        #[source]
        source: io::Error,
    },
    #[error("client {client}: expected {expected:?}, got {got:?}")]
    Unexpected {
        client: usize,
        expected: String,
        got: Option<String>,
    },
}

/// One client connection, reading the server's replies line by line.
struct Client {
    id: usize,
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(id: usize, addr: SocketAddr) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr).await;
        let stream = stream.map_err(|source| ClientError::Io { client: id, source })?;
        Ok(Client {
            id,
            stream: BufReader::new(stream),
        })
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            client: self.id,
            source,
        }
    }

    /// Sends raw text: a line, part of one, or the rest of one.
    async fn send(&mut self, text: &str) -> Result<(), ClientError> {
        let sent = self.stream.get_mut().write_all(text.as_bytes()).await;
        sent.map_err(|e| self.io(e))
    }

    /// The next line from the server, without its newline; `None` when the server closed.
    async fn line(&mut self) -> Result<Option<String>, ClientError> {
        let mut line = Vec::new();
        let read = self.stream.read_until(b'\n', &mut line).await;
        if read.map_err(|e| self.io(e))? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// Expects `expected` as the next line from the server (`None`: the end of the stream).
    async fn expect(&mut self, expected: Option<&str>) -> Result<(), ClientError> {
        let got = self.line().await?;
        if got.as_deref() == expected {
            return Ok(());
        }
        Err(ClientError::Unexpected {
            client: self.id,
            expected: expected.unwrap_or("the end of the stream").to_owned(),
            got,
        })
    }

    /// Sends one line and checks the reply.
    async fn ask(&mut self, line: &str) -> Result<(), ClientError> {
        self.send(&format!("{line}\n")).await?;
        self.expect(Some(&line.to_uppercase())).await
    }
}

/// A short-lived client: sends its lines, checks every reply, closes. Returns how many lines.
async fn quick_client(id: usize, addr: SocketAddr) -> Result<usize, ClientError> {
    let lines = [
        format!("hello from client {id}"),
        "structured concurrency".to_owned(),
        format!("bye from client {id}"),
    ];
    let mut client = Client::connect(id, addr).await?;
    for line in &lines {
        client.ask(line).await?;
    }
    Ok(lines.len())
}

// ---------------------------------------------------------------------------------------------
// The service and its clients, in one group

/// Runs the server and the clients; returns the exit code.
async fn run(serve_for: Duration) -> ExitCode {
    let stats = Arc::new(Stats::default());
    let outcome = task_group!(grace = GRACE, name = "echo service"; |tg| {
        let connections = tg.spawner();
        let server_stats = Arc::clone(&stats);
        let addr = tg
            .start(move |ready| listen(ready, connections, server_stats))
            .await?;
        println!("server listening on 127.0.0.1 (a free port)");
        let deadline = Instant::now() + serve_for;

        // Three clients at once, in a nested group: any client's failure fails it.
        let quick = task_group!(|clients| {
            (1..=3)
                .map(|id| clients.spawn_named(format!("client {id}"), quick_client(id, addr)))
                .collect::<Vec<_>>()
        })?;
        for (id, client) in (1..).zip(quick) {
            println!("client {id}: ok ({} lines)", client.result()?);
        }

        // Three clients still connected at the shutdown.
        let mut idle = Client::connect(4, addr).await?;
        idle.ask("ping").await?;
        println!("client 4: connected, idle");
        let mut midline = Client::connect(5, addr).await?;
        midline.ask("ping").await?;
        midline.send("finish this li").await?;
        println!("client 5: connected, in the middle of a line");
        let mut stalled = Client::connect(6, addr).await?;
        stalled.ask("ping").await?;
        stalled.send("this line never e").await?;
        println!("client 6: connected, stalled in the middle of a line");

        sleep_until(deadline.max(Instant::now() + SETTLE)).await;
        println!("shutdown: cancelling the group, {} ms of grace", GRACE.as_millis());
        tg.cancel();

        // The body runs on during the grace period: clients 4 and 5 hear the server out.
        idle.expect(Some(GOODBYE)).await?;
        idle.expect(None).await?;
        println!("client 4: the server said goodbye and closed");
        midline.send("ne\n").await?;
        midline.expect(Some("FINISH THIS LINE")).await?;
        midline.expect(Some(GOODBYE)).await?;
        midline.expect(None).await?;
        println!("client 5: got its line back, then the goodbye");
        // Client 6 stays open until the scope has returned, so its handler cannot finish:
        // the group aborts it when the grace period ends.
        stalled
    });
    let mut stalled = match outcome {
        Ok(stalled) => stalled,
        Err(eg) => {
            eprintln!("error: the echo service failed:\n{eg:#}");
            return ExitCode::FAILURE;
        }
    };
    match stalled.line().await {
        Ok(None) | Err(_) => println!("client 6: the server closed the connection, no goodbye"),
        Ok(Some(line)) => {
            eprintln!("error: client 6 got {line:?} from an aborted handler");
            return ExitCode::FAILURE;
        }
    }

    let count = |counter: &AtomicUsize| Stats::get(counter);
    println!(
        "server: {} connections, {} lines answered",
        count(&stats.accepted),
        count(&stats.lines)
    );
    println!(
        "shutdown: {} closed by their clients, {} closed gracefully, {} aborted after the grace period",
        count(&stats.closed_by_client),
        count(&stats.said_goodbye),
        count(&stats.aborted)
    );
    let failed = count(&stats.failed);
    if failed > 0 {
        eprintln!("error: {failed} connections failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// Command line

/// What the command line asks for.
enum Command {
    Run { serve_for: Duration },
    Help,
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("--for: `{value}` is not a number of seconds"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(duration) if duration <= MAX_SERVE_FOR => Ok(duration),
        _ => Err(format!(
            "--for: `{value}` is out of range (0 to {} seconds)",
            MAX_SERVE_FOR.as_secs()
        )),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut serve_for = None;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--for" => args
                .next()
                .ok_or_else(|| "--for needs a number of seconds".to_owned())?,
            other => match other.strip_prefix("--for=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        };
        if serve_for.replace(parse_seconds(&value)?).is_some() {
            return Err("--for given twice".to_owned());
        }
    }
    Ok(Command::Run {
        serve_for: serve_for.unwrap_or(DEFAULT_SERVE_FOR),
    })
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
        Ok(Command::Run { serve_for }) => run(serve_for).await,
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
