//! Model checks of the state protocol with loom: every interleaving of each race, run with
//! `RUSTFLAGS="--cfg taskgroup_loom" cargo test -p taskgroup-core --lib model_`.

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::limit::{Freed, Limiter, Waiter};
use super::state::{Acquire, State, Stop};

/// A spawn into `inner` (nested in `outer`), as `Shared::acquire` does it.
fn spawn_nested(inner: &State, outer: &State) -> bool {
    let mut have_hold = false;
    loop {
        match inner.acquire(true, false, have_hold) {
            Acquire::NeedsHold => {
                assert_eq!(outer.acquire(false, true, false), Acquire::Counted);
                have_hold = true;
            }
            Acquire::Counted => return true,
            Acquire::CountedReturnHold => {
                let _ = outer.release();
                return true;
            }
            Acquire::Refused { .. } => {
                if have_hold {
                    let _ = outer.release();
                }
                return false;
            }
        }
    }
}

/// The end of a child of `inner`, as `Shared::release` does it; whether the outer scope was
/// to be woken.
fn end_nested(inner: &State, outer: &State) -> bool {
    let release = inner.release();
    release.release_hold && outer.release().wake_scope
}

#[test]
fn model_spawn_racing_close() {
    loom::model(|| {
        let state = Arc::new(State::new());
        let live = Arc::new(AtomicBool::new(false));
        let woken = Arc::new(AtomicBool::new(false));
        let child = {
            let (state, live, woken) = (state.clone(), live.clone(), woken.clone());
            thread::spawn(move || match state.acquire(false, false, false) {
                Acquire::Counted => {
                    live.store(true, Ordering::SeqCst);
                    live.store(false, Ordering::SeqCst);
                    if state.release().wake_scope {
                        woken.store(true, Ordering::SeqCst);
                    }
                }
                Acquire::Refused { wake_scope, .. } => {
                    if wake_scope {
                        woken.store(true, Ordering::SeqCst);
                    }
                }
                other => panic!("{other:?}"),
            })
        };
        state.set_waiting();
        let closed = state.try_close();
        if closed {
            assert!(!live.load(Ordering::SeqCst), "closed while a child ran");
        }
        child.join().unwrap();
        if !closed {
            assert!(
                woken.load(Ordering::SeqCst),
                "the scope waits and nobody wakes it"
            );
            assert!(state.try_close());
        }
        assert_eq!(state.load().count(), 0);
    });
}

#[test]
fn model_stop_racing_a_failing_child() {
    loom::model(|| {
        let state = Arc::new(State::new());
        let failing = {
            let state = state.clone();
            thread::spawn(move || state.stop(Stop::Failed))
        };
        let spawning = {
            let state = state.clone();
            thread::spawn(move || match state.acquire(false, false, false) {
                Acquire::Counted => {
                    let _ = state.release();
                    None
                }
                Acquire::Refused { reason, .. } => Some(reason),
                other => panic!("{other:?}"),
            })
        };
        let cancelled = state.stop(Stop::Cancelled);
        let failed = failing.join().unwrap();
        assert!(failed ^ cancelled, "exactly one stop is the first");
        let winner = if failed {
            Stop::Failed
        } else {
            Stop::Cancelled
        };
        assert_eq!(state.load().reason(), winner);
        if let Some(reason) = spawning.join().unwrap() {
            assert_eq!(reason, winner, "a refusal names the first stop");
        }
        assert!(matches!(
            state.acquire(false, false, false),
            Acquire::Refused { .. }
        ));
    });
}

#[test]
fn model_the_last_child_wakes_the_scope() {
    loom::model(|| {
        let state = Arc::new(State::new());
        for _ in 0..2 {
            assert_eq!(state.acquire(false, false, false), Acquire::Counted);
        }
        let ends: Vec<_> = (0..2)
            .map(|_| {
                let state = state.clone();
                thread::spawn(move || state.release().wake_scope)
            })
            .collect();
        state.set_waiting();
        let closed = state.try_close();
        let wakes = ends
            .into_iter()
            .map(|end| end.join().unwrap())
            .filter(|&woke| woke)
            .count();
        assert!(wakes <= 1, "only the last child wakes the scope");
        assert!(closed || wakes == 1, "the scope waits and nobody wakes it");
        assert_eq!(state.load().count(), 0);
    });
}

#[test]
fn model_holds_on_the_enclosing_group() {
    loom::model(|| {
        let outer = Arc::new(State::new());
        let inner = Arc::new(State::new());
        let children: Vec<_> = (0..2)
            .map(|_| {
                let (outer, inner) = (outer.clone(), inner.clone());
                thread::spawn(move || {
                    assert!(spawn_nested(&inner, &outer));
                    assert!(
                        outer.load().count() >= 1,
                        "a live grandchild holds the enclosing group"
                    );
                    let _ = end_nested(&inner, &outer);
                })
            })
            .collect();
        for child in children {
            child.join().unwrap();
        }
        assert_eq!(inner.load().count(), 0);
        assert!(
            !inner.load().is_held(),
            "a group with nothing alive holds nothing"
        );
        assert_eq!(outer.load().count(), 0, "every hold was given back");
    });
}

#[test]
fn model_close_racing_a_hold_release() {
    loom::model(|| {
        let outer = Arc::new(State::new());
        let inner = Arc::new(State::new());
        assert!(spawn_nested(&inner, &outer));
        let grandchild_done = Arc::new(AtomicBool::new(false));
        let grandchild = {
            let (outer, inner, done) = (outer.clone(), inner.clone(), grandchild_done.clone());
            thread::spawn(move || {
                done.store(true, Ordering::SeqCst);
                end_nested(&inner, &outer)
            })
        };
        outer.set_waiting();
        let closed = outer.try_close();
        if closed {
            assert!(
                grandchild_done.load(Ordering::SeqCst),
                "closed under a grandchild"
            );
        }
        let woken = grandchild.join().unwrap();
        assert!(closed || woken, "the outer scope waits and nobody wakes it");
    });
}

#[test]
fn model_freeing_a_limit_slot() {
    loom::model(|| {
        // One slot, held by a running child; a spawn and a local child race its end.
        let limiter = Arc::new(Mutex::new(Limiter::<u32>::new(1)));
        assert!(limiter.lock().unwrap().try_take());
        let started = Arc::new(AtomicUsize::new(0));
        let granted = Arc::new(AtomicUsize::new(0));
        let ending = {
            let (limiter, started, granted) = (limiter.clone(), started.clone(), granted.clone());
            thread::spawn(move || {
                let freed = limiter.lock().unwrap().free();
                match freed {
                    Freed::Start(_) => {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                    Freed::GrantedLocal => {
                        granted.fetch_add(1, Ordering::SeqCst);
                    }
                    Freed::Idle => {}
                }
            })
        };
        let spawning = {
            let (limiter, started) = (limiter.clone(), started.clone());
            thread::spawn(move || {
                let mut limiter = limiter.lock().unwrap();
                if limiter.try_take() {
                    started.fetch_add(1, Ordering::SeqCst);
                } else {
                    limiter.enqueue(Waiter::Spawned(2));
                }
            })
        };
        {
            let mut limiter = limiter.lock().unwrap();
            if !limiter.try_take() {
                limiter.enqueue(Waiter::Local);
            } else {
                granted.fetch_add(1, Ordering::SeqCst);
            }
        }
        ending.join().unwrap();
        spawning.join().unwrap();
        let mut limiter = limiter.lock().unwrap();
        assert!(limiter.running() <= 1, "more children run than the limit");
        // Exactly one of the two waiting children got the freed slot; the other still waits.
        let ran = started.load(Ordering::SeqCst) + granted.load(Ordering::SeqCst);
        assert_eq!(ran, 1);
        assert_eq!(limiter.take_queue(false).len(), 1);
        assert_eq!(limiter.running(), 1);
    });
}

#[test]
fn model_one_scope_enters() {
    loom::model(|| {
        let state = Arc::new(State::new());
        let other = {
            let state = state.clone();
            thread::spawn(move || state.enter())
        };
        let here = state.enter();
        assert!(here ^ other.join().unwrap(), "exactly one scope enters");
    });
}

/// A background spawn (`Shared::made_background`, then the spawn into the background group)
/// racing the scope's close and teardown: a background child that is counted was seen by the
/// teardown, which stops it; none is left behind.
#[test]
fn model_background_spawn_racing_close() {
    loom::model(|| {
        let main = Arc::new(State::new());
        let background = Arc::new(State::new());
        // The group's background slot: whether the background group was made.
        let made = Arc::new(Mutex::new(false));
        let woken = Arc::new(AtomicBool::new(false));
        let spawner = {
            let (main, background, made, woken) = (
                main.clone(),
                background.clone(),
                made.clone(),
                woken.clone(),
            );
            thread::spawn(move || {
                match main.acquire(false, false, false) {
                    Acquire::Counted => {}
                    Acquire::Refused { wake_scope, .. } => {
                        if wake_scope {
                            woken.store(true, Ordering::SeqCst);
                        }
                        return false;
                    }
                    other => panic!("{other:?}"),
                }
                *made.lock().unwrap() = true;
                let counted = background.acquire(false, false, false) == Acquire::Counted;
                if main.release().wake_scope {
                    woken.store(true, Ordering::SeqCst);
                }
                counted
            })
        };
        main.set_waiting();
        let closed_first = main.try_close();
        if !closed_first {
            // The scope waits for the spawn's passing unit, and is woken for it.
            while !woken.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            assert!(main.try_close());
        }
        // The teardown takes the background group and stops it.
        let taken = std::mem::take(&mut *made.lock().unwrap());
        if taken {
            background.stop(Stop::Closed);
        }
        let counted = spawner.join().unwrap();
        assert!(
            !counted || taken,
            "a background child the teardown never saw"
        );
        if !taken {
            assert_eq!(background.load().count(), 0);
        }
    });
}
