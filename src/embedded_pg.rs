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

use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The superuser `initdb` creates; clients connect as this role.
pub const SUPERUSER: &str = "tikwire";
/// The database tikwire uses inside its private cluster.
pub const DATABASE: &str = "tikwire";
/// Only used to name the socket file: the server opens no TCP port.
pub const PORT: u16 = 5432;

const SOCKET_FILE: &str = ".s.PGSQL.5432";
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
const SYSTEM_BIN_ROOT: &str = "/usr/lib/postgresql";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Appended to `postgresql.conf` by [`Cluster::initdb`]: a small footprint, durable writes.
const CONF_BLOCK: &str = "
# tikwire: a private cluster reached only through a Unix socket in a private directory
listen_addresses = ''
unix_socket_permissions = 0700
shared_buffers = 32MB
max_connections = 100
max_wal_size = 256MB
min_wal_size = 32MB
huge_pages = off
";

fn embedded_err(message: impl Into<String>) -> Error {
    Error::EmbeddedPg(message.into())
}

fn io_err(what: &str, path: &Path, err: io::Error) -> Error {
    embedded_err(format!("{what} {}: {err}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Server binaries

/// The PostgreSQL server programs tikwire runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub postgres: PathBuf,
    pub initdb: PathBuf,
}

impl PgBinaries {
    /// `postgres` and `initdb` from the first `PATH` directory holding both, else from the
    /// newest `/usr/lib/postgresql/*/bin`.
    pub fn find() -> Result<Self> {
        Self::find_in(
            std::env::var_os("PATH").as_deref(),
            Path::new(SYSTEM_BIN_ROOT),
        )
    }

    /// [`PgBinaries::find`] with an explicit `PATH` value and versioned install root.
    pub fn find_in(path_var: Option<&OsStr>, system_root: &Path) -> Result<Self> {
        let on_path = path_var
            .into_iter()
            .flat_map(std::env::split_paths)
            .find_map(|dir| Self::in_dir(&dir));
        on_path
            .or_else(|| newest_versioned_bin_dir(system_root))
            .ok_or_else(|| {
                embedded_err(format!(
                    "no PostgreSQL server binaries found (looked on PATH and in {}/*/bin): \
                 install them (Debian: apt-get install postgresql) or set DATABASE_URL",
                    system_root.display()
                ))
            })
    }

    fn in_dir(dir: &Path) -> Option<Self> {
        let postgres = dir.join("postgres");
        let initdb = dir.join("initdb");
        (is_executable(&postgres) && is_executable(&initdb)).then_some(Self { postgres, initdb })
    }

    /// The server's version, e.g. `15.18` (runs `postgres --version`).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(&self.postgres)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io_err("cannot run", &self.postgres, e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        text.split_whitespace()
            .nth(2)
            .filter(|v| out.status.success() && v.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_owned)
            .ok_or_else(|| {
                embedded_err(format!(
                    "cannot read the version of {}: {}",
                    self.postgres.display(),
                    condense(&text)
                ))
            })
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// The `bin` directory of the highest version under e.g. `/usr/lib/postgresql/{13,15,16}`.
fn newest_versioned_bin_dir(root: &Path) -> Option<PgBinaries> {
    let entries = fs::read_dir(root).ok()?;
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = version_key(&entry.file_name().to_string_lossy())?;
            Some((version, PgBinaries::in_dir(&entry.path().join("bin"))?))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bins)| bins)
}

/// "9.6" -> [9, 6], "15" -> [15]; names that are not versions are skipped.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

// ---------------------------------------------------------------------------------------------
// The user the server runs as

/// Who runs `initdb` and `postgres`: this process's user, or the `postgres` system user
/// when this process is root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

impl ServerUser {
    pub fn for_this_process() -> Result<Self> {
        let (euid, egid) = effective_ids();
        if euid != 0 {
            return Ok(Self {
                uid: euid,
                gid: egid,
                name: format!("uid {euid}"),
            });
        }
        lookup_user("postgres").ok_or_else(|| {
            embedded_err(
                "running as root, PostgreSQL refuses to run as root, and there is no `postgres` \
                 system user to run it as: create it (Debian: apt-get install postgresql) or set \
                 DATABASE_URL",
            )
        })
    }

    fn is_other_user(&self) -> bool {
        self.uid != effective_ids().0
    }

    /// Run `cmd` as this user.
    fn apply(&self, cmd: &mut Command) {
        if self.is_other_user() {
            cmd.uid(self.uid).gid(self.gid);
        }
    }

    /// Give `path` to this user (only needed when the server runs as another user).
    pub fn chown(&self, path: &Path) -> Result<()> {
        if self.is_other_user() {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
                .map_err(|e| io_err("cannot give to the server user", path, e))?;
        }
        Ok(())
    }

    /// The first existing directory on the way to `path` (inclusive) this user may not enter.
    /// Only the primary group is considered: a conservative answer.
    pub fn first_unreachable(&self, path: &Path) -> Option<PathBuf> {
        if !self.is_other_user() {
            return None;
        }
        let mut ancestors: Vec<&Path> = path.ancestors().collect();
        ancestors.reverse();
        ancestors.into_iter().find_map(|dir| {
            let meta = fs::metadata(dir).ok()?;
            let bit = if meta.uid() == self.uid {
                0o100
            } else if meta.gid() == self.gid {
                0o010
            } else {
                0o001
            };
            (meta.mode() & bit == 0).then(|| dir.to_path_buf())
        })
    }
}

fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid/getegid have no preconditions and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

fn lookup_user(name: &str) -> Option<ServerUser> {
    let c_name = CString::new(name).ok()?;
    // SAFETY: passwd is plain old data; getpwnam_r fills it and points its strings into `buf`,
    // which we never read (only uid and gid are copied out).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the duration of the call and `buf.len()` is its size.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then(|| ServerUser {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        name: name.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// One cluster: where it lives and how to run it

/// How long a started server lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Its own session: it outlives this process and ignores the terminal's signals.
    Detached,
    /// It gets SIGQUIT (immediate shutdown) when the thread that spawned it ends, which for
    /// a thread that lives as long as the process means when the process ends, however it
    /// ends. For test servers.
    EndsWithSpawningThread,
}

/// A running server, as its `postmaster.pid` and a probe of its socket show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub pid: u32,
    pub socket_dir: PathBuf,
}

/// A PostgreSQL cluster: its data directory, the socket directory it listens in, its log,
/// and the user it runs as.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub log_file: PathBuf,
    pub user: ServerUser,
}

impl Cluster {
    /// `initdb` into `data_dir` (which must not exist or be empty; its parent must exist and
    /// be writable by the server user), then the tikwire settings.
    pub fn initdb(&self, bins: &PgBinaries) -> Result<()> {
        let mut cmd = self.command(&bins.initdb);
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        run_captured(cmd, "initdb", None)?;
        let conf = self.data_dir.join("postgresql.conf");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(|e| io_err("cannot open", &conf, e))?;
        file.write_all(CONF_BLOCK.as_bytes())
            .map_err(|e| io_err("cannot write", &conf, e))
    }

    /// Create a database while the server is stopped (single-user mode): no client needed.
    pub fn create_database_offline(&self, bins: &PgBinaries, name: &str) -> Result<()> {
        let mut cmd = self.command(&bins.postgres);
        cmd.arg("--single").arg("-D").arg(&self.data_dir).args([
            "-c",
            "exit_on_error=on",
            "template1",
        ]);
        let statement = format!("CREATE DATABASE {};\n", quote_ident(name));
        run_captured(cmd, "creating the database", Some(statement.as_bytes()))
    }

    /// Start the server without waiting for it; see [`Cluster::wait_ready`].
    /// `settings` are extra `-c name=value` options.
    pub fn spawn(
        &self,
        bins: &PgBinaries,
        settings: &[(&str, &str)],
        lifetime: Lifetime,
    ) -> Result<Child> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.log_file)
            .map_err(|e| io_err("cannot open", &self.log_file, e))?;
        self.user.chown(&self.log_file)?;
        let log_err = log
            .try_clone()
            .map_err(|e| io_err("cannot open", &self.log_file, e))?;

        let mut cmd = self.command(&bins.postgres);
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-k")
            .arg(&self.socket_dir)
            .args(["-p", &PORT.to_string(), "-c", "listen_addresses="]);
        for (name, value) in settings {
            cmd.arg("-c").arg(format!("{name}={value}"));
        }
        cmd.stdout(log).stderr(log_err);
        // SAFETY: the closure only makes async-signal-safe system calls. std runs it after
        // switching uid/gid, so the parent-death signal is not cleared by that switch.
        unsafe {
            cmd.pre_exec(move || {
                let rc = match lifetime {
                    Lifetime::Detached => libc::setsid(),
                    Lifetime::EndsWithSpawningThread => {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT as libc::c_ulong)
                    }
                };
                if rc < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
        cmd.spawn()
            .map_err(|e| io_err("cannot start", &bins.postgres, e))
    }

    /// Wait until the server spawned as `child` accepts connections on its socket.
    pub fn wait_ready(&self, child: &mut Child) -> Result<Running> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                return Err(self.start_failure(&format!("the server exited ({status})")));
            }
            if let Some(running) = self.running().filter(|r| r.pid == child.id()) {
                return Ok(running);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.start_failure(&format!(
                    "the server was not ready within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Spawn a detached server, wait for it, and reap it if it ever exits while we run.
    fn start_detached(&self, bins: &PgBinaries) -> Result<Running> {
        let mut child = self.spawn(bins, &[], Lifetime::Detached)?;
        let running = self.wait_ready(&mut child)?;
        // Without a wait() a server that stops while we run would linger as a zombie and
        // still look alive.
        let _ = std::thread::Builder::new()
            .name("pg-reaper".into())
            .spawn(move || child.wait());
        Ok(running)
    }

    /// The server, if one runs for this data directory and answers on its socket.
    pub fn running(&self) -> Option<Running> {
        let pid_file = PidFile::read(&self.data_dir)?;
        if !postgres_alive(pid_file.pid) || pid_file.status != "ready" {
            return None;
        }
        probe(&pid_file.socket_dir.join(SOCKET_FILE)).then_some(Running {
            pid: pid_file.pid,
            socket_dir: pid_file.socket_dir,
        })
    }

    /// Fast shutdown (clients are disconnected). `false` when no server was running.
    pub fn stop(&self) -> Result<bool> {
        let Some(pid) = PidFile::read(&self.data_dir)
            .map(|p| p.pid)
            .filter(|&p| postgres_alive(p))
        else {
            return Ok(false);
        };
        let raw_pid = libc::pid_t::try_from(pid)
            .map_err(|_| embedded_err(format!("invalid server pid {pid}")))?;
        // SAFETY: plain kill(2) on a pid we just verified is a postgres process.
        if unsafe { libc::kill(raw_pid, libc::SIGINT) } != 0 {
            let err = io::Error::last_os_error();
            return Err(embedded_err(format!(
                "cannot stop the server (pid {pid}): {err}"
            )));
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while postgres_alive(pid) {
            if Instant::now() > deadline {
                return Err(embedded_err(format!(
                    "the server (pid {pid}) did not stop within {} s",
                    STOP_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Ok(true)
    }

    /// A leftover `postmaster.pid` whose process is gone or is no longer postgres (pid reuse
    /// after a reboot) would make the server refuse to start.
    fn remove_stale_pid_file(&self) -> Result<()> {
        let Some(pid_file) = PidFile::read(&self.data_dir) else {
            return Ok(());
        };
        if postgres_alive(pid_file.pid) {
            return Ok(());
        }
        let path = self.data_dir.join("postmaster.pid");
        fs::remove_file(&path)
            .or_else(ignore_not_found)
            .map_err(|e| io_err("cannot remove", &path, e))
    }

    /// A URL for database `db` on this cluster's socket.
    pub fn url_for(&self, db: &str) -> String {
        socket_url(&self.socket_dir, db)
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir("/")
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        self.user.apply(&mut cmd);
        cmd
    }

    fn start_failure(&self, what: &str) -> Error {
        let tail = log_tail(&self.log_file);
        embedded_err(format!(
            "{what}; {}: {}",
            self.log_file.display(),
            condense(&tail)
        ))
    }
}

/// The fields of `postmaster.pid` we use (see PostgreSQL's `pidfile.h`).
struct PidFile {
    pid: u32,
    socket_dir: PathBuf,
    status: String,
}

impl PidFile {
    fn read(data_dir: &Path) -> Option<Self> {
        let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        Some(Self {
            pid: lines.first()?.parse().ok()?,
            socket_dir: PathBuf::from(lines.get(4).copied().unwrap_or_default()),
            status: lines.get(7).copied().unwrap_or_default().to_owned(),
        })
    }
}

/// A live (not zombie) process named `postgres`.
fn postgres_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "1234 (postgres) S ..." — the name may contain spaces or parentheses: split at the last ')'.
    let Some((head, tail)) = stat.rsplit_once(')') else {
        return false;
    };
    let name = head.split_once('(').map(|(_, n)| n).unwrap_or_default();
    let state = tail.split_whitespace().next().unwrap_or("Z");
    name == "postgres" && state != "Z" && state != "X"
}

/// Does a PostgreSQL server answer on this socket? Sends an SSLRequest and reads the one-byte
/// answer: cheap, needs no credentials, and the server logs nothing for it.
fn probe(socket: &Path) -> bool {
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(5));
    let mut answer = [0u8; 1];
    stream.set_read_timeout(timeout).is_ok()
        && stream.set_write_timeout(timeout).is_ok()
        && stream.write_all(&SSL_REQUEST).is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && matches!(answer[0], b'N' | b'S')
}

fn run_captured(mut cmd: Command, what: &str, stdin: Option<&[u8]>) -> Result<()> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| embedded_err(format!("{what}: cannot run: {e}")))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .map_err(|e| embedded_err(format!("{what}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| embedded_err(format!("{what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(embedded_err(format!(
        "{what} failed ({}): {}",
        out.status,
        condense(&text)
    )))
}

/// The last few KiB of a log file.
fn log_tail(path: &Path) -> String {
    const TAIL_BYTES: u64 = 4096;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last meaningful lines of program output, joined into one short line.
fn condense(text: &str) -> String {
    const LINES: usize = 4;
    const MAX_CHARS: usize = 400;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("backend>"))
        .collect();
    let joined = lines[lines.len().saturating_sub(LINES)..].join(" | ");
    if joined.is_empty() {
        return "(no output)".to_owned();
    }
    // Keep the end: the last words of a failing program say why.
    let excess = joined.chars().count().saturating_sub(MAX_CHARS);
    match joined.char_indices().nth(excess) {
        Some((cut, _)) if excess > 0 => format!("...{}", &joined[cut..]),
        _ => joined,
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn ignore_not_found(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(err)
    }
}

/// `postgres://tikwire@localhost/DB?host=SOCKET_DIR&port=5432` (sqlx and libpq read a `host`
/// starting with `/` as a socket directory).
pub fn socket_url(socket_dir: &Path, db: &str) -> String {
    format!(
        "postgres://{SUPERUSER}@localhost/{}?host={}&port={PORT}",
        percent_encode(db),
        percent_encode(&socket_dir.to_string_lossy())
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The app's cluster under DATA_DIR/pg

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
    let running = cluster.start_detached(&bins)?;
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
    layout.cluster(ServerUser::for_this_process()?).stop()
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
    fn newest_version_wins_numerically() {
        let mut names = ["9.6", "15", "13", "notaversion", "16"]
            .iter()
            .filter_map(|n| version_key(n).map(|k| (k, *n)))
            .collect::<Vec<_>>();
        names.sort();
        assert_eq!(names.last().map(|n| n.1), Some("16"));
        assert_eq!(version_key("notaversion"), None);
    }

    #[test]
    fn url_points_at_the_socket_directory() {
        let url = socket_url(Path::new("/tmp/a b&c"), "tikwire");
        assert_eq!(
            url,
            "postgres://tikwire@localhost/tikwire?host=/tmp/a%20b%26c&port=5432"
        );
    }

    #[test]
    fn url_is_understood_by_sqlx_as_a_socket() {
        use sqlx::postgres::PgConnectOptions;
        let url = socket_url(Path::new("/tmp/a b&c"), "db1");
        let opts: PgConnectOptions = url.parse().expect("valid url");
        assert_eq!(
            opts.get_socket().map(PathBuf::as_path),
            Some(Path::new("/tmp/a b&c"))
        );
        assert_eq!(opts.get_database(), Some("db1"));
        assert_eq!(opts.get_username(), "tikwire");
    }

    #[test]
    fn condense_keeps_the_last_lines_on_one_line() {
        let text = "a\n\nb\nc\nd\n  e  \n";
        assert_eq!(condense(text), "b | c | d | e");
        assert_eq!(condense(""), "(no output)");
        let long = "x".repeat(1000);
        assert!(condense(&long).chars().count() <= 403);
    }

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

    #[test]
    fn pid_of_this_test_is_not_postgres() {
        assert!(!postgres_alive(std::process::id()));
        assert!(!postgres_alive(u32::MAX));
    }
}
