//! A private PostgreSQL cluster under the data directory, for when no `DATABASE_URL` is given.
//!
//! Layout under `DATA_DIR/pg` (mode 0700, owned by the user the server runs as):
//! `data/` (the cluster), `run/` (the Unix socket directory, 0700), `server.log` and
//! `initialized` (written once initdb and the `tikwire` database are complete). Beside it,
//! `DATA_DIR/pg.lock` is flocked around init, start and stop, so concurrent tikwire processes
//! share one cluster.
//!
//! The server listens only on a Unix socket in a private directory, so `trust` authentication
//! is confined to whoever can enter that directory. It keeps running after tikwire exits;
//! the next start finds it through `postmaster.pid` and a probe of the socket.
//!
//! PostgreSQL refuses to run as root: as root, `initdb` and `postgres` run as the `postgres`
//! system user, which must be able to reach the data directory.
//!
//! Everything here is blocking (process spawns, file locks): call it before starting the async
//! runtime or through `spawn_blocking`.
//!
//! This module is the app's cluster ([`ensure_running`], [`stop`], [`status`]); the parts
//! ([`PgBinaries`], [`ServerUser`], [`Cluster`]) are public too, for the test harness, which
//! runs throwaway clusters of its own.

mod binaries;
mod cluster;
mod server_user;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use binaries::PgBinaries;
pub use cluster::{Cluster, Lifetime, Running, socket_url};
pub use server_user::ServerUser;

use crate::error::{Error, Result};
use cluster::SOCKET_FILE;
use server_user::effective_ids;

/// The superuser `initdb` creates; clients connect as this role.
pub const SUPERUSER: &str = "tikwire";
/// The database tikwire uses inside its private cluster.
pub const DATABASE: &str = "tikwire";
/// Only used to name the socket file: the server opens no TCP port.
pub const PORT: u16 = 5432;

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

fn embedded_err(message: impl Into<String>) -> Error {
    Error::EmbeddedPg(message.into())
}

fn io_err(what: &str, path: &Path, err: io::Error) -> Error {
    embedded_err(format!("{what} {}: {err}", path.display()))
}

/// tikwire's private cluster, running.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    pid: u32,
    socket_dir: PathBuf,
    cluster_dir: PathBuf,
}

impl EmbeddedPostgres {
    /// The URL of the `tikwire` database.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    pub fn url_for(&self, db: &str) -> String {
        socket_url(&self.socket_dir, db)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// `DATA_DIR/pg`.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }
}

/// What `tikwire db status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `DATA_DIR/pg`.
    pub cluster_dir: PathBuf,
    pub socket_dir: PathBuf,
    /// The server's pid, `None` when it is stopped.
    pub pid: Option<u32>,
    pub url: String,
}

/// Paths of the cluster under one data directory.
struct Layout {
    data_dir: PathBuf,
    root: PathBuf,
    socket_dir: PathBuf,
    /// The socket directory is under /tmp because the data directory's path is too long.
    socket_fallback: bool,
}

impl Layout {
    fn new(data_dir: &Path) -> Result<Self> {
        let data_dir =
            std::path::absolute(data_dir).map_err(|e| io_err("cannot resolve", data_dir, e))?;
        let root = data_dir.join("pg");
        let preferred = root.join("run");
        let fits = preferred.join(SOCKET_FILE).as_os_str().len() <= MAX_SOCKET_PATH;
        let socket_dir = if fits {
            preferred
        } else {
            short_socket_dir(&root)
        };
        Ok(Self {
            data_dir,
            root,
            socket_dir,
            socket_fallback: !fits,
        })
    }

    fn cluster(&self, user: ServerUser) -> Cluster {
        Cluster {
            data_dir: self.root.join("data"),
            socket_dir: self.socket_dir.clone(),
            log_file: self.root.join("server.log"),
            user,
        }
    }

    fn marker(&self) -> PathBuf {
        self.root.join("initialized")
    }

    /// Beside `pg/`, not in it, so that creating `pg/` itself happens under the lock.
    fn lock_file(&self) -> PathBuf {
        self.data_dir.join("pg.lock")
    }
}

/// `/tmp/tikwire-<uid>-<hash of the cluster dir>`: stable for one data directory and short.
fn short_socket_dir(root: &Path) -> PathBuf {
    // FNV-1a: stable across Rust releases, unlike std's hasher.
    let hash = root
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    PathBuf::from(format!(
        "/tmp/tikwire-{}-{:012x}",
        effective_ids().0,
        hash & 0xffff_ffff_ffff
    ))
}

/// An exclusive flock held until dropped.
struct LockGuard(#[allow(dead_code)] File);

fn lock(path: &Path) -> Result<LockGuard> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))?;
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) } == 0 {
            return Ok(LockGuard(file));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(io_err("cannot lock", path, err));
        }
    }
}

/// Create `dir` (mode 0700, owned by the server user) or check that an existing one is private
/// to that user: the socket there accepts anyone who can reach it.
fn private_dir(dir: &Path, user: &ServerUser) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_err("cannot create", dir, e))?;
            user.chown(dir)
        }
        Err(e) => Err(io_err("cannot inspect", dir, e)),
        Ok(meta) if meta.is_dir() && meta.uid() == user.uid && meta.mode() & 0o077 == 0 => Ok(()),
        Ok(_) => Err(embedded_err(format!(
            "refusing to use {}: it must be a directory owned by {} with mode 0700",
            dir.display(),
            user.name
        ))),
    }
}

/// Create the data directory (0711: the server user must be able to pass through it when
/// we are root) and check that the server user can reach it.
fn prepare_data_dir(layout: &Layout, user: &ServerUser) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(&layout.data_dir)
        .map_err(|e| io_err("cannot create", &layout.data_dir, e))?;
    // Whoever owns the data directory can replace the cluster, its socket and the key.
    crate::vault::check_private_dir(&layout.data_dir)?;
    if let Some(blocked) = user.first_unreachable(&layout.data_dir) {
        return Err(embedded_err(format!(
            "the server runs as the `{}` user, which cannot reach {} (it cannot enter {}): use \
             --data-dir /var/lib/tikwire (or TIKWIRE_DATA_DIR), or set DATABASE_URL",
            user.name,
            layout.data_dir.display(),
            blocked.display()
        )));
    }
    Ok(())
}

/// Start tikwire's private cluster under `data_dir` if it is not running, creating it first
/// if needed. Safe to call from several processes at once: they end up sharing one server.
pub fn ensure_running(data_dir: &Path) -> Result<EmbeddedPostgres> {
    ensure_running_with(data_dir, PgBinaries::find)
}

/// [`ensure_running`] with the binary lookup supplied (tests use it to simulate a machine
/// without PostgreSQL). The lookup runs only when the server has to be initialised or started.
pub fn ensure_running_with(
    data_dir: &Path,
    find_binaries: impl FnOnce() -> Result<PgBinaries>,
) -> Result<EmbeddedPostgres> {
    let layout = Layout::new(data_dir)?;
    let running_here = |running: Running| EmbeddedPostgres {
        pid: running.pid,
        socket_dir: running.socket_dir,
        cluster_dir: layout.root.clone(),
    };
    let user = ServerUser::for_this_process()?;
    let cluster = layout.cluster(user.clone());
    // The common case, a few ms: already running, no lock needed.
    if let Some(running) = cluster.running() {
        return Ok(running_here(running));
    }

    let bins = find_binaries()?;
    prepare_data_dir(&layout, &user)?;
    let _lock = lock(&layout.lock_file())?;
    if let Some(running) = cluster.running() {
        return Ok(running_here(running)); // another process started it while we waited
    }
    private_dir(&layout.root, &user)?;
    if !layout.marker().exists() {
        initialise(&layout, &cluster, &bins)?;
    }
    private_dir(&layout.socket_dir, &user)?;
    if layout.socket_fallback {
        record_socket_dir(&layout)?;
    }
    cluster.remove_stale_pid_file()?;
    cluster.remove_stale_socket_lock()?;
    let running = match cluster.start_detached(&bins) {
        Ok(running) => running,
        // Once more after a killed server: its lock files may have outlived our first look
        // (its last children exit a moment after it).
        Err(first) => {
            std::thread::sleep(std::time::Duration::from_millis(500));
            cluster.remove_stale_pid_file()?;
            if !cluster.remove_stale_socket_lock()? {
                return Err(first);
            }
            tracing::warn!("{first}; retrying after removing a stale socket lock");
            cluster.start_detached(&bins)?
        }
    };
    tracing::info!(pid = running.pid, socket_dir = %running.socket_dir.display(), "started the embedded PostgreSQL server");
    Ok(running_here(running))
}

/// initdb + the `tikwire` database, then the marker. A data directory without the marker is
/// the remains of an interrupted initialisation and is started over.
fn initialise(layout: &Layout, cluster: &Cluster, bins: &PgBinaries) -> Result<()> {
    let started = Instant::now();
    if cluster.data_dir.exists() {
        fs::remove_dir_all(&cluster.data_dir)
            .map_err(|e| io_err("cannot remove the incomplete cluster", &cluster.data_dir, e))?;
    }
    cluster.initdb(bins)?;
    cluster.create_database_offline(bins, DATABASE)?;
    let marker = layout.marker();
    fs::write(&marker, b"").map_err(|e| io_err("cannot write", &marker, e))?;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, cluster = %layout.root.display(), "initialised the embedded PostgreSQL cluster");
    Ok(())
}

/// Note where the socket went, for an operator looking at the data directory.
fn record_socket_dir(layout: &Layout) -> Result<()> {
    let record = layout.root.join("socket-dir");
    let text = format!("{}\n", layout.socket_dir.display());
    if fs::read_to_string(&record).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    fs::write(&record, text).map_err(|e| io_err("cannot write", &record, e))
}

/// Stop the private cluster under `data_dir`. `false` when it was not running.
pub fn stop(data_dir: &Path) -> Result<bool> {
    let layout = Layout::new(data_dir)?;
    if !layout.root.exists() {
        return Ok(false);
    }
    let _lock = lock(&layout.lock_file())?;
    let stopped = layout.cluster(ServerUser::for_this_process()?).stop()?;
    remove_socket_dir(&layout)?;
    Ok(stopped)
}

/// The socket directory we made, once the server is gone: empty after a clean shutdown (a
/// stale lock or socket of a dead server is removed too). Left alone if anything else is
/// in it.
fn remove_socket_dir(layout: &Layout) -> Result<()> {
    let dir = &layout.socket_dir;
    let cluster = layout.cluster(ServerUser::for_this_process()?);
    if cluster.running().is_some() {
        return Ok(());
    }
    cluster.remove_stale_socket_lock()?;
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(io_err("cannot remove", dir, e)),
    }
}

/// The private cluster under `data_dir`; `None` when there is none.
pub fn status(data_dir: &Path) -> Result<Option<Status>> {
    let layout = Layout::new(data_dir)?;
    if !layout.marker().exists() {
        return Ok(None);
    }
    let running = layout.cluster(ServerUser::for_this_process()?).running();
    let socket_dir = running
        .as_ref()
        .map_or_else(|| layout.socket_dir.clone(), |r| r.socket_dir.clone());
    Ok(Some(Status {
        url: socket_url(&socket_dir, DATABASE),
        cluster_dir: layout.root,
        socket_dir,
        pid: running.map(|r| r.pid),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_data_dirs_get_a_short_stable_socket_dir() {
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(120)));
        let layout = Layout::new(&long).expect("layout");
        assert!(layout.socket_fallback);
        assert!(layout.socket_dir.join(SOCKET_FILE).as_os_str().len() <= MAX_SOCKET_PATH);
        assert_eq!(
            Layout::new(&long).expect("layout").socket_dir,
            layout.socket_dir
        );
        let other = Layout::new(&long.join("x")).expect("layout");
        assert_ne!(other.socket_dir, layout.socket_dir);

        let short = Layout::new(Path::new("/var/lib/tikwire")).expect("layout");
        assert!(!short.socket_fallback);
        assert_eq!(short.socket_dir, Path::new("/var/lib/tikwire/pg/run"));
    }
}
