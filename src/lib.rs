//! Structured concurrency for tokio: Python's `asyncio.TaskGroup` and `except*`, in Rust.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use taskgroup_core::*;

/// Not public API: the paths that macro expansions use, so that user imports never matter.
#[doc(hidden)]
pub mod __private {
    pub use ::core;
    pub use ::std::boxed::Box;
    pub use ::std::string::String;
    pub use ::std::vec::Vec;
    pub use taskgroup_core::*;
}
