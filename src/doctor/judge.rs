//! The hub checks: pure judgement over [`HubFacts`]. Check names are part of the JSON
//! contract (`tikwire doctor --json`).

use std::collections::BTreeSet;

use super::facts::{HubFacts, HubRef, KeySource};
use super::nft::{InputVerdict, input_verdict};
use super::{Check, Status};

/// WireGuard's overhead on an IPv6 underlay (40 IPv6 + 8 UDP + 32 WireGuard); on IPv4 it is 60.
const WG_OVERHEAD: u32 = 80;

/// Every hub check, in the order an operator reads them.
pub fn hub_checks(facts: &HubFacts) -> Vec<Check> {
    let mut checks = Vec::new();
    database_checks(facts, &mut checks);
    match &facts.hub {
        Ok(hub) => {
            interface_checks(facts, hub, &mut checks);
            checks.push(host_firewall(facts, hub));
            checks.push(firewall_table(facts, hub));
            checks.push(ip_forward(facts, hub));
            checks.push(rp_filter(facts, hub));
            checks.push(mtu(facts, hub));
            checks.push(clock(facts));
            checks.push(agent(facts, hub));
            checks.push(peers(facts, hub));
            checks.push(allowed_ips(facts));
            checks.push(endpoint(facts, hub));
        }
        // Without a database the `database` check already says why.
        Err(_) if facts.database.is_err() => checks.push(clock(facts)),
        Err(why) => {
            checks.push(Check::fail(
                "hub",
                format!("cannot check the hub: {why}"),
                "tikwire hub list (and pick one with --hub NAME)",
            ));
            checks.push(clock(facts));
        }
    }
    checks
}

fn cannot_tell(name: &str, why: &str, fix: &str) -> Check {
    Check::warn(name, format!("cannot tell: {why}"), fix)
}

fn database_checks(facts: &HubFacts, checks: &mut Vec<Check>) {
    let db = match &facts.database {
        Ok(db) => db,
        Err(why) => {
            checks.push(Check::fail(
                "database",
                why.clone(),
                "tikwire db status (set DATABASE_URL to the server the consoles use)",
            ));
            return;
        }
    };
    checks.push(Check::ok("database", "reachable"));
    checks.push(match &db.migrations {
        Ok(m) if !m.failed.is_empty() => Check::fail(
            "migrations",
            format!("migration {:?} failed part way", m.failed),
            "restore the database from a backup, then tikwire db migrate",
        ),
        Ok(m) => {
            let applied: BTreeSet<_> = m.applied.iter().collect();
            let missing: Vec<_> = m.known.iter().filter(|v| !applied.contains(v)).collect();
            let known: BTreeSet<_> = m.known.iter().collect();
            let newer: Vec<_> = m.applied.iter().filter(|v| !known.contains(v)).collect();
            if !newer.is_empty() {
                Check::warn(
                    "migrations",
                    format!("the database has migrations {newer:?} this tikwire does not know"),
                    "upgrade tikwire on this host (apt install ./tikwire_*.deb)",
                )
            } else if !missing.is_empty() {
                Check::fail(
                    "migrations",
                    format!("not applied yet: {missing:?}"),
                    "tikwire db migrate",
                )
            } else {
                Check::ok(
                    "migrations",
                    format!("current ({} applied)", m.applied.len()),
                )
            }
        }
        Err(why) => cannot_tell("migrations", why, "tikwire db status"),
    });
    checks.push(match &db.vault {
        Ok(()) => Check::ok("master_key", "opens this database's vault"),
        Err(why) => Check::fail(
            "master_key",
            why.clone(),
            "set TIKWIRE_MASTER_KEY or restore master.key in the data directory from your backup",
        ),
    });
    checks.push(match &db.key_source {
        KeySource::Env => Check::ok("master_key_file", "from TIKWIRE_MASTER_KEY (no file used)"),
        KeySource::File {
            path,
            mode,
            owner,
            me,
        } if mode & 0o077 != 0 => Check::fail(
            "master_key_file",
            format!("{path} is readable by others (mode {mode:04o})"),
            format!("chmod 600 {path}"),
        ),
        KeySource::File {
            path, owner, me, ..
        } if owner != me => Check::fail(
            "master_key_file",
            format!("{path} belongs to uid {owner}, not to uid {me} running tikwire"),
            format!("chown {me} {path}"),
        ),
        KeySource::File { path, mode, .. } => {
            Check::ok("master_key_file", format!("{path} (mode {mode:04o})"))
        }
        KeySource::Missing { path } => Check::warn(
            "master_key_file",
            format!("{path} does not exist and TIKWIRE_MASTER_KEY is not set"),
            format!("restore {path} from your backup (mode 0600)"),
        ),
    });
}

fn interface_checks(facts: &HubFacts, hub: &HubRef, checks: &mut Vec<Check>) {
    let iface = &hub.interface;
    checks.push(match &facts.link {
        Ok(Some(link)) if link.up => {
            Check::ok("interface", format!("{iface} is up (mtu {})", link.mtu))
        }
        Ok(Some(_)) => Check::fail(
            "interface",
            format!("{iface} exists but is down"),
            format!("ip link set dev {iface} up"),
        ),
        Ok(None) => Check::fail(
            "interface",
            format!("{iface} does not exist"),
            format!(
                "ip link add {iface} type wireguard && tikwire agent --hub {} --once",
                hub.name
            ),
        ),
        Err(why) => cannot_tell("interface", why, "run tikwire doctor as root on the hub"),
    });
    let reapply = reapply(hub);
    match &facts.wg {
        Ok(wg) => {
            checks.push(match &wg.public_key {
                Some(key) if *key == hub.public_key => {
                    Check::ok("private_key", "the interface has the hub's key")
                }
                Some(key) => Check::fail(
                    "private_key",
                    format!(
                        "{iface} has the key of {key}, not the hub's {}",
                        hub.public_key
                    ),
                    reapply.clone(),
                ),
                None => Check::fail(
                    "private_key",
                    format!("{iface} has no private key"),
                    reapply.clone(),
                ),
            });
            checks.push(if wg.listen_port == hub.listen_port {
                Check::ok("listen_port", format!("UDP {}", hub.listen_port))
            } else {
                Check::fail(
                    "listen_port",
                    format!(
                        "{iface} listens on UDP {}, the database says {}",
                        wg.listen_port, hub.listen_port
                    ),
                    format!("wg set {iface} listen-port {}", hub.listen_port),
                )
            });
        }
        // Without CAP_NET_ADMIN `wg show` is refused: that says nothing about the hub.
        Err(why) if why.contains("not permitted") || why.contains("denied") => {
            for name in ["private_key", "listen_port"] {
                checks.push(cannot_tell(
                    name,
                    why,
                    "run tikwire doctor as root on the hub",
                ));
            }
        }
        Err(why) => {
            for name in ["private_key", "listen_port"] {
                checks.push(Check::fail(
                    name,
                    format!("wg show {iface} failed: {why}"),
                    reapply.clone(),
                ));
            }
        }
    }
    // The interface's own port: with `listen_port` ok, that is the database's port.
    let port = facts
        .wg
        .as_ref()
        .map_or(hub.listen_port, |wg| wg.listen_port);
    checks.push(match &facts.udp_ports {
        Ok(ports) if ports.contains(&port) => {
            Check::ok("udp_listener", format!("something listens on UDP {port}"))
        }
        Ok(_) => Check::fail(
            "udp_listener",
            format!("nothing listens on UDP {port}: {iface} has no socket"),
            format!("ip link set dev {iface} up; ss -ulnp | grep {port} (another program may hold the port)"),
        ),
        Err(why) => cannot_tell("udp_listener", why, "ss -uln"),
    });
}

/// The agent sets the interface from the database when it starts.
fn reapply(hub: &HubRef) -> String {
    format!(
        "systemctl restart tikwire-agent@{0} (without the unit: tikwire agent --hub {0} --once)",
        hub.name
    )
}

fn host_firewall(facts: &HubFacts, hub: &HubRef) -> Check {
    let port = hub.listen_port;
    let table = crate::scripts::nft::table_name(&hub.interface);
    match &facts.ruleset {
        Ok(ruleset) => match input_verdict(ruleset, port, &table, &hub.interface) {
            InputVerdict::Open => Check::ok(
                "host_firewall",
                format!("no input filtering: UDP {port} comes in"),
            ),
            InputVerdict::Accepted(chain) => {
                Check::ok("host_firewall", format!("{chain} accepts UDP {port}"))
            }
            InputVerdict::Dropped(chain) => Check::fail(
                "host_firewall",
                format!("{chain} drops UDP {port}: routers cannot reach the hub"),
                // First in the chain, before whatever drops; keep it in your firewall's config.
                format!(
                    "nft insert rule {chain} udp dport {port} accept (and the same in your firewall's config)"
                ),
            ),
            InputVerdict::Unclear(chain) => Check::warn(
                "host_firewall",
                format!(
                    "{chain} has rules this check cannot follow; cannot tell whether UDP {port} comes in"
                ),
                format!("nft list chain {chain}; make sure UDP {port} is accepted"),
            ),
        },
        Err(why) => cannot_tell(
            "host_firewall",
            why,
            format!("make sure UDP {port} is accepted (iptables -S / nft list ruleset)").as_str(),
        ),
    }
}

fn load_table(hub: &HubRef) -> String {
    format!("tikwire hub firewall {} | nft -f -", hub.name)
}

fn firewall_table(facts: &HubFacts, hub: &HubRef) -> Check {
    match &facts.table {
        Ok(table) => match (&table.loaded, &table.expected) {
            (None, _) => Check::fail(
                "firewall_table",
                format!(
                    "table inet {} is not loaded: nothing isolates tenants",
                    table.name
                ),
                load_table(hub),
            ),
            (Some(loaded), Ok(expected)) if expected.contains(loaded) => Check::ok(
                "firewall_table",
                format!("table inet {} is loaded and current", table.name),
            ),
            (Some(_), Ok(_)) => Check::fail(
                "firewall_table",
                format!(
                    "table inet {} differs from what `hub firewall` prints now",
                    table.name
                ),
                load_table(hub),
            ),
            (Some(_), Err(why)) => Check::warn(
                "firewall_table",
                format!(
                    "table inet {} is loaded; cannot compare it: {why}",
                    table.name
                ),
                format!(
                    "tikwire hub firewall {} | nft -c -f - && {}",
                    hub.name,
                    load_table(hub)
                ),
            ),
        },
        Err(why) => cannot_tell(
            "firewall_table",
            why,
            "run tikwire doctor as root with nft installed",
        ),
    }
}

fn table_loaded(facts: &HubFacts) -> Option<bool> {
    facts.table.as_ref().ok().map(|t| t.loaded.is_some())
}

fn ip_forward(facts: &HubFacts, hub: &HubRef) -> Check {
    match (&facts.ip_forward, table_loaded(facts)) {
        (Ok(false), _) => Check::ok(
            "ip_forward",
            "off: nothing is routed through the hub, routers are reached from the hub itself only",
        ),
        (Ok(true), Some(true)) => {
            Check::ok("ip_forward", "on, tenants isolated by the firewall table")
        }
        (Ok(true), Some(false)) => Check::fail(
            "ip_forward",
            "on without the firewall table: routers of different tenants can reach each other",
            format!("{} (or sysctl -w net.ipv4.ip_forward=0)", load_table(hub)),
        ),
        (Ok(true), None) => Check::warn(
            "ip_forward",
            "on, and whether the firewall table isolates tenants is unknown",
            format!(
                "nft list table inet {}",
                crate::scripts::nft::table_name(&hub.interface)
            ),
        ),
        (Err(why), _) => cannot_tell("ip_forward", why, "sysctl net.ipv4.ip_forward"),
    }
}

fn rp_filter(facts: &HubFacts, hub: &HubRef) -> Check {
    let iface = &hub.interface;
    match facts.rp_filter {
        // The kernel uses the larger of `all` and the interface's value.
        Ok((all, own)) if all.max(own) == 1 => Check::warn(
            "rp_filter",
            format!(
                "strict on {iface} (all={all}, {iface}={own}): asymmetric tunnel traffic is dropped"
            ),
            format!("sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.{iface}.rp_filter=2"),
        ),
        Ok((all, own)) => Check::ok(
            "rp_filter",
            format!("not strict (all={all}, {iface}={own})"),
        ),
        Err(ref why) => cannot_tell("rp_filter", why, "sysctl net.ipv4.conf.all.rp_filter"),
    }
}

fn mtu(facts: &HubFacts, hub: &HubRef) -> Check {
    let iface = &hub.interface;
    match (&facts.link, &facts.underlay) {
        (Ok(Some(link)), Ok(Some((dev, under)))) if link.mtu + WG_OVERHEAD > *under => Check::warn(
            "mtu",
            format!(
                "{iface} mtu {} + {WG_OVERHEAD} bytes of WireGuard over {dev} (mtu {under}) fragments",
                link.mtu
            ),
            format!(
                "ip link set dev {iface} mtu {}",
                under.saturating_sub(WG_OVERHEAD)
            ),
        ),
        (Ok(Some(link)), Ok(Some((dev, under)))) => Check::ok(
            "mtu",
            format!("{iface} mtu {} fits {dev} (mtu {under})", link.mtu),
        ),
        (Ok(Some(_)), Ok(None)) => Check::warn(
            "mtu",
            "no default route: cannot tell the underlay's MTU",
            "ip route show default",
        ),
        (Ok(None), _) => Check::warn(
            "mtu",
            format!("{iface} does not exist"),
            format!("ip link show {iface}"),
        ),
        (Err(why), _) | (_, Err(why)) => cannot_tell("mtu", why, "ip link; ip route show default"),
    }
}

fn clock(facts: &HubFacts) -> Check {
    match facts.clock_synced {
        Ok(true) => Check::ok("clock", "synchronised"),
        Ok(false) => Check::warn(
            "clock",
            "not synchronised: handshakes carry timestamps, routers may refuse a hub whose clock jumped",
            "timedatectl set-ntp true (or start chrony / systemd-timesyncd)",
        ),
        Err(ref why) => cannot_tell("clock", why, "timedatectl status"),
    }
}

fn agent(facts: &HubFacts, hub: &HubRef) -> Check {
    let start = format!("systemctl enable --now tikwire-agent@{}", hub.name);
    match &facts.heartbeat {
        Ok(None) => Check::fail("agent", "no agent has ever run for this hub", start),
        Ok(Some(beat)) if beat.pid_alive == Some(false) => Check::fail(
            "agent",
            format!(
                "the agent (pid {} on {}) is not running; last heartbeat {}s ago",
                beat.pid, beat.host, beat.age_secs
            ),
            start,
        ),
        Ok(Some(beat)) if beat.age_secs > facts.heartbeat_stale_secs => Check::fail(
            "agent",
            format!(
                "last heartbeat {}s ago from {} (pid {}): the agent is stopped or stuck",
                beat.age_secs, beat.host, beat.pid
            ),
            format!("{start}; journalctl -u tikwire-agent@{}", hub.name),
        ),
        Ok(Some(beat)) => match &beat.last_error {
            Some(error) => Check::warn(
                "agent",
                format!("running, but its last poll failed: {error}"),
                format!("journalctl -u tikwire-agent@{}", hub.name),
            ),
            None => Check::ok(
                "agent",
                format!(
                    "heartbeat {}s ago from {} (pid {})",
                    beat.age_secs, beat.host, beat.pid
                ),
            ),
        },
        Err(why) => cannot_tell("agent", why, "tikwire db status"),
    }
}

fn names(list: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = list
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOWN {
        text.push_str(&format!(" and {} more", list.len() - SHOWN));
    }
    text
}

fn peers(facts: &HubFacts, hub: &HubRef) -> Check {
    let wg = match &facts.wg {
        Ok(wg) => wg,
        Err(why) => return cannot_tell("peers", why, &format!("wg show {}", hub.interface)),
    };
    let diff = match &wg.peers {
        Ok(diff) => diff,
        Err(why) => {
            return cannot_tell(
                "peers",
                why,
                "tikwire doctor with the master key (TIKWIRE_MASTER_KEY)",
            );
        }
    };
    let mut problems = Vec::new();
    if !diff.missing.is_empty() {
        problems.push(format!("missing: {}", names(&diff.missing)));
    }
    if !diff.unknown.is_empty() {
        problems.push(format!("unknown: {}", names(&diff.unknown)));
    }
    if !diff.wrong_allowed_ips.is_empty() {
        problems.push(format!(
            "wrong allowed IPs: {}",
            names(&diff.wrong_allowed_ips)
        ));
    }
    if !diff.wrong_preshared_key.is_empty() {
        problems.push(format!(
            "wrong preshared key: {}",
            names(&diff.wrong_preshared_key)
        ));
    }
    if problems.is_empty() {
        return Check::ok(
            "peers",
            format!(
                "{} peers match the {} enabled routers",
                diff.present, diff.expected
            ),
        );
    }
    Check::fail("peers", problems.join("; "), reapply(hub))
}

fn allowed_ips(facts: &HubFacts) -> Check {
    match &facts.wg {
        Ok(wg) if wg.overlaps.is_empty() => Check::ok("allowed_ips", "no allowed IP on two peers"),
        Ok(wg) => {
            let (a, b, net) = &wg.overlaps[0];
            Check::fail(
                "allowed_ips",
                format!(
                    "{net} is on two peers ({a} and {b}){}",
                    if wg.overlaps.len() > 1 {
                        format!(" and {} more overlaps", wg.overlaps.len() - 1)
                    } else {
                        String::new()
                    }
                ),
                format!("wg set IFACE peer {b} remove, then tikwire agent --once"),
            )
        }
        Err(why) => cannot_tell("allowed_ips", why, "wg show"),
    }
}

fn endpoint(facts: &HubFacts, hub: &HubRef) -> Check {
    let host = &hub.endpoint_host;
    let (resolved, local) = match (&facts.endpoint_addresses, &facts.local_addresses) {
        (Ok(r), Ok(l)) => (r, l),
        (Err(why), _) => {
            return Check::warn(
                "endpoint",
                format!("{host} does not resolve: {why}"),
                format!(
                    "publish {host} in DNS, or tikwire hub add with --endpoint set to this host's address"
                ),
            );
        }
        (_, Err(why)) => return cannot_tell("endpoint", why, "ip addr"),
    };
    let list = resolved
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if resolved.iter().any(|a| local.contains(a)) {
        Check::ok("endpoint", format!("{host} resolves to this host ({list})"))
    } else {
        Check::warn(
            "endpoint",
            format!(
                "{host} resolves to {list}, not an address of this host: routers may dial somewhere else (fine behind a port forward)"
            ),
            format!("dig +short {host}; ip -brief addr"),
        )
    }
}

/// True when a check with this name exists and has this status (for callers and tests).
pub fn status_of(checks: &[Check], name: &str) -> Option<Status> {
    checks.iter().find(|c| c.name == name).map(|c| c.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::facts::*;
    use serde_json::json;

    fn healthy() -> HubFacts {
        let table = vec![json!({"table": {"family": "inet", "name": "tikwire_wg0"}})];
        HubFacts {
            database: Ok(DatabaseFacts {
                migrations: Ok(Migrations {
                    applied: vec![1, 2, 3],
                    failed: vec![],
                    known: vec![1, 2, 3],
                }),
                vault: Ok(()),
                key_source: KeySource::File {
                    path: "/var/lib/tikwire/master.key".into(),
                    mode: 0o600,
                    owner: 0,
                    me: 0,
                },
            }),
            hub: Ok(HubRef {
                name: "hub1".into(),
                interface: "wg0".into(),
                listen_port: 51820,
                public_key: "HUBKEY".into(),
                endpoint_host: "vpn.example.com".into(),
            }),
            link: Ok(Some(Link {
                up: true,
                mtu: 1420,
            })),
            wg: Ok(WgFacts {
                public_key: Some("HUBKEY".into()),
                listen_port: 51820,
                peers: Ok(PeerDiff {
                    expected: 2,
                    present: 2,
                    ..PeerDiff::default()
                }),
                overlaps: vec![],
            }),
            udp_ports: Ok(vec![22, 51820]),
            ruleset: Ok(json!({"nftables": []})),
            table: Ok(TableFacts {
                name: "tikwire_wg0".into(),
                loaded: Some(table.clone()),
                expected: Ok(vec![vec![], table]),
            }),
            ip_forward: Ok(true),
            rp_filter: Ok((2, 0)),
            underlay: Ok(Some(("eth0".into(), 1500))),
            clock_synced: Ok(true),
            heartbeat: Ok(Some(Heartbeat {
                host: "h".into(),
                pid: 1,
                age_secs: 2,
                last_error: None,
                pid_alive: Some(true),
            })),
            heartbeat_stale_secs: 25,
            endpoint_addresses: Ok(vec!["192.0.2.1".parse().unwrap()]),
            local_addresses: Ok(vec!["192.0.2.1".parse().unwrap()]),
        }
    }

    /// The checks that are not ok, with their status; every one of them has a fix.
    fn not_ok(facts: &HubFacts) -> Vec<(String, Status)> {
        let checks = hub_checks(facts);
        for c in &checks {
            assert_eq!(c.fix.is_none(), c.status == Status::Ok, "{c:?}");
        }
        checks
            .into_iter()
            .filter(|c| c.status != Status::Ok)
            .map(|c| (c.name, c.status))
            .collect()
    }

    #[test]
    fn a_healthy_hub_is_all_ok() {
        assert_eq!(not_ok(&healthy()), vec![]);
        assert!(
            !crate::doctor::Report {
                checks: hub_checks(&healthy())
            }
            .failed()
        );
    }

    #[test]
    fn each_broken_fact_turns_its_own_check() {
        type Break = fn(&mut HubFacts);
        let cases: Vec<(Break, &str, Status)> = vec![
            (
                |f| {
                    f.link = Ok(Some(Link {
                        up: false,
                        mtu: 1420,
                    }))
                },
                "interface",
                Status::Fail,
            ),
            (
                |f| {
                    // wg listens on its own (wrong) port: only listen_port is wrong.
                    f.wg.as_mut().unwrap().listen_port = 51821;
                    f.udp_ports = Ok(vec![51821]);
                },
                "listen_port",
                Status::Fail,
            ),
            (
                |f| f.wg.as_mut().unwrap().public_key = Some("OTHER".into()),
                "private_key",
                Status::Fail,
            ),
            (|f| f.udp_ports = Ok(vec![22]), "udp_listener", Status::Fail),
            (|f| f.ip_forward = Ok(false), "", Status::Ok),
            (|f| f.rp_filter = Ok((1, 0)), "rp_filter", Status::Warn),
            (
                |f| f.underlay = Ok(Some(("eth0".into(), 1460))),
                "mtu",
                Status::Warn,
            ),
            (|f| f.clock_synced = Ok(false), "clock", Status::Warn),
            (|f| f.heartbeat = Ok(None), "agent", Status::Fail),
            (
                |f| f.heartbeat.as_mut().unwrap().as_mut().unwrap().age_secs = 600,
                "agent",
                Status::Fail,
            ),
            (
                |f| f.heartbeat.as_mut().unwrap().as_mut().unwrap().pid_alive = Some(false),
                "agent",
                Status::Fail,
            ),
            (
                |f| f.wg.as_mut().unwrap().peers.as_mut().unwrap().unknown = vec!["K".into()],
                "peers",
                Status::Fail,
            ),
            (
                |f| {
                    f.wg.as_mut()
                        .unwrap()
                        .peers
                        .as_mut()
                        .unwrap()
                        .wrong_preshared_key = vec!["t/r".into()]
                },
                "peers",
                Status::Fail,
            ),
            (
                |f| {
                    f.wg.as_mut().unwrap().overlaps =
                        vec![("A".into(), "B".into(), "10.1.0.0/16".parse().unwrap())]
                },
                "allowed_ips",
                Status::Fail,
            ),
            (
                |f| f.local_addresses = Ok(vec!["198.51.100.1".parse().unwrap()]),
                "endpoint",
                Status::Warn,
            ),
            (
                |f| f.endpoint_addresses = Err("no such host".into()),
                "endpoint",
                Status::Warn,
            ),
            (
                |f| {
                    if let Ok(db) = &mut f.database {
                        db.vault = Err("wrong key".into())
                    }
                },
                "master_key",
                Status::Fail,
            ),
            (
                |f| {
                    if let Ok(db) = &mut f.database {
                        db.key_source = KeySource::File {
                            path: "k".into(),
                            mode: 0o644,
                            owner: 0,
                            me: 0,
                        }
                    }
                },
                "master_key_file",
                Status::Fail,
            ),
            (
                |f| {
                    if let Ok(db) = &mut f.database {
                        db.migrations.as_mut().unwrap().applied = vec![1, 2]
                    }
                },
                "migrations",
                Status::Fail,
            ),
            (
                |f| {
                    f.ruleset = Ok(
                        json!({"nftables": [{"chain": {"family": "inet", "table": "filter", "name": "input", "hook": "input", "policy": "drop"}}]}),
                    )
                },
                "host_firewall",
                Status::Fail,
            ),
        ];
        for (i, (breaks, name, status)) in cases.into_iter().enumerate() {
            let mut facts = healthy();
            breaks(&mut facts);
            let expected = if name.is_empty() {
                vec![]
            } else {
                vec![(name.to_owned(), status)]
            };
            assert_eq!(not_ok(&facts), expected, "case {i}");
        }
    }

    #[test]
    fn the_table_and_ip_forward_go_together() {
        let mut facts = healthy();
        facts.table.as_mut().unwrap().loaded = None;
        assert_eq!(
            not_ok(&facts),
            vec![
                ("firewall_table".into(), Status::Fail),
                ("ip_forward".into(), Status::Fail)
            ]
        );
        facts.ip_forward = Ok(false);
        assert_eq!(
            not_ok(&facts),
            vec![("firewall_table".into(), Status::Fail)]
        );
        let mut facts = healthy();
        facts.table.as_mut().unwrap().expected = Ok(vec![vec![]]);
        assert_eq!(
            not_ok(&facts),
            vec![("firewall_table".into(), Status::Fail)]
        );
    }

    #[test]
    fn without_a_database_only_host_checks_remain() {
        let mut facts = healthy();
        facts.database = Err("connection refused".into());
        facts.hub = Err("needs the database".into());
        let checks = hub_checks(&facts);
        assert_eq!(status_of(&checks, "database"), Some(Status::Fail));
        assert_eq!(status_of(&checks, "peers"), None);
        assert_eq!(status_of(&checks, "hub"), None);
        assert_eq!(status_of(&checks, "clock"), Some(Status::Ok));
        assert!(crate::doctor::Report { checks }.failed());
    }
}
