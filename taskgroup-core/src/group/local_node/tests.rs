//! The paths of a node, a local child's and a queued spawned child's: finished, waiting,
//! cancelled, panicking, queued behind the limit, and handles that outlive the scope's borrows
//! or go to another thread. On a runtime with no drivers, so that Miri can run them:
//! `cargo +nightly miri test -p taskgroup-core --lib local_node`.
#![allow(
    clippy::async_yields_async,
    reason = "the scopes return the handles of their children, to be read after them"
)]
use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Policy, Task, TaskError, TaskGroup};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Counts its drops in the counter it borrows.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("destructor");
    }
}

#[test]
fn a_handle_outlives_the_borrows_of_its_child() {
    let (kept, waited) = runtime().block_on(async {
        let drops = AtomicUsize::new(0);
        let text = String::from("borrowed");
        let tasks = {
            let tg = TaskGroup::new();
            let tasks = tg
                .run(async {
                    let counted = Counted(&drops);
                    let kept = tg.spawn_local(async {
                        let _counted = counted;
                        Ok::<_, std::io::Error>(text.len())
                    });
                    let waited = tg.spawn_local(async {
                        tokio::task::yield_now().await;
                        Ok::<_, std::io::Error>(text.clone())
                    });
                    // A handle dropped at once: the child's node goes when the child ends.
                    drop(tg.spawn_local(async { Ok::<_, std::io::Error>(text.len()) }));
                    Ok::<_, std::io::Error>((kept, waited))
                })
                .await
                .unwrap();
            drop(tg);
            tasks
        };
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the child's future dropped once"
        );
        // The borrowed string ends before the handles are read and dropped.
        drop(text);
        tasks
    });
    assert_eq!(kept.result().unwrap(), 8);
    assert_eq!(waited.result().unwrap(), "borrowed");
}

#[test]
fn waiting_local_children_are_cancelled_and_dropped_once() {
    let drops = AtomicUsize::new(0);
    let (errors, handles) = runtime().block_on(async {
        let tg = TaskGroup::new();
        let mut handles: Vec<Task<()>> = Vec::new();
        let errors = tg
            .run(async {
                for _ in 0..3 {
                    let counted = Counted(&drops);
                    handles.push(tg.spawn_local(async move {
                        let _counted = counted;
                        pending::<()>().await;
                    }));
                }
                let counted = Counted(&drops);
                // Dropped unpolled: the group fails before the scope polls it.
                handles.push(tg.spawn_local(async move {
                    let _counted = counted;
                }));
                tokio::task::yield_now().await;
                tg.spawn_local(async { Err::<(), _>(std::io::Error::other("boom")) });
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err();
        (errors, handles)
    });
    assert_eq!(errors.leaves().count(), 1);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    for handle in handles.into_iter().take(3) {
        assert!(matches!(handle.result(), Err(TaskError::Cancelled)));
    }
}

#[test]
fn a_handle_cancels_its_waiting_local_child() {
    let drops = AtomicUsize::new(0);
    let handle = runtime().block_on(async {
        let tg = TaskGroup::new();
        tg.run(async {
            let counted = Counted(&drops);
            let handle = tg.spawn_local(async move {
                let _counted = counted;
                pending::<()>().await;
            });
            tokio::task::yield_now().await;
            handle.cancel();
            Ok::<_, std::io::Error>(handle)
        })
        .await
        .unwrap()
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(handle.result(), Err(TaskError::Cancelled)));
}

#[test]
fn a_panicking_destructor_is_the_local_childs_panic() {
    let (errors, handle) = runtime().block_on(async {
        let tg = TaskGroup::builder().policy(Policy::WaitAll).build();
        let mut kept = None;
        let errors = tg
            .run(async {
                let on_drop = PanicsOnDrop;
                kept = Some(tg.spawn_local(async move {
                    let _on_drop = on_drop;
                    Ok::<_, std::io::Error>(1)
                }));
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err();
        (errors, kept.unwrap())
    });
    assert_eq!(errors.leaves().count(), 1);
    assert!(matches!(handle.result(), Err(TaskError::Panicked(_))));
}

#[test]
fn local_children_queued_behind_the_limit_hold_a_slot_each() {
    let running = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let handles = runtime().block_on(async {
        let tg = TaskGroup::builder().limit(2).build();
        tg.run(async {
            let handles: Vec<Task<usize>> = (0..5)
                .map(|i| {
                    let (running, most) = (&running, &most);
                    tg.spawn_local(async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(i)
                    })
                })
                .collect();
            Ok::<_, std::io::Error>(handles)
        })
        .await
        .unwrap()
    });
    assert_eq!(most.load(Ordering::SeqCst), 2);
    let values: Vec<usize> = handles.into_iter().map(|h| h.result().unwrap()).collect();
    assert_eq!(values, [0, 1, 2, 3, 4]);
}

#[test]
fn a_local_childs_handle_is_read_and_dropped_on_another_thread() {
    let handle = runtime().block_on(async {
        let tg = TaskGroup::new();
        tg.run(async {
            Ok::<_, std::io::Error>(tg.spawn_local(async {
                tokio::task::yield_now().await;
                Ok::<_, std::io::Error>(String::from("sent"))
            }))
        })
        .await
        .unwrap()
    });
    let read = std::thread::spawn(move || handle.result().unwrap());
    assert_eq!(read.join().unwrap(), "sent");
}

#[test]
fn a_non_send_local_childs_handle_is_send() {
    fn send_and_sync<T: Send + Sync>(_: &T) {}
    let rt = runtime();
    let handle = rt.block_on(async {
        let tg = TaskGroup::new_local();
        tg.run(async {
            let shared = std::rc::Rc::new(5);
            let handle = tg.spawn_local(async move { Ok::<_, std::io::Error>(*shared) });
            Ok::<_, std::io::Error>(handle)
        })
        .await
        .unwrap()
    });
    send_and_sync(&handle);
    let read = std::thread::spawn(move || handle.result().unwrap());
    assert_eq!(read.join().unwrap(), 5);
}

#[test]
fn a_small_local_childs_node_stays_within_glibcs_fast_bins() {
    fn node_bytes<F: Future>(_: &F) -> usize {
        // The `Arc`'s two counts, then the node.
        2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<super::Node<(), super::LocalCellChild<F>>>()
    }
    let total = AtomicUsize::new(0);
    let total = &total;
    let i = 7;
    // The benchmark's child: a 24-byte `async` block holding a reference and a number.
    let child = async move {
        total.fetch_add(i, Ordering::Relaxed);
    };
    // Up to 120 bytes asked for is a 128-byte block, which glibc frees and reuses through a
    // fast bin; a larger one is merged with its neighbours on free, measured far slower.
    let node = node_bytes(&child);
    assert!(node <= 120, "{node} bytes");
}

/// Holds a child's own handle, which the child takes and uses while it runs and as its
/// future is dropped.
type OwnHandle = std::sync::Arc<std::sync::Mutex<Option<Task<u32>>>>;

/// Takes the handle it shares with its child when dropped, and reads it: still running.
struct ReadsItsHandle(OwnHandle);

impl Drop for ReadsItsHandle {
    fn drop(&mut self) {
        if let Some(handle) = self.0.lock().unwrap().take() {
            assert!(!handle.is_finished());
            assert!(matches!(handle.result(), Err(TaskError::Pending)));
        }
    }
}

#[test]
fn a_local_child_cancels_reads_and_drops_its_own_handle() {
    for local in [false, true] {
        let own: OwnHandle = Default::default();
        let errors = runtime().block_on(async {
            let body = |spawn: &dyn Fn(OwnHandle) -> Task<u32>| {
                let handle = spawn(std::sync::Arc::clone(&own));
                *own.lock().unwrap() = Some(handle);
            };
            let child = |own: OwnHandle| {
                let reads = ReadsItsHandle(std::sync::Arc::clone(&own));
                async move {
                    let _reads = reads;
                    tokio::task::yield_now().await;
                    // Its own handle, inside its poll: cancel it, and put it back for the
                    // destructor, which runs inside the scope's drop of this child.
                    let handle = own.lock().unwrap().take().unwrap();
                    handle.cancel();
                    *own.lock().unwrap() = Some(handle);
                    pending::<()>().await;
                    Ok::<u32, std::io::Error>(1)
                }
            };
            if local {
                let tg = TaskGroup::new_local();
                tg.run(async {
                    body(&|own| tg.spawn_local(child(own)));
                    Ok::<_, std::io::Error>(())
                })
                .await
            } else {
                let tg = TaskGroup::new();
                tg.run(async {
                    body(&|own| tg.spawn_local(child(own)));
                    Ok::<_, std::io::Error>(())
                })
                .await
            }
        });
        // Cancelled through its handle: not a failure of the group.
        assert!(errors.is_ok(), "local = {local}");
        assert!(
            own.lock().unwrap().is_none(),
            "the destructor took the handle"
        );
    }
}

/// Counts its drops in a counter it shares, for children that must be `'static`.
struct CountedArc(std::sync::Arc<AtomicUsize>);

impl Drop for CountedArc {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn spawned_children_queued_behind_the_limit_settle_their_handles_from_their_nodes() {
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = || CountedArc(drops.clone());
    let (first, named, failed, cancelled) = runtime().block_on(async {
        let tg = TaskGroup::builder()
            .limit(1)
            .policy(Policy::WaitAll)
            .build();
        let mut handles = None;
        let errors = tg
            .run(async {
                let c = counted();
                let first = tg.spawn(async move {
                    let _c = c;
                    tokio::task::yield_now().await;
                    Ok::<_, std::io::Error>(1)
                });
                // Queued: every child below waits for the one slot.
                let c = counted();
                let named = tg.spawn_named("queued", async move {
                    let _c = c;
                    tokio::task::yield_now().await;
                    Ok::<_, std::io::Error>(2)
                });
                let failed = tg
                    .spawn(async { Err::<usize, _>(std::io::Error::other("queued, then failed")) });
                let c = counted();
                let cancelled = tg.spawn(async move {
                    let _c = c;
                    Ok::<_, std::io::Error>(4)
                });
                cancelled.cancel();
                // A handle dropped while queued: its node goes when the child ends.
                let c = counted();
                drop(tg.spawn(async move {
                    let _c = c;
                    Ok::<_, std::io::Error>(5)
                }));
                assert_eq!(named.name(), Some("queued"));
                assert!(!named.is_finished());
                handles = Some((first, named, failed, cancelled));
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err();
        assert_eq!(errors.leaves().count(), 1);
        handles.unwrap()
    });
    // Every future dropped once: the four that ran or were cancelled unpolled.
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    assert_eq!(first.result().unwrap(), 1);
    assert_eq!(named.name(), Some("queued"));
    assert_eq!(named.result().unwrap(), 2);
    assert!(matches!(failed.result(), Err(TaskError::Failed { .. })));
    assert_eq!(cancelled.result(), Err(TaskError::Cancelled));
}

#[test]
fn spawned_children_still_queued_when_the_group_stops_are_dropped_once_unpolled() {
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let polled = std::sync::Arc::new(AtomicUsize::new(0));
    let handles = runtime().block_on(async {
        let tg = TaskGroup::builder().limit(1).build();
        let mut handles = Vec::new();
        let errors = tg
            .run(async {
                handles.push(tg.spawn(async {
                    tokio::task::yield_now().await;
                    Err::<(), _>(std::io::Error::other("first"))
                }));
                for _ in 0..3 {
                    let (c, polled) = (CountedArc(drops.clone()), polled.clone());
                    handles.push(tg.spawn(async move {
                        let _c = c;
                        polled.fetch_add(1, Ordering::SeqCst);
                        pending::<Result<(), std::io::Error>>().await
                    }));
                }
                // A queued shielded child keeps its place and runs to its end.
                let c = CountedArc(drops.clone());
                handles.push(tg.spawn_shielded(async move {
                    let _c = c;
                    tokio::task::yield_now().await;
                    Ok::<_, std::io::Error>(())
                }));
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err();
        assert_eq!(errors.leaves().count(), 1);
        handles
    });
    assert_eq!(polled.load(Ordering::SeqCst), 0, "never started");
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    let results: Vec<_> = handles.into_iter().map(Task::result).collect();
    assert!(matches!(results[0], Err(TaskError::Failed { .. })));
    assert!(
        results[1..4]
            .iter()
            .all(|result| *result == Err(TaskError::Cancelled))
    );
    assert_eq!(results[4], Ok(()));
}

#[test]
fn a_panicking_destructor_of_a_queued_spawned_child_is_its_panic() {
    let result = runtime().block_on(async {
        let tg = TaskGroup::builder().limit(1).build();
        let mut handle = None;
        let errors = tg
            .run(async {
                drop(tg.spawn(async {
                    tokio::task::yield_now().await;
                    Err::<(), _>(std::io::Error::other("first"))
                }));
                let guard = PanicsOnDrop;
                handle = Some(tg.spawn(async move {
                    let _guard = guard;
                    Ok::<_, std::io::Error>(())
                }));
                Ok::<_, std::io::Error>(())
            })
            .await
            .unwrap_err();
        assert_eq!(errors.leaves().count(), 2, "{errors:?}");
        // Dropped from the line by its failing sibling's task: that task's id is not its own.
        let ids: Vec<_> = errors
            .leaves()
            .map(|leaf| (leaf.to_string(), leaf.task().and_then(|task| task.id())))
            .collect();
        assert!(
            ids.iter().any(|(m, id)| m == "first" && id.is_some()),
            "{ids:?}"
        );
        assert!(
            ids.iter()
                .any(|(m, id)| m.contains("destructor") && id.is_none()),
            "{ids:?}"
        );
        handle.unwrap().result()
    });
    assert_eq!(result, Err(TaskError::Panicked("destructor".to_owned())));
}
