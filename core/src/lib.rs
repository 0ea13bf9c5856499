//! edgeauth's rules as plain Rust: no clock, no randomness, no I/O.
//!
//! The worker, the SDK and the CLI all decide through this crate; time comes
//! in as a value and stores sit behind traits, so every rule is tested natively.
#![forbid(unsafe_code)]

pub mod claims;
pub mod client;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod mac;
pub mod time;

// Tokens, keys, sessions, settings.
pub mod api_key;
pub mod browser_session;
pub mod cors;
pub mod jwks;
pub mod password;
pub mod session;
pub mod settings;

// Scopes, policy, credentials, signing, authorization, input checks, device login.
pub mod authz;
pub mod credential;
pub mod device;
pub mod directory;
pub mod email;
pub mod endpoint;
pub mod forward;
pub mod gate;
pub mod grants;
pub mod identity;
pub mod input;
pub mod ip;
pub mod path;
pub mod policy;
pub mod query;
pub mod scope;
pub mod secret;
pub mod signing;
pub mod terminal;

pub use error::{ApiError, Code, Reason};
