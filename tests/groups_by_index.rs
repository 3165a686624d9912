//! A spawned child names its group by a 32-bit index that groups take at their first spawn and
//! give back when dropped: many groups made, nested and dropped at once on two workers must
//! each get every child's ending, and a dropped group's index must serve the next one.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use taskgroup::{ErrorGroup, Policy, TaskError, TaskGroup};

/// Counts its drops in the counter it holds.
struct Counted(&'static AtomicUsize);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

type Sum = Pin<Box<dyn Future<Output = Result<usize, ErrorGroup>> + Send>>;

/// A group made inside a child of `depth` enclosing groups, each child summing its own.
fn nested_sum(depth: usize, base: usize) -> Sum {
    Box::pin(async move { nested_sum_inner(depth, base).await })
}

async fn nested_sum_inner(depth: usize, base: usize) -> Result<usize, ErrorGroup> {
    let tg = TaskGroup::new();
    let tasks = tg
        .run(async {
            let mut tasks = Vec::new();
            for i in 0..4 {
                if depth == 0 {
                    tasks.push(tg.spawn(async move {
                        tokio::task::yield_now().await;
                        Ok::<usize, ErrorGroup>(base + i)
                    }));
                } else {
                    tasks.push(tg.spawn(nested_sum(depth - 1, base * 4 + i)));
                }
            }
            Ok::<_, Infallible>(tasks)
        })
        .await?;
    Ok(tasks.into_iter().map(|t| t.result().unwrap()).sum())
}

fn expected(depth: usize, base: usize) -> usize {
    if depth == 0 {
        (0..4).map(|i| base + i).sum()
    } else {
        (0..4).map(|i| expected(depth - 1, base * 4 + i)).sum()
    }
}

#[test]
fn groups_made_and_dropped_on_two_workers_each_get_their_childrens_endings() {
    let rt = two_workers();
    rt.block_on(async {
        // 64 trees of 1 + 4 + 16 + 64 groups each, made and dropped concurrently, three times:
        // the later rounds run on indices the earlier ones gave back.
        for round in 0..3 {
            let outer = TaskGroup::new();
            let trees = outer
                .run(async {
                    let trees: Vec<_> = (0..64)
                        .map(|t| outer.spawn(nested_sum(3, t + round)))
                        .collect();
                    Ok::<_, Infallible>(trees)
                })
                .await
                .unwrap();
            for (t, tree) in trees.into_iter().enumerate() {
                assert_eq!(tree.result().unwrap(), expected(3, t + round));
            }
        }
    });
}

#[test]
fn a_failure_deep_in_many_groups_cancels_every_child_once() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let rt = two_workers();
    let spawned = Arc::new(AtomicUsize::new(0));
    let errors = rt.block_on(async {
        let outer = TaskGroup::builder().policy(Policy::FailFast).build();
        outer
            .run(async {
                for g in 0..32 {
                    let spawned = Arc::clone(&spawned);
                    outer.spawn(async move {
                        let inner = TaskGroup::new();
                        inner
                            .run(async {
                                for _ in 0..32 {
                                    let held = Counted(&DROPPED);
                                    spawned.fetch_add(1, Ordering::SeqCst);
                                    inner.spawn(async move {
                                        let _held = held;
                                        std::future::pending::<()>().await;
                                    });
                                }
                                if g == 17 {
                                    inner.spawn(async {
                                        tokio::task::yield_now().await;
                                        Err::<(), _>(std::io::Error::other("deep"))
                                    });
                                }
                                Ok::<_, Infallible>(())
                            })
                            .await
                    });
                }
                Ok::<_, Infallible>(())
            })
            .await
            .unwrap_err()
    });
    assert_eq!(errors.leaves().count(), 1);
    assert_eq!(errors.leaves().next().unwrap().to_string(), "deep");
    // Every waiting child of every group was cancelled and dropped its future once.
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        spawned.load(Ordering::SeqCst)
    );
}

#[test]
fn children_left_running_when_their_runtime_shuts_down_end_once() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let rt = two_workers();
    let groups: Vec<TaskGroup> = (0..16).map(|_| TaskGroup::new()).collect();
    let handles = rt.block_on(async {
        let mut handles = Vec::new();
        for tg in &groups {
            for _ in 0..8 {
                let held = Counted(&DROPPED);
                handles.push(tg.spawn(async move {
                    let _held = held;
                    std::future::pending::<()>().await;
                }));
            }
        }
        tokio::task::yield_now().await;
        handles
    });
    drop(rt);
    assert_eq!(DROPPED.load(Ordering::SeqCst), 16 * 8);
    for handle in handles {
        assert_eq!(handle.result(), Err::<(), _>(TaskError::Cancelled));
    }
    // The groups outlive their children's runtime; dropping them now is clean.
    drop(groups);
}
