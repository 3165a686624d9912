//! The paths through which a child drops its future, on a runtime with no drivers (so that
//! Miri can run them: `cargo +nightly miri test -p taskgroup-core --lib child`).
use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Policy, TaskError, TaskGroup};

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Counted(#[allow(dead_code)] Box<u32>);

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("destructor");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn child_drops_its_future_once_on_every_path() {
    DROPS.store(0, Ordering::SeqCst);
    let errors = runtime().block_on(async {
        let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
        tg.run(async {
            let held = Counted(Box::new(1));
            tg.spawn(async move {
                let _held = held;
                Ok::<_, std::io::Error>(7)
            });
            let on_drop = PanicsOnDrop;
            tg.spawn(async move {
                let _on_drop = on_drop;
                Ok::<_, std::io::Error>(())
            });
            let waiting = Counted(Box::new(2));
            let cancelled = tg.spawn(async move {
                let _waiting = waiting;
                pending::<()>().await;
            });
            tokio::task::yield_now().await;
            cancelled.cancel();
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap_err()
    });
    // The completed and the cancelled child dropped their futures once each; the
    // destructor's panic is the second child's.
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    assert_eq!(errors.len(), 1);
    assert!(
        errors
            .leaves()
            .next()
            .unwrap()
            .to_string()
            .contains("destructor")
    );
}

#[test]
fn child_handles_see_each_ending() {
    runtime().block_on(async {
        let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
        let mut handles = Vec::new();
        let _ = tg
            .run(async {
                handles.push(tg.spawn(async { Ok::<_, std::io::Error>(1) }));
                let on_drop = PanicsOnDrop;
                handles.push(tg.spawn(async move {
                    let _on_drop = on_drop;
                    Ok::<_, std::io::Error>(2)
                }));
                let waiting = tg.spawn(async {
                    pending::<()>().await;
                    Ok::<_, std::io::Error>(3)
                });
                tokio::task::yield_now().await;
                waiting.cancel();
                handles.push(waiting);
                Ok::<_, std::io::Error>(())
            })
            .await;
        let results: Vec<_> = handles.into_iter().map(|t| t.result()).collect();
        assert_eq!(results[0], Ok(1));
        assert!(matches!(results[1], Err(TaskError::Panicked(_))));
        assert_eq!(results[2], Err(TaskError::Cancelled));
    });
}

#[test]
fn child_lends_its_group_to_a_group_made_inside_it_and_keeps_it() {
    let sum = runtime().block_on(async {
        let tg = TaskGroup::new();
        tg.run(async {
            let outer = tg.spawn(async {
                // Made while the child is polled: nested in the child's group, which it
                // clones from the thread's current group.
                let inner = TaskGroup::new();
                let tasks = inner
                    .run(async {
                        let a = inner.spawn(async { Ok::<_, std::io::Error>(1) });
                        let b = inner.spawn(async {
                            tokio::task::yield_now().await;
                            Ok::<_, std::io::Error>(2)
                        });
                        Ok::<_, std::io::Error>((a, b))
                    })
                    .await?;
                Ok::<_, crate::ErrorGroup>(tasks.0.result().unwrap() + tasks.1.result().unwrap())
            });
            tokio::task::yield_now().await;
            Ok::<_, std::io::Error>(outer)
        })
        .await
        .unwrap()
        .result()
        .unwrap()
    });
    assert_eq!(sum, 3);
}

#[test]
fn child_aborted_by_its_group_or_left_to_the_runtime_drops_its_future_once() {
    DROPS_ABORTED.store(0, Ordering::SeqCst);
    let rt = runtime();
    let errors = rt.block_on(async {
        let tg = TaskGroup::new();
        tg.run(async {
            for _ in 0..3 {
                let held = Aborted(Box::new(0));
                tg.spawn(async move {
                    let _held = held;
                    pending::<()>().await;
                });
            }
            // Named and unnamed, waiting when the sibling fails.
            let held = Aborted(Box::new(1));
            tg.spawn_named("named", async move {
                let _held = held;
                pending::<()>().await;
            });
            tokio::task::yield_now().await;
            tg.spawn(async { Err::<(), _>(std::io::Error::other("boom")) });
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap_err()
    });
    assert_eq!(errors.len(), 1);
    assert_eq!(DROPS_ABORTED.load(Ordering::SeqCst), 4);
    // Children of a group whose scope never ran, still waiting when the runtime goes.
    let tg = TaskGroup::new();
    rt.block_on(async {
        for _ in 0..2 {
            let held = Aborted(Box::new(2));
            tg.spawn(async move {
                let _held = held;
                pending::<()>().await;
            });
        }
        tokio::task::yield_now().await;
    });
    drop(rt);
    assert_eq!(DROPS_ABORTED.load(Ordering::SeqCst), 6);
    drop(tg);
}

#[test]
fn children_on_two_workers_end_their_accounting_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let sum = rt.block_on(async {
        let tg = TaskGroup::builder().limit(3).build();
        tg.run(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    tg.spawn(async move {
                        if i % 2 == 0 {
                            tokio::task::yield_now().await;
                        }
                        Ok::<_, std::io::Error>(i)
                    })
                })
                .collect();
            Ok::<_, std::io::Error>(tasks)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.result().unwrap())
        .sum::<i32>()
    });
    assert_eq!(sum, 28);
}

#[test]
fn queued_and_shielded_children_read_and_drop_their_futures_through_the_child() {
    use std::sync::atomic::AtomicBool;
    let released = std::sync::Arc::new(AtomicBool::new(false));
    let wait = |released: std::sync::Arc<AtomicBool>| async move {
        while !released.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
    };
    let (names, shielded, cancelled, errors) = runtime().block_on(async {
        let tg = TaskGroup::builder().limit(1).build();
        let mut names = Vec::new();
        let mut handles = None;
        let errors = tg
            .run(async {
                tg.spawn(wait(released.clone()));
                // Queued behind the limit: the snapshot reads them in line, through the
                // child's future.
                let queued = tg.spawn_named("queued", wait(released.clone()));
                tg.spawn_named("second", wait(released.clone()));
                tokio::task::yield_now().await;
                names = tg.snapshot().groups[0]
                    .waiting
                    .iter()
                    .filter_map(|child| child.name.as_deref().map(str::to_owned))
                    .collect();
                // Dropped unstarted, through the child.
                queued.cancel();
                // Queued too; once started, a shield runs to its end through the failure.
                let shielded = tg.spawn_shielded(async {
                    tokio::task::yield_now().await;
                    Ok::<_, std::io::Error>(5)
                });
                tg.spawn(async { Err::<(), _>(std::io::Error::other("stop")) });
                released.store(true, Ordering::SeqCst);
                handles = Some((shielded, queued));
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err();
        let (shielded, queued) = handles.unwrap();
        (names, shielded.result(), queued.result(), errors)
    });
    assert_eq!(names, ["queued", "second"]);
    assert_eq!(shielded, Ok(5));
    assert_eq!(cancelled, Err(TaskError::Cancelled));
    assert_eq!(errors.leaves().next().unwrap().to_string(), "stop");
}

static DROPS_ABORTED: AtomicUsize = AtomicUsize::new(0);

struct Aborted(#[allow(dead_code)] Box<u32>);

impl Drop for Aborted {
    fn drop(&mut self) {
        DROPS_ABORTED.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future of 16 bytes, as small as an `async move` block capturing one `usize`.
struct Sixteen(#[allow(dead_code)] [u64; 2]);

impl std::future::Future for Sixteen {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

#[test]
fn a_child_adds_eight_bytes_to_its_future() {
    // Tokio's smallest task cell (128 bytes) takes a future of up to 24 bytes.
    assert_eq!(std::mem::size_of::<super::Child<Sixteen, ()>>(), 24);
}
