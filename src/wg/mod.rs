//! Live WireGuard: read the hub interface (`wg show IFACE dump`), poll it, derive each
//! router's status, and reconcile the interface with the database.
//!
//! - [`dump`]: parser for `wg show IFACE dump` (pure).
//! - [`poller`]: runs `wg` every interval and publishes whole [`poller::Snapshot`]s.
//! - [`status`]: the pending/online/stale/offline lifecycle and reset-proof counters (pure).
//! - [`desired`]: the interface as the database wants it.
//! - [`plan`]: the pure planners (peers, addresses) that compare it with what is live.
//! - [`link`]: reads `ip -j addr show` (link state and addresses).
//! - [`command`]: the one subprocess runner (keys over stdin, bounded output, timeouts).
//! - [`apply`]: reads the interface, plans, and executes the plan.
//! - [`sync`]: writes status, counters, unknown peers and the agent heartbeat to PostgreSQL.
//! - [`agent`]: the `tikwire agent` loop: reconcile + poll + sync, resilient to outages.

pub mod agent;
pub mod apply;
pub mod command;
pub mod desired;
pub mod dump;
pub mod link;
pub mod plan;
pub mod poller;
pub mod status;
pub mod sync;

pub use poller::{PollerConfig, PollerState, Snapshot, spawn_poller};
