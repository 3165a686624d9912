//! The tutorial's "Parallel API fetcher": users, posts and comments 1..3 fetched in parallel in
//! one task group, each a blocking HTTP request run as a blocking child of the group
//! (`tg.spawn_blocking`, on tokio's blocking pool: Python's `loop.run_in_executor`).
//!
//! ```text
//! cargo run --example parallel_api_fetcher                      # from a local sample server
//! cargo run --example parallel_api_fetcher -- --base-url URL    # from URL/users/1 ...
//! ```
//!
//! By default the program starts its own HTTP server on 127.0.0.1 (a free port), serving
//! sample records in the shape of JSONPlaceholder's, and stops it when the fetches are done:
//! the server is a child of the program's outer task group, cancelled at the end.
//!
//! Every failed request is reported (`policy = wait_all`: one failure does not cancel the other
//! requests), each naming its URL, and the exit code is then 1. Bad arguments exit with 2.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use taskgroup::{ErrorGroup, Member, Ready, Task, task_group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "\
usage: parallel_api_fetcher [--base-url URL]

Fetches users, posts and comments 1..3 in parallel and prints them.

  --base-url URL   fetch URL/users/1, URL/posts/1, ... (http:// only); by default the
                   program serves sample data itself on 127.0.0.1
  -h, --help       print this message";

/// Every request gives up after this long, as the tutorial's `urlopen(url, timeout=5)`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Fetching

/// A request that failed: the URL and why.
#[derive(Debug, thiserror::Error)]
#[error("Failed to fetch {url}: {reason}")]
struct FetchError {
    url: String,
    reason: String,
}

impl FetchError {
    fn new(url: &str, reason: impl fmt::Display) -> Self {
        FetchError {
            url: url.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// One blocking GET, parsed as JSON. Runs on the blocking pool, never on the async workers.
fn fetch_json_data(url: &str) -> Result<Value, FetchError> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        // Statuses are reported below with their reason phrase; no proxy from the environment.
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Io(e) => FetchError::new(url, e),
        e => FetchError::new(url, e),
    })?;
    let status = response.status();
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        let message = format!("HTTP Error {}: {reason}", status.as_u16());
        return Err(FetchError::new(url, message.trim_end_matches([':', ' '])));
    }
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| FetchError::new(url, e))?;
    serde_json::from_str(&body).map_err(|e| FetchError::new(url, format_args!("bad JSON: {e}")))
}

struct UserData {
    user_id: u32,
    name: Value,
}

struct PostData {
    post_id: u32,
    title: Value,
}

struct CommentData {
    comment_id: u32,
    body: String,
}

fn get_user_data(base: &str, user_id: u32) -> Result<UserData, FetchError> {
    let data = fetch_json_data(&format!("{base}/users/{user_id}"))?;
    let name = data.get("name").cloned().unwrap_or(Value::Null);
    Ok(UserData { user_id, name })
}

fn get_post_data(base: &str, post_id: u32) -> Result<PostData, FetchError> {
    let data = fetch_json_data(&format!("{base}/posts/{post_id}"))?;
    let title = data.get("title").cloned().unwrap_or(Value::Null);
    Ok(PostData { post_id, title })
}

fn get_comment_data(base: &str, comment_id: u32) -> Result<CommentData, FetchError> {
    let url = format!("{base}/comments/{comment_id}");
    let data = fetch_json_data(&url)?;
    // Python's `data.get("body")[:50]`: the first 50 characters.
    let body = match data.get("body") {
        Some(Value::String(body)) => body.chars().take(50).collect(),
        _ => return Err(FetchError::new(&url, "no \"body\" string in the response")),
    };
    Ok(CommentData { comment_id, body })
}

/// Fetches everything in one group and prints it; returns the exit code.
async fn fetch_and_print(base: Arc<str>) -> ExitCode {
    println!("Starting parallel API fetches...");
    // wait_all: a failed request does not cancel the others, so every failure is reported.
    // Each request blocks a thread of tokio's blocking pool, never an async worker.
    let fetched = task_group!(policy = wait_all; |tg| {
        let users: Vec<Task<UserData>> = (1..=3)
            .map(|i| {
                let base = base.clone();
                tg.spawn_blocking(move || get_user_data(&base, i))
            })
            .collect();
        let posts: Vec<Task<PostData>> = (1..=3)
            .map(|i| {
                let base = base.clone();
                tg.spawn_blocking(move || get_post_data(&base, i))
            })
            .collect();
        let comments: Vec<Task<CommentData>> = (1..=3)
            .map(|i| {
                let base = base.clone();
                tg.spawn_blocking(move || get_comment_data(&base, i))
            })
            .collect();
        (users, posts, comments)
    });
    match fetched {
        Ok((users, posts, comments)) => {
            print_results("Users fetched:", users);
            print_results("Posts fetched:", posts);
            print_results("Comments fetched:", comments);
            ExitCode::SUCCESS
        }
        Err(eg) => {
            print_errors(&eg);
            ExitCode::FAILURE
        }
    }
}

fn print_results<T: fmt::Display>(heading: &str, tasks: Vec<Task<T>>) {
    println!("\n{heading}");
    for task in tasks {
        match task.result() {
            Ok(value) => println!("  {value}"),
            // Unreachable after a successful scope; printed rather than trusted.
            Err(why) => println!("  {why}"),
        }
    }
}

fn print_errors(eg: &ErrorGroup) {
    println!("Errors occurred during fetching:");
    for exc in eg.leaves() {
        println!("  {exc}");
    }
}

// ---------------------------------------------------------------------------------------------
// Printing as Python prints a dict

impl fmt::Display for UserData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{'user_id': {}, 'name': {}}}",
            self.user_id,
            py_repr(&self.name)
        )
    }
}

impl fmt::Display for PostData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{'post_id': {}, 'title': {}}}",
            self.post_id,
            py_repr(&self.title)
        )
    }
}

impl fmt::Display for CommentData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = py_str(&self.body);
        write!(f, "{{'comment_id': {}, 'body': {body}}}", self.comment_id)
    }
}

/// A JSON value as Python's `repr` prints what `json.loads` made of it.
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A string as Python's `repr` prints it: single quotes unless only double quotes avoid escapes.
fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c < ' ' || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

// ---------------------------------------------------------------------------------------------
// The sample server

/// The record at `path`: sample data modelled on JSONPlaceholder's first records.
fn sample_record(path: &str) -> Option<Value> {
    let (kind, id) = path.trim_start_matches('/').split_once('/')?;
    let id: u32 = id.parse().ok()?;
    let record = match (kind, id) {
        ("users", 1) => json!({"id": 1, "name": "Leanne Graham", "username": "Bret",
                               "email": "Sincere@april.biz"}),
        ("users", 2) => json!({"id": 2, "name": "Ervin Howell", "username": "Antonette",
                               "email": "Shanna@melissa.tv"}),
        ("users", 3) => json!({"id": 3, "name": "Clementine Bauch", "username": "Samantha",
                               "email": "Nathan@yesenia.net"}),
        ("posts", 1) => json!({"userId": 1, "id": 1,
            "title": "sunt aut facere repellat provident occaecati excepturi optio reprehenderit",
            "body": "quia et suscipit\nsuscipit recusandae consequuntur expedita et cum\nreprehenderit molestiae ut ut quas totam\nnostrum rerum est autem sunt rem eveniet architecto"}),
        ("posts", 2) => json!({"userId": 1, "id": 2, "title": "qui est esse",
            "body": "est rerum tempore vitae\nsequi sint nihil reprehenderit dolor beatae ea dolores neque\nfugiat blanditiis voluptate porro vel nihil molestiae ut reiciendis\nqui aperiam non debitis possimus qui neque nisi nulla"}),
        ("posts", 3) => json!({"userId": 1, "id": 3,
            "title": "ea molestias quasi exercitationem repellat qui ipsa sit aut",
            "body": "et iusto sed quo iure\nvoluptatem occaecati omnis eligendi aut ad\nvoluptatem doloribus vel accusantium quis pariatur\nmolestiae porro eius odio et labore et velit aut"}),
        ("comments", 1) => json!({"postId": 1, "id": 1, "name": "id labore ex et quam laborum",
            "email": "Eliseo@gardner.biz",
            "body": "laudantium enim quasi est quidem magnam voluptate ipsam eos\ntempora quo necessitatibus\ndolor quam autem quasi\nreiciendis et nam sapiente accusantium"}),
        ("comments", 2) => json!({"postId": 1, "id": 2,
            "name": "quo vero reiciendis velit similique earum", "email": "Jayne_Kuhic@sydney.com",
            "body": "est natus enim nihil est dolore omnis voluptatem numquam\net omnis occaecati quod ullam at\nvoluptatem error expedita pariatur\nnihil sint nostrum voluptatem reiciendis et"}),
        ("comments", 3) => json!({"postId": 1, "id": 3, "name": "odio adipisci rerum aut animi",
            "email": "Nikita@garfield.biz",
            "body": "quia molestiae reprehenderit quasi aspernatur\naut expedita occaecati aliquam eveniet laudantium\nomnis quibusdam delectus saepe quia accusamus maiores nam est\ncum et ducimus et vero voluptates excepturi deleniti ratione"}),
        _ => return None,
    };
    Some(record)
}

/// Binds 127.0.0.1 on a free port, reports the address through `ready`, then serves until
/// cancelled. Each connection is answered by a child of the server's own group, so cancelling
/// the server cancels the connections it is still answering.
async fn serve_on_loopback(ready: Ready<SocketAddr>) -> Result<(), Member> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    ready.started(listener.local_addr()?);
    // The accept loop never ends by itself: only by an error or by cancellation.
    let () = task_group!(|connections| {
        loop {
            let (stream, _) = listener.accept().await?;
            connections.spawn(answer(stream));
        }
    })?;
    Ok(())
}

/// Answers one request: `GET /kind/id` with the record, anything else with 404. A connection
/// that goes wrong is dropped, without failing the server.
async fn answer(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    // Read the request head, at most 8 KiB.
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let mut words = head.split_whitespace();
    let record = match (words.next(), words.next()) {
        (Some("GET"), Some(path)) => sample_record(path),
        _ => None,
    };
    let (status, body) = match record {
        Some(record) => ("200 OK", record.to_string()),
        None => ("404 Not Found", "{}".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Command line

/// Where to fetch from: `Some(url)` from `--base-url`, `None` for the local sample server.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut base_url = None;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--base-url" => args
                .next()
                .ok_or_else(|| "--base-url needs a URL".to_owned())?,
            other => match other.strip_prefix("--base-url=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        };
        if base_url.is_some() {
            return Err("--base-url given twice".to_owned());
        }
        let rest = value.strip_prefix("http://").unwrap_or("");
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!(
                "`{value}` is not an http:// URL with a host (https is not supported)"
            ));
        }
        base_url = Some(value.trim_end_matches('/').to_owned());
    }
    Ok(base_url)
}

#[tokio::main]
async fn main() -> ExitCode {
    // Arguments that are not UTF-8 are refused like any other bad argument, not a panic.
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let parsed = match args {
        Ok(args) if args.iter().any(|a| a == "-h" || a == "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) => parse_args(args.into_iter()),
        Err(arg) => Err(format!("argument {arg:?} is not UTF-8")),
    };
    let base_url = match parsed {
        Ok(base_url) => base_url,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(base_url) = base_url {
        return fetch_and_print(base_url.into()).await;
    }

    // The sample server runs beside the fetches, in one group, and is cancelled when they end.
    let outcome = task_group!(|program| {
        // Trio's `start`: wait until the server has bound its port, and learn which.
        let addr = program.start(serve_on_loopback).await?;
        let code = fetch_and_print(format!("http://{addr}").into()).await;
        program.cancel(); // stops the server; the scope still returns `code`
        code
    });
    match outcome {
        Ok(code) => code,
        Err(eg) => {
            eprintln!("error: the sample server failed:\n{eg:#}");
            ExitCode::FAILURE
        }
    }
}
