//! Reconcile: make the hub's live interface match the database, touching only what differs.
//!
//! Planning is pure (desired state vs a parsed dump). Execution never restarts the interface
//! and never puts a secret on a command line (argv is visible in `ps`): keys travel over
//! stdin, as `wg set ... private-key /dev/stdin` and `wg addconf IFACE /dev/stdin`. Peers that
//! are already right get no command at all, so their sessions are never disturbed.
//!
//! The parts: [`super::desired`] (what the database wants), [`super::plan`] (the pure
//! planners), [`super::link`] (the `ip -j` reader) and [`super::command`] (the one way this
//! crate runs `wg` and `ip`). This module reads, plans and executes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::command;
use super::desired::DesiredInterface;
use super::dump;
use super::link::{LinkInfo, parse_link_info};
use super::plan::{AddressPlan, Plan, ReconcileOptions, cut_over_args, plan, plan_addresses};
use super::poller::{self, PollError};
use crate::keys::PublicKey;
use crate::store::rotation::StagedRotation;
use ipnet::Ipv4Net;

/// Peers removed per `wg set` call, to stay far below the argv size limit.
const REMOVALS_PER_CALL: usize = 500;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a reconcile step failed. Never contains a key.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Poll(#[from] PollError),
    #[error("{0}")]
    Wg(String),
    #[error("{0}")]
    Ip(String),
}

impl From<ApplyError> for crate::Error {
    fn from(err: ApplyError) -> Self {
        crate::Error::Other(err.to_string())
    }
}

/// The programs reconcile runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub wg: PathBuf,
    pub ip: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        Self {
            wg: PathBuf::from("wg"),
            ip: PathBuf::from("ip"),
        }
    }
}

/// What a reconcile did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Labels ("tenant/router") of peers added, updated, and public keys removed.
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<PublicKey>,
    pub unknown_kept: Vec<PublicKey>,
    pub set_private_key: bool,
    pub set_listen_port: Option<u16>,
    pub addresses_added: Vec<Ipv4Net>,
    pub addresses_removed: Vec<Ipv4Net>,
    pub brought_up: bool,
    /// How many `wg` commands changed something (0 when everything was already right).
    pub wg_calls: usize,
}

impl Applied {
    pub fn changed_anything(&self) -> bool {
        self.wg_calls > 0
            || !self.addresses_added.is_empty()
            || !self.addresses_removed.is_empty()
            || self.brought_up
    }
}

/// Reads the interface, plans, and applies the plan.
pub async fn reconcile(
    tools: &Tools,
    interface: &str,
    desired: &DesiredInterface,
    options: ReconcileOptions,
) -> Result<Applied, ApplyError> {
    let raw = poller::read_dump(&tools.wg, interface).await?;
    let parsed = dump::parse_dump_bytes(&raw).map_err(|source| PollError::Parse {
        interface: interface.to_owned(),
        source,
    })?;
    let peer_plan = plan(desired, &parsed, options);
    drop(parsed);
    drop(raw);
    let link = read_link(tools, interface).await?;
    let address_plan = plan_addresses(&desired.addresses, &link);
    execute(tools, interface, desired, &peer_plan, &address_plan).await
}

/// Reads the interface's link state and addresses.
pub async fn read_link(tools: &Tools, interface: &str) -> Result<LinkInfo, ApplyError> {
    let out = run(&tools.ip, &["-j", "addr", "show", "dev", interface], None)
        .await
        .map_err(ApplyError::Ip)?;
    parse_link_info(&out).map_err(ApplyError::Ip)
}

/// Carries out both plans: interface key and port, removals, additions and fixes, addresses.
pub async fn execute(
    tools: &Tools,
    interface: &str,
    desired: &DesiredInterface,
    peers: &Plan,
    addresses: &AddressPlan,
) -> Result<Applied, ApplyError> {
    let mut applied = Applied {
        unknown_kept: peers.unknown_kept.clone(),
        ..Applied::default()
    };
    if peers.set_private_key || peers.set_listen_port.is_some() {
        let port = desired.listen_port.to_string();
        let mut args = vec!["set", interface, "listen-port", port.as_str()];
        let key = Zeroizing::new(format!("{}\n", desired.private_key.as_str()));
        let stdin = if peers.set_private_key {
            args.extend(["private-key", "/dev/stdin"]);
            Some(key.as_bytes())
        } else {
            None
        };
        wg_call(tools, &args, stdin).await?;
        applied.wg_calls += 1;
        applied.set_private_key = peers.set_private_key;
        applied.set_listen_port = peers.set_listen_port;
    }

    // Removals first: a released address handed to a new router must leave the old peer
    // before the new one claims it.
    for chunk in peers.remove.chunks(REMOVALS_PER_CALL) {
        let keys: Vec<String> = chunk.iter().map(ToString::to_string).collect();
        let mut args = vec!["set", interface];
        for key in &keys {
            args.extend(["peer", key.as_str(), "remove"]);
        }
        wg_call(tools, &args, None).await?;
        applied.wg_calls += 1;
        applied.removed.extend_from_slice(chunk);
    }

    // Additions and fixes in one `wg addconf`: it adds new peers and, for existing ones,
    // replaces the preshared key and allowed IPs without touching their sessions.
    let changed: Vec<usize> = peers
        .add
        .iter()
        .copied()
        .chain(peers.update.iter().map(|(i, _)| *i))
        .collect();
    if !changed.is_empty() {
        let config = peer_config(desired, &changed);
        wg_call(
            tools,
            &["addconf", interface, "/dev/stdin"],
            Some(config.as_bytes()),
        )
        .await?;
        applied.wg_calls += 1;
        applied.added = peers
            .add
            .iter()
            .map(|&i| desired.peers[i].label.clone())
            .collect();
        applied.updated = peers
            .update
            .iter()
            .map(|(i, _)| desired.peers[*i].label.clone())
            .collect();
    }

    // `wg addconf` only adds allowed IPs: a peer that must hold none (a staged key someone
    // gave an address) is cleared with `wg set ... allowed-ips ""`.
    let clear: Vec<String> = peers
        .update
        .iter()
        .filter(|(i, fix)| fix.allowed_ips && desired.peers[*i].allowed_ips.is_empty())
        .map(|(i, _)| desired.peers[*i].public_key.to_string())
        .collect();
    if !clear.is_empty() {
        let mut args = vec!["set", interface];
        for key in &clear {
            args.extend(["peer", key.as_str(), "allowed-ips", ""]);
        }
        wg_call(tools, &args, None).await?;
        applied.wg_calls += 1;
    }

    for net in &addresses.remove {
        run(
            &tools.ip,
            &["addr", "del", &net.to_string(), "dev", interface],
            None,
        )
        .await
        .map_err(ApplyError::Ip)?;
        applied.addresses_removed.push(*net);
    }
    for net in &addresses.add {
        run(
            &tools.ip,
            &["addr", "add", &net.to_string(), "dev", interface],
            None,
        )
        .await
        .map_err(ApplyError::Ip)?;
        applied.addresses_added.push(*net);
    }
    if addresses.bring_up {
        run(&tools.ip, &["link", "set", "dev", interface, "up"], None)
            .await
            .map_err(ApplyError::Ip)?;
        applied.brought_up = true;
    }
    Ok(applied)
}

/// Cuts routers over to their staged keys on the live interface: one `wg set` per
/// [`REMOVALS_PER_CALL`] routers, each moving the router's address to its staged peer and
/// removing the old peer. The arguments hold public keys and addresses only.
pub async fn cut_over(
    tools: &Tools,
    interface: &str,
    routers: &[&StagedRotation],
) -> Result<usize, ApplyError> {
    let mut calls = 0;
    for chunk in routers.chunks(REMOVALS_PER_CALL) {
        let args = cut_over_args(interface, chunk);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        wg_call(tools, &args, None).await?;
        calls += 1;
    }
    Ok(calls)
}

async fn wg_call(tools: &Tools, args: &[&str], stdin: Option<&[u8]>) -> Result<(), ApplyError> {
    run(&tools.wg, args, stdin)
        .await
        .map(drop)
        .map_err(ApplyError::Wg)
}

/// `[Peer]` sections for `wg addconf`, wiped from memory after use.
pub(super) fn peer_config(desired: &DesiredInterface, indexes: &[usize]) -> Zeroizing<String> {
    use std::fmt::Write as _;
    let mut config = Zeroizing::new(String::with_capacity(indexes.len() * 160));
    for &index in indexes {
        let peer = &desired.peers[index];
        let ips: Vec<String> = peer.allowed_ips.iter().map(ToString::to_string).collect();
        // Writing to a String cannot fail.
        let _ = write!(
            config,
            "[Peer]\nPublicKey = {}\nPresharedKey = {}\n",
            peer.public_key,
            peer.preshared_key.as_str(),
        );
        // `wg` refuses an empty `AllowedIPs =` line: a peer without any (a staged key) has
        // none written, and one that must lose some is cleared by `clear_allowed_ips`.
        if !ips.is_empty() {
            let _ = writeln!(config, "AllowedIPs = {}", ips.join(", "));
        }
        config.push('\n');
    }
    config
}

/// Runs a program with optional stdin and returns its stdout, or one line saying what failed.
async fn run(
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, String> {
    // What to call the command in messages: program and verb, never arguments that follow.
    let shown = format!(
        "{} {}",
        program.display(),
        args.iter().take(2).copied().collect::<Vec<_>>().join(" ")
    );
    let output = command::run(program, args, stdin, COMMAND_TIMEOUT)
        .await
        .map_err(|err| match err {
            command::RunError::NotFound | command::RunError::Spawn(_) => {
                format!("cannot run {}: {err}", program.display())
            }
            command::RunError::Timeout => format!(
                "`{shown}` did not finish within {} s",
                COMMAND_TIMEOUT.as_secs()
            ),
            _ => format!("`{shown}`: {err}"),
        })?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    // `wg` quotes a value it rejects ("Key is not the correct length or format: `...'"): when
    // the input held keys, its message could too, so it is withheld.
    if stdin.is_some() {
        return Err(format!(
            "`{shown}` failed ({}); its message is withheld because its input held keys",
            output.status
        ));
    }
    let reason = command::first_line(&output.stderr).unwrap_or_else(|| output.status.to_string());
    Err(format!("`{shown}` failed: {reason}"))
}
