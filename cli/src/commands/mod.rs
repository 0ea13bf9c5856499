//! One module per command group; each turns parsed arguments into calls on the `App`.

pub mod auth;
pub mod keys;
pub mod profiles;
pub mod request;
pub mod tenants;
