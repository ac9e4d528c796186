//! Polls `wg show IFACE dump` and hands whole snapshots to whoever watches: the agent's
//! store sync, or the console running the poller in-process on a privileged hub host.
//!
//! A failed poll (no `wg`, no interface, no permission) is a state, not a crash: it is
//! published as [`PollerState::Error`] with a message an operator can act on, and the poller
//! tries again next interval.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::command::{RunError, first_line, run};
use super::dump::{self, Dump, DumpError};
use super::status::Observation;
use crate::keys::PublicKey;

/// Default poll interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// A `wg show` that has not answered by then is killed and reported.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The interface as one poll saw it. Holds no secret: preshared keys are reduced to
/// "has one", the private key is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub interface: String,
    pub taken_at: DateTime<Utc>,
    /// The interface's public key; `None` when it has no private key yet.
    pub public_key: Option<crate::keys::PublicKey>,
    pub listen_port: u16,
    /// Public key -> what the hub knows about that peer.
    pub peers: HashMap<crate::keys::PublicKey, PeerStats>,
}

/// One peer in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    /// The peer's address as the hub last saw it (the router's NAT address).
    pub endpoint: Option<SocketAddr>,
    pub last_handshake: Option<DateTime<Utc>>,
    /// Raw counters of the current session of the interface (they restart with it).
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub persistent_keepalive: Option<u16>,
    pub allowed_ips: Vec<IpNet>,
    pub has_preshared_key: bool,
}

impl PeerStats {
    pub fn observation(&self) -> Observation {
        Observation {
            last_handshake: self.last_handshake,
            endpoint: self.endpoint,
            rx_bytes: self.rx_bytes,
            tx_bytes: self.tx_bytes,
        }
    }
}

impl Snapshot {
    /// Builds the owned, secret-free snapshot from a parsed dump.
    pub fn from_dump(
        interface: &str,
        dump: &Dump<'_>,
        taken_at: DateTime<Utc>,
    ) -> Result<Self, DumpError> {
        let mut peers = HashMap::with_capacity(dump.peers.len());
        for peer in &dump.peers {
            let last_handshake = match peer.latest_handshake {
                None => None,
                Some(secs) => Some(timestamp(secs).ok_or_else(|| DumpError {
                    line: peer.line,
                    problem: dump::Problem::BadValue {
                        field: "latest handshake",
                        value: secs.to_string(),
                        expected: "a time tikwire can represent",
                    },
                })?),
            };
            let stats = PeerStats {
                endpoint: peer.endpoint,
                last_handshake,
                rx_bytes: peer.rx_bytes,
                tx_bytes: peer.tx_bytes,
                persistent_keepalive: peer.persistent_keepalive,
                allowed_ips: peer.allowed_ips.clone(),
                has_preshared_key: peer.preshared_key.is_some(),
            };
            if peers.insert(peer.public_key, stats).is_some() {
                return Err(DumpError {
                    line: peer.line,
                    problem: dump::Problem::BadValue {
                        field: "peer",
                        value: "(key not shown)".into(),
                        expected: "listed once (this public key appears twice)",
                    },
                });
            }
        }
        Ok(Self {
            interface: interface.to_owned(),
            taken_at,
            public_key: dump.interface.public_key,
            listen_port: dump.interface.listen_port,
            peers,
        })
    }
}

fn timestamp(secs: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

/// Why a poll failed. The messages are for operators and never contain a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    #[error("cannot run {command}: not found (install wireguard-tools, or set poll.wg_command)")]
    CommandMissing { command: String },
    #[error("cannot run {command}: {reason}")]
    CommandFailed { command: String, reason: String },
    #[error("interface {interface} does not exist (is the hub's WireGuard interface up?)")]
    NoInterface { interface: String },
    #[error(
        "permission denied reading interface {interface}: `wg show` needs CAP_NET_ADMIN (run the agent as root; the console reads status from the database)"
    )]
    PermissionDenied { interface: String },
    #[error("`wg show {interface} dump` failed: {message}")]
    Wg { interface: String, message: String },
    #[error("`wg show {interface} dump` did not answer within {secs} s")]
    Timeout { interface: String, secs: u64 },
    #[error("`wg show {interface} dump`: {source}")]
    Parse {
        interface: String,
        #[source]
        source: DumpError,
    },
}

impl From<PollError> for crate::Error {
    fn from(err: PollError) -> Self {
        crate::Error::Other(err.to_string())
    }
}

/// Runs `<wg> show IFACE dump` and returns its raw output, wiped from memory when dropped
/// (it holds the interface's private key and every preshared key).
pub async fn read_dump(wg: &Path, interface: &str) -> Result<Zeroizing<Vec<u8>>, PollError> {
    read_show(wg, interface, "dump").await
}

/// Runs `<wg> show IFACE latest-handshakes` (no secrets), for the cut-over watch.
pub async fn read_latest_handshakes(
    wg: &Path,
    interface: &str,
) -> Result<Vec<(PublicKey, Option<u64>)>, PollError> {
    let raw = read_show(wg, interface, "latest-handshakes").await?;
    let text = std::str::from_utf8(&raw).map_err(|_| PollError::Parse {
        interface: interface.to_owned(),
        source: dump::DumpError {
            line: 1,
            problem: dump::Problem::NotUtf8,
        },
    })?;
    dump::parse_latest_handshakes(text).map_err(|source| PollError::Parse {
        interface: interface.to_owned(),
        source,
    })
}

/// Runs `<wg> show IFACE <what>` and returns its raw output, wiped from memory when dropped.
async fn read_show(
    wg: &Path,
    interface: &str,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, PollError> {
    let command = wg.display().to_string();
    let output = run(wg, &["show", interface, what], None, COMMAND_TIMEOUT)
        .await
        .map_err(|err| match err {
            RunError::NotFound => PollError::CommandMissing {
                command: command.clone(),
            },
            RunError::Timeout => PollError::Timeout {
                interface: interface.to_owned(),
                secs: COMMAND_TIMEOUT.as_secs(),
            },
            _ => PollError::CommandFailed {
                command: command.clone(),
                reason: err.to_string(),
            },
        })?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    Err(classify_failure(interface, &output.stderr, output.status))
}

/// Turns `wg`'s complaint into an error an operator can act on.
fn classify_failure(interface: &str, stderr: &[u8], status: std::process::ExitStatus) -> PollError {
    let message = first_line(stderr).unwrap_or_else(|| format!("exited with {status}"));
    let lower = String::from_utf8_lossy(stderr).to_ascii_lowercase();
    let interface = interface.to_owned();
    if lower.contains("operation not permitted") || lower.contains("permission denied") {
        PollError::PermissionDenied { interface }
    } else if lower.contains("no such device")
        || lower.contains("does not exist")
        // What `wg` says for a missing interface when the kernel has no WireGuard module.
        || lower.contains("protocol not supported")
    {
        PollError::NoInterface { interface }
    } else {
        PollError::Wg { interface, message }
    }
}

/// One poll: run `wg`, parse, build the snapshot.
pub async fn poll_once(wg: &Path, interface: &str) -> Result<Snapshot, PollError> {
    let raw = read_dump(wg, interface).await?;
    let taken_at = Utc::now();
    let parse_error = |source| PollError::Parse {
        interface: interface.to_owned(),
        source,
    };
    let dump = dump::parse_dump_bytes(&raw).map_err(parse_error)?;
    Snapshot::from_dump(interface, &dump, taken_at).map_err(parse_error)
}

/// What the poller last saw.
#[derive(Debug, Clone, PartialEq)]
pub enum PollerState {
    /// No poll has finished yet.
    Starting,
    Ready(Arc<Snapshot>),
    /// The last poll failed; the poller keeps trying every interval.
    Error(String),
}

/// Where and how often to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollerConfig {
    /// The `wg` program (a path, or a name looked up in PATH).
    pub wg_command: PathBuf,
    pub interface: String,
    pub interval: Duration,
}

impl PollerConfig {
    pub fn new(interface: impl Into<String>) -> Self {
        Self {
            wg_command: PathBuf::from("wg"),
            interface: interface.into(),
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// Starts polling on the current tokio runtime until `cancel` fires. Every finished poll
/// replaces the watched state; receivers see the latest whole snapshot (or error).
pub fn spawn_poller(
    config: PollerConfig,
    cancel: CancellationToken,
) -> (watch::Receiver<PollerState>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(PollerState::Starting);
    let handle = tokio::spawn(run_poller(config, cancel, move |state| {
        tx.send_replace(state);
    }));
    (rx, handle)
}

/// The polling loop, handing each state to `publish`. Returns when `cancel` fires.
pub async fn run_poller(
    config: PollerConfig,
    cancel: CancellationToken,
    mut publish: impl FnMut(PollerState),
) {
    let mut ticker = tokio::time::interval(config.interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let state = tokio::select! {
            _ = cancel.cancelled() => return,
            result = poll_once(&config.wg_command, &config.interface) => match result {
                Ok(snapshot) => {
                    if last_error.take().is_some() {
                        tracing::info!(interface = %config.interface, "polling works again");
                    }
                    PollerState::Ready(Arc::new(snapshot))
                }
                Err(err) => {
                    let message = err.to_string();
                    // Log a failure once, not every interval.
                    if last_error.as_deref() != Some(message.as_str()) {
                        tracing::warn!(interface = %config.interface, "{message}");
                    }
                    last_error = Some(message.clone());
                    PollerState::Error(message)
                }
            },
        };
        publish(state);
    }
}
