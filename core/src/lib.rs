//! edgeauth's rules as plain Rust: no clock, no randomness, no I/O.
//!
//! The worker, the SDK and the CLI all decide through this crate; time comes
//! in as a value and stores sit behind traits, so every rule is tested natively.
#![forbid(unsafe_code)]

pub mod error;

pub use error::{ApiError, Code, Reason};
