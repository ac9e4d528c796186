//! Alerts: which status changes deserve a message (the engine, pure), what the message says
//! (the event body), how it is signed (Standard Webhooks), delivered (the outbox worker) and
//! handed to the operator's own hook command.

pub mod delivery;
pub mod endpoints;
pub mod engine;
pub mod event;
pub mod hook;
pub mod monitor;
pub mod signature;

pub use engine::{Alert, AlertEngine, AlertRules, AlertSubject, DownOn, RouterChange, RouterId};
pub use event::{AlertKind, EventBody, RouterFacts};
