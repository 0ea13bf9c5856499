//! Device login's polling rules are the client core's, shared with the SDK's `pollDeviceLogin`.

pub use edgeauth_core::client::device::{DeviceCode, Poll, Poller, Step, SLOW_DOWN_STEP_S};
