//! The atomics the group's state word is built on: std's, or loom's when the crate is built
//! with `--cfg taskgroup_loom` to model-check the state protocol (see docs/DESIGN.md).

#[cfg(taskgroup_loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(taskgroup_loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
