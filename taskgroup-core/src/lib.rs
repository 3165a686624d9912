//! The runtime of [`taskgroup`](https://docs.rs/taskgroup): structured concurrency on tokio.
//!
//! A [`TaskGroup`] is a scope: children spawned into it run in parallel, the first failure
//! cancels the rest, and [`TaskGroup::run`] returns only when every child has finished or been
//! cancelled, with every failure gathered in one [`ErrorGroup`] that can be taken apart by type.
//! Most code reaches this through the `task_group!` macro of the `taskgroup` crate.
// Only group/process.rs allows it, on one function: the `libc::kill` that sends SIGTERM.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod box_error;
mod cancel;
mod cancel_reason;
mod catch_panic;
mod config;
mod conversion;
mod error_group;
mod error_types;
mod except;
mod foreign;
mod gather;
mod gather_settled;
mod group;
mod leaf;
#[cfg(feature = "process")]
mod process_failed;
mod ready_set;
mod render;
mod reraise;
mod spawn_error;
mod sync;
mod task_error;
mod task_output;
mod value;

pub use box_error::BoxError;
pub use cancel::on_cancel;
pub use cancel_reason::CancelReason;
pub use config::{Builder, Policy, ZeroLimit};
pub use error_group::{AnyError, EmptyGroup, ErrorGroup, Leaves, Member, TASK_GROUP_MESSAGE};
pub use error_types::ErrorTypes;
pub use except::{ClauseOutput, ClauseType, ExceptStar, Handler, Outcome, except_star};
pub use gather::{AsCompleted, as_completed, gather};
pub use gather_settled::gather_settled;
pub use group::{
    ChildSnapshot, ChildSnapshotKind, ChildSnapshotState, GroupSnapshot, GroupState, Local,
    Locality, Parallel, Ready, Settled, ShieldExpired, Snapshot, Spawner, StartError, Task,
    TaskGroup, cancel_reason, current_deadline, snapshot,
};
pub use group::{ErrorsDropped, FailureCounts};
pub use group::{Restart, RestartError};
pub use leaf::{AlreadyEntered, BodyCancelled, Leaf, TaskInfo, TaskPanic, TimedOut};
#[cfg(feature = "process")]
pub use process_failed::ProcessFailed;
pub use render::{MAX_GROUP_DEPTH, MAX_GROUP_WIDTH, Timeline};
pub use spawn_error::SpawnError;
pub use task_error::TaskError;
pub use task_output::TaskOutput;
pub use tokio_util::sync::CancellationToken;
pub use value::{Value, value};
