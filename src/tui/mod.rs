//! The console: a full-screen terminal UI on ratatui and crossterm.
//!
//! Data flows one way: an event (key, database result, change notification, clock tick)
//! goes into [`app::App::update`], which changes the state and returns effects; the runtime
//! carries effects out in background tasks whose results come back as events; a frame is
//! drawn from the state only when it changed.

pub mod app;
pub mod data;
pub mod format;
pub mod forms;
pub mod keymap;
pub mod overlays;
pub mod panes;
#[doc(hidden)]
pub mod testdata;
pub mod theme;
pub mod ui;

pub use app::{App, Effect, Msg};
pub use theme::Theme;
