//! The `tracing` feature: a span per group and per task, failures recorded.
//! Run with `cargo test --test tracing --features tracing`.
#![cfg(feature = "tracing")]

mod common;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use taskgroup::{Member, TaskGroup};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span: its id, its parent's, and its name with its fields.
type SpanRecord = (u64, Option<u64>, String);
/// An event: the span it happened in, and its fields.
type EventRecord = (Option<u64>, String);

/// Records span names with their fields, and events with the span they happened in.
#[derive(Clone, Default)]
struct Recorder {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    events: Arc<Mutex<Vec<EventRecord>>>,
    current: Arc<Mutex<Vec<u64>>>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = Fields(span.metadata().name().to_owned());
        span.record(&mut fields);
        let parent = span
            .parent()
            .map(Id::into_u64)
            .or_else(|| self.current.lock().unwrap().last().copied());
        self.spans.lock().unwrap().push((id, parent, fields.0));
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let span = self.current.lock().unwrap().last().copied();
        self.events.lock().unwrap().push((span, fields.0));
    }

    fn enter(&self, span: &Id) {
        self.current.lock().unwrap().push(span.into_u64());
    }

    fn exit(&self, _: &Id) {
        self.current.lock().unwrap().pop();
    }
}

#[test]
fn tracing_spans_per_group_and_task_with_failures_recorded() {
    let recorder = Recorder::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        rt.block_on(async {
            let tg = TaskGroup::builder().name("fetchers").build();
            tg.run(async {
                tg.spawn_named("users", async { Res::Ok(1) });
                tg.spawn_named("posts", async {
                    sleep_ms(10).await;
                    Res::<()>::Err(value_error("404 for /posts/1"))
                });
                Ok::<_, Member>(())
            })
            .await
            .unwrap_err();
        })
    });
    let spans = recorder.spans.lock().unwrap().clone();
    let group = spans
        .iter()
        .find(|(_, _, text)| text.starts_with("taskgroup.group") && text.contains("fetchers"))
        .expect("a group span");
    let tasks: Vec<_> = spans
        .iter()
        .filter(|(_, _, text)| text.starts_with("taskgroup.task"))
        .collect();
    assert_eq!(tasks.len(), 2, "{spans:?}");
    assert!(tasks.iter().any(|(_, _, t)| t.contains("name=\"users\"")));
    assert!(tasks.iter().all(|(_, parent, _)| *parent == Some(group.0)));
    let posts = tasks
        .iter()
        .find(|(_, _, t)| t.contains("name=\"posts\""))
        .unwrap();
    let events = recorder.events.lock().unwrap().clone();
    let failure = events
        .iter()
        .find(|(_, text)| text.contains("task failed"))
        .expect("a failure event");
    assert_eq!(
        failure.0,
        Some(posts.0),
        "the failure is recorded in the task's span"
    );
    assert!(failure.1.contains("404 for /posts/1") && failure.1.contains("ValueError"));
}

#[test]
fn stall_is_reported_once_as_a_tracing_warning() {
    let recorder = Recorder::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        rt.block_on(async {
            let tg = TaskGroup::builder()
                .stall(std::time::Duration::from_millis(100))
                .build();
            tg.run(async {
                tg.spawn_named("stuck", std::future::pending::<()>());
                sleep_ms(1_000).await;
                tg.cancel();
                Ok::<_, Member>(())
            })
            .await
            .unwrap();
        })
    });
    let events = recorder.events.lock().unwrap().clone();
    let stalls: Vec<_> = events
        .iter()
        .filter(|(_, text)| text.contains("task stalled"))
        .collect();
    assert_eq!(stalls.len(), 1, "{events:?}");
    assert!(stalls[0].1.contains("task.name=\"stuck\""), "{stalls:?}");
}
