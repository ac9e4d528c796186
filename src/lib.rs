//! tikwire: provision remote MikroTik routers onto a multi-tenant WireGuard hub.
//!
//! The core (everything but `tui`) never touches the terminal: the console and the command
//! line are two clients of the same library.

pub mod alerts;
pub mod api;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod embedded_pg;
pub mod error;
pub mod events;
pub mod format;
pub mod history;
pub mod ipam;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod provision;
pub mod rotation;
pub mod scripts;
pub mod store;
pub mod tui;
pub mod vault;
pub mod wg;

pub use error::{Error, Result};

// Unit tests share fixture files with the integration tests, which name the crate `tikwire`.
#[cfg(test)]
extern crate self as tikwire;
