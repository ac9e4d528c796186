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

use wg_support::e2e::{
    BLOCKED, REACHES, Tikwire, configure_router, diagnose, hub_peers, pings, unavailable,
};
use wg_support::{Netns, run};

#[tokio::test]
async fn routers_come_online_through_the_agent_and_tenants_stay_apart() {
    if let Some(reason) = unavailable(&["wg-quick", "nft", "ping"]) {
        eprintln!("SKIPPED end-to-end WireGuard test: {reason}");
        return;
    }
    let db = common::test_db().await;
    if common::socket_dir().is_none() {
        eprintln!(
            "SKIPPED end-to-end WireGuard test: DATABASE_URL is a TCP server, unreachable from a network namespace"
        );
        return;
    }
    let (tikwire, _data_dir_guard) =
        Tikwire::with_data_dir(common::server_url_for(&db.name), &db.name, "e2e");
    let data_dir = tikwire.data_dir.clone();

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
