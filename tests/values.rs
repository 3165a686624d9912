//! Children that return plain values (issue "Rust-native errors", part 3): the seed's
//! `async fn fetch_data(url, delay) -> String` spawned in one call.

use std::time::Duration;

use taskgroup::{Member, TaskGroup, task_group, value};

async fn fetch_data(url: &str, secs: f64) -> String {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    format!("Data from {url}")
}

#[tokio::test(start_paused = true)]
async fn value_children_spawn_in_one_call_and_give_their_values() {
    let (a, b) = task_group!(|tg| {
        (
            tg.spawn_value(fetch_data("api1.com", 1.0)),
            tg.spawn_value(fetch_data("api2.com", 2.0)),
        )
    })
    .unwrap();
    assert_eq!(a.result().unwrap(), "Data from api1.com");
    assert_eq!(b.result().unwrap(), "Data from api2.com");
}

#[tokio::test(start_paused = true)]
async fn value_wrapper_works_with_named_local_and_spawner_children() {
    let label = String::from("local");
    let tg = TaskGroup::new();
    let spawner = tg.spawner();
    let (named, local, spawned) = tg
        .run(async {
            let named = tg.spawn_named("fetcher", value(fetch_data("api1.com", 0.5)));
            // A local child may borrow: `label` is read in place.
            let local = tg.spawn_local(value(async { label.len() }));
            let spawned = spawner.spawn_value(async { 7_u8 });
            Ok::<_, Member>((named, local, spawned))
        })
        .await
        .unwrap();
    assert_eq!(named.name(), Some("fetcher"));
    assert_eq!(named.result().unwrap(), "Data from api1.com");
    assert_eq!(local.result().unwrap(), 5);
    assert_eq!(spawned.result().unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn value_children_are_cancelled_by_a_failing_sibling() {
    let mut slow = None;
    let eg = task_group!(|tg| {
        slow = Some(tg.spawn_value(fetch_data("slow.com", 60.0)));
        tg.spawn(async { Err::<(), _>(std::io::Error::other("down")) });
    })
    .unwrap_err();
    assert!(eg.contains::<std::io::Error>());
    assert_eq!(slow.unwrap().result(), Err(taskgroup::TaskError::Cancelled));
}
