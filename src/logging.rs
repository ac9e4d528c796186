//! Logging to a file in the state directory: never to the terminal while the console runs,
//! and never a key (nothing secret is ever passed to a log macro).

use std::io::IsTerminal as _;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

pub const LOG_ENV: &str = "TIKWIRE_LOG";

/// Starts logging to `DIR/tikwire.log`, and also to stderr when asked (the agent under
/// systemd). Keep the guard alive for the whole run. A log dir that cannot be created costs
/// the log, never the command.
pub fn init(log_dir: &Path, stderr: bool) -> Option<WorkerGuard> {
    // sqlx reports PostgreSQL's notices ("relation already exists, skipping") at info.
    let filter = || {
        EnvFilter::try_from_env(LOG_ENV)
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"))
    };
    let file = std::fs::create_dir_all(log_dir).ok().map(|()| {
        tracing_appender::non_blocking(tracing_appender::rolling::never(log_dir, "tikwire.log"))
    });
    let (file_layer, guard) = match file {
        Some((writer, guard)) => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .with_filter(filter()),
            ),
            Some(guard),
        ),
        None => (None, None),
    };
    let stderr_layer = stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    guard
}
