//! Partial results on failure (issue "Rust-native errors", part 4): a failed scope still
//! gives back what succeeded, without an outer variable.

mod common;

use std::time::Duration;

use common::*;
use taskgroup::{Member, Policy, TaskError, TaskGroup, TaskPanic, gather_settled};

type Body<T> = Result<T, Member>;

async fn page(i: u32) -> Res<u32> {
    sleep_ms(u64::from(i)).await;
    if i % 5 == 0 {
        return Err(value_error(&format!("page {i} failed")));
    }
    Ok(i * 10)
}

#[tokio::test(start_paused = true)]
async fn partial_wait_all_gives_back_every_success_beside_the_failures() {
    let tg = TaskGroup::builder()
        .policy(Policy::WaitAll)
        .limit(16)
        .build();
    let settled = tg
        .run_settled(async { Body::Ok((1..=200).map(|i| tg.spawn(page(i))).collect::<Vec<_>>()) })
        .await;
    let errors = settled.errors.expect("40 pages failed");
    assert_eq!(errors.len(), 40);
    let ok: Vec<u32> = settled
        .value
        .expect("the body returned its handles")
        .into_iter()
        .filter_map(|task| task.result().ok())
        .collect();
    assert_eq!(ok.len(), 160);
    assert_eq!(ok[..3], [10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn partial_fail_fast_gives_back_what_finished_before_the_cancellation() {
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            let fast = tg.spawn(page(1));
            let failing = tg.spawn(page(5));
            let slow = tg.spawn(page(9));
            Body::Ok((fast, failing, slow))
        })
        .await;
    assert!(settled.errors.unwrap().contains::<ValueError>());
    let (fast, failing, slow) = settled.value.unwrap();
    assert_eq!(fast.result().unwrap(), 10);
    assert!(matches!(failing.result(), Err(TaskError::Failed { .. })));
    assert_eq!(slow.result(), Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn partial_a_cancelled_body_has_no_value() {
    let tg = TaskGroup::new();
    let settled = tg
        .run_settled(async {
            tg.spawn(page(5));
            tokio::time::sleep(Duration::from_secs(60)).await;
            Body::Ok(())
        })
        .await;
    assert!(settled.value.is_none());
    assert!(settled.errors.unwrap().contains::<ValueError>());
}

#[tokio::test(start_paused = true)]
async fn partial_run_settled_of_a_successful_scope_is_ok() {
    let tg = TaskGroup::new();
    let settled = tg.run_settled(async { Body::Ok(7) }).await;
    assert!(settled.is_ok());
    assert_eq!(settled.into_result().unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn partial_gather_settled_gives_each_result_in_input_order() {
    let results = gather_settled((1..=10).map(page)).await;
    assert_eq!(results.len(), 10);
    for (i, result) in (1..=10u32).zip(&results) {
        match result {
            Ok(value) => assert_eq!(*value, i * 10),
            Err(member) => {
                assert_eq!(i % 5, 0);
                assert_eq!(member.to_string(), format!("page {i} failed"));
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn partial_gather_settled_keeps_a_panic_as_that_futures_error() {
    let results = gather_settled((0..3u32).map(|i| async move {
        if i == 1 {
            panic!("the middle one");
        }
        Res::Ok(i)
    }))
    .await;
    assert_eq!(results[0].as_ref().unwrap(), &0);
    assert_eq!(
        results[1]
            .as_ref()
            .unwrap_err()
            .downcast_ref::<TaskPanic>()
            .unwrap()
            .message(),
        "the middle one"
    );
    assert_eq!(results[2].as_ref().unwrap(), &2);
}
