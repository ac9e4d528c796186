//! Logging to a file in the state directory: never to the terminal while the console runs,
//! and never a key (nothing secret is ever passed to a log macro).

use std::fs::File;
use std::io::IsTerminal as _;
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

pub const LOG_ENV: &str = "TIKWIRE_LOG";
pub const LOG_FILE: &str = "tikwire.log";

/// Opens `DIR/tikwire.log` for appending: created with mode 0600 in a directory made 0700,
/// never through a symbolic link (a link planted there would make tikwire write wherever it
/// points), and only when it is a regular file of ours (or root's).
pub fn open_log_file(log_dir: &Path) -> std::io::Result<File> {
    // Only the log directory itself is private: as root it sits in the data directory,
    // which the server user must still be able to pass through.
    if let Some(parent) = log_dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(log_dir) {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => return Err(err),
        _ => {}
    }
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(log_dir.join(LOG_FILE))?;
    let meta = file.metadata()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || (meta.uid() != me && meta.uid() != 0) {
        return Err(std::io::Error::other(
            "log file is not a regular file of ours",
        ));
    }
    // An older tikwire created it 0644: nobody else needs to read it.
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Starts logging to `DIR/tikwire.log`, and also to stderr when asked (the agent under
/// systemd). Keep the guard alive for the whole run. A log dir that cannot be created costs
/// the log, never the command.
pub fn init(log_dir: &Path, stderr: bool) -> Option<WorkerGuard> {
    // sqlx reports PostgreSQL's notices ("relation already exists, skipping") at info.
    let filter = || {
        EnvFilter::try_from_env(LOG_ENV)
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"))
    };
    let file = open_log_file(log_dir)
        .ok()
        .map(tracing_appender::non_blocking);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_is_private_and_never_follows_a_link() {
        let dir = std::env::temp_dir().join(format!("tikwire-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("victim");
        std::fs::write(&target, "untouched\n").unwrap();
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::os::unix::fs::symlink(&target, logs.join(LOG_FILE)).unwrap();
        assert!(open_log_file(&logs).is_err(), "a planted link is refused");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");

        std::fs::remove_file(logs.join(LOG_FILE)).unwrap();
        let fresh = dir.join("fresh");
        open_log_file(&fresh).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&fresh.join(LOG_FILE)), 0o600);
        assert_eq!(mode(&fresh), 0o700);
        // An old world-readable log is tightened.
        std::fs::set_permissions(fresh.join(LOG_FILE), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        open_log_file(&fresh).unwrap();
        assert_eq!(mode(&fresh.join(LOG_FILE)), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
