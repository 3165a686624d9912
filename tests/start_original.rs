//! `tg.start(..).await?` raises the child's original error, as Trio's `start` re-raises the
//! child's exception: a server that fails to bind is an `io::Error` in the scope's group,
//! matched by `except* std::io::Error`.

mod common;

use std::io;
use std::net::SocketAddr;

use common::*;
use taskgroup::{Member, StartError, TaskGroup, task_group};
use tokio::net::TcpListener;

/// A server child: binds `addr`, signals its address, then serves until cancelled. A bind
/// failure comes back before readiness.
async fn serve(addr: SocketAddr, ready: taskgroup::Ready<SocketAddr>) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    ready.started(listener.local_addr()?);
    loop {
        let _ = listener.accept().await?;
    }
}

/// An address that is already in use: a listener holds it for as long as it lives.
async fn taken() -> (TcpListener, SocketAddr) {
    let holder = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = holder.local_addr().unwrap();
    (holder, addr)
}

#[tokio::test]
async fn start_original_bind_failure_is_an_io_error_leaf() {
    let (_holder, addr) = taken().await;
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            let bound = tg.start(move |ready| serve(addr, ready)).await?;
            Ok::<_, Member>(bound)
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<io::Error>());
    assert!(!eg.contains::<StartError>());
    let leaf = eg.leaves().next().unwrap();
    assert_eq!(
        leaf.downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::AddrInUse
    );
    assert_eq!(leaf.type_name(), "Error");
    // Where it came from: the started child, not the body.
    assert!(leaf.task().and_then(|t| t.id()).is_some());
}

#[tokio::test]
async fn start_original_matched_by_except_star() {
    let (_holder, addr) = taken().await;
    let mut caught = None;
    let outcome = task_group!(|tg| {
        let bound = tg.start(move |ready| serve(addr, ready)).await?;
        println!("serving on {bound}");
    }
    except* io::Error as eg => caught = Some(eg.first().unwrap().kind()),
    );
    assert!(outcome.is_handled());
    assert_eq!(caught, Some(io::ErrorKind::AddrInUse));
}

#[tokio::test]
async fn start_original_server_that_binds_keeps_serving() {
    let tg = TaskGroup::new();
    let addr = tg
        .run(async {
            let addr = tg
                .start(|ready| serve("127.0.0.1:0".parse().unwrap(), ready))
                .await?;
            tg.cancel();
            Ok::<_, Member>(addr)
        })
        .await
        .unwrap();
    assert_ne!(addr.port(), 0);
}

#[tokio::test(start_paused = true)]
async fn start_original_other_start_errors_stay_start_errors() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.start(|_ready: taskgroup::Ready<()>| async { Res::Ok(()) })
                .await?;
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    assert!(matches!(
        eg.leaves().next().unwrap().downcast_ref::<StartError>(),
        Some(StartError::NotSignalled)
    ));
}

#[tokio::test(start_paused = true)]
async fn start_original_returned_start_error_still_holds_the_failure() {
    let tg = TaskGroup::new();
    let err = tg
        .run(async {
            let err = tg
                .start(|_ready: taskgroup::Ready<()>| async { Res::<()>::Err(value_error("bad")) })
                .await
                .unwrap_err();
            Ok::<_, Member>(err)
        })
        .await
        .unwrap();
    match err {
        StartError::Failed(member) => assert!(member.is::<ValueError>()),
        other => panic!("unexpected {other:?}"),
    }
}

#[cfg(feature = "anyhow")]
#[tokio::test]
async fn start_original_through_an_anyhow_body() {
    let (_holder, addr) = taken().await;
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.start(move |ready| serve(addr, ready)).await?;
            anyhow::Ok(())
        })
        .await
        .unwrap_err();
    assert!(eg.contains::<io::Error>());
    assert!(!eg.contains::<StartError>());
}
