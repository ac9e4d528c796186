//! Reconcile: make the hub's live interface match the database, touching only what differs.
//!
//! Planning is pure (desired state vs a parsed dump). Execution never restarts the interface
//! and never puts a secret on a command line (argv is visible in `ps`): keys travel over
//! stdin, as `wg set ... private-key /dev/stdin` and `wg addconf IFACE /dev/stdin`. Peers that
//! are already right get no command at all, so their sessions are never disturbed.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use crate::keys::PublicKey;

use super::dump::{self, Dump, PeerLine};
use super::poller::{self, PollError};

/// Peers removed per `wg set` call, to stay far below the argv size limit.
const REMOVALS_PER_CALL: usize = 500;
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The hub interface as the database wants it.
pub struct DesiredInterface {
    pub private_key: Zeroizing<String>,
    /// Public key of `private_key`, to notice a wrong key without handling the secret.
    pub public_key: PublicKey,
    pub listen_port: u16,
    /// The hub's address in each tenant with routers on this hub (10.X.0.1/16).
    pub addresses: Vec<Ipv4Net>,
    pub peers: Vec<DesiredPeer>,
}

/// One router as a peer of the hub.
pub struct DesiredPeer {
    /// "tenant/router", for logs.
    pub label: String,
    pub public_key: PublicKey,
    pub preshared_key: Zeroizing<String>,
    /// The router's tunnel address (/32), normalised.
    pub allowed_ips: Vec<IpNet>,
}

impl fmt::Debug for DesiredInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesiredInterface")
            .field("public_key", &self.public_key)
            .field("listen_port", &self.listen_port)
            .field("addresses", &self.addresses)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DesiredPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesiredPeer")
            .field("label", &self.label)
            .field("public_key", &self.public_key)
            .field("allowed_ips", &self.allowed_ips)
            .finish_non_exhaustive()
    }
}

impl DesiredInterface {
    /// The hub as the database describes it: enabled routers only (disabled ones lose
    /// their peer), and the hub's address in each tenant it serves.
    pub fn from_material(material: &crate::provision::HubMaterial) -> Self {
        let peers = material
            .peers
            .iter()
            .filter(|p| p.enabled)
            .map(|p| {
                DesiredPeer::new(
                    format!("{}/{}", p.tenant, p.router),
                    p.public_key,
                    p.preshared_key.clone(),
                    p.vpn_ip,
                )
            })
            .collect();
        let mut addresses: Vec<Ipv4Net> = material
            .tenants
            .iter()
            .filter_map(|t| Ipv4Net::new(t.hub_ip, t.subnet_cidr.prefix_len()).ok())
            .collect();
        addresses.sort();
        addresses.dedup();
        Self {
            private_key: material.private_key.clone(),
            public_key: material.hub.public_key,
            listen_port: material.hub.listen_port,
            addresses,
            peers,
        }
    }
}

impl DesiredPeer {
    pub fn new(
        label: String,
        public_key: PublicKey,
        preshared_key: Zeroizing<String>,
        vpn_ip: Ipv4Addr,
    ) -> Self {
        Self {
            label,
            public_key,
            preshared_key,
            allowed_ips: vec![IpNet::V4(Ipv4Net::from(vpn_ip))],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Remove peers the database does not know (deleted or disabled routers, strangers).
    /// Off: they stay and are reported as unknown.
    pub remove_unknown: bool,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        Self {
            remove_unknown: true,
        }
    }
}

/// What differs on an existing peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fix {
    pub preshared_key: bool,
    pub allowed_ips: bool,
}

/// The changes that make the interface match. Holds no secret: peers are indexes into
/// [`DesiredInterface::peers`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub set_private_key: bool,
    pub set_listen_port: Option<u16>,
    pub add: Vec<usize>,
    pub update: Vec<(usize, Fix)>,
    /// Public keys of peers to remove.
    pub remove: Vec<PublicKey>,
    /// Public keys of peers neither desired nor removed (with `remove_unknown` off).
    pub unknown_kept: Vec<PublicKey>,
}

impl Plan {
    /// True when the interface already matches: no `wg` command is needed.
    pub fn is_empty(&self) -> bool {
        !self.set_private_key
            && self.set_listen_port.is_none()
            && self.add.is_empty()
            && self.update.is_empty()
            && self.remove.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let psk = self
            .update
            .iter()
            .filter(|(_, fix)| fix.preshared_key)
            .count();
        let ips = self
            .update
            .iter()
            .filter(|(_, fix)| fix.allowed_ips)
            .count();
        write!(
            f,
            "add {} peers, update {} (preshared key {psk}, allowed IPs {ips}), remove {}",
            self.add.len(),
            self.update.len(),
            self.remove.len()
        )?;
        if self.set_private_key {
            f.write_str(", set the interface key")?;
        }
        if let Some(port) = self.set_listen_port {
            write!(f, ", set listen port {port}")?;
        }
        Ok(())
    }
}

/// Compares the desired interface with what `wg show IFACE dump` reported.
pub fn plan(desired: &DesiredInterface, actual: &Dump<'_>, options: ReconcileOptions) -> Plan {
    let actual_peers: HashMap<PublicKey, &PeerLine<'_>> =
        actual.peers.iter().map(|p| (p.public_key, p)).collect();
    let mut plan = Plan {
        set_private_key: actual.interface.public_key != Some(desired.public_key),
        set_listen_port: (actual.interface.listen_port != desired.listen_port)
            .then_some(desired.listen_port),
        ..Plan::default()
    };
    let mut wanted = HashSet::with_capacity(desired.peers.len());
    for (index, peer) in desired.peers.iter().enumerate() {
        wanted.insert(peer.public_key);
        match actual_peers.get(&peer.public_key) {
            None => plan.add.push(index),
            Some(present) => {
                let fix = Fix {
                    preshared_key: present.preshared_key.map(|k| k.expose())
                        != Some(peer.preshared_key.as_str()),
                    allowed_ips: !same_set(&present.allowed_ips, &peer.allowed_ips),
                };
                if fix.preshared_key || fix.allowed_ips {
                    plan.update.push((index, fix));
                }
            }
        }
    }
    let strangers = actual
        .peers
        .iter()
        .filter(|p| !wanted.contains(&p.public_key))
        .map(|p| p.public_key);
    if options.remove_unknown {
        plan.remove.extend(strangers);
    } else {
        plan.unknown_kept.extend(strangers);
    }
    plan
}

fn same_set(actual: &[IpNet], desired: &[IpNet]) -> bool {
    actual.len() == desired.len() && desired.iter().all(|net| actual.contains(&net.trunc()))
}

/// Changes to the interface's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPlan {
    pub add: Vec<Ipv4Net>,
    /// Only addresses shaped like a tenant hub address (10.X.0.1/16) are ever removed:
    /// anything else on the interface was put there by someone else.
    pub remove: Vec<Ipv4Net>,
    pub bring_up: bool,
}

impl AddressPlan {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && !self.bring_up
    }
}

/// The interface's link state and IPv4 addresses, as `ip -j addr show dev IFACE` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkInfo {
    pub up: bool,
    pub addresses: Vec<Ipv4Net>,
}

pub fn plan_addresses(desired: &[Ipv4Net], link: &LinkInfo) -> AddressPlan {
    AddressPlan {
        add: desired
            .iter()
            .filter(|a| !link.addresses.contains(a))
            .copied()
            .collect(),
        remove: link
            .addresses
            .iter()
            .filter(|a| is_tenant_hub_address(a) && !desired.contains(a))
            .copied()
            .collect(),
        bring_up: !link.up,
    }
}

fn is_tenant_hub_address(net: &Ipv4Net) -> bool {
    let [a, _, c, d] = net.addr().octets();
    net.prefix_len() == 16 && a == 10 && c == 0 && d == 1
}

/// Parses `ip -j addr show dev IFACE`.
pub fn parse_link_info(json: &[u8]) -> Result<LinkInfo, ApplyError> {
    #[derive(Deserialize)]
    struct Link {
        #[serde(default)]
        flags: Vec<String>,
        #[serde(default)]
        addr_info: Vec<Addr>,
    }
    #[derive(Deserialize)]
    struct Addr {
        family: String,
        local: Option<String>,
        prefixlen: Option<u8>,
    }
    let bad = |why: String| ApplyError::Ip(format!("cannot read `ip -j addr` output: {why}"));
    let links: Vec<Link> = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let link = links
        .into_iter()
        .next()
        .ok_or_else(|| bad("no interface listed".into()))?;
    let mut addresses = Vec::new();
    for addr in link.addr_info.iter().filter(|a| a.family == "inet") {
        let (Some(local), Some(len)) = (&addr.local, addr.prefixlen) else {
            continue;
        };
        let ip: Ipv4Addr = local
            .parse()
            .map_err(|_| bad(format!("address {local:?}")))?;
        addresses.push(Ipv4Net::new(ip, len).map_err(|_| bad(format!("prefix /{len}")))?);
    }
    Ok(LinkInfo {
        up: link.flags.iter().any(|f| f == "UP"),
        addresses,
    })
}

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
    parse_link_info(&out)
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

async fn wg_call(tools: &Tools, args: &[&str], stdin: Option<&[u8]>) -> Result<(), ApplyError> {
    run(&tools.wg, args, stdin)
        .await
        .map(drop)
        .map_err(ApplyError::Wg)
}

/// `[Peer]` sections for `wg addconf`, wiped from memory after use.
fn peer_config(desired: &DesiredInterface, indexes: &[usize]) -> Zeroizing<String> {
    use std::fmt::Write as _;
    let mut config = Zeroizing::new(String::with_capacity(indexes.len() * 160));
    for &index in indexes {
        let peer = &desired.peers[index];
        let ips: Vec<String> = peer.allowed_ips.iter().map(ToString::to_string).collect();
        // Writing to a String cannot fail.
        let _ = write!(
            config,
            "[Peer]\nPublicKey = {}\nPresharedKey = {}\nAllowedIPs = {}\n\n",
            peer.public_key,
            peer.preshared_key.as_str(),
            ips.join(", ")
        );
    }
    config
}

/// Runs a program with optional stdin and returns its stdout, or one line saying what failed.
async fn run(program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    // What to call the command in messages: program and verb, never arguments that follow.
    let shown = format!(
        "{} {}",
        program.display(),
        args.iter().take(2).copied().collect::<Vec<_>>().join(" ")
    );
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => format!("cannot run {}: not found", program.display()),
            _ => format!("cannot run {}: {err}", program.display()),
        })?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes)
            .await
            .map_err(|err| format!("`{shown}`: writing its input failed: {err}"))?;
        // Dropping the pipe closes it, so the program sees the end of its input.
    }
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "`{shown}` did not finish within {} s",
                COMMAND_TIMEOUT.as_secs()
            )
        })?
        .map_err(|err| format!("`{shown}`: {err}"))?;
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
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect::<String>())
        .unwrap_or_else(|| output.status.to_string());
    Err(format!("`{shown}` failed: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB_PUB: &str = "4jv0ZnrFq3rs3bbY4eDG/nWYaJuwim+i+02U2c33fW0=";
    const K1: &str = "zepa9jNGsf2KNmiXVLjaYz+t0FehrMMvxF5o6XrIg20=";
    const K2: &str = "ZAFhZci3x+Ff80U+lvElZerQTHdh6jCd+aAGjec5Q2E=";
    const K3: &str = "SyxdE02qLsBnYKe7XzaY1+phhDOZHXHuRrPAjJovjDg=";
    const PSK1: &str = "SIkcB8M6dyXOPC8apVruEDfaU6MhFW3uynJjsVp3Ghs=";
    const PSK2: &str = "ugaRX/jj6RKyArOby6We4Brx+zi9N8tpgm7HTlOtOtM=";

    fn desired(peers: Vec<DesiredPeer>) -> DesiredInterface {
        DesiredInterface {
            private_key: Zeroizing::new("aEorlU3xn87mvKcKCHan7HudpDZ/Dve9JZwGHebEaWQ=".into()),
            public_key: HUB_PUB.parse().unwrap(),
            listen_port: 51820,
            addresses: vec!["10.100.0.1/16".parse().unwrap()],
            peers,
        }
    }

    fn peer(key: &str, psk: &str, ip: &str) -> DesiredPeer {
        DesiredPeer::new(
            format!("t/{}", &key[..4]),
            key.parse().unwrap(),
            Zeroizing::new(psk.into()),
            ip.parse().unwrap(),
        )
    }

    fn dump_text(lines: &[String]) -> String {
        let mut text = format!("(none)\t{HUB_PUB}\t51820\toff\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        text
    }

    fn line(key: &str, psk: &str, ips: &str) -> String {
        format!("{key}\t{psk}\t192.0.2.2:4000\t{ips}\t1795538675\t10\t20\toff")
    }

    #[test]
    fn matching_interface_needs_nothing() {
        let want = desired(vec![
            peer(K1, PSK1, "10.100.1.1"),
            peer(K2, PSK2, "10.100.1.2"),
        ]);
        let text = dump_text(&[
            line(K2, PSK2, "10.100.1.2/32"),
            line(K1, PSK1, "10.100.1.1/32"),
        ]);
        let p = plan(
            &want,
            &dump::parse_dump(&text).unwrap(),
            ReconcileOptions::default(),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn adds_fixes_and_removes() {
        let want = desired(vec![
            peer(K1, PSK1, "10.100.1.1"),
            peer(K2, PSK2, "10.100.1.2"),
            peer(K3, PSK2, "10.100.1.3"),
        ]);
        let stranger = "cGNGHGTQjJQCrV2Kp8cKzxDkNLZrri1nj+3S3VumoVg=";
        let text = dump_text(&[
            line(K1, "(none)", "10.100.1.1/32"),
            line(K2, PSK2, "10.100.1.9/32,10.100.1.2/32"),
            line(stranger, "(none)", "10.100.1.4/32"),
        ]);
        let parsed = dump::parse_dump(&text).unwrap();
        let p = plan(&want, &parsed, ReconcileOptions::default());
        assert_eq!(p.add, vec![2]);
        assert_eq!(
            p.update,
            vec![
                (
                    0,
                    Fix {
                        preshared_key: true,
                        allowed_ips: false
                    }
                ),
                (
                    1,
                    Fix {
                        preshared_key: false,
                        allowed_ips: true
                    }
                )
            ]
        );
        assert_eq!(p.remove, vec![stranger.parse().unwrap()]);
        assert!(!p.set_private_key && p.set_listen_port.is_none());
        let summary = p.to_string();
        assert!(
            summary.contains("add 1 peers, update 2 (preshared key 1, allowed IPs 1), remove 1"),
            "{summary}"
        );

        let keep = plan(
            &want,
            &parsed,
            ReconcileOptions {
                remove_unknown: false,
            },
        );
        assert!(keep.remove.is_empty());
        assert_eq!(keep.unknown_kept, vec![stranger.parse().unwrap()]);
    }

    #[test]
    fn fresh_interface_gets_key_and_port() {
        let want = desired(vec![]);
        let parsed = dump::parse_dump("(none)\t(none)\t43099\toff\n").unwrap();
        let p = plan(&want, &parsed, ReconcileOptions::default());
        assert!(p.set_private_key);
        assert_eq!(p.set_listen_port, Some(51820));
    }

    #[test]
    fn plans_and_config_never_show_secrets() {
        let want = desired(vec![peer(K1, PSK1, "10.100.1.1")]);
        let parsed = dump::parse_dump("(none)\t(none)\t43099\toff\n").unwrap();
        let p = plan(&want, &parsed, ReconcileOptions::default());
        let shown = format!("{p:?} {p} {want:?}");
        assert!(
            !shown.contains(PSK1) && !shown.contains(want.private_key.as_str()),
            "{shown}"
        );
        let config = peer_config(&want, &p.add);
        assert_eq!(
            config.as_str(),
            format!(
                "[Peer]\nPublicKey = {K1}\nPresharedKey = {PSK1}\nAllowedIPs = 10.100.1.1/32\n\n"
            )
        );
    }

    #[test]
    fn addresses_added_and_only_ours_removed() {
        let link = LinkInfo {
            up: false,
            addresses: vec![
                "10.101.0.1/16".parse().unwrap(),
                "192.168.7.1/24".parse().unwrap(),
                "10.102.0.5/16".parse().unwrap(),
            ],
        };
        let want: Vec<Ipv4Net> = vec!["10.100.0.1/16".parse().unwrap()];
        let p = plan_addresses(&want, &link);
        assert_eq!(p.add, want);
        assert_eq!(p.remove, vec!["10.101.0.1/16".parse::<Ipv4Net>().unwrap()]);
        assert!(p.bring_up);
        let done = plan_addresses(
            &want,
            &LinkInfo {
                up: true,
                addresses: want.clone(),
            },
        );
        assert!(done.is_empty());
    }

    #[test]
    fn reads_ip_json() {
        let json =
            br#"[{"ifindex":7,"ifname":"wg0","flags":["POINTOPOINT","NOARP","UP","LOWER_UP"],
            "addr_info":[{"family":"inet","local":"10.100.0.1","prefixlen":16},
                         {"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
        let info = parse_link_info(json).unwrap();
        assert!(info.up);
        assert_eq!(
            info.addresses,
            vec!["10.100.0.1/16".parse::<Ipv4Net>().unwrap()]
        );
        let down = parse_link_info(
            br#"[{"ifname":"wg0","flags":["POINTOPOINT","NOARP"],"addr_info":[]}]"#,
        )
        .unwrap();
        assert!(!down.up && down.addresses.is_empty());
        assert!(parse_link_info(b"[]").is_err());
        assert!(parse_link_info(b"not json").is_err());
    }
}
