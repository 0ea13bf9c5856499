//! edgeauth's client SDK for browsers and Node, built with wasm-bindgen.
//!
//! The rules live in plain Rust modules, driven natively by `cargo test`; the
//! `wasm` module only binds them to `fetch`, `Date.now` and JS storage.
#![forbid(unsafe_code)]

pub mod base_url;
pub mod client;
pub mod clock;
pub mod error;
pub mod flight;
pub mod platform;
pub mod session;
pub mod signature;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use client::{Client, FetchRequest, Options};
pub use error::SdkError;
