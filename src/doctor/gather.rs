//! Gathering the facts on the hub host: `ip -j`, `wg show dump`, `nft -j`, `/proc`, adjtimex,
//! DNS and the database. No judgement here: see [`super::judge`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use super::facts::{
    DatabaseFacts, Heartbeat, HubFacts, HubRef, KeySource, Link, Migrations, PeerDiff, Probe,
    TableFacts, WgFacts,
};
use super::nft::table_objects;
use crate::config::Config;
use crate::model::Hub;
use crate::provision::{HubMaterial, Provisioner};
use crate::store::{MIGRATOR, Store};
use crate::vault::Vault;
use crate::wg::command::{self, RunError};
use crate::wg::desired::DesiredInterface;
use crate::wg::dump::parse_dump_bytes;
use crate::wg::plan::{ReconcileOptions, plan};
use crate::wg::poller::read_dump;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The programs the checks run.
#[derive(Debug, Clone)]
pub struct HostTools {
    pub wg: PathBuf,
    pub ip: PathBuf,
    pub nft: PathBuf,
}

impl HostTools {
    pub fn new(wg: PathBuf) -> Self {
        Self {
            wg,
            ip: PathBuf::from("ip"),
            nft: PathBuf::from("nft"),
        }
    }
}

/// Runs a command through the one subprocess runner (`wg::command`, which bounds its output)
/// with a timeout; stdout on success, one line of stderr otherwise.
pub(crate) async fn output(program: &Path, args: &[&str], stdin: Option<&[u8]>) -> Probe<Vec<u8>> {
    let name = program.display().to_string();
    let out = command::run(program, args, stdin, COMMAND_TIMEOUT)
        .await
        .map_err(|err| match err {
            RunError::Timeout => format!("{name} did not answer within {COMMAND_TIMEOUT:?}"),
            err => format!("{name}: {err}"),
        })?;
    if !out.status.success() {
        let line = command::first_line(&out.stderr).unwrap_or_default();
        return Err(format!("{name} {}: {}", args.join(" "), line.trim()));
    }
    Ok(out.stdout.to_vec())
}

fn json(bytes: &[u8], what: &str) -> Probe<Value> {
    serde_json::from_slice(bytes).map_err(|err| format!("{what}: not JSON: {err}"))
}

/// Picks the hub: the named one, or the only one.
async fn pick_hub(store: &Store, name: Option<&str>) -> Probe<Hub> {
    if let Some(name) = name {
        return store.hub(name).await.map_err(|e| e.to_string());
    }
    let hubs = store.list_hubs().await.map_err(|e| e.to_string())?;
    match hubs.as_slice() {
        [] => Err("no hubs in the database yet (tikwire hub add NAME --endpoint HOST:PORT)".into()),
        [one] => Ok(one.clone()),
        many => Err(format!(
            "several hubs ({}): pick one with --hub NAME",
            many.iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn key_source(config: &Config) -> KeySource {
    use std::os::unix::fs::MetadataExt as _;
    if std::env::var_os(crate::vault::MASTER_KEY_ENV).is_some() {
        return KeySource::Env;
    }
    let path = config.master_key_file();
    match std::fs::symlink_metadata(&path) {
        Ok(meta) => KeySource::File {
            path: path.display().to_string(),
            mode: meta.mode() & 0o777,
            owner: meta.uid(),
            // SAFETY: geteuid has no preconditions.
            me: unsafe { libc::geteuid() },
        },
        Err(_) => KeySource::Missing {
            path: path.display().to_string(),
        },
    }
}

/// Opens the vault without ever creating a key file, and proves the key against the database.
async fn open_vault(store: &Store, config: &Config) -> Probe<Vault> {
    let vault = Vault::load(&config.master_key_file(), false).map_err(|e| e.to_string())?;
    if let Some(check) = store.key_check().await.map_err(|e| e.to_string())? {
        vault.verify_key_check(&check).map_err(|e| e.to_string())?;
    }
    Ok(vault)
}

async fn database_facts(store: &Store, config: &Config) -> (DatabaseFacts, Option<Vault>) {
    let migrations = store
        .migration_record()
        .await
        .map(|rows| Migrations {
            applied: rows.iter().map(|m| m.version).collect(),
            failed: rows
                .iter()
                .filter(|m| !m.success)
                .map(|m| m.version)
                .collect(),
            known: MIGRATOR.iter().map(|m| m.version).collect(),
        })
        .map_err(|e| e.to_string());
    let vault = open_vault(store, config).await;
    let facts = DatabaseFacts {
        migrations,
        vault: vault.as_ref().map(|_| ()).map_err(Clone::clone),
        key_source: key_source(config),
    };
    (facts, vault.ok())
}

/// Everything the hub checks need. `store` is the database or why it cannot be reached.
pub async fn hub_facts(
    store: Probe<Store>,
    config: &Config,
    hub_name: Option<&str>,
    tools: &HostTools,
) -> HubFacts {
    let mut facts = HubFacts {
        database: Err(String::new()),
        hub: Err("needs the database".into()),
        link: Err("needs the hub".into()),
        wg: Err("needs the hub".into()),
        udp_ports: udp_ports(),
        ruleset: Err("needs the hub".into()),
        table: Err("needs the hub".into()),
        ip_forward: read_sysctl("net/ipv4/ip_forward").map(|v| v != 0),
        rp_filter: Err("needs the hub".into()),
        underlay: Err("needs the hub".into()),
        clock_synced: clock_synced(),
        heartbeat: Err("needs the hub".into()),
        heartbeat_stale_secs: stale_after(config),
        endpoint_addresses: Err("needs the hub".into()),
        local_addresses: Err("needs the hub".into()),
    };
    let store = match store {
        Ok(store) => store,
        Err(why) => {
            facts.database = Err(why);
            return facts;
        }
    };
    let (database, vault) = database_facts(&store, config).await;
    facts.database = Ok(database);
    let hub = match pick_hub(&store, hub_name).await {
        Ok(hub) => hub,
        Err(why) => {
            facts.hub = Err(why);
            return facts;
        }
    };
    let material = match vault {
        Some(vault) => Provisioner::new(store.clone(), vault, config.ipam)
            .hub_material(&hub.name)
            .await
            .map_err(|e| e.to_string()),
        None => Err("the master key does not open the vault".into()),
    };
    let iface = hub.interface.clone();
    facts.link = link(tools, &iface).await;
    facts.wg = wg_facts(tools, &iface, material.as_ref()).await;
    facts.ruleset = output(&tools.nft, &["-j", "list", "ruleset"], None)
        .await
        .and_then(|b| json(&b, "nft -j list ruleset"));
    facts.table = table_facts(&store, tools, &hub).await;
    facts.rp_filter = read_sysctl("net/ipv4/conf/all/rp_filter").and_then(|all| {
        Ok((
            all,
            read_sysctl(&format!("net/ipv4/conf/{iface}/rp_filter"))?,
        ))
    });
    facts.underlay = underlay(tools).await;
    facts.heartbeat = heartbeat(&store, hub.id).await;
    facts.endpoint_addresses = resolve(&hub.endpoint_host).await;
    facts.local_addresses = local_addresses(tools).await;
    facts.hub = Ok(HubRef {
        name: hub.name,
        interface: hub.interface,
        listen_port: hub.listen_port,
        public_key: hub.public_key.to_string(),
        endpoint_host: hub.endpoint_host,
    });
    facts
}

/// An agent is stale after three of its intervals and some slack for a slow database.
fn stale_after(config: &Config) -> i64 {
    i64::try_from(
        config
            .poll
            .interval_secs
            .saturating_mul(3)
            .saturating_add(10),
    )
    .unwrap_or(i64::MAX)
}

fn read_sysctl(path: &str) -> Probe<u8> {
    let full = Path::new("/proc/sys").join(path);
    let text = std::fs::read_to_string(&full).map_err(|e| format!("{}: {e}", full.display()))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{}: unexpected value {:?}", full.display(), text.trim()))
}

/// `ip -j link show dev IFACE`: `None` when there is no such interface.
pub(crate) async fn link(tools: &HostTools, iface: &str) -> Probe<Option<Link>> {
    let bytes = match output(&tools.ip, &["-j", "link", "show", "dev", iface], None).await {
        Ok(bytes) => bytes,
        Err(why) if why.contains("does not exist") => return Ok(None),
        Err(why) => return Err(why),
    };
    let doc = json(&bytes, "ip -j link")?;
    let entry = doc.get(0).ok_or("ip -j link printed no interface")?;
    let up = entry
        .get("flags")
        .and_then(Value::as_array)
        .is_some_and(|flags| flags.iter().any(|f| f.as_str() == Some("UP")));
    let mtu = entry.get("mtu").and_then(Value::as_u64).unwrap_or(0);
    Ok(Some(Link {
        up,
        mtu: u32::try_from(mtu).unwrap_or(u32::MAX),
    }))
}

async fn wg_facts(
    tools: &HostTools,
    iface: &str,
    material: Result<&HubMaterial, &String>,
) -> Probe<WgFacts> {
    let raw = read_dump(&tools.wg, iface)
        .await
        .map_err(|e| e.to_string())?;
    let dump = parse_dump_bytes(&raw).map_err(|e| e.to_string())?;
    let peers = match material {
        Ok(material) => {
            let desired = DesiredInterface::from_material(material);
            let diff = plan(
                &desired,
                &dump,
                ReconcileOptions {
                    remove_unknown: true,
                },
            );
            let label = |i: &usize| desired.peers[*i].label.clone();
            Ok(PeerDiff {
                missing: diff.add.iter().map(label).collect(),
                unknown: diff.remove.iter().map(ToString::to_string).collect(),
                wrong_allowed_ips: diff
                    .update
                    .iter()
                    .filter(|(_, f)| f.allowed_ips)
                    .map(|(i, _)| label(i))
                    .collect(),
                wrong_preshared_key: diff
                    .update
                    .iter()
                    .filter(|(_, f)| f.preshared_key)
                    .map(|(i, _)| label(i))
                    .collect(),
                expected: desired.peers.len(),
                present: dump.peers.len(),
            })
        }
        Err(why) => Err(why.clone()),
    };
    let keys: Vec<String> = dump
        .peers
        .iter()
        .map(|p| p.public_key.to_string())
        .collect();
    let allowed: Vec<(&str, IpNet)> = dump
        .peers
        .iter()
        .zip(&keys)
        .flat_map(|(p, key)| p.allowed_ips.iter().map(move |net| (key.as_str(), *net)))
        .collect();
    Ok(WgFacts {
        public_key: dump.interface.public_key.map(|key| key.to_string()),
        listen_port: dump.interface.listen_port,
        peers,
        overlaps: overlaps(&allowed),
    })
}

/// Allowed IPs that overlap between two different peers, found by a sweep over sorted ranges.
pub fn overlaps(allowed: &[(&str, IpNet)]) -> Vec<(String, String, IpNet)> {
    let range = |net: &IpNet| -> (bool, u128, u128) {
        match net {
            IpNet::V4(n) => (
                false,
                u32::from(n.network()).into(),
                u32::from(n.broadcast()).into(),
            ),
            IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
        }
    };
    let mut sorted: Vec<_> = allowed.iter().map(|(k, n)| (range(n), *k, *n)).collect();
    sorted.sort_by_key(|((v6, start, end), _, _)| (*v6, *start, std::cmp::Reverse(*end)));
    let mut found = Vec::new();
    let mut widest: Option<((bool, u128, u128), &str)> = None;
    for ((v6, start, end), key, net) in sorted {
        if let Some(((w6, _, wend), wkey)) = widest
            && w6 == v6
            && start <= wend
        {
            if wkey != key {
                found.push((wkey.to_owned(), key.to_owned(), net));
            }
            if end <= wend {
                continue;
            }
        }
        widest = Some(((v6, start, end), key));
    }
    found
}

/// UDP ports with a socket, from `/proc/net/udp` and `udp6` (this network namespace's).
fn udp_ports() -> Probe<Vec<u16>> {
    let mut ports = Vec::new();
    let mut read_any = false;
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        read_any = true;
        ports.extend(parse_proc_udp(&text));
    }
    if !read_any {
        return Err("cannot read /proc/net/udp".into());
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// The local ports of a `/proc/net/udp` table (`sl local_address:port ...`, hex).
pub fn parse_proc_udp(text: &str) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let local = line.split_whitespace().nth(1)?;
            let port = local.rsplit(':').next()?;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

async fn table_facts(store: &Store, tools: &HostTools, hub: &Hub) -> Probe<TableFacts> {
    let name = crate::scripts::nft::table_name(&hub.interface);
    let loaded = match output(&tools.nft, &["-j", "list", "table", "inet", &name], None).await {
        Ok(bytes) => Some(table_objects(&json(&bytes, "nft -j list table")?)),
        Err(why) if why.contains("No such file") => None,
        Err(why) => return Err(why),
    };
    let tenants = store
        .tenants_served_by(hub.id)
        .await
        .map_err(|e| e.to_string())?;
    let mut expected = Vec::new();
    for allow_same_tenant in [false, true] {
        let ruleset = crate::scripts::render_hub_firewall(hub, &tenants, allow_same_tenant)
            .map_err(|e| e.to_string())?;
        match canonical_listing(tools, &ruleset, &name).await {
            Ok(listing) => expected.push(listing),
            Err(why) => {
                return Ok(TableFacts {
                    name,
                    loaded,
                    expected: Err(why),
                });
            }
        }
    }
    Ok(TableFacts {
        name,
        loaded,
        expected: Ok(expected),
    })
}

/// How nftables lists a ruleset once loaded: loaded into a throwaway network namespace, so
/// the comparison with the live table is nftables' own normal form.
async fn canonical_listing(tools: &HostTools, ruleset: &str, table: &str) -> Probe<Vec<Value>> {
    let nft = tools.nft.display().to_string();
    let script = format!("{nft} -f - && {nft} -j list table inet {table}");
    let bytes = output(
        Path::new("unshare"),
        &["--net", "sh", "-c", &script],
        Some(ruleset.as_bytes()),
    )
    .await?;
    Ok(table_objects(&json(&bytes, "nft -j list table")?))
}

async fn underlay(tools: &HostTools) -> Probe<Option<(String, u32)>> {
    let bytes = output(&tools.ip, &["-j", "route", "show", "default"], None).await?;
    let doc = json(&bytes, "ip -j route")?;
    let Some(dev) = doc
        .get(0)
        .and_then(|r| r.get("dev"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    Ok(link(tools, dev).await?.map(|l| (dev.to_owned(), l.mtu)))
}

/// The kernel's view (what `timedatectl` shows as "System clock synchronized").
fn clock_synced() -> Probe<bool> {
    // SAFETY: an all-zero timex with modes 0 only reads the kernel's state.
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: timex is a valid, writable struct for the call.
    let state = unsafe { libc::adjtimex(&mut timex) };
    if state < 0 {
        return Err(format!("adjtimex: {}", std::io::Error::last_os_error()));
    }
    Ok(state != libc::TIME_ERROR)
}

async fn heartbeat(store: &Store, hub_id: i64) -> Probe<Option<Heartbeat>> {
    let Some(beat) = store
        .agent_heartbeat(hub_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let pid_alive = (beat.host == here).then(|| {
        // SAFETY: signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(beat.pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    });
    Ok(Some(Heartbeat {
        host: beat.host,
        pid: beat.pid,
        age_secs: (beat.now - beat.updated_at).num_seconds().max(0),
        last_error: beat.last_error,
        pid_alive,
    }))
}

async fn resolve(host: &str) -> Probe<Vec<IpAddr>> {
    let lookup = tokio::net::lookup_host((host, 0));
    let addrs = tokio::time::timeout(Duration::from_secs(5), lookup)
        .await
        .map_err(|_| "DNS did not answer within 5 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let mut list: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    list.sort();
    list.dedup();
    Ok(list)
}

async fn local_addresses(tools: &HostTools) -> Probe<Vec<IpAddr>> {
    let bytes = output(&tools.ip, &["-j", "addr", "show"], None).await?;
    let doc = json(&bytes, "ip -j addr")?;
    Ok(doc
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| {
            link.get("addr_info")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|a| a.get("local")?.as_str()?.parse().ok())
        .collect())
}

/// How long a management port may take to accept: short, the tunnel is one hop away.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One router's facts: its row, its peer in the hub's dump, and probes through the tunnel.
pub async fn router_facts(
    provisioner: &Provisioner,
    tenant: &str,
    name: &str,
    online_secs: i64,
    tools: &HostTools,
) -> crate::Result<super::diagnose::RouterFacts> {
    use super::diagnose::{MANAGEMENT_PORTS, RouterFacts};
    let router = provisioner.store().router(tenant, name).await?;
    let hub = provisioner.store().hub(&router.hub).await?;
    let peer = router_peer(provisioner, tools, &hub, &router).await;
    let connected = matches!(&peer, Ok(Some(p)) if p.latest_handshake.is_some());
    let (ping, ports) = if connected {
        let ip = router.vpn_ip;
        let [a, b, c, d] = MANAGEMENT_PORTS.map(|(port, _)| port);
        let (ping, pa, pb, pc, pd) = tokio::join!(
            ping(ip),
            probe_port(ip, a),
            probe_port(ip, b),
            probe_port(ip, c),
            probe_port(ip, d)
        );
        let ports = vec![(a, Some(pa)), (b, Some(pb)), (c, Some(pc)), (d, Some(pd))];
        (Some(ping), ports)
    } else {
        (
            None,
            MANAGEMENT_PORTS.iter().map(|(p, _)| (*p, None)).collect(),
        )
    };
    Ok(RouterFacts {
        router,
        hub_interface: hub.interface,
        peer,
        online_secs,
        now: chrono::Utc::now(),
        ping,
        ports,
    })
}

async fn router_peer(
    provisioner: &Provisioner,
    tools: &HostTools,
    hub: &Hub,
    router: &crate::model::Router,
) -> Probe<Option<super::diagnose::PeerFacts>> {
    let material = provisioner
        .router_material(&router.tenant, &router.name)
        .await
        .map_err(|e| e.to_string())?;
    let raw = read_dump(&tools.wg, &hub.interface)
        .await
        .map_err(|e| e.to_string())?;
    let dump = parse_dump_bytes(&raw).map_err(|e| e.to_string())?;
    let Some(peer) = dump
        .peers
        .iter()
        .find(|p| p.public_key == router.public_key)
    else {
        return Ok(None);
    };
    Ok(Some(super::diagnose::PeerFacts {
        allowed_ips: peer.allowed_ips.clone(),
        preshared_key_matches: peer.preshared_key.map(|k| k.expose())
            == Some(material.preshared_key.as_str()),
        latest_handshake: peer
            .latest_handshake
            .and_then(|s| chrono::DateTime::from_timestamp(i64::try_from(s).ok()?, 0)),
        endpoint: peer.endpoint,
        rx_bytes: peer.rx_bytes,
        tx_bytes: peer.tx_bytes,
    }))
}

/// Three pings 0.2 s apart; any answer counts.
async fn ping(address: std::net::Ipv4Addr) -> Probe<bool> {
    let target = address.to_string();
    let status = tokio::time::timeout(
        COMMAND_TIMEOUT,
        tokio::process::Command::new("ping")
            .args(["-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", &target])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status(),
    )
    .await
    .map_err(|_| "ping did not finish".to_owned())?
    .map_err(|e| format!("ping: {e}"))?;
    // 1 = no answer; 2 = an error (no route, bad address).
    match status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(format!("ping {target} failed ({status})")),
    }
}

async fn probe_port(address: std::net::Ipv4Addr, port: u16) -> super::diagnose::PortProbe {
    use super::diagnose::PortProbe;
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((address, port)),
    )
    .await
    {
        Ok(Ok(_)) => PortProbe::Open,
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => PortProbe::Refused,
        Ok(Err(err)) => PortProbe::Error(err.to_string()),
        Err(_) => PortProbe::TimedOut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_udp_ports() {
        let text = "  sl  local_address rem_address   st\n   0: 00000000:CA6C 00000000:0000 07\n   1: 0100007F:0035 00000000:0000 07\n";
        assert_eq!(parse_proc_udp(text), vec![51820, 53]);
    }

    #[test]
    fn overlapping_allowed_ips_between_peers() {
        let n = |s: &str| s.parse::<IpNet>().unwrap();
        let none = [
            ("a", n("10.1.1.1/32")),
            ("b", n("10.1.1.2/32")),
            ("a", n("10.2.0.0/16")),
        ];
        assert!(overlaps(&none).is_empty());
        let dup = [("a", n("10.1.1.1/32")), ("b", n("10.1.1.1/32"))];
        assert_eq!(overlaps(&dup).len(), 1);
        let inside = [
            ("a", n("10.1.0.0/16")),
            ("c", n("10.2.0.1/32")),
            ("b", n("10.1.200.7/32")),
        ];
        assert_eq!(
            overlaps(&inside),
            vec![("a".into(), "b".into(), n("10.1.200.7/32"))]
        );
        let v6 = [("a", n("fd00::/64")), ("b", n("10.0.0.0/8"))];
        assert!(overlaps(&v6).is_empty());
    }
}
