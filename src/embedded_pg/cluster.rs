//! One PostgreSQL cluster: initdb, start, readiness, stop, its `postmaster.pid`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{PORT, PgBinaries, SUPERUSER, ServerUser, embedded_err, io_err};
use crate::error::{Error, Result};

pub(super) const SOCKET_FILE: &str = ".s.PGSQL.5432";
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
    pub(super) fn start_detached(&self, bins: &PgBinaries) -> Result<Running> {
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
    pub(super) fn remove_stale_pid_file(&self) -> Result<()> {
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

    /// A socket lock file (`.s.PGSQL.5432.lock`) left by a killed server. PostgreSQL removes
    /// it itself only when its pid is gone; a killed server that nobody reaped (a zombie), or
    /// a pid taken by another process, makes the next start fail with "lock file already
    /// exists". `true` when one was removed.
    pub(super) fn remove_stale_socket_lock(&self) -> Result<bool> {
        let path = self.socket_dir.join(format!("{SOCKET_FILE}.lock"));
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(false);
        };
        let pid = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok());
        if pid.is_some_and(postgres_alive) {
            return Ok(false);
        }
        for stale in [path, self.socket_dir.join(SOCKET_FILE)] {
            fs::remove_file(&stale)
                .or_else(ignore_not_found)
                .map_err(|e| io_err("cannot remove", &stale, e))?;
        }
        Ok(true)
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
pub(super) fn condense(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn pid_of_this_test_is_not_postgres() {
        assert!(!postgres_alive(std::process::id()));
        assert!(!postgres_alive(u32::MAX));
    }
}
