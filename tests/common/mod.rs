//! Test databases on a real PostgreSQL: every `test_db()` is a brand-new database copied from a
//! template that carries the migrated schema.
//!
//! With `DATABASE_URL` set, that server is used (a per-process template and per-test databases,
//! named after the pid; leftovers of dead test processes are dropped at the next start).
//! Without it, each test process runs its own throwaway server: `initdb` once into a cache shared
//! by all test processes (`/tmp/tikwire-test-pg-<uid>/template-<version>`), a copy per process
//! (`run-<pid>`), listening only on a Unix socket in that private directory. The server gets
//! SIGQUIT when this process ends, however it ends (cargo test runs no destructors). On a
//! normal exit an atexit handler also deletes the run directory; after a kill, the next test
//! process removes run directories of dead processes.
//!
//! Each `#[tokio::test]` has its own runtime, so pools are never shared between tests: the
//! once-per-process setup runs on its own thread and runtime; `test_db()` makes a fresh pool
//! in the caller's runtime.
//!
//! Benches include this file with `#[path = "../tests/common/mod.rs"] mod common;`, so it uses
//! no test-only macros.
#![allow(dead_code)]

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};
use tikwire::embedded_pg::{Cluster, Lifetime, PgBinaries, ServerUser, socket_url};
use tikwire::store::MIGRATOR;

/// A database of its own for one test, with the schema migrated.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
}

/// Settings of the throwaway test server: no durability needed, many parallel tests.
const TEST_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "300"),
    ("shared_buffers", "32MB"),
];
/// Database and name prefixes: `tikwire_tpl_<pid>` and `tikwire_t_<pid>_<n>`.
const TEMPLATE_PREFIX: &str = "tikwire_tpl_";
const DB_PREFIX: &str = "tikwire_t_";

/// The server all tests of this process use.
struct Server {
    location: Location,
    /// A database to issue CREATE DATABASE from.
    admin_db: String,
    template: String,
}

enum Location {
    /// Our own server, on a socket in this directory.
    Socket(PathBuf),
    /// The server from DATABASE_URL.
    External(String),
}

impl Server {
    fn url_for(&self, db: &str) -> String {
        match &self.location {
            Location::Socket(dir) => socket_url(dir, db),
            Location::External(url) => with_database(url, db),
        }
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

fn server() -> &'static Server {
    let server = SERVER.get_or_init(|| {
        // Its own thread, so that its runtime is not nested in the calling test's runtime.
        std::thread::spawn(set_up_server)
            .join()
            .unwrap_or_else(|_| Err("test server setup panicked".to_owned()))
    });
    match server {
        Ok(server) => server,
        Err(err) => panic!("test database server: {err}"),
    }
}

/// A new database with the migrated schema, and a pool on it in the caller's runtime.
pub async fn test_db() -> TestDb {
    let server = server();
    let name = format!(
        "{DB_PREFIX}{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(&server.url_for(&server.admin_db))
        .await
        .unwrap_or_else(|e| panic!("test database server: {e}"));
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            server.template
        )))
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    let _ = admin.close().await;
    let url = server.url_for(&name);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connecting to test database {name}: {e}"));
    TestDb { pool, url, name }
}

/// The URL of database `db` on the test server (for running the `tikwire` binary with
/// `--database-url`; over the Unix socket it works inside network namespaces too).
pub fn server_url_for(db: &str) -> String {
    server().url_for(db)
}

/// The socket directory of this process's own server; `None` with DATABASE_URL.
pub fn socket_dir() -> Option<PathBuf> {
    match &server().location {
        Location::Socket(dir) => Some(dir.clone()),
        Location::External(_) => None,
    }
}

fn set_up_server() -> Result<Server, String> {
    let (location, admin_db) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let admin_db = database_of(&url).unwrap_or("postgres").to_owned();
            (Location::External(url), admin_db)
        }
        _ => (
            Location::Socket(start_private_server()?),
            "postgres".to_owned(),
        ),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let server = Server {
        location,
        admin_db,
        template: format!("{TEMPLATE_PREFIX}{}", std::process::id()),
    };
    runtime
        .block_on(create_template(&server))
        .map_err(|e| format!("preparing the template: {e}"))?;
    Ok(server)
}

/// Create the migrated template database, after dropping what dead test processes left.
async fn create_template(server: &Server) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(&server.url_for(&server.admin_db)).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'tikwire\\_t%'")
            .fetch_all(&mut admin)
            .await?;
    let ours = std::process::id();
    for name in names
        .iter()
        .filter(|n| owner_pid(n).is_some_and(|pid| pid == ours || !pid_alive(pid)))
    {
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
    }
    admin
        .execute(AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            server.template
        )))
        .await?;
    let _ = admin.close().await;

    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&server.url_for(&server.template))
        .await?;
    MIGRATOR.run(&pool).await?;
    // CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
    pool.close().await;
    Ok(())
}

/// The pid in `tikwire_tpl_<pid>` / `tikwire_t_<pid>_<n>`.
fn owner_pid(db: &str) -> Option<u32> {
    let rest = db
        .strip_prefix(TEMPLATE_PREFIX)
        .or_else(|| db.strip_prefix(DB_PREFIX))?;
    rest.split('_').next()?.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe {
        libc::kill(pid, 0) == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
}

/// The database name in a URL's path, if any.
fn database_of(url: &str) -> Option<&str> {
    let head = url.split('?').next()?;
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let path = &head[after_scheme..];
    path.find('/')
        .map(|i| &path[i + 1..])
        .filter(|db| !db.is_empty())
}

/// `url` with its database replaced by `db`, query kept.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let authority_end = head[after_scheme..]
        .find('/')
        .map_or(head.len(), |i| after_scheme + i);
    match query {
        Some(query) => format!("{}/{db}?{query}", &head[..authority_end]),
        None => format!("{}/{db}", &head[..authority_end]),
    }
}

/// Start this process's server; returns its socket directory.
fn start_private_server() -> Result<PathBuf, String> {
    let bins = PgBinaries::find().map_err(|e| e.to_string())?;
    let user = ServerUser::for_this_process().map_err(|e| e.to_string())?;
    // SAFETY: geteuid cannot fail.
    let cache = PathBuf::from(format!("/tmp/tikwire-test-pg-{}", unsafe {
        libc::geteuid()
    }));
    cache_dir(&cache)?;
    // In the background: deleting a few hundred MB of freshly written files can take seconds
    // on a busy machine, and nothing below depends on it.
    let stale = cache.clone();
    let _ = std::thread::Builder::new()
        .name("pg-test-cleanup".into())
        .spawn(move || remove_stale_runs(&stale));
    let template = cached_template(&cache, &bins, &user)?;

    let run = cache.join(format!("run-{}", std::process::id()));
    if run.exists() {
        fs::remove_dir_all(&run).map_err(|e| format!("removing {}: {e}", run.display()))?;
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&run)
        .map_err(|e| format!("creating {}: {e}", run.display()))?;
    user.chown(&run).map_err(|e| e.to_string())?;
    let data = run.join("data");
    let copy = Command::new("cp")
        .arg("-a")
        .arg(&template)
        .arg(&data)
        .output()
        .map_err(|e| format!("running cp: {e}"))?;
    if !copy.status.success() {
        return Err(format!(
            "copying the template cluster: {}",
            String::from_utf8_lossy(&copy.stderr).trim()
        ));
    }
    let cluster = Cluster {
        data_dir: data,
        socket_dir: run.clone(),
        log_file: run.join("server.log"),
        user,
    };

    // The server's parent thread must live as long as the process: the server gets its
    // parent-death signal when that thread ends. It also reaps the server.
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("pg-test-server".into())
        .spawn(move || {
            let mut child =
                match cluster.spawn(&bins, TEST_SETTINGS, Lifetime::EndsWithSpawningThread) {
                    Ok(child) => child,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
            let ready = cluster.wait_ready(&mut child).map_err(|e| e.to_string());
            let started = ready.is_ok();
            let _ = ready_tx.send(ready);
            if started {
                let _ = child.wait();
            }
        })
        .map_err(|e| format!("spawning the server thread: {e}"))?;
    let running = ready_rx
        .recv()
        .map_err(|_| "the server thread died".to_owned())??;
    remove_at_exit(running.pid, run);
    Ok(running.socket_dir)
}

/// This process's server and run directory, for [`clean_up_at_exit`].
static RUN: OnceLock<(u32, PathBuf)> = OnceLock::new();

/// When the test process exits normally (also after failed tests), stop the server and delete
/// its run directory at once: freshly written files deleted before the kernel writes them back
/// cost almost nothing, later they cost seconds of I/O. A killed process leaves them to the
/// next test process.
fn remove_at_exit(server_pid: u32, run: PathBuf) {
    if RUN.set((server_pid, run)).is_ok() {
        // SAFETY: registers a plain extern "C" function with no arguments.
        unsafe { libc::atexit(clean_up_at_exit) };
    }
}

extern "C" fn clean_up_at_exit() {
    let Some((pid, run)) = RUN.get() else {
        return;
    };
    if let Ok(raw) = libc::pid_t::try_from(*pid) {
        // SAFETY: kill(2) on the server this process started; its reaper thread still runs.
        unsafe { libc::kill(raw, libc::SIGQUIT) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while pid_alive(*pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    if !pid_alive(*pid) {
        let _ = fs::remove_dir_all(run);
    }
}

/// The cache directory: ours, not a symlink, enterable by the server user (0711).
fn cache_dir(cache: &Path) -> Result<(), String> {
    match fs::DirBuilder::new().mode(0o711).create(cache) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta =
                fs::symlink_metadata(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
            // SAFETY: geteuid cannot fail.
            let euid = unsafe { libc::geteuid() };
            if meta.is_dir() && meta.uid() == euid && meta.mode() & 0o022 == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{} is not a directory owned by uid {euid} and writable only by it",
                    cache.display()
                ))
            }
        }
        Err(e) => Err(format!("creating {}: {e}", cache.display())),
    }
}

/// `initdb` once per PostgreSQL version for all test processes: build in a temporary
/// directory, then rename into place under a lock.
fn cached_template(cache: &Path, bins: &PgBinaries, user: &ServerUser) -> Result<PathBuf, String> {
    let version = bins.version().map_err(|e| e.to_string())?;
    let template = cache.join(format!("template-{version}"));
    if template.exists() {
        return Ok(template);
    }
    let _lock = FileLock::acquire(&cache.join("template.lock"))?;
    if template.exists() {
        return Ok(template);
    }
    let building = cache.join(format!("template-{version}.tmp-{}", std::process::id()));
    if building.exists() {
        fs::remove_dir_all(&building)
            .map_err(|e| format!("removing {}: {e}", building.display()))?;
    }
    // initdb as the server user cannot create entries in the cache dir: give it an empty dir.
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&building)
        .map_err(|e| format!("creating {}: {e}", building.display()))?;
    user.chown(&building).map_err(|e| e.to_string())?;
    let cluster = Cluster {
        data_dir: building.clone(),
        socket_dir: cache.to_path_buf(),
        log_file: cache.join("initdb.log"),
        user: user.clone(),
    };
    cluster.initdb(bins).map_err(|e| e.to_string())?;
    fs::rename(&building, &template)
        .map_err(|e| format!("renaming {}: {e}", building.display()))?;
    Ok(template)
}

/// Run and template-build directories of test processes that are gone.
fn remove_stale_runs(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("run-")
            .or_else(|| name.split_once(".tmp-").map(|(_, pid)| pid))
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !pid_alive(pid)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// An exclusive flock, released when dropped.
struct FileLock(fs::File);

impl FileLock {
    fn acquire(path: &Path) -> Result<Self, String> {
        use std::os::fd::AsRawFd;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor we own; blocks until the lock is ours.
        while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(format!("locking {}: {err}", path.display()));
            }
        }
        Ok(Self(file))
    }
}

/// The master key of every test provisioner; the command-line tests pass the same key to the
/// binary as `TIKWIRE_MASTER_KEY`.
pub const MASTER_KEY: [u8; 32] = [42; 32];

pub fn master_key_base64() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(MASTER_KEY)
}

/// A provisioner on `pool` with the default address plan and the test master key.
pub fn provisioner(pool: &PgPool) -> tikwire::provision::Provisioner {
    provisioner_with(pool, tikwire::ipam::IpamConfig::default())
}

pub fn provisioner_with(
    pool: &PgPool,
    ipam: tikwire::ipam::IpamConfig,
) -> tikwire::provision::Provisioner {
    use tikwire::vault::{MasterKeySource, Vault};
    tikwire::provision::Provisioner::new(
        tikwire::store::Store::from_pool(pool.clone()),
        Vault::from_key(&MASTER_KEY, MasterKeySource::Env),
        ipam,
    )
}

/// Adds hub `hub1` at vpn.example.com:51820 on `interface`.
pub async fn add_hub(p: &tikwire::provision::Provisioner, interface: &str) -> tikwire::model::Hub {
    use tikwire::model::{Endpoint, HubName, InterfaceName};
    p.add_hub(&tikwire::provision::NewHub::new(
        HubName::parse("hub1").unwrap(),
        Endpoint::parse("vpn.example.com:51820").unwrap(),
        InterfaceName::parse(interface).unwrap(),
        51820,
    ))
    .await
    .unwrap()
}

/// Tenant `bench` with `routers` routers `r0`, `r1`, ... imported in one batch (real keys).
pub async fn bench_tenant(p: &tikwire::provision::Provisioner, routers: usize) {
    use tikwire::model::{RouterName, TenantName};
    let tenant = TenantName::parse("bench").unwrap();
    p.add_tenant(&tenant).await.unwrap();
    let specs: Vec<tikwire::provision::RouterSpec> = (0..routers)
        .map(|i| {
            tikwire::provision::RouterSpec::named(RouterName::parse(&format!("r{i}")).unwrap())
        })
        .collect();
    p.import_routers(&tenant, None, &specs).await.unwrap();
}

/// Hub `hub_id`'s status sync with the default alert rules, as its agent runs it: online
/// within 60 s of a handshake, offline after 600 s; alerts name the hub `hub`.
pub async fn agent_sync(
    store: &tikwire::store::Store,
    hub_id: i64,
    hub: &str,
    wake: std::sync::Arc<tokio::sync::Notify>,
) -> tikwire::wg::sync::StatusSync {
    use tikwire::alerts::monitor::{AlertSetup, HubAlerts};
    let mut sync = tikwire::wg::sync::StatusSync::load(
        store,
        hub_id,
        tikwire::wg::status::Thresholds::new(60, 600).unwrap(),
        tikwire::model::AgentIdentity::current(),
    )
    .await
    .unwrap();
    sync.set_alerts(HubAlerts::new(
        AlertSetup {
            rules: tikwire::alerts::AlertRules::default(),
            hook: None,
            wake,
        },
        hub.into(),
        std::time::Duration::from_secs(5),
    ));
    sync
}

/// A peer as `wg show dump` reports it, its last handshake at `handshake`.
pub fn peer_seen(handshake: chrono::DateTime<chrono::Utc>) -> tikwire::wg::poller::PeerStats {
    tikwire::wg::poller::PeerStats {
        endpoint: Some("198.51.100.7:40001".parse().unwrap()),
        last_handshake: Some(handshake),
        rx_bytes: 1000,
        tx_bytes: 1000,
        persistent_keepalive: Some(25),
        allowed_ips: vec!["10.100.1.1/32".parse().unwrap()],
        has_preshared_key: true,
    }
}

/// A snapshot of interface `wg0` taken at `taken_at`: each peer (a public key in base64) with
/// its last handshake.
pub fn wg0_snapshot<'a>(
    taken_at: chrono::DateTime<chrono::Utc>,
    peers: impl IntoIterator<Item = (&'a str, chrono::DateTime<chrono::Utc>)>,
) -> tikwire::wg::Snapshot {
    tikwire::wg::Snapshot {
        interface: "wg0".into(),
        taken_at,
        public_key: None,
        listen_port: 51820,
        peers: peers
            .into_iter()
            .map(|(key, handshake)| (key.parse().unwrap(), peer_seen(handshake)))
            .collect(),
    }
}
