//! Live WireGuard: read the hub interface (`wg show IFACE dump`), poll it, derive each
//! router's status, and reconcile the interface with the database.
//!
//! - [`dump`]: parser for `wg show IFACE dump` (pure).
//! - [`poller`]: runs `wg` every interval and publishes whole [`poller::Snapshot`]s.
//! - [`status`]: the pending/online/stale/offline lifecycle and reset-proof counters (pure).
//! - [`apply`]: plans and applies the peer and address changes that make the interface match.
//! - [`sync`]: writes status, counters, unknown peers and the agent heartbeat to PostgreSQL.
//! - [`agent`]: the `tikwire agent` loop: reconcile + poll + sync, resilient to outages.

pub mod agent;
pub mod apply;
pub mod dump;
pub mod poller;
pub mod status;
pub mod sync;

pub use poller::{PollerConfig, PollerState, Snapshot, spawn_poller};
