//! The console: a full-screen terminal UI on ratatui and crossterm.
//!
//! Data flows one way: an event (key, database result, change notification, clock tick)
//! goes into [`app::App::update`], which changes the state and returns effects; the runtime
//! carries effects out in background tasks whose results come back as events; a frame is
//! drawn from the state only when it changed.

pub mod app;
pub mod clipboard;
pub mod data;
pub mod fleet;
pub mod format;
pub mod forms;
mod host_probe;
pub mod keymap;
pub mod monitor;
pub mod overlays;
pub mod panes;
pub mod peerview;
mod runtime;
pub mod scripts_bridge;
/// Fixtures for the unit tests (they live with the integration tests, outside the crate).
#[cfg(test)]
#[path = "../../tests/common_tui/testdata.rs"]
pub(crate) mod testdata;
pub mod theme;
pub mod ui;
pub mod window;

use chrono::Utc;

pub use app::{App, Effect, Msg};
pub use theme::Theme;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::provision::Provisioner;

/// Opens the console on this terminal and runs it until the operator quits. The terminal
/// is restored on every way out, panics included (ratatui's init installs the hook).
pub async fn run(config: Config, provisioner: Provisioner, database_url: String) -> Result<()> {
    let keymap = keymap::Keymap::new(&config.ui.keys)?;
    let mut theme = Theme::load(
        config.ui.theme.as_deref(),
        Some(&config.config_dir.join("themes")),
    )?;
    if Theme::no_color_requested() {
        theme = theme.without_colour();
    }
    let mut app = App::new(keymap, theme, Utc::now());
    // The router list reads windows from the database, not the whole fleet.
    app.window = Some(window::RouterWindow::new(
        crate::store::window::ListSpec::all_by_name(),
    ));
    app.peers.window = Some(window::RouterWindow::new(
        crate::store::window::ListSpec::all_by_name(),
    ));
    app.peers.window_only = true;
    app.peers.interval_secs = config.poll.interval_secs;
    app.rotation_max_age = config.rotation.max_age();
    let mut terminal = ratatui::try_init().map_err(|e| Error::io("setting up the terminal", e))?;
    // Pastes arrive whole (one event), not as keys: a TAB in a paste must not move focus.
    paste_mode(true);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        paste_mode(false);
        hook(info);
    }));
    let host = runtime::HostConfig {
        wg_command: config.poll.wg_command.clone(),
        interval: std::time::Duration::from_secs(config.poll.interval_secs),
        online_secs: i64::try_from(config.status.online_secs).unwrap_or(i64::MAX),
    };
    let result = runtime::event_loop(&mut terminal, app, provisioner, database_url, host).await;
    paste_mode(false);
    ratatui::restore();
    result
}

/// Bracketed paste on or off (best effort: a terminal without it sends keys, as before).
fn paste_mode(on: bool) {
    use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
    let mut out = std::io::stdout();
    let _ = if on {
        ratatui::crossterm::execute!(out, EnableBracketedPaste)
    } else {
        ratatui::crossterm::execute!(out, DisableBracketedPaste)
    };
}
