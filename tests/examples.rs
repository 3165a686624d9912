//! Runs every example binary and checks what it prints.
//!
//! - The seed programs print exactly what CPython 3.11.7 printed (`tests/golden/`).
//! - Their `--seed-narrative` sections show what the tutorial describes.
//! - The API fetcher prints, from its own server, what CPython printed for the tutorial's
//!   program against the same records; it reports every failed request
//!   from a server that answers badly or not at all, and refuses bad arguments with exit 2.
//! - The tour runs to the end.
//!
//! The examples sleep for real (up to two seconds, as the Python programs do), so each test
//! runs its examples in parallel threads. The binaries are built once per run with
//! `cargo build --examples` (fresh binaries take cargo well under a second to confirm).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The ten seed programs; each has `tests/golden/NAME.expected.txt`.
const SEED_PROGRAMS: [&str; 10] = [
    "basic_taskgroup_patterns",
    "quick_taskgroup_example",
    "taskgroup_except_star",
    "taskgroup_exception_handling",
    "taskgroup_manual_cancel",
    "taskgroup_multiple_exceptions",
    "taskgroup_nested_errors",
    "taskgroup_nesting",
    "taskgroup_spawning_demo",
    "taskgroup_timeout",
];

/// An example that has not finished by then is hung: it is killed and the test fails.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Running examples

/// `target/<profile>`: the test executable is `target/<profile>/deps/examples-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// Builds the examples once per test run, so that no test runs a stale binary (`cargo test
/// --test examples` alone does not build examples).
fn build_examples() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--examples", "--quiet", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        if profile_dir().ends_with("release") {
            cargo.arg("--release");
        }
        match cargo.output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "`cargo build --examples` failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("cannot run cargo ({}): {e}", env!("CARGO"))),
        }
    });
    if let Err(message) = built {
        panic!("{message}");
    }
}

fn example_binary(name: &str) -> PathBuf {
    build_examples();
    let path = profile_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "example binary {} is missing: build it with `cargo build --example {name}`",
        path.display()
    );
    path
}

/// What an example did.
struct Run {
    name: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn context(&self) -> String {
        format!(
            "example `{}` ({})\n--- stdout\n{}--- stderr\n{}",
            self.name, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs one example to the end (killing it after [`EXAMPLE_TIMEOUT`]).
fn run_example(name: &str, args: &[&str]) -> Run {
    run_example_os(name, args.iter().map(OsString::from).collect())
}

fn run_example_os(name: &str, args: Vec<OsString>) -> Run {
    let path = example_binary(name);
    let mut child = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // The example's stdout closes when it exits.
    let stdout = match rx.recv_timeout(EXAMPLE_TIMEOUT) {
        Ok(text) => text,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example `{name}` did not finish within {EXAMPLE_TIMEOUT:?}; killed it");
        }
    };
    let status = child.wait().expect("wait for the example");
    Run {
        name: name.to_owned(),
        status,
        stdout,
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs several examples at once, each in its own thread; results in the order given.
fn run_all(runs: &[(&str, &[&str])]) -> Vec<Run> {
    thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|&(name, args)| s.spawn(move || run_example(name, args)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn golden(name: &str) -> String {
    let path = format!(
        "{}/tests/golden/{name}.expected.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Whether `actual` matches the golden line: exactly, or for the spawning demo's
/// `Task N slept for X.Ys`, with the seconds within 0.1 of CPython's.
fn line_matches(name: &str, expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    if name != "taskgroup_spawning_demo" {
        return false;
    }
    fn split(line: &str) -> Option<(&str, f64)> {
        let (head, secs) = line.rsplit_once(' ')?;
        Some((head, secs.strip_suffix('s')?.parse().ok()?))
    }
    match (split(expected), split(actual)) {
        (Some((h1, s1)), Some((h2, s2))) => h1 == h2 && (s1 - s2).abs() <= 0.1 + 1e-9,
        _ => false,
    }
}

/// What is wrong with `run` compared with its golden file, if anything.
fn golden_mismatch(run: &Run) -> Option<String> {
    let expected = golden(&run.name);
    let expected: Vec<&str> = expected.lines().collect();
    let actual = run.lines();
    let same = run.status.success()
        && expected.len() == actual.len()
        && expected
            .iter()
            .zip(&actual)
            .all(|(e, a)| line_matches(&run.name, e, a));
    (!same).then(|| {
        format!(
            "{}--- expected (CPython)\n{}\n",
            run.context(),
            expected.join("\n")
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The seed programs

#[test]
fn seed_programs_print_what_cpython_printed() {
    let runs: Vec<(&str, &[&str])> = SEED_PROGRAMS.iter().map(|&n| (n, &[][..])).collect();
    let failures: Vec<String> = run_all(&runs).iter().filter_map(golden_mismatch).collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples differ from CPython:\n\n{}",
        failures.len(),
        SEED_PROGRAMS.len(),
        failures.join("\n")
    );
}

#[test]
fn every_seed_program_has_a_golden_file() {
    for name in SEED_PROGRAMS {
        assert!(!golden(name).is_empty(), "{name}: empty golden file");
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("tests/golden")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".expected.txt").map(str::to_owned))
        .collect();
    let mut listed: BTreeSet<String> = SEED_PROGRAMS.iter().map(|s| s.to_string()).collect();
    listed.insert(FETCHER.to_owned());
    assert_eq!(on_disk, listed, "tests/golden and the examples disagree");
}

#[test]
fn the_spawning_demo_tolerance_is_a_tenth_of_a_second() {
    let name = "taskgroup_spawning_demo";
    assert!(line_matches(
        name,
        "Task 1 slept for 0.6s",
        "Task 1 slept for 0.7s"
    ));
    assert!(line_matches(
        name,
        "Task 1 slept for 0.6s",
        "Task 1 slept for 0.5s"
    ));
    assert!(!line_matches(
        name,
        "Task 1 slept for 0.6s",
        "Task 1 slept for 0.8s"
    ));
    assert!(!line_matches(
        name,
        "Task 1 slept for 0.6s",
        "Task 2 slept for 0.6s"
    ));
    assert!(!line_matches("taskgroup_nesting", "a 0.6s", "a 0.7s"));
}

/// With `--seed-narrative`, each example whose tutorial text is wrong first prints CPython's
/// output unchanged, then what the tutorial describes.
#[test]
fn seed_narratives_show_what_the_tutorial_describes() {
    let flag: &[&str] = &["--seed-narrative"];
    let names = [
        "taskgroup_multiple_exceptions",
        "taskgroup_except_star",
        "taskgroup_manual_cancel",
        "taskgroup_exception_handling",
        "taskgroup_nested_errors",
    ];
    let runs: Vec<(&str, &[&str])> = names.iter().map(|&n| (n, flag)).collect();
    let runs = run_all(&runs);
    for run in &runs {
        assert!(run.status.success(), "{}", run.context());
        let golden = golden(&run.name);
        let expected = golden.lines().count();
        let lines = run.lines();
        assert!(lines.len() > expected, "no narrative:\n{}", run.context());
        // The CPython part comes first, unchanged.
        for (e, a) in golden.lines().zip(&lines) {
            assert_eq!(e, *a, "{}", run.context());
        }
    }
    let has = |run: &Run, line: &str| {
        assert!(
            run.lines().contains(&line),
            "missing line {line:?}\n{}",
            run.context()
        );
    };
    // 1: three failures collected, in completion order, with `policy = wait_all`.
    let tail: Vec<&str> = runs[0].lines().into_iter().rev().take(4).rev().collect();
    assert_eq!(
        tail,
        [
            "Caught 3 exceptions:",
            "  Task 3 failed",
            "  Task 1 failed",
            "  Task 2 failed"
        ],
        "{}",
        runs[0].context()
    );
    // 2: both except* clauses run.
    has(
        &runs[1],
        "Handled TypeError: unhandled errors in a TaskGroup (1 sub-exception)",
    );
    // 3: cancelled tasks are not errors: each handle says it was cancelled.
    has(&runs[2], "Task 0: task was cancelled");
    // 4: reliable_task completes only when failures do not cancel siblings.
    has(
        &runs[3],
        "reliable_task with policy = fail_fast: task was cancelled",
    );
    has(&runs[3], "reliable_task with policy = wait_all: Success");
    // 5: what the group holds.
    // 5: the parent's group holds the child's group, which holds the error.
    let tree: Vec<&str> = runs[4].lines().into_iter().map(str::trim).collect();
    let outer = tree
        .iter()
        .position(|l| l.starts_with("| ErrorGroup: unhandled errors"));
    let leaf = tree
        .iter()
        .position(|l| *l == "| RuntimeError: Subtask failed");
    assert!(
        matches!((outer, leaf), (Some(o), Some(l)) if l > o + 2),
        "{}",
        runs[4].context()
    );
}

#[test]
fn seed_programs_refuse_unknown_arguments_with_exit_2() {
    let runs = run_all(&[
        ("taskgroup_nested_errors", &["--bogus"][..]),
        ("taskgroup_except_star", &["--seed-narrative", "again"][..]),
    ]);
    for run in runs {
        assert_eq!(run.status.code(), Some(2), "{}", run.context());
        assert!(run.stdout.is_empty(), "{}", run.context());
        assert!(run.stderr.starts_with("usage: "), "{}", run.context());
    }
}

// ---------------------------------------------------------------------------------------------
// The parallel API fetcher

const FETCHER: &str = "parallel_api_fetcher";

/// `tests/golden/parallel_api_fetcher.expected.txt` is what CPython printed running the
/// tutorial's program against the same records, served on loopback.
#[test]
fn fetcher_prints_everything_from_its_own_server() {
    let run = run_example(FETCHER, &[]);
    if let Some(mismatch) = golden_mismatch(&run) {
        panic!("{mismatch}");
    }
    let lines = run.lines();
    assert_eq!(
        lines[0],
        "Starting parallel API fetches...",
        "{}",
        run.context()
    );
    for heading in ["Users fetched:", "Posts fetched:", "Comments fetched:"] {
        let at = lines
            .iter()
            .position(|l| *l == heading)
            .unwrap_or_else(|| panic!("no {heading:?}\n{}", run.context()));
        assert_eq!(lines[at - 1], "", "a blank line before {heading:?}");
        assert_eq!(lines[at + 1..at + 4].len(), 3);
    }
    assert!(lines.contains(&"  {'user_id': 2, 'name': 'Ervin Howell'}"));
    assert!(lines.contains(&"  {'post_id': 2, 'title': 'qui est esse'}"));
    assert!(lines.contains(
        &"  {'comment_id': 3, 'body': 'quia molestiae reprehenderit quasi aspernatur\\naut '}"
    ));
    assert_eq!(lines.len(), 1 + 3 * 5, "{}", run.context());
}

/// A loopback HTTP server for one test: answers `GET path` from `routes` (status line, body),
/// 404 otherwise, one connection at a time, and stops when dropped.
struct TestServer {
    port: u16,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    fn start(routes: Vec<(&'static str, &'static str, &'static str)>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            // Bounded: the fetcher makes nine requests per run.
            for stream in listener.incoming().take(64) {
                if stopped.try_recv().is_ok() {
                    return;
                }
                if let Ok(stream) = stream {
                    Self::answer(stream, &routes);
                }
            }
        });
        TestServer {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn answer(stream: TcpStream, routes: &[(&str, &str, &str)]) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = BufReader::new(&stream);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => break,
                Ok(_) if header == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        let (status, body) = routes
            .iter()
            .find(|(p, _, _)| *p == path)
            .map(|&(_, status, body)| (status, body))
            .unwrap_or(("404 Not Found", "{}"));
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = &stream;
        let _ = stream.write_all(response.as_bytes());
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            // Wake the accept loop so that it sees the stop.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The error lines of a failed fetch, checked for the layout around them.
fn fetch_errors(run: &Run) -> BTreeSet<String> {
    assert_eq!(run.status.code(), Some(1), "{}", run.context());
    let lines = run.lines();
    assert_eq!(
        lines[..2],
        [
            "Starting parallel API fetches...",
            "Errors occurred during fetching:"
        ],
        "{}",
        run.context()
    );
    lines[2..]
        .iter()
        .map(|l| {
            l.strip_prefix("  ")
                .unwrap_or_else(|| panic!("unindented error line {l:?}"))
                .to_owned()
        })
        .collect()
}

#[test]
fn fetcher_reports_each_request_a_server_answers_badly() {
    let server = TestServer::start(vec![
        ("/users/1", "200 OK", r#"{"id": 1, "name": "Ada"}"#),
        ("/users/3", "200 OK", r#"{"id": 3, "name": "Grace"}"#),
        ("/posts/1", "200 OK", r#"{"id": 1, "title": "t1"}"#),
        ("/posts/2", "200 OK", r#"{"id": 2, "title": "t2"}"#),
        ("/posts/3", "500 Internal Server Error", "oops"),
        ("/comments/1", "200 OK", "{not json"),
        ("/comments/2", "200 OK", r#"{"id": 2, "body": "b2"}"#),
        ("/comments/3", "200 OK", r#"{"id": 3}"#),
        // "/users/2" is missing: 404.
    ]);
    let base = server.url();
    let run = run_example(FETCHER, &["--base-url", &base]);
    let errors = fetch_errors(&run);
    let url = |path: &str| format!("Failed to fetch {base}{path}: ");
    let expected: BTreeSet<String> = [
        url("/users/2") + "HTTP Error 404: Not Found",
        url("/posts/3") + "HTTP Error 500: Internal Server Error",
        url("/comments/1") + "bad JSON: key must be a string at line 1 column 2",
        url("/comments/3") + "no \"body\" string in the response",
    ]
    .into_iter()
    .collect();
    assert_eq!(errors, expected, "{}", run.context());
}

#[test]
fn fetcher_reports_every_request_when_the_server_is_down() {
    // A port that was just free: bound, then released, so nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let run = run_example(FETCHER, &[&format!("--base-url={base}/")]);
    let errors = fetch_errors(&run);
    assert_eq!(errors.len(), 9, "{}", run.context());
    for kind in ["users", "posts", "comments"] {
        for id in 1..=3 {
            let prefix = format!("Failed to fetch {base}/{kind}/{id}: ");
            assert!(
                errors.iter().any(|e| e.starts_with(&prefix)),
                "no error for {kind}/{id}\n{}",
                run.context()
            );
        }
    }
}

#[test]
fn fetcher_refuses_bad_arguments_with_usage_and_exit_2() {
    let cases: [&[&str]; 5] = [
        &["--bogus"],
        &["--base-url"],
        &["--base-url", "https://example.invalid"],
        &[
            "--base-url",
            "http://127.0.0.1:1",
            "--base-url",
            "http://127.0.0.1:2",
        ],
        &["extra"],
    ];
    for args in cases {
        let run = run_example(FETCHER, args);
        assert_eq!(run.status.code(), Some(2), "{args:?}\n{}", run.context());
        assert!(run.stdout.is_empty(), "{args:?}\n{}", run.context());
        assert!(run.stderr.contains("usage: parallel_api_fetcher"));
        assert!(!run.stderr.contains("panicked"), "{}", run.context());
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let not_utf8 = OsString::from_vec(vec![b'-', 0xff]);
        let run = run_example_os(FETCHER, vec![not_utf8]);
        assert_eq!(run.status.code(), Some(2), "{}", run.context());
        assert!(run.stderr.contains("is not UTF-8"), "{}", run.context());
    }
    let help = run_example(FETCHER, &["--help"]);
    assert!(help.status.success());
    assert!(help.stdout.starts_with("usage: parallel_api_fetcher"));
}

// ---------------------------------------------------------------------------------------------
// The tour

#[test]
fn the_tour_runs_to_the_end() {
    let run = run_example("tour", &[]);
    assert!(run.status.success(), "{}", run.context());
    assert!(run.stderr.is_empty(), "{}", run.context());
    assert!(
        run.stdout.trim_end().ends_with("End of the tour."),
        "{}",
        run.context()
    );
    let sections = run.lines().iter().filter(|l| l.starts_with("== ")).count();
    assert_eq!(sections, 16, "{}", run.context());
    // Children beyond futures: the blocking sum, the whole commit, the background heartbeat.
    let has = |text: &str| run.lines().iter().any(|l| l.contains(text));
    assert!(
        has("a blocking child summed 1..=1000000: 500000500000"),
        "{}",
        run.context()
    );
    assert!(
        has("the shielded commit wrote 3 of 3 rows"),
        "{}",
        run.context()
    );
    assert!(
        has("then: the scope's other work had ended (a background child)"),
        "{}",
        run.context()
    );
    // Supervision: restarts, giving up, and a bounded record of 1000 failures.
    assert!(
        has("supervised: connected on attempt 3"),
        "{}",
        run.context()
    );
    assert!(
        has("after 3 restarts it gave up: network down: still refused"),
        "{}",
        run.context()
    );
    assert!(
        has(
            "the callback saw 1000 failures; the error keeps the last 2, and says: 998 more failures not kept: BadRequest x 998"
        ),
        "{}",
        run.context()
    );
    // The live tree: the service, its waiting children, the group made inside `pool`.
    let tree: Vec<&str> = run
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("tree: "))
        .collect();
    assert_eq!(tree[0], "tree: TaskGroup `service`", "{}", run.context());
    assert!(
        tree.contains(&"tree:   task `listener`"),
        "{}",
        run.context()
    );
    assert!(
        tree.contains(&"tree:   TaskGroup `workers`"),
        "{}",
        run.context()
    );
    assert!(
        tree.contains(&"tree:     task `worker-1`"),
        "{}",
        run.context()
    );
    assert!(
        run.lines()
            .contains(&"stopped by: the body failed with NetworkDown"),
        "{}",
        run.context()
    );
}

// ---------------------------------------------------------------------------------------------
// The echo service and the pipeline

const ECHO: &str = "echo_service";
const PIPELINE: &str = "pipeline";

/// Checks that `run` refused its arguments: exit 2, nothing on stdout, the usage and `message`
/// on stderr, no panic.
fn assert_refused(run: &Run, args: &[&str], message: &str) {
    assert_eq!(run.status.code(), Some(2), "{args:?}\n{}", run.context());
    assert!(run.stdout.is_empty(), "{args:?}\n{}", run.context());
    assert!(
        run.stderr.starts_with(&format!("error: {message}")),
        "{args:?}: expected {message:?}\n{}",
        run.context()
    );
    let usage = format!("usage: {}", run.name);
    assert!(run.stderr.contains(&usage), "{args:?}\n{}", run.context());
    assert!(!run.stderr.contains("panicked"), "{}", run.context());
}

/// Runs each `(args, message)` case of one example at once and checks each is refused.
fn assert_all_refused(name: &str, cases: &[(&[&str], &str)]) {
    let runs: Vec<(&str, &[&str])> = cases.iter().map(|&(args, _)| (name, args)).collect();
    for (run, &(args, message)) in run_all(&runs).iter().zip(cases) {
        assert_refused(run, args, message);
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let run = run_example_os(name, vec![OsString::from_vec(vec![b'-', 0xff])]);
        assert_refused(&run, &["-\\xff"], "argument \"-\\xFF\" is not UTF-8");
    }
    let help = run_example(name, &["--help"]);
    assert!(help.status.success(), "{}", help.context());
    assert!(help.stdout.starts_with(&format!("usage: {name}")));
}

/// Everything the echo service prints is deterministic: its clients, the shutdown and what
/// the server counted. The shutdown waits for `--for` and, however short that is, until the
/// server has seen the clients' bytes.
#[test]
fn echo_service_serves_its_clients_then_shuts_down_gracefully() {
    let runs = run_all(&[(ECHO, &[][..]), (ECHO, &["--for", "0"][..])]);
    for run in &runs {
        assert!(run.status.success(), "{}", run.context());
        assert!(run.stderr.is_empty(), "{}", run.context());
        assert_eq!(
            run.lines(),
            [
                "server listening on 127.0.0.1 (a free port)",
                "client 1: ok (3 lines)",
                "client 2: ok (3 lines)",
                "client 3: ok (3 lines)",
                "client 4: connected, idle",
                "client 5: connected, in the middle of a line",
                "client 6: connected, stalled in the middle of a line",
                "shutdown: cancelling the group, 200 ms of grace",
                "client 4: the server said goodbye and closed",
                "client 5: got its line back, then the goodbye",
                "client 6: the server closed the connection, no goodbye",
                "server: 6 connections, 13 lines answered",
                "shutdown: 3 closed by their clients, 2 closed gracefully, \
                 1 aborted after the grace period",
            ],
            "{}",
            run.context()
        );
    }
}

#[test]
fn echo_service_refuses_bad_arguments_with_usage_and_exit_2() {
    assert_all_refused(
        ECHO,
        &[
            (&["--for", "abc"], "--for: `abc` is not a number of seconds"),
            (&["--for=abc"], "--for: `abc` is not a number of seconds"),
            (&["--for"], "--for needs a number of seconds"),
            (&["--for", "-1"], "--for: `-1` is out of range"),
            (&["--for", "NaN"], "--for: `NaN` is out of range"),
            (&["--for", "1e300"], "--for: `1e300` is out of range"),
            (&["--for", "1", "--for", "2"], "--for given twice"),
            (&["--bogus"], "unexpected argument `--bogus`"),
            (&["extra"], "unexpected argument `extra`"),
        ],
    );
}

/// The worker that meets the corrupt record is always the same one, and it is the only
/// failure: the other stages stop without failing, and the scope returns.
#[test]
fn pipeline_failure_names_the_failing_worker_and_stops_everything() {
    let runs = run_all(&[
        (PIPELINE, &[][..]),
        (PIPELINE, &["--workers", "3", "--items=7"][..]),
    ]);
    let failure = |id: u64, worker: u32, stages: &str| {
        let error = format!(
            "WorkError: record {id} is corrupt: checksum {:#06x}, expected {:#06x}",
            checksum(id) ^ 1,
            checksum(id)
        );
        vec![
            "pipeline failed: unhandled errors in a TaskGroup (1 sub-exception) [pipeline]"
                .to_owned(),
            format!("  `worker {worker}` failed with {error}"),
            format!("fail-fast stopped the other {stages}; none is left running"),
            "the error group, as a traceback ({:#}):".to_owned(),
            "  | ErrorGroup: unhandled errors in a TaskGroup (1 sub-exception) [pipeline]"
                .to_owned(),
            "  +-+---------------- 1 ----------------".to_owned(),
            format!("    | {error}"),
            "    +------------------------------------".to_owned(),
        ]
    };
    // The example's checksum, for the expected message.
    fn checksum(id: u64) -> u16 {
        ((id.wrapping_mul(31) ^ id.wrapping_mul(17)) % 65_521) as u16
    }
    let expected = [
        (
            "pipeline: producer -> 4 workers -> aggregator, 100 records; record 50 is corrupt",
            failure(50, 2, "5 stages"),
        ),
        (
            "pipeline: producer -> 3 workers -> aggregator, 7 records; record 4 is corrupt",
            failure(4, 1, "4 stages"),
        ),
    ];
    for (run, (head, rest)) in runs.iter().zip(expected) {
        assert_eq!(run.status.code(), Some(1), "{}", run.context());
        assert!(run.stderr.is_empty(), "{}", run.context());
        let lines = run.lines();
        assert_eq!(lines.first(), Some(&head), "{}", run.context());
        assert_eq!(lines[1..], rest, "{}", run.context());
    }
}

#[test]
fn pipeline_without_failure_prints_the_aggregate() {
    let runs = run_all(&[
        (PIPELINE, &["--no-failure"][..]),
        (
            PIPELINE,
            &["--workers=3", "--no-failure", "--items", "10"][..],
        ),
    ]);
    let expected: [&[&str]; 2] = [
        &[
            "pipeline: producer -> 4 workers -> aggregator, 100 records",
            "producer: sent 100 records",
            "worker 1: processed 25 records",
            "worker 2: processed 25 records",
            "worker 3: processed 25 records",
            "worker 4: processed 25 records",
            "aggregator: 100 results, sum of squares 338350 (expected 338350)",
        ],
        &[
            "pipeline: producer -> 3 workers -> aggregator, 10 records",
            "producer: sent 10 records",
            "worker 1: processed 4 records",
            "worker 2: processed 3 records",
            "worker 3: processed 3 records",
            "aggregator: 10 results, sum of squares 385 (expected 385)",
        ],
    ];
    for (run, expected) in runs.iter().zip(expected) {
        assert!(run.status.success(), "{}", run.context());
        assert!(run.stderr.is_empty(), "{}", run.context());
        assert_eq!(run.lines(), expected, "{}", run.context());
    }
}

#[test]
fn pipeline_refuses_bad_arguments_with_usage_and_exit_2() {
    assert_all_refused(
        PIPELINE,
        &[
            (
                &["--workers", "0"],
                "--workers: `0` is not a number from 1 to 64",
            ),
            (
                &["--workers=65"],
                "--workers: `65` is not a number from 1 to 64",
            ),
            (
                &["--items", "abc"],
                "--items: `abc` is not a number from 1 to 100000",
            ),
            (&["--items"], "--items needs a number"),
            (
                &["--no-failure", "--no-failure"],
                "--no-failure given twice",
            ),
            (
                &["--no-failure=yes"],
                "unexpected argument `--no-failure=yes`",
            ),
            (&["--bogus"], "unexpected argument `--bogus`"),
            (&["extra"], "unexpected argument `extra`"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// The crawler

const CRAWLER: &str = "crawler";

/// Which pages fail, and how, is decided by a generator seeded from the page number, and the
/// handlers print their pages in order: the whole summary is the same on every run. The pages
/// that came back are kept although others failed, and every failure is handled (exit 0).
#[test]
fn crawler_keeps_the_pages_that_came_back_and_sorts_the_failures_by_variant() {
    let runs = run_all(&[
        (CRAWLER, &[][..]),
        (CRAWLER, &["--pages", "80"][..]),
        (CRAWLER, &["--pages=1"][..]),
    ]);
    let head = |pages: &str| {
        format!("crawler: {pages} from a loopback HTTP server, 16 at a time, 2000 ms per request")
    };
    let titles = [
        "  page 1: \"Groups counted quiet\"",
        "  page 2: \"On concurrency failure\"",
        "  page 3: \"Structured lost counted\"",
    ];
    let expected: [Vec<String>; 3] = [
        [
            head("200 pages").as_str(),
            "fetched 169 pages of 200, never more than 16 in flight",
            "  links found: 2549",
        ]
        .into_iter()
        .chain(titles)
        .chain([
            "failed 31 pages:",
            "  server errors (1 x HTTP 500, 3 x HTTP 502, 1 x HTTP 503), worth a retry: \
             5 pages: 7, 10, 47, 68, 187",
            "  timeouts (no answer within 2000 ms): 6 pages: 44, 55, 64, 126, 151, 162",
            "  bad JSON: 8 pages: 75, 104, 109, 135, 144, 166, 179, 186",
            "    page 75: bad JSON: no \"title\" string",
            "    page 104: bad JSON: no \"title\" string",
            "    page 109: bad JSON: no \"title\" string",
            "    page 135: bad JSON: EOF while parsing a string at line 1 column 25",
            "    and 4 more",
            "  other failures (12 x HTTP 404): \
             12 pages: 35, 41, 83, 85, 95, 127, 147, 168, 180, 191, 193, 196",
        ])
        .map(str::to_owned)
        .collect(),
        [
            head("80 pages").as_str(),
            "fetched 70 pages of 80, never more than 16 in flight",
            "  links found: 1021",
        ]
        .into_iter()
        .chain(titles)
        .chain([
            "failed 10 pages:",
            "  server errors (3 x HTTP 502, 1 x HTTP 503), worth a retry: 4 pages: 7, 10, 47, 68",
            "  timeouts (no answer within 2000 ms): 3 pages: 44, 55, 64",
            "  bad JSON: 1 page: 75",
            "    page 75: bad JSON: no \"title\" string",
            "  other failures (2 x HTTP 404): 2 pages: 35, 41",
        ])
        .map(str::to_owned)
        .collect(),
        [
            head("1 page").as_str(),
            "fetched 1 page of 1, never more than 16 in flight",
            "  links found: 9",
            titles[0],
            "no page failed",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for (run, expected) in runs.iter().zip(expected) {
        assert!(run.status.success(), "{}", run.context());
        assert!(run.stderr.is_empty(), "{}", run.context());
        assert_eq!(run.lines(), expected, "{}", run.context());
    }
}

#[test]
fn crawler_refuses_bad_arguments_with_usage_and_exit_2() {
    assert_all_refused(
        CRAWLER,
        &[
            (
                &["--pages", "0"],
                "--pages: `0` is not a number from 1 to 1000",
            ),
            (
                &["--pages=1001"],
                "--pages: `1001` is not a number from 1 to 1000",
            ),
            (
                &["--pages", "abc"],
                "--pages: `abc` is not a number from 1 to 1000",
            ),
            (
                &["--pages", "-5"],
                "--pages: `-5` is not a number from 1 to 1000",
            ),
            (&["--pages"], "--pages needs a number"),
            (&["--pages", "5", "--pages=6"], "--pages given twice"),
            (&["--bogus"], "unexpected argument `--bogus`"),
            (&["extra"], "unexpected argument `extra`"),
        ],
    );
}

#[test]
fn tree_of_the_stuck_example_shows_the_service_three_groups_deep() {
    let run = run_example("stuck", &["--after-ms", "300"]);
    assert!(run.status.success(), "{}", run.context());
    let lines = run.lines();
    assert!(
        lines[0].starts_with("TaskGroup `server` (fail_fast, running, 4 live, deadline in "),
        "{}",
        run.context()
    );
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line `{prefix}...`\n{}", run.context()))
    };
    // The listener and the pool wait in `server`; `workers` was made inside the pool.
    let workers = at(
        "  TaskGroup `workers` (fail_fast, waiting at exit, 6 live, limit 3: 3 running, 1 queued)",
    );
    assert!(at("  task `listener` (") < workers);
    assert!(at("    task `stuck-on-lock` (") > workers);
    // Each kind of child that waits, with its state: a `start()` child not ready yet, the
    // local child (counted), the worker in line (timed: `workers` watches for stalls).
    let starting = at("  start() task (");
    assert!(starting < workers);
    assert!(lines[starting].contains(") starting "), "{}", run.context());
    assert!(at("  1 local task waiting") < workers);
    let queued = at("    task `worker-3` queued ");
    assert!(queued > workers);
    assert!(lines[queued].ends_with(", #1 in line"), "{}", run.context());
    // Each worker's batch, three groups deep, with its one job.
    assert_eq!(
        lines
            .iter()
            .filter(|line| line
                .starts_with("    TaskGroup `batch` (fail_fast, waiting at exit, 1 live)"))
            .count(),
        2,
        "{}",
        run.context()
    );
    assert!(at("      task `job-1` (") > workers);
    assert!(
        lines.iter().all(|line| !line.contains("cancelling")),
        "{}",
        run.context()
    );
}

#[test]
fn tree_example_refuses_bad_arguments() {
    let run = run_example("stuck", &["--after-ms", "0"]);
    assert_eq!(run.status.code(), Some(2), "{}", run.context());
    assert!(
        run.stderr
            .contains("--after-ms: `0` is not a number from 1 to 60000"),
        "{}",
        run.context()
    );
}
