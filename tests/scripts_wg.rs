//! The generated configs against the real tools: `wg-quick strip`, `wg setconf`, `wg-quick up`
//! with userspace wireguard-go in private network namespaces, and `nft` for the hub's rules.
//! Needs root and wireguard-tools, wireguard-go, iproute2 and nftables; skipped (with the
//! reason printed) elsewhere. Every namespace, interface and process is removed at the end.

mod scripts_support;

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use scripts_support::*;
use tikwire::model::Endpoint;
use tikwire::scripts::{
    HubConfigFormat, HubConfigInput, HubFirewallInput, HubPeerInput, RouterScriptInput, hub_config,
    hub_firewall, nft::table_name, wg_quick_compact, wg_quick_config,
};

const USERSPACE: (&str, &str) = ("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1");

/// Why the real-tool tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces need it)".into());
    }
    for tool in ["wg", "wg-quick", "wireguard-go", "ip", "nft", "ping"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

macro_rules! require_tools {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

fn run(ns: Option<&str>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).args(args);
            c
        }
        None => {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        }
    };
    command
        .env(USERSPACE.0, USERSPACE.1)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// Runs and returns stdout; panics with stderr when the command fails.
fn ok(ns: Option<&str>, args: &[&str]) -> String {
    let out = run(ns, args, None);
    assert!(
        out.status.success(),
        "{ns:?} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct KeyPair {
    private: String,
    public: String,
}

fn keypair() -> KeyPair {
    let private = ok(None, &["wg", "genkey"]).trim().to_string();
    let out = run(None, &["wg", "pubkey"], Some(&private));
    assert!(out.status.success());
    KeyPair {
        private,
        public: String::from_utf8(out.stdout).unwrap().trim().to_string(),
    }
}

fn genpsk() -> String {
    ok(None, &["wg", "genpsk"]).trim().to_string()
}

/// Names unique to this test process: wireguard-go's sockets share one directory across
/// namespaces, and tests of other helpers may run at the same time.
fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 1_000_000)
}

/// Network namespaces and the interfaces in them, removed on drop (even when a test panics).
struct Lab {
    namespaces: Vec<String>,
    interfaces: Vec<(String, String)>,
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let dir = std::env::temp_dir().join(unique(&format!("tikwire-scripts-{tag}-")));
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            namespaces: Vec::new(),
            interfaces: Vec::new(),
            dir,
        }
    }

    fn netns(&mut self, name: &str) -> String {
        let ns = unique(name);
        let _ = run(None, &["ip", "netns", "del", &ns], None);
        ok(None, &["ip", "netns", "add", &ns]);
        ok(Some(&ns), &["ip", "link", "set", "lo", "up"]);
        self.namespaces.push(ns.clone());
        ns
    }

    fn track(&mut self, ns: &str, interface: &str) {
        self.interfaces
            .push((ns.to_string(), interface.to_string()));
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (ns, interface) in &self.interfaces {
            // Deleting the tun device makes its wireguard-go exit.
            let _ = run(Some(ns), &["ip", "link", "del", interface], None);
            let _ = std::fs::remove_file(format!("/var/run/wireguard/{interface}.sock"));
        }
        for ns in &self.namespaces {
            let _ = run(None, &["ip", "netns", "del", ns], None);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts userspace WireGuard for `interface` in `ns` and loads a setconf-form file.
fn wg_setconf(lab: &mut Lab, ns: &str, interface: &str, config: &Path) {
    ok(Some(ns), &["wireguard-go", interface]);
    lab.track(ns, interface);
    ok(
        Some(ns),
        &["wg", "setconf", interface, config.to_str().unwrap()],
    );
}

/// `wg show IF dump` peers: public key -> the other fields.
fn dump_peers(ns: &str, interface: &str) -> Vec<Vec<String>> {
    ok(Some(ns), &["wg", "show", interface, "dump"])
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn router_wg_quick_config_passes_strip_and_setconf() {
    require_tools!();
    let mut lab = Lab::new("strip");
    let (router, hub, psk) = (keypair(), keypair(), genpsk());
    let endpoint = Endpoint::parse("192.0.2.1:51820").unwrap();
    let interface = unique("tkr");
    let input = RouterScriptInput {
        interface: &interface,
        router_private_key: &router.private,
        hub_public_key: hub.public.parse().unwrap(),
        preshared_key: &psk,
        dns: &DNS,
        ..router_input(&endpoint)
    };
    let ns = lab.netns("tkw-strip-");
    for (n, config) in [
        wg_quick_config(&input).unwrap(),
        wg_quick_compact(&input).unwrap(),
    ]
    .iter()
    .enumerate()
    {
        // wg-quick takes the interface name from the file name.
        let sub = lab.dir.join(n.to_string());
        std::fs::create_dir_all(&sub).unwrap();
        let path = sub.join(format!("{interface}.conf"));
        std::fs::write(&path, config).unwrap();
        let stripped = ok(None, &["wg-quick", "strip", path.to_str().unwrap()]);
        assert!(
            !stripped.contains("Address") && !stripped.contains("DNS"),
            "{stripped}"
        );
        let setconf = lab.write(&format!("{interface}-{n}.setconf"), &stripped);
        if n == 0 {
            wg_setconf(&mut lab, &ns, &interface, &setconf);
        } else {
            ok(
                Some(&ns),
                &["wg", "setconf", &interface, setconf.to_str().unwrap()],
            );
        }
        let iface = ok(Some(&ns), &["wg", "show", &interface, "public-key"]);
        assert_eq!(iface.trim(), router.public);
        let peers = dump_peers(&ns, &interface);
        assert_eq!(peers.len(), 1, "{peers:?}");
        let peer = &peers[0];
        assert_eq!(peer[0], hub.public);
        assert_eq!(peer[1], psk);
        assert_eq!(peer[2], "192.0.2.1:51820");
        assert_eq!(peer[3], "10.100.0.1/32");
        assert_eq!(peer[7], "25");
    }
}

#[test]
fn hub_configs_pass_setconf_and_strip() {
    require_tools!();
    let mut lab = Lab::new("hub");
    let hub = keypair();
    let routers: Vec<(KeyPair, String)> = (0..3).map(|_| (keypair(), genpsk())).collect();
    let tenants = two_tenants();
    let peers: Vec<HubPeerInput> = three_peers()
        .into_iter()
        .zip(&routers)
        .map(|(p, (keys, psk))| HubPeerInput {
            public_key: keys.public.parse().unwrap(),
            preshared_key: psk,
            ..p
        })
        .collect();
    let interface = unique("tkh");
    let input = HubConfigInput {
        hub: "hub1",
        interface: &interface,
        private_key: &hub.private,
        listen_port: 51820,
        tenants: &tenants,
        peers: &peers,
    };
    let ns = lab.netns("tkw-hub-");

    let setconf = lab.write(
        "hub.setconf",
        &hub_config(&input, HubConfigFormat::SetConf).unwrap(),
    );
    wg_setconf(&mut lab, &ns, &interface, &setconf);
    let check = |lab: &Lab| {
        let _ = lab;
        assert_eq!(
            ok(Some(&ns), &["wg", "show", &interface, "listen-port"]).trim(),
            "51820"
        );
        let peers = dump_peers(&ns, &interface);
        // The disabled router (the second) is left out.
        let expected = [(0usize, "10.100.1.1/32"), (2, "10.101.1.1/32")];
        assert_eq!(peers.len(), expected.len(), "{peers:?}");
        for (i, allowed) in expected {
            let peer = peers
                .iter()
                .find(|p| p[0] == routers[i].0.public)
                .expect("peer present");
            assert_eq!(peer[1], routers[i].1);
            assert_eq!(peer[2], "(none)", "no endpoint for routers behind NAT");
            assert_eq!(peer[3], allowed);
        }
    };
    check(&lab);

    // The wg-quick form strips to the same thing.
    let path = lab.write(
        &format!("{interface}.conf"),
        &hub_config(&input, HubConfigFormat::WgQuick).unwrap(),
    );
    let stripped = ok(None, &["wg-quick", "strip", path.to_str().unwrap()]);
    let again = lab.write("hub-stripped.setconf", &stripped);
    ok(
        Some(&ns),
        &["wg", "syncconf", &interface, again.to_str().unwrap()],
    );
    check(&lab);
}

fn veth(ns_a: &str, ip_a: &str, ns_b: &str, ip_b: &str, name: &str) {
    let (a, b) = (format!("{name}a"), format!("{name}b"));
    ok(
        None,
        &[
            "ip", "link", "add", &a, "netns", ns_a, "type", "veth", "peer", "name", &b, "netns",
            ns_b,
        ],
    );
    ok(
        Some(ns_a),
        &["ip", "addr", "add", &format!("{ip_a}/24"), "dev", &a],
    );
    ok(
        Some(ns_b),
        &["ip", "addr", "add", &format!("{ip_b}/24"), "dev", &b],
    );
    ok(Some(ns_a), &["ip", "link", "set", &a, "up"]);
    ok(Some(ns_b), &["ip", "link", "set", &b, "up"]);
}

/// Pings until one answer or the attempts run out (the first packets trigger the handshake).
fn pings(ns: &str, target: Ipv4Addr) -> bool {
    (0..8).any(|_| ping_once(ns, target))
}

/// For "must not reach" checks, once the tunnels are up: a few attempts are enough.
fn never_pings(ns: &str, target: Ipv4Addr) -> bool {
    !(0..2).any(|_| ping_once(ns, target))
}

fn ping_once(ns: &str, target: Ipv4Addr) -> bool {
    run(
        Some(ns),
        &["ping", "-c", "1", "-W", "1", &target.to_string()],
        None,
    )
    .status
    .success()
}

/// Brings one router up with `wg-quick up` on its generated config.
fn router_up(lab: &mut Lab, ns: &str, input: &RouterScriptInput) {
    let path = lab.write(
        &format!("{}.conf", input.interface),
        &wg_quick_config(input).unwrap(),
    );
    ok(Some(ns), &["wg-quick", "up", path.to_str().unwrap()]);
    lab.track(ns, input.interface);
}

/// The whole path: hub and two routers of different tenants, each brought up by `wg-quick up`
/// on the generated configs; the hub reaches both; then the generated nftables rules stop a
/// router from reaching the other (whose traffic got through before they were loaded).
#[test]
fn tunnels_come_up_and_the_hub_firewall_isolates_routers() {
    require_tools!();
    let mut lab = Lab::new("e2e");
    let hub_ns = lab.netns("tkw-e2e-hub-");
    let r1_ns = lab.netns("tkw-e2e-r1-");
    let r2_ns = lab.netns("tkw-e2e-r2-");
    veth(&hub_ns, "192.0.2.1", &r1_ns, "192.0.2.2", &unique("tkv1"));
    veth(
        &hub_ns,
        "198.51.100.1",
        &r2_ns,
        "198.51.100.2",
        &unique("tkv2"),
    );

    let hub = keypair();
    let (r1, r2) = (keypair(), keypair());
    let (psk1, psk2) = (genpsk(), genpsk());
    let tenants = two_tenants();
    let peers = [
        HubPeerInput {
            tenant: "acme",
            router: "r1",
            public_key: r1.public.parse().unwrap(),
            preshared_key: &psk1,
            vpn_ip: ip("10.100.1.1"),
            enabled: true,
        },
        HubPeerInput {
            tenant: "globex",
            router: "r2",
            public_key: r2.public.parse().unwrap(),
            preshared_key: &psk2,
            vpn_ip: ip("10.101.1.1"),
            enabled: true,
        },
    ];
    let hub_if = unique("tkh");
    let hub_input = HubConfigInput {
        hub: "hub1",
        interface: &hub_if,
        private_key: &hub.private,
        listen_port: 51820,
        tenants: &tenants,
        peers: &peers,
    };
    let hub_conf = lab.write(
        &format!("{hub_if}.conf"),
        &hub_config(&hub_input, HubConfigFormat::WgQuick).unwrap(),
    );
    ok(
        Some(&hub_ns),
        &["wg-quick", "up", hub_conf.to_str().unwrap()],
    );
    lab.track(&hub_ns, &hub_if);

    let (e1, e2) = (
        Endpoint::parse("192.0.2.1:51820").unwrap(),
        Endpoint::parse("198.51.100.1:51820").unwrap(),
    );
    let (r1_if, r2_if) = (unique("tkra"), unique("tkrb"));
    let r1_input = RouterScriptInput {
        tenant: "acme",
        router: "r1",
        interface: &r1_if,
        router_private_key: &r1.private,
        hub_public_key: hub.public.parse().unwrap(),
        preshared_key: &psk1,
        ..router_input(&e1)
    };
    let r2_input = RouterScriptInput {
        tenant: "globex",
        router: "r2",
        interface: &r2_if,
        router_private_key: &r2.private,
        hub_public_key: hub.public.parse().unwrap(),
        preshared_key: &psk2,
        router_ip: ip("10.101.1.1"),
        hub_ip: ip("10.101.0.1"),
        subnet: net("10.101.0.0/16"),
        ..router_input(&e2)
    };
    router_up(&mut lab, &r1_ns, &r1_input);
    router_up(&mut lab, &r2_ns, &r2_input);

    // Each router reaches its hub address, and the hub reaches each router.
    assert!(
        pings(&r1_ns, ip("10.100.0.1")),
        "router 1 cannot reach the hub"
    );
    assert!(
        pings(&r2_ns, ip("10.101.0.1")),
        "router 2 cannot reach the hub"
    );
    assert!(
        pings(&hub_ns, ip("10.100.1.1")),
        "hub cannot reach router 1"
    );
    assert!(
        pings(&hub_ns, ip("10.101.1.1")),
        "hub cannot reach router 2"
    );

    // A router that widens its own AllowedIPs (a tampered router) could reach another tenant's
    // router through a forwarding hub: show that it does without the rules...
    ok(
        Some(&hub_ns),
        &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
    );
    for (ns, iface, other) in [
        (&r1_ns, &r1_if, "10.101.0.0/16"),
        (&r2_ns, &r2_if, "10.100.0.0/16"),
    ] {
        ok(
            Some(ns),
            &[
                "wg",
                "set",
                iface,
                "peer",
                &hub.public,
                "allowed-ips",
                "10.0.0.0/8",
            ],
        );
        ok(Some(ns), &["ip", "route", "add", other, "dev", iface]);
    }
    assert!(
        pings(&r1_ns, ip("10.101.1.1")),
        "control: without the rules router 1 reaches router 2"
    );

    // ... and that the generated rules stop it, loaded twice (idempotent), without cutting the hub off.
    let rules = hub_firewall(&HubFirewallInput {
        hub: "hub1",
        interface: &hub_if,
        tenants: &tenants,
        allow_same_tenant: false,
    })
    .unwrap();
    let rules_path = lab.write("hub.nft", &rules);
    ok(None, &["nft", "-c", "-f", rules_path.to_str().unwrap()]);
    ok(Some(&hub_ns), &["nft", "-f", rules_path.to_str().unwrap()]);
    ok(Some(&hub_ns), &["nft", "-f", rules_path.to_str().unwrap()]);
    let tables = ok(Some(&hub_ns), &["nft", "list", "tables"]);
    assert_eq!(tables.matches(&table_name(&hub_if)).count(), 1, "{tables}");
    assert!(
        never_pings(&r1_ns, ip("10.101.1.1")),
        "router 1 still reaches router 2 of another tenant"
    );
    assert!(
        never_pings(&r2_ns, ip("10.100.1.1")),
        "router 2 still reaches router 1 of another tenant"
    );
    assert!(
        pings(&hub_ns, ip("10.100.1.1")),
        "the rules cut the hub off router 1"
    );
    assert!(
        pings(&hub_ns, ip("10.101.1.1")),
        "the rules cut the hub off router 2"
    );
    assert!(
        pings(&r1_ns, ip("10.100.0.1")),
        "routers may still ping the hub"
    );
}

#[test]
fn hub_firewall_rules_pass_nft_check() {
    require_tools!();
    let tenants = two_tenants();
    let lab = Lab::new("nft");
    for (interface, allow_same_tenant) in [("wg0", false), ("wg.hot_spot-123", true)] {
        let rules = hub_firewall(&HubFirewallInput {
            hub: LONG_HUB,
            interface,
            tenants: &tenants,
            allow_same_tenant,
        })
        .unwrap();
        let path = lab.write("rules.nft", &rules);
        // Check mode: parsed and validated by the kernel, nothing changed.
        ok(None, &["nft", "-c", "-f", path.to_str().unwrap()]);
    }
}
