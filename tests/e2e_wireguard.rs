//! End to end with the real tools: a hub namespace and two router namespaces (two tenants)
//! joined by veth pairs, wireguard-go interfaces with unique names. The routers are set up
//! from `tikwire script --format wg-quick`, the hub only by `tikwire agent --once`. Then:
//! each router pings its tenant's hub address, `router show --json` says online with traffic,
//! the `hub firewall` ruleset stops a router of one tenant reaching a router of the other, and
//! deleting a router and running the agent again removes its peer.
//!
//! Skipped, with the reason printed, when not root or a tool is missing.

mod common;
mod wg_support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use wg_support::{Netns, live_unavailable, run};

const MASTER_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// The `tikwire` binary against one test database; optionally inside a namespace.
struct Tikwire {
    url: String,
    data_dir: PathBuf,
}

impl Tikwire {
    fn command(&self, netns: Option<&str>, args: &[&str]) -> Output {
        let bin = env!("CARGO_BIN_EXE_tikwire");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        command
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("TIKWIRE_DATA_DIR", &self.data_dir)
            .env("TIKWIRE_MASTER_KEY", MASTER_KEY)
            .env_remove("TIKWIRE_CONFIG")
            .env("XDG_CONFIG_HOME", self.data_dir.join("config"))
            .output()
            .expect("run tikwire")
    }

    fn ok_in(&self, netns: Option<&str>, args: &[&str]) -> String {
        let out = self.command(netns, args);
        assert!(
            out.status.success(),
            "tikwire {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(None, args)
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("one JSON document")
    }
}

/// Removes a directory when dropped, panics included.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sets a router namespace's interface up from a wg-quick file, the way `wg-quick up` would
/// (wg-quick itself would try a kernel interface first): `wg-quick strip` + `wg setconf`,
/// its Address on the interface and a route for each AllowedIPs.
fn configure_router(ns: &Netns, ifname: &str, conf: &str) {
    let dir = std::env::temp_dir().join(format!("tikwire-e2e-{}", ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{ifname}.conf"));
    // The config holds the router's private key: a 0700 directory, gone even on a panic.
    let _guard = RemoveOnDrop(dir.clone());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(&file, conf).unwrap();
    let stripped = run("wg-quick", &["strip", file.to_str().unwrap()]);
    let setconf = dir.join("setconf");
    std::fs::write(&setconf, stripped).unwrap();
    ns.exec(&["wg", "setconf", ifname, setconf.to_str().unwrap()]);
    ns.exec(&["ip", "link", "set", ifname, "up"]);
    for line in conf.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let values = value.split(',').map(str::trim);
        match key.trim() {
            "Address" => values.for_each(|a| {
                ns.exec(&["ip", "addr", "add", a, "dev", ifname]);
            }),
            "AllowedIPs" => values.for_each(|net| {
                ns.exec(&["ip", "route", "add", net, "dev", ifname]);
            }),
            _ => {}
        }
    }
}

/// True when one of `attempts` pings (1 s each) is answered. A router that dialled before
/// the hub had its key retries its handshake only every 5 s, hence more than one attempt.
fn pings(ns: &Netns, address: &str, attempts: u32) -> bool {
    (0..attempts).any(|_| {
        Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "ping", "-c", "1", "-W", "1", address,
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// Enough attempts to span two handshake retries.
const REACHES: u32 = 15;
/// Traffic that must not pass: the sessions are up, so a few attempts tell.
const BLOCKED: u32 = 3;

/// What each namespace looks like, for a failure message (`wg show` hides keys).
fn diagnose(spaces: &[&Netns]) -> String {
    let mut out = String::new();
    for ns in spaces {
        for args in [
            &["wg", "show", &ns.name][..],
            &["ip", "addr"],
            &["ip", "route"],
        ] {
            let mut full = vec!["netns", "exec", &ns.name];
            full.extend_from_slice(args);
            let o = Command::new("ip").args(&full).output().unwrap();
            out.push_str(&format!(
                "--- {} {args:?}\n{}{}",
                ns.name,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    out
}

fn hub_peers(hub: &Netns, ifname: &str) -> Vec<String> {
    hub.exec(&["wg", "show", ifname, "peers"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn routers_come_online_through_the_agent_and_tenants_stay_apart() {
    if let Some(reason) = live_unavailable() {
        eprintln!("SKIPPED end-to-end WireGuard test: {reason}");
        return;
    }
    for tool in ["wg-quick", "nft", "ping"] {
        if run("sh", &["-c", &format!("command -v {tool} || true")])
            .trim()
            .is_empty()
        {
            eprintln!("SKIPPED end-to-end WireGuard test: `{tool}` is not installed");
            return;
        }
    }
    let db = common::test_db().await;
    if common::socket_dir().is_none() {
        eprintln!(
            "SKIPPED end-to-end WireGuard test: DATABASE_URL is a TCP server, unreachable from a network namespace"
        );
        return;
    }
    let data_dir = std::env::temp_dir().join(format!("tikwire-e2e-{}", db.name));
    std::fs::create_dir_all(&data_dir).unwrap();
    let _data_dir_guard = RemoveOnDrop(data_dir.clone());
    let tikwire = Tikwire {
        url: common::server_url_for(&db.name),
        data_dir: data_dir.clone(),
    };

    // Network: hub 192.0.2.1 (router A's side) and 198.51.100.1 (router B's side).
    let mut hub = Netns::new("h");
    let mut ra = Netns::new("a");
    let mut rb = Netns::new("b");
    let (hub_if, ra_if, rb_if) = (hub.name.clone(), ra.name.clone(), rb.name.clone());
    let veth = |a: &Netns, b: &Netns, tag: &str| {
        // Unique per namespace: "<hub ns><tag>" on the hub side, "<router ns>h" on the other.
        let (va, vb) = (format!("{}{tag}", a.name), format!("{}h", b.name));
        run(
            "ip",
            &[
                "link", "add", &va, "netns", &a.name, "type", "veth", "peer", "name", &vb, "netns",
                &b.name,
            ],
        );
        (va, vb)
    };
    let (h1, a1) = veth(&hub, &ra, "a");
    let (h2, b1) = veth(&hub, &rb, "b");
    hub.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &h1]);
    hub.exec(&["ip", "addr", "add", "198.51.100.1/24", "dev", &h2]);
    ra.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &a1]);
    rb.exec(&["ip", "addr", "add", "198.51.100.2/24", "dev", &b1]);
    for (ns, dev) in [(&hub, &h1), (&hub, &h2), (&ra, &a1), (&rb, &b1)] {
        ns.exec(&["ip", "link", "set", dev, "up"]);
    }
    rb.exec(&["ip", "route", "add", "default", "via", "198.51.100.1"]);
    hub.add_wireguard(&hub_if);
    ra.add_wireguard(&ra_if);
    rb.add_wireguard(&rb_if);

    // Provisioning, as an operator would.
    tikwire.ok(&[
        "hub",
        "add",
        "hub1",
        "--endpoint",
        "192.0.2.1:51820",
        "--interface",
        &hub_if,
    ]);
    tikwire.ok(&["tenant", "add", "ta"]);
    tikwire.ok(&["tenant", "add", "tb"]);
    tikwire.ok(&["router", "add", "ra", "--tenant", "ta"]);
    tikwire.ok(&["router", "add", "rb", "--tenant", "tb"]);
    let show = |name: &str, tenant: &str| {
        tikwire.json(&["router", "show", name, "--tenant", tenant, "--json"])
    };
    let (ra_info, rb_info) = (show("ra", "ta"), show("rb", "tb"));
    assert_eq!(ra_info["status"], "pending");
    let ra_hub_ip = ra_info["hub_ip"].as_str().unwrap().to_owned();
    let rb_hub_ip = rb_info["hub_ip"].as_str().unwrap().to_owned();
    let rb_vpn_ip = rb_info["vpn_ip"].as_str().unwrap().to_owned();

    // Routers from their wg-quick configs; the hub only from the agent.
    configure_router(
        &ra,
        &ra_if,
        &tikwire.ok(&["script", "ra", "--tenant", "ta", "--format", "wg-quick"]),
    );
    configure_router(
        &rb,
        &rb_if,
        &tikwire.ok(&["script", "rb", "--tenant", "tb", "--format", "wg-quick"]),
    );
    tikwire.ok_in(Some(&hub.name), &["agent", "--hub", "hub1", "--once"]);
    assert_eq!(hub_peers(&hub, &hub_if).len(), 2);

    assert!(
        pings(&ra, &ra_hub_ip, REACHES),
        "router A reaches its hub address {ra_hub_ip}\n{}",
        diagnose(&[&hub, &ra])
    );
    assert!(
        pings(&rb, &rb_hub_ip, REACHES),
        "router B reaches its hub address {rb_hub_ip}"
    );

    tikwire.ok_in(Some(&hub.name), &["agent", "--hub", "hub1", "--once"]);
    for (name, tenant) in [("ra", "ta"), ("rb", "tb")] {
        let info = show(name, tenant);
        assert_eq!(info["status"], "online", "{name}: {info}");
        assert!(info["rx_bytes"].as_i64().unwrap() > 0, "{name}: {info}");
        assert!(info["tx_bytes"].as_i64().unwrap() > 0, "{name}: {info}");
        assert!(info["first_handshake_at"].is_string(), "{name}: {info}");
        assert!(
            info["last_endpoint"]
                .as_str()
                .unwrap()
                .starts_with(if name == "ra" {
                    "192.0.2.2:"
                } else {
                    "198.51.100.2:"
                })
        );
    }

    // Tenant isolation. First show that the path exists: forwarding on, and both routers
    // (misbehaving) routing the other tenant's subnet into their tunnel.
    hub.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let hub_pub = tikwire.json(&["hub", "show", "hub1", "--json"])["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let widen = |ns: &Netns, ifname: &str, own_hub: &str, other: &str| {
        ns.exec(&[
            "wg",
            "set",
            ifname,
            "peer",
            &hub_pub,
            "allowed-ips",
            &format!("{own_hub}/32,{other}"),
        ]);
        ns.exec(&["ip", "route", "add", other, "dev", ifname]);
    };
    let subnet_of = |hub_ip: &str| format!("{}.0.0/16", hub_ip.rsplitn(3, '.').last().unwrap());
    widen(&ra, &ra_if, &ra_hub_ip, &subnet_of(&rb_hub_ip));
    widen(&rb, &rb_if, &rb_hub_ip, &subnet_of(&ra_hub_ip));
    assert!(
        pings(&ra, &rb_vpn_ip, REACHES),
        "without the firewall, A reaches B through the hub"
    );

    let ruleset = tikwire.ok(&["hub", "firewall", "hub1"]);
    let rules_file = data_dir.join("hub.nft");
    std::fs::write(&rules_file, ruleset).unwrap();
    hub.exec(&["nft", "-f", rules_file.to_str().unwrap()]);
    assert!(
        !pings(&ra, &rb_vpn_ip, BLOCKED),
        "with the firewall, tenant A cannot reach tenant B"
    );
    assert!(
        pings(&ra, &ra_hub_ip, REACHES),
        "the hub address still answers"
    );

    // Deleting a router and running the agent again removes its peer.
    let rb_key = rb_info["public_key"].as_str().unwrap().to_owned();
    assert!(hub_peers(&hub, &hub_if).contains(&rb_key));
    tikwire.ok(&["router", "rm", "rb", "--tenant", "tb"]);
    tikwire.ok_in(Some(&hub.name), &["agent", "--hub", "hub1", "--once"]);
    let peers = hub_peers(&hub, &hub_if);
    assert!(!peers.contains(&rb_key), "deleted router's peer removed");
    assert_eq!(peers.len(), 1);
}
