//! A tour of `taskgroup`: structured concurrency for tokio, one feature per section.
//!
//! ```text
//! cargo run --example tour
//! ```
//!
//! A *task group* is a scope for concurrent work. Inside it you spawn child tasks; they run in
//! parallel; the scope returns only when every child has finished or been cancelled. If a child
//! fails, the others are cancelled and every failure comes back together in one `ErrorGroup`,
//! which `except*` clauses take apart by error type. No task can outlive its scope.
//!
//! Every duration below is a few tens of milliseconds, so the whole tour takes about a second.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskgroup::{
    ErrorGroup, Ready, Task, TaskPanic, TimedOut, as_completed, except_star, gather, on_cancel,
    task_group,
};
use tokio::time::{Instant, sleep};

mod beyond;

// ---------------------------------------------------------------------------------------------
// The errors and tasks the tour uses

/// A request that the server refused.
#[derive(Debug, thiserror::Error)]
#[error("bad request: {0}")]
struct BadRequest(String);

/// A network failure.
#[derive(Debug, thiserror::Error)]
#[error("network down: {0}")]
struct NetworkDown(String);

/// A disk failure.
#[derive(Debug, thiserror::Error)]
#[error("disk full")]
struct DiskFull;

/// Another error, raised by an error handler.
#[derive(Debug, thiserror::Error)]
#[error("gave up after {0} network errors")]
struct GaveUp(usize);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sleeps `delay` milliseconds, then returns `value`. Tasks return a `Result`; this one never
/// fails, so its error type is `Infallible`.
async fn after<T>(delay: u64, value: T) -> Result<T, Infallible> {
    sleep(ms(delay)).await;
    Ok(value)
}

/// Sleeps `delay` milliseconds, then fails with `error`.
async fn fail_after<E>(delay: u64, error: E) -> Result<(), E> {
    sleep(ms(delay)).await;
    Err(error)
}

/// Like [`after`], but says so when it is cancelled before it finishes.
async fn noisy(name: &'static str, delay: u64) -> Result<&'static str, Infallible> {
    on_cancel(after(delay, name), move || {
        println!("  ({name} was cancelled)")
    })
    .await
}

fn heading(title: &str) {
    println!("\n== {title} ==");
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// The sections

/// `task_group!(|tg| { ... })` opens a scope; `tg.spawn(future)` starts a child at once.
async fn scope() -> Result<(), ErrorGroup> {
    heading("1. A scope");
    let start = Instant::now();
    task_group!(|tg| {
        tg.spawn(after(100, ()));
        tg.spawn(after(200, ()));
        tg.spawn(after(150, ()));
    })?;
    println!(
        "three children of 0.10, 0.20 and 0.15 s ran in parallel: the scope took {}",
        secs(start.elapsed())
    );
    println!("when a scope returns, all its children are done: none is left running");

    // A child can spawn more children into the same scope, through an owned `Spawner`.
    let pages = Arc::new(AtomicUsize::new(0));
    task_group!(|tg| {
        let spawner = tg.spawner();
        let pages = pages.clone();
        tg.spawn(async move {
            for page in 1..=3 {
                let pages = pages.clone();
                spawner.spawn(async move {
                    sleep(ms(10 * page)).await;
                    pages.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
    })?;
    println!(
        "a child spawned {} more children; the scope waited for them too",
        pages.load(Ordering::SeqCst)
    );
    Ok(())
}

/// `spawn` returns a `Task<T>` handle: await it inside the scope, or read `result()` after it.
async fn results() -> Result<(), Box<dyn std::error::Error>> {
    heading("2. Results");
    let (users, total) = task_group!(|tg| {
        let users = tg.spawn(after(20, vec!["ada", "grace"]));
        // Inside the scope, `.await` a handle to wait for that one child.
        let count = tg.spawn(after(10, 2)).await?;
        let total = tg.spawn(after(10, count * 10));
        (users, total)
    })?;
    // After the scope every handle is resolved.
    println!("users = {:?}, total = {}", users.result()?, total.result()?);
    Ok(())
}

/// The first failure cancels the siblings; the scope returns an `ErrorGroup`.
async fn errors() {
    heading("3. Errors");
    let result = task_group!(|tg| {
        tg.spawn_named("upload", fail_after(20, DiskFull));
        tg.spawn(noisy("download", 1_000));
    });
    let eg = result.unwrap_err();
    println!("the scope failed: {eg}");
    for leaf in eg.leaves() {
        let task = leaf.task().and_then(|t| t.name()).unwrap_or("?");
        println!("  {}: {leaf} (from task `{task}`)", leaf.type_name());
    }
    println!("cancelled tasks are not errors; the whole group, as a traceback ({{:#}}):");
    print!("{eg:#}");

    // `?` in the body raises into the group, after the children's errors.
    let result: Result<u32, ErrorGroup> = task_group!(|_tg| { "4x".parse::<u32>()? });
    println!(
        "`?` in the body: {}",
        result.unwrap_err().leaves().next().unwrap()
    );

    // A panicking child becomes a `TaskPanic` error, and cancels its siblings like any error.
    // (The default panic hook would also print it to stderr; quiet it for the tour.)
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = task_group!(|tg| {
        tg.spawn(async {
            let empty: Vec<u32> = Vec::new();
            let _ = empty[0];
        });
    });
    std::panic::set_hook(hook);
    let eg = result.unwrap_err();
    let panic = eg
        .leaves()
        .find_map(|l| l.downcast_ref::<TaskPanic>())
        .unwrap();
    println!("a panic: {}", panic.message());
}

/// `except*` clauses after the body handle the errors by type, each clause at most once.
async fn except_star_clauses() {
    heading("4. except*");
    println!("each clause runs once, on all the errors of its types (policy = wait_all: all fail)");
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, BadRequest("id=-1".into())));
        tg.spawn(fail_after(20, NetworkDown("eu-1".into())));
        tg.spawn(fail_after(30, DiskFull));
        tg.spawn(fail_after(40, BadRequest("id=x".into())));
    }
    except* BadRequest as eg => {
        // `eg` holds only the BadRequest errors; `iter()` gives them as `&BadRequest`.
        let ids: Vec<&str> = eg.errors().map(|e| e.0.as_str()).collect();
        println!("BadRequest clause: {eg}: {ids:?}");
    }
    except* NetworkDown | DiskFull as eg => println!("NetworkDown | DiskFull clause: {eg}"),
    );
    println!("every error handled: {}", outcome.is_handled());

    // Errors no clause matches come back; so does what a clause raises.
    let outcome = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, NetworkDown("us-2".into())));
        tg.spawn(fail_after(20, DiskFull));
    }
    except* NetworkDown as eg => Err(GaveUp(eg.error_count())),
    );
    let left = outcome.unhandled().unwrap();
    println!("left over: what the clause raised, then the errors no clause matched:");
    print!("{left:#}");
}

/// `#[except_star(...)]` makes an async fn a named, reusable except* clause.
#[except_star(NetworkDown, DiskFull)]
async fn on_infrastructure(eg: ErrorGroup) {
    println!("on_infrastructure handles {} error(s)", eg.leaves().count());
}

async fn handlers() {
    heading("5. Reusable handlers");
    let outcome = task_group!(|tg| {
        tg.spawn(fail_after(10, DiskFull));
    }
    except* on_infrastructure,
    );
    println!("in a task_group!: handled = {}", outcome.is_handled());

    // The same handler on any `Result<_, ErrorGroup>`.
    let failed = task_group!(|tg| {
        tg.spawn(fail_after(10, NetworkDown("ap-3".into())));
    });
    let outcome = except_star::<on_infrastructure, _>(failed).await;
    println!("on a plain result: handled = {}", outcome.is_handled());
}

/// A child may open a scope of its own; its group nests whole in the parent's.
async fn nesting() {
    heading("6. Nesting");
    // A child that opens its own scope; `?` passes that scope's errors up as one group.
    async fn region(name: &'static str) -> Result<usize, ErrorGroup> {
        let replicas = task_group!(|tg| {
            let a = tg.spawn(after(10, 1));
            let b = tg.spawn(after(20, 1));
            if name == "eu" {
                tg.spawn(fail_after(15, NetworkDown(format!("{name} replica 3"))));
            }
            (a, b)
        })?;
        Ok(replicas.0.result().unwrap_or(0) + replicas.1.result().unwrap_or(0))
    }
    let result = task_group!(policy = wait_all; |tg| {
        let us = tg.spawn(region("us"));
        tg.spawn(region("eu"));
        us
    });
    let eg = result.unwrap_err();
    println!("region us succeeded; region eu failed, its group nested in the parent's:");
    print!("{eg:#}");
}

/// `timeout = ...` cancels the children at the deadline and reports `TimedOut`.
async fn timeouts() {
    heading("7. Timeouts");
    let start = Instant::now();
    let outcome = task_group!(timeout = ms(50); |tg| {
        tg.spawn(noisy("slow query", 1_000));
    }
    except* TimedOut as eg => println!("{} (after {})", eg.first().unwrap(), secs(start.elapsed())),
    );
    assert!(outcome.is_handled());
}

/// Cancel one task, or the whole group; neither is an error.
async fn cancellation() -> Result<(), Box<dyn std::error::Error>> {
    heading("8. Cancellation");
    let (one, other) = task_group!(|tg| {
        let one = tg.spawn(noisy("one", 1_000));
        let other = tg.spawn(after(20, "other"));
        one.cancel();
        (one, other)
    })?;
    println!(
        "one: {}; other: {}",
        one.result().unwrap_err(),
        other.result()?
    );

    // `tg.cancel()` stops every child; the scope returns the body's value.
    let stopped_early = task_group!(|tg| {
        tg.spawn(noisy("worker 1", 1_000));
        tg.spawn(noisy("worker 2", 1_000));
        sleep(ms(20)).await;
        tg.cancel();
        "stopped early"
    })?;
    println!("tg.cancel(): {stopped_early}");

    // With a grace period, children first see the group's token and may clean up.
    let cleaned = task_group!(grace = ms(100); |tg| {
        let token = tg.token();
        let worker = tg.spawn(async move {
            tokio::select! {
                _ = sleep(ms(1_000)) => Ok::<_, Infallible>("finished"),
                _ = token.cancelled() => {
                    sleep(ms(10)).await; // flush, close files, ...
                    Ok("cleaned up, then stopped")
                }
            }
        });
        sleep(ms(20)).await;
        tg.cancel();
        worker
    })?;
    println!("with grace = 100 ms: {}", cleaned.result()?);
    Ok(())
}

/// What a failure (or a success) does to the siblings.
async fn policies() {
    heading("9. Policies");
    println!("what a failure (or a success) does to the other children:");
    // fail_fast (the default): the first failure cancels the rest; one error.
    let eg = task_group!(|tg| {
        tg.spawn(fail_after(10, DiskFull));
        tg.spawn(fail_after(20, NetworkDown("eu-1".into())));
    })
    .unwrap_err();
    println!("fail_fast: {} error(s)", eg.len());

    // wait_all: failures cancel nothing; every error is collected.
    let eg = task_group!(policy = wait_all; |tg| {
        tg.spawn(fail_after(10, DiskFull));
        tg.spawn(fail_after(20, NetworkDown("eu-1".into())));
    })
    .unwrap_err();
    println!("wait_all: {} error(s)", eg.len());

    // first_ok: the first success cancels the rest; errors count only if nothing succeeds.
    let mirrors: Vec<Task<&str>> = task_group!(policy = first_ok; |tg| {
        vec![
            tg.spawn(noisy("slow mirror", 1_000)),
            tg.spawn(async {
                sleep(ms(10)).await;
                Err::<&str, _>(NetworkDown("broken mirror".into()))
            }),
            tg.spawn(noisy("fast mirror", 30)),
        ]
    })
    .expect("one mirror answered");
    let winner = mirrors.into_iter().find_map(|t| t.result().ok());
    println!("first_ok: {}", winner.unwrap());
}

/// `limit = N`: at most N children run at once; the others wait their turn.
async fn limits() -> Result<(), ErrorGroup> {
    heading("10. Limits");
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    task_group!(limit = 2; |tg| {
        for _ in 0..6 {
            let (running, most) = (running.clone(), most.clone());
            tg.spawn(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                sleep(ms(30)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
    })?;
    println!(
        "6 children of 0.03 s, at most {} at once: {}",
        most.load(Ordering::SeqCst),
        secs(start.elapsed())
    );
    Ok(())
}

/// `tg.start(...)` waits until a child says it is ready (a server that has bound its port).
async fn start() -> Result<(), ErrorGroup> {
    heading("11. Start a service, wait until it is ready");
    async fn server(ready: Ready<SocketAddr>) -> Result<(), std::io::Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        ready.started(listener.local_addr()?);
        loop {
            let (_socket, _) = listener.accept().await?;
        }
    }
    task_group!(|tg| {
        let addr = tg.start(server).await?;
        println!("the server is ready at {addr}");
        tokio::net::TcpStream::connect(addr).await?;
        println!("a client connected; cancelling the group stops the server");
        tg.cancel();
    })?;
    Ok(())
}

/// Local tasks borrow the caller's variables; they run on the scope's own task.
async fn local_tasks() -> Result<(), ErrorGroup> {
    heading("12. Borrowing local tasks");
    // Not `'static`: a parallel child could not borrow these.
    let words: Vec<String> = ["structured", "concurrency"].map(String::from).into();
    let mut letters = 0;
    let mut longest = "";
    task_group!(|tg| {
        tg.spawn_local(async {
            letters = words.iter().map(|w| w.len()).sum(); // borrows `words`, writes `letters`
        });
        tg.spawn_local(async {
            longest = words
                .iter()
                .max_by_key(|w| w.len())
                .map_or("", String::as_str);
        });
        tg.spawn(after(10, ())); // and parallel children beside them
    })?;
    println!("{letters} letters; longest word: {longest}");
    Ok(())
}

/// Results in input order with `gather`, or in completion order with `as_completed`.
async fn gathering() -> Result<(), ErrorGroup> {
    heading("13. gather and as_completed");
    let squares = gather((1..=4u64).map(|i| after(40 - 10 * i, i * i))).await?;
    println!("gather, in input order: {squares:?}");
    task_group!(|tg| {
        let tasks: Vec<_> = [30, 10, 20]
            .map(|delay| tg.spawn(after(delay, delay)))
            .into();
        let mut completed = as_completed(tasks);
        let mut order = Vec::new();
        while let Some((_, result)) = completed.next().await {
            order.push(result.unwrap_or(0));
        }
        println!("as_completed, fastest first: {order:?}");
    })?;
    Ok(())
}

async fn seeing_inside() {
    heading("14. Seeing inside a running scope");
    let tg = taskgroup::TaskGroup::builder()
        .name("service")
        .timeout(std::time::Duration::from_secs(5))
        .build();
    let eg = tg
        .run(async {
            tg.spawn_named("listener", std::future::pending::<()>());
            tg.spawn_named("pool", async {
                // A group made inside a child is nested under it in the tree.
                task_group!(name = "workers"; |workers| {
                    workers.spawn_named("worker-1", std::future::pending::<()>());
                })
            });
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            // Ids and times vary from run to run: print the shape only.
            let tree = tg.snapshot().to_string();
            for line in tree.lines() {
                let shape = line.split(" (").next().unwrap_or(line);
                println!("tree: {shape}");
            }
            fail_after(0, NetworkDown("the listener's socket closed".into())).await?;
            Ok::<_, taskgroup::Member>(())
        })
        .await
        .unwrap_err();
    println!("stopped by: {}", eg.stopped_by().expect("the body failed"));
    println!("failures: {}", eg.leaves().count());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("A tour of taskgroup: structured concurrency for tokio.");
    scope().await?;
    results().await?;
    errors().await;
    except_star_clauses().await;
    handlers().await;
    nesting().await;
    timeouts().await;
    cancellation().await?;
    policies().await;
    limits().await?;
    start().await?;
    local_tasks().await?;
    gathering().await?;
    seeing_inside().await;
    beyond::beyond_futures().await?;
    beyond::supervision().await?;
    println!("\nEnd of the tour.");
    Ok(())
}
