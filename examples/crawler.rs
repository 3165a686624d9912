//! A crawler that fetches 200 pages from a loopback HTTP server it runs itself, keeps every
//! page that came back, and takes the failures apart by variant of one error enum.
//!
//! ```text
//! cargo run --example crawler                 # 200 pages, 16 at a time
//! cargo run --example crawler -- --pages 20
//! ```
//!
//! What it shows:
//!
//! - **Partial results with `run_settled`**: the crawl is one group with `policy = wait_all`
//!   (every page is fetched, whatever the others do), `limit = 16` (at most 16 requests in
//!   flight; the other spawns queue without blocking the body) and an overall timeout that a
//!   normal run never reaches. [`TaskGroup::run_settled`] gives back the body's value (one
//!   handle per page) beside the failures, so the pages that came back are kept even though
//!   others failed. (`task_group!` gives the body's value only when nothing failed.)
//! - **One `thiserror` enum, taken apart by variant**: every failure is a [`FetchError`].
//!   `#[except_star(...)]` handlers with patterns on its variants take the server errors
//!   (`FetchError::Status { code: 500..=599, .. }`), the timeouts and the bad JSON in turn;
//!   `except* FetchError` takes what is left (here the 404s). They run over the settled
//!   failures with [`ExceptStar`], under PEP 654's rules: each leaf goes to the first handler
//!   that matches it.
//! - **A server in the same structured scope**: the HTTP server is a child of an outer group,
//!   started with `tg.start(|ready| ...)` (it hands its bound address to the body); each
//!   connection is a child spawned through a [`Spawner`]. When the crawl is done the body
//!   cancels the outer group, which aborts the handlers still sleeping on slow pages: nothing
//!   outlives the scope.
//!
//! The server and the client are minimal HTTP/1.1 over raw tokio TCP: one `GET` per
//! connection, `Content-Length` bodies, `Connection: close`. What each page does is decided by
//! a tiny deterministic generator (SplitMix64) seeded from the page number: its latency (up to
//! 40 ms), and whether it answers 200 with a JSON record, 500/502/503, 404, bad JSON (cut off,
//! or without its title) or sleeps far past the per-request timeout (ten times it). So the
//! summary printed is the same on every run, on a loaded machine too: a normal page answers
//! 50 times faster than the timeout, and a slow one never answers.
//!
//! Exit status: 0 when the crawl finished and every failure was handled (failed pages are
//! reported, not fatal), 1 if something else went wrong (the server failed, the overall
//! timeout fired; the error group is printed), 2 for bad arguments.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskgroup::{
    ErrorGroup, ExceptStar, Outcome, Policy, Ready, Settled, Spawner, Task, TaskGroup, except_star,
    task_group,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout};

const USAGE: &str = "\
usage: crawler [--pages N]

Starts an HTTP server on 127.0.0.1 (a free port) whose pages are slow, fail or answer bad JSON
at random (the same pages on every run), crawls it 16 pages at a time, and prints what came
back and what failed, by kind.

  --pages N    how many pages to fetch (default 200, at most 1000)
  -h, --help   print this message";

/// How many pages by default, and at most.
const DEFAULT_PAGES: u32 = 200;
const MAX_PAGES: u32 = 1000;

/// At most this many requests in flight.
const LIMIT: usize = 16;

/// Each request (connect, send, read the answer) gets this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A slow page answers only after this long: never, for the crawler.
const SLOW: Duration = Duration::from_secs(20);

/// The longest latency of a normal page, in milliseconds: far below the timeout.
const MAX_LATENCY_MS: u64 = 40;

/// The whole crawl gets this long. A normal run of 1000 pages takes a few seconds.
const CRAWL_TIMEOUT: Duration = Duration::from_secs(45);

/// How many titles the summary shows, and how many bad-JSON messages.
const TITLES_SHOWN: usize = 3;
const ERRORS_SHOWN: usize = 4;

// ---------------------------------------------------------------------------------------------
// What each page does, decided by a seeded generator

/// SplitMix64: a tiny deterministic generator; one per page, seeded from its number.
struct Rng(u64);

impl Rng {
    fn for_page(page: u32) -> Rng {
        Rng(0x5EED_C4A7_1E50_F00D ^ u64::from(page).wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How the server answers one page.
enum Answer {
    /// 200 with this JSON body.
    Json(String),
    /// This status, with a short text body.
    Status(u16),
    /// Nothing until long after the client gave up.
    Slow,
}

/// What the server does for `page`: the latency, then the answer.
fn plan(page: u32) -> (Duration, Answer) {
    const WORDS: [&str; 16] = [
        "quiet",
        "river",
        "notes",
        "on",
        "structured",
        "concurrency",
        "lost",
        "tasks",
        "and",
        "found",
        "groups",
        "every",
        "failure",
        "counted",
        "twice",
        "cancelled",
    ];
    let mut rng = Rng::for_page(page);
    let latency = Duration::from_millis(rng.below(MAX_LATENCY_MS + 1));
    let mut words: Vec<&str> = (0..3).map(|_| WORDS[rng.below(16) as usize]).collect();
    let capital = words[0][..1].to_uppercase() + &words[0][1..];
    words[0] = &capital;
    let title = words.join(" ");
    let links = rng.below(30) as u32;
    let record = serde_json::json!({ "page": page, "title": title, "links": links }).to_string();
    let answer = match rng.below(100) {
        0..=5 => Answer::Status([500, 502, 503][rng.below(3) as usize]),
        6..=9 => Answer::Status(404),
        10..=13 => Answer::Slow,
        // Cut off in the middle: the parser fails.
        14..=15 => Answer::Json(record[..record.len() / 2].to_owned()),
        // Valid JSON without its title.
        16..=17 => Answer::Json(serde_json::json!({ "page": page, "links": links }).to_string()),
        _ => Answer::Json(record),
    };
    (latency, answer)
}

// ---------------------------------------------------------------------------------------------
// The server

/// The listener: binds a free port on loopback, reports its address through `ready`, then
/// accepts connections for as long as the group runs, one child per connection.
async fn listen(ready: Ready<SocketAddr>, connections: Spawner) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    ready.started(listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        connections.spawn(serve(stream));
    }
}

/// One connection: reads a `GET /pages/N` request and answers it. It never fails the group:
/// a client that went away (it timed out) is simply not answered.
async fn serve(stream: TcpStream) {
    let _ = answer(stream).await;
}

async fn answer(mut stream: TcpStream) -> io::Result<()> {
    let (read, mut write) = stream.split();
    // No request line or header is longer than this; a client that sends more is cut off.
    let mut read = BufReader::new(read.take(8 * 1024));
    let mut request_line = String::new();
    read.read_line(&mut request_line).await?;
    loop {
        let mut header = String::new();
        if read.read_line(&mut header).await? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let page = match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) => path.strip_prefix("/pages/").and_then(|n| n.parse().ok()),
        _ => None,
    };
    let (latency, answer) = match page {
        Some(page) => plan(page),
        None => (Duration::ZERO, Answer::Status(404)),
    };
    sleep(latency).await;
    let (status, body) = match answer {
        Answer::Json(body) => ("200 OK", body),
        Answer::Status(404) => ("404 Not Found", "not found".to_owned()),
        Answer::Status(500) => ("500 Internal Server Error", "oops".to_owned()),
        Answer::Status(502) => ("502 Bad Gateway", "upstream failed".to_owned()),
        Answer::Status(_) => ("503 Service Unavailable", "busy".to_owned()),
        Answer::Slow => {
            sleep(SLOW).await;
            ("200 OK", "{}".to_owned())
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    write.write_all(response.as_bytes()).await?;
    write.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// The client and its one error type

/// Why a page was not fetched: one enum, which `except*` patterns take apart by variant.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    /// No answer within [`REQUEST_TIMEOUT`].
    #[error("page {page}: no answer within {} ms", REQUEST_TIMEOUT.as_millis())]
    Timeout { page: u32 },
    /// The server answered with a status other than 200.
    #[error("page {page}: HTTP {code}")]
    Status { page: u32, code: u16 },
    /// The body is not the JSON record expected.
    #[error("page {page}: bad JSON: {reason}")]
    BadJson { page: u32, reason: String },
    /// The connection failed, or the answer was not HTTP.
    #[error("page {page}: {source}")]
    Io {
        page: u32,
        #[source]
        source: io::Error,
    },
}

impl FetchError {
    fn page(&self) -> u32 {
        match self {
            FetchError::Timeout { page }
            | FetchError::Status { page, .. }
            | FetchError::BadJson { page, .. }
            | FetchError::Io { page, .. } => *page,
        }
    }
}

/// A page that came back.
struct Page {
    number: u32,
    title: String,
    links: u64,
}

/// Counts the requests in flight and remembers the most at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// Decrements [`InFlight::now`] when a request ends, however it ends (a timeout drops it).
struct Counted(Arc<InFlight>);

impl Counted {
    fn new(in_flight: &Arc<InFlight>) -> Counted {
        let now = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
        in_flight.most.fetch_max(now, Ordering::SeqCst);
        Counted(Arc::clone(in_flight))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Fetches one page, within [`REQUEST_TIMEOUT`].
async fn fetch(addr: SocketAddr, page: u32, in_flight: Arc<InFlight>) -> Result<Page, FetchError> {
    let _counted = Counted::new(&in_flight);
    let io = |source| FetchError::Io { page, source };
    let (code, body) = timeout(REQUEST_TIMEOUT, get(addr, &format!("/pages/{page}")))
        .await
        .map_err(|_| FetchError::Timeout { page })?
        .map_err(io)?;
    if code != 200 {
        return Err(FetchError::Status { page, code });
    }
    parse(page, &body)
}

/// One `GET`: the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut read = BufReader::new(stream);
    let mut status_line = String::new();
    read.read_line(&mut status_line).await?;
    let code = match status_line.split_whitespace().collect::<Vec<_>>()[..] {
        ["HTTP/1.1", code, ..] => code.parse::<u16>().ok(),
        _ => None,
    };
    let code = code.ok_or_else(|| bad(format!("not an HTTP answer: {status_line:?}")))?;
    let mut length = None;
    loop {
        let mut header = String::new();
        if read.read_line(&mut header).await? == 0 || header == "\r\n" {
            break;
        }
        match header.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                length = value.trim().parse::<usize>().ok();
            }
            _ => {}
        }
    }
    let length = length.ok_or_else(|| bad("no Content-Length".to_owned()))?;
    if length > 1 << 20 {
        return Err(bad(format!("a body of {length} bytes")));
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await?;
    Ok((code, body))
}

/// Reads the page's JSON record: `{"page": N, "title": "...", "links": K}`.
fn parse(page: u32, body: &[u8]) -> Result<Page, FetchError> {
    let bad = |reason: String| FetchError::BadJson { page, reason };
    let record: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    if record["page"].as_u64() != Some(u64::from(page)) {
        return Err(bad(format!("the record is not page {page}")));
    }
    let title = record["title"].as_str();
    let title = title.ok_or_else(|| bad("no \"title\" string".to_owned()))?;
    let links = record["links"].as_u64();
    let links = links.ok_or_else(|| bad("no \"links\" number".to_owned()))?;
    Ok(Page {
        number: page,
        title: title.to_owned(),
        links,
    })
}

// ---------------------------------------------------------------------------------------------
// The handlers: the failures, taken apart by variant

/// The errors of a handler's group, at every depth, in page order (they arrive in completion
/// order, which varies from run to run).
fn by_page(eg: &ErrorGroup<FetchError>) -> Vec<&FetchError> {
    let mut errors: Vec<&FetchError> = eg
        .leaves()
        .filter_map(|leaf| leaf.downcast_ref::<FetchError>())
        .collect();
    errors.sort_by_key(|e| e.page());
    errors
}

/// `3 pages: 7, 10, 47`.
fn pages(errors: &[&FetchError]) -> String {
    let numbers: Vec<String> = errors.iter().map(|e| e.page().to_string()).collect();
    format!("{}: {}", plural(errors.len(), "page"), numbers.join(", "))
}

/// `2 x HTTP 502, 1 x HTTP 503`: how many of each kind, in the order of the kinds.
fn tally(mut kinds: Vec<String>) -> String {
    kinds.sort();
    let mut counted: Vec<(String, usize)> = Vec::new();
    for kind in kinds {
        match counted.last_mut() {
            Some((last, n)) if *last == kind => *n += 1,
            _ => counted.push((kind, 1)),
        }
    }
    let counted: Vec<String> = counted.iter().map(|(k, n)| format!("{n} x {k}")).collect();
    counted.join(", ")
}

/// `HTTP 404`, `timeout`: what kind of failure, for a tally.
fn kind(error: &FetchError) -> String {
    match error {
        FetchError::Status { code, .. } => format!("HTTP {code}"),
        FetchError::Timeout { .. } => "timeout".to_owned(),
        FetchError::BadJson { .. } => "bad JSON".to_owned(),
        FetchError::Io { .. } => "I/O error".to_owned(),
    }
}

#[except_star(FetchError::Status { code: 500..=599, .. })]
async fn on_server_error(eg: ErrorGroup<FetchError>) {
    let errors = by_page(&eg);
    let kinds = errors.iter().map(|e| kind(e)).collect();
    println!(
        "  server errors ({}), worth a retry: {}",
        tally(kinds),
        pages(&errors)
    );
}

#[except_star(FetchError::Timeout { .. })]
async fn on_timeout(eg: ErrorGroup<FetchError>) {
    let errors = by_page(&eg);
    let ms = REQUEST_TIMEOUT.as_millis();
    println!("  timeouts (no answer within {ms} ms): {}", pages(&errors));
}

#[except_star(FetchError::BadJson { .. })]
async fn on_bad_json(eg: ErrorGroup<FetchError>) {
    let errors = by_page(&eg);
    println!("  bad JSON: {}", pages(&errors));
    for error in errors.iter().take(ERRORS_SHOWN) {
        println!("    {error}");
    }
    if errors.len() > ERRORS_SHOWN {
        println!("    and {} more", errors.len() - ERRORS_SHOWN);
    }
}

/// What the handlers before left of the type: here the 404s (and I/O errors, if any).
#[except_star(FetchError)]
async fn on_other(eg: ErrorGroup<FetchError>) {
    let errors = by_page(&eg);
    let kinds = errors.iter().map(|e| kind(e)).collect();
    println!("  other failures ({}): {}", tally(kinds), pages(&errors));
}

// ---------------------------------------------------------------------------------------------
// The crawl

/// Fetches pages `1..=pages` from `addr`, at most [`LIMIT`] at once, every one of them
/// whatever the others do: one handle per page, and the failures.
async fn crawl(
    addr: SocketAddr,
    pages: u32,
    in_flight: &Arc<InFlight>,
) -> Settled<Vec<Task<Page>>> {
    let crawl = TaskGroup::builder()
        .name("crawl")
        .policy(Policy::WaitAll)
        .limit(LIMIT)
        .timeout(CRAWL_TIMEOUT)
        .build();
    crawl
        .run_settled(async {
            let tasks = (1..=pages)
                .map(|page| crawl.spawn(fetch(addr, page, Arc::clone(in_flight))))
                .collect::<Vec<_>>();
            Ok::<_, std::convert::Infallible>(tasks)
        })
        .await
}

/// Runs the server and the crawl; prints the summary; returns the exit code.
async fn run(pages: u32) -> ExitCode {
    println!(
        "crawler: {} from a loopback HTTP server, {LIMIT} at a time, {} ms per request",
        plural(pages as usize, "page"),
        REQUEST_TIMEOUT.as_millis()
    );
    let in_flight = Arc::new(InFlight::default());
    let outcome = task_group!(|tg| {
        let connections = tg.spawner();
        let addr = tg.start(move |ready| listen(ready, connections)).await?;
        let settled = crawl(addr, pages, &in_flight).await;
        // The crawl is done: stop the server and abort the handlers still sleeping on slow
        // pages (their clients gave up long ago).
        tg.cancel();
        settled
    });
    let settled = match outcome {
        Ok(settled) => settled,
        Err(eg) => {
            eprintln!("error: the server failed:\n{eg:#}");
            return ExitCode::FAILURE;
        }
    };

    // What came back: the handles are in page order.
    let fetched: Vec<Page> = settled
        .value
        .into_iter()
        .flatten()
        .filter_map(|task| task.result().ok())
        .collect();
    let most = in_flight.most.load(Ordering::SeqCst);
    let bound = if most <= LIMIT {
        format!("never more than {LIMIT} in flight")
    } else {
        format!("{most} in flight at once, more than the limit of {LIMIT}")
    };
    println!(
        "fetched {} of {pages}, {bound}",
        plural(fetched.len(), "page")
    );
    let links: u64 = fetched.iter().map(|p| p.links).sum();
    println!("  links found: {links}");
    for page in fetched.iter().take(TITLES_SHOWN) {
        println!("  page {}: {:?}", page.number, page.title);
    }

    // What failed: every failure a leaf of the settled group, taken apart by variant.
    let Some(errors) = settled.errors else {
        println!("no page failed");
        return if most <= LIMIT {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    };
    let failed = errors
        .leaves()
        .filter(|leaf| leaf.is::<FetchError>())
        .count();
    println!("failed {}:", plural(failed, "page"));
    let mut clauses = ExceptStar::new(errors);
    clauses.handle::<on_server_error>().await;
    clauses.handle::<on_timeout>().await;
    clauses.handle::<on_bad_json>().await;
    clauses.handle::<on_other>().await;
    match clauses.into_outcome::<()>() {
        Outcome::Unhandled(eg) => {
            eprintln!("error: the crawl failed:\n{eg:#}");
            ExitCode::FAILURE
        }
        _ if most > LIMIT => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}

/// `1 page`, `2 pages`.
fn plural(n: usize, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{s}")
}

// ---------------------------------------------------------------------------------------------
// Command line

/// What the command line asks for.
enum Command {
    Run { pages: u32 },
    Help,
}

fn parse_pages(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_PAGES).contains(&n) => Ok(n),
        _ => Err(format!(
            "--pages: `{value}` is not a number from 1 to {MAX_PAGES}"
        )),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut pages = None;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--pages" => args
                .next()
                .ok_or_else(|| "--pages needs a number".to_owned())?,
            other => match other.strip_prefix("--pages=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        };
        if pages.replace(parse_pages(&value)?).is_some() {
            return Err("--pages given twice".to_owned());
        }
    }
    Ok(Command::Run {
        pages: pages.unwrap_or(DEFAULT_PAGES),
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
        Ok(Command::Run { pages }) => run(pages).await,
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
