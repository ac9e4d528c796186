//! End to end with two hubs, in network namespaces with the real tools: hub 1 and hub 2, each
//! with its own agent (`tikwire agent --once`), firewall (`hub firewall`) and one router
//! (wireguard-go) of its own tenant; and a management namespace on its own subnet (a bridge,
//! 172.16.0.0/24), linked to both hubs, that installs exactly the routes `hub routes --format
//! ip` prints and pings both routers' VPN addresses, each through its tenant's hub. Without
//! the hub's source NAT the router's reply has no way back (it answers only its hub's tunnel
//! address), so the management host reaches it only once the firewall is loaded.
//!
//! Skipped, with the reason printed, when not root or a tool is missing.

mod common;
mod wg_support;

use wg_support::e2e::{
    BLOCKED, REACHES, Tikwire, configure_router, diagnose, hub_peers, pings, unavailable,
};
use wg_support::{Netns, run};

/// A veth pair between two namespaces, named after them; returns (name in a, name in b).
fn veth(a: &Netns, b: &Netns, tag: &str) -> (String, String) {
    let (va, vb) = (format!("{}{tag}", a.name), format!("{}{tag}", b.name));
    run(
        "ip",
        &[
            "link", "add", &va, "netns", &a.name, "type", "veth", "peer", "name", &vb, "netns",
            &b.name,
        ],
    );
    (va, vb)
}

#[tokio::test]
async fn a_management_host_reaches_each_router_through_its_tenants_hub() {
    if let Some(reason) = unavailable(&["wg-quick", "nft", "ping"]) {
        eprintln!("SKIPPED two-hub end-to-end test: {reason}");
        return;
    }
    let db = common::test_db().await;
    if common::socket_dir().is_none() {
        eprintln!(
            "SKIPPED two-hub end-to-end test: DATABASE_URL is a TCP server, unreachable from a network namespace"
        );
        return;
    }
    let (tikwire, _data_dir_guard) =
        Tikwire::with_data_dir(common::server_url_for(&db.name), &db.name, "e2e-hubs");
    let data_dir = tikwire.data_dir.clone();

    let mut h1 = Netns::new("p");
    let mut h2 = Netns::new("q");
    let mut ra = Netns::new("x");
    let mut rb = Netns::new("y");
    let mgmt = Netns::new("m");
    let (h1_if, h2_if, ra_if, rb_if) = (
        h1.name.clone(),
        h2.name.clone(),
        ra.name.clone(),
        rb.name.clone(),
    );

    // Underlay: router A dials hub 1 at 192.0.2.1, router B hub 2 at 198.51.100.1.
    let (h1_up, ra_up) = veth(&h1, &ra, "u");
    let (h2_up, rb_up) = veth(&h2, &rb, "u");
    h1.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &h1_up]);
    ra.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &ra_up]);
    h2.exec(&["ip", "addr", "add", "198.51.100.1/24", "dev", &h2_up]);
    rb.exec(&["ip", "addr", "add", "198.51.100.2/24", "dev", &rb_up]);
    // Management network: one subnet, a bridge in the management namespace with both hubs on it.
    mgmt.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
    let (m1, h1_m) = veth(&mgmt, &h1, "a");
    let (m2, h2_m) = veth(&mgmt, &h2, "b");
    for port in [&m1, &m2] {
        mgmt.exec(&["ip", "link", "set", port, "master", "br0"]);
        mgmt.exec(&["ip", "link", "set", port, "up"]);
    }
    mgmt.exec(&["ip", "addr", "add", "172.16.0.10/24", "dev", "br0"]);
    mgmt.exec(&["ip", "link", "set", "br0", "up"]);
    h1.exec(&["ip", "addr", "add", "172.16.0.1/24", "dev", &h1_m]);
    h2.exec(&["ip", "addr", "add", "172.16.0.2/24", "dev", &h2_m]);
    for (ns, dev) in [
        (&h1, &h1_up),
        (&h1, &h1_m),
        (&h2, &h2_up),
        (&h2, &h2_m),
        (&ra, &ra_up),
        (&rb, &rb_up),
    ] {
        ns.exec(&["ip", "link", "set", dev, "up"]);
    }
    for hub in [&h1, &h2] {
        hub.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    h1.add_wireguard(&h1_if);
    h2.add_wireguard(&h2_if);
    ra.add_wireguard(&ra_if);
    rb.add_wireguard(&rb_if);

    // Provisioning: two hubs with their management addresses, a tenant on each.
    tikwire.ok(&[
        "hub",
        "add",
        "hub1",
        "--endpoint",
        "192.0.2.1:51820",
        "--interface",
        &h1_if,
        "--mgmt-address",
        "172.16.0.1",
    ]);
    tikwire.ok(&[
        "hub",
        "add",
        "hub2",
        "--endpoint",
        "198.51.100.1:51820",
        "--interface",
        &h2_if,
        "--mgmt-address",
        "172.16.0.2",
    ]);
    tikwire.ok(&["tenant", "add", "ta", "--hub", "hub1"]);
    tikwire.ok(&["tenant", "add", "tb", "--hub", "hub2"]);
    tikwire.ok(&["router", "add", "ra", "--tenant", "ta"]);
    tikwire.ok(&["router", "add", "rb", "--tenant", "tb"]);
    let show = |name: &str, tenant: &str| {
        tikwire.json(&["router", "show", name, "--tenant", tenant, "--json"])
    };
    let (ra_info, rb_info) = (show("ra", "ta"), show("rb", "tb"));
    assert_eq!(ra_info["hub"], "hub1");
    assert_eq!(rb_info["hub"], "hub2");
    let ra_vpn = ra_info["vpn_ip"].as_str().unwrap().to_owned();
    let rb_vpn = rb_info["vpn_ip"].as_str().unwrap().to_owned();
    let ra_key = ra_info["public_key"].as_str().unwrap().to_owned();
    let rb_key = rb_info["public_key"].as_str().unwrap().to_owned();
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

    // Hub 1's agent touches only its interface and its rows.
    tikwire.ok_in(Some(&h1.name), &["agent", "--hub", "hub1", "--once"]);
    assert_eq!(hub_peers(&h1, &h1_if), std::slice::from_ref(&ra_key));
    assert!(
        hub_peers(&h2, &h2_if).is_empty(),
        "hub 1's agent touched hub 2"
    );
    let beats: Vec<String> = sqlx::query_scalar(
        "SELECT h.name FROM wg_agent_status s JOIN hubs h ON h.id = s.hub_id ORDER BY h.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(beats, ["hub1"]);
    tikwire.ok_in(Some(&h2.name), &["agent", "--hub", "hub2", "--once"]);
    assert_eq!(hub_peers(&h2, &h2_if), std::slice::from_ref(&rb_key));
    assert_eq!(
        hub_peers(&h1, &h1_if),
        std::slice::from_ref(&ra_key),
        "hub 2's agent touched hub 1"
    );
    // Each hub holds only its own tenant's hub address.
    let h1_addrs = h1.exec(&["ip", "-4", "addr", "show", "dev", &h1_if]);
    let h2_addrs = h2.exec(&["ip", "-4", "addr", "show", "dev", &h2_if]);
    assert!(
        h1_addrs.contains("10.100.0.1/16") && !h1_addrs.contains("10.101."),
        "{h1_addrs}"
    );
    assert!(
        h2_addrs.contains("10.101.0.1/16") && !h2_addrs.contains("10.100."),
        "{h2_addrs}"
    );

    assert!(
        pings(&ra, "10.100.0.1", REACHES),
        "router A reaches hub 1\n{}",
        diagnose(&[&h1, &ra])
    );
    assert!(
        pings(&rb, "10.101.0.1", REACHES),
        "router B reaches hub 2\n{}",
        diagnose(&[&h2, &rb])
    );
    tikwire.ok_in(Some(&h1.name), &["agent", "--hub", "hub1", "--once"]);
    assert_eq!(show("ra", "ta")["status"], "online");
    assert_eq!(
        show("rb", "tb")["status"],
        "pending",
        "hub 1's agent wrote router B's status"
    );
    tikwire.ok_in(Some(&h2.name), &["agent", "--hub", "hub2", "--once"]);
    assert_eq!(show("rb", "tb")["status"], "online");

    // The management host installs exactly the routes `hub routes` prints.
    let routes = tikwire.ok(&["hub", "routes", "--format", "ip"]);
    let commands: Vec<&str> = routes.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        commands,
        [
            "ip route replace 10.100.0.0/16 via 172.16.0.1",
            "ip route replace 10.101.0.0/16 via 172.16.0.2",
        ]
    );
    for command in &commands {
        let args: Vec<&str> = command.split_whitespace().collect();
        mgmt.exec(&args);
    }
    let table = mgmt.exec(&["ip", "-4", "route", "show"]);
    let installed: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("10."))
        .map(str::trim_end)
        .collect();
    assert_eq!(
        installed,
        [
            "10.100.0.0/16 via 172.16.0.1 dev br0",
            "10.101.0.0/16 via 172.16.0.2 dev br0"
        ],
        "{table}"
    );
    for (vpn, hub) in [(&ra_vpn, "172.16.0.1"), (&rb_vpn, "172.16.0.2")] {
        let via = mgmt.exec(&["ip", "route", "get", vpn]);
        assert!(via.contains(&format!("via {hub} ")), "{vpn}: {via}");
    }

    // Without the hub's source NAT the router's answer has no way back to 172.16.0.10.
    assert!(
        !pings(&mgmt, &ra_vpn, BLOCKED),
        "router A answered the management host without source NAT"
    );
    for (hub, name) in [(&h1, "hub1"), (&h2, "hub2")] {
        let rules = tikwire.ok(&["hub", "firewall", name]);
        let file = data_dir.join(format!("{name}.nft"));
        std::fs::write(&file, rules).unwrap();
        hub.exec(&["nft", "-f", file.to_str().unwrap()]);
    }
    // Bytes through a hub's WireGuard interface, all peers together.
    let transferred = |hub: &Netns, ifname: &str| -> u64 {
        hub.exec(&["wg", "show", ifname, "transfer"])
            .split_whitespace()
            .filter_map(|n| n.parse::<u64>().ok())
            .sum()
    };
    let h1_before = transferred(&h1, &h1_if);
    assert!(
        pings(&mgmt, &ra_vpn, REACHES),
        "the management host reaches router A through hub 1\n{}",
        diagnose(&[&mgmt, &h1, &ra])
    );
    let h2_mid = transferred(&h2, &h2_if);
    assert!(
        transferred(&h1, &h1_if) > h1_before,
        "router A's traffic went through hub 1"
    );
    assert!(
        pings(&mgmt, &rb_vpn, REACHES),
        "the management host reaches router B through hub 2\n{}",
        diagnose(&[&mgmt, &h2, &rb])
    );
    assert!(
        transferred(&h2, &h2_if) > h2_mid,
        "router B's traffic went through hub 2"
    );

    // The routers saw the hub's tunnel address, not the management host.
    let snat = h1.exec(&[
        "nft",
        "list",
        "chain",
        "inet",
        &format!("tikwire_{h1_if}"),
        "postrouting",
    ]);
    assert!(snat.contains("snat ip to 10.100.0.1"), "{snat}");
    assert!(
        !snat.contains("packets 0 bytes 0 snat"),
        "hub 1's source NAT counted nothing: {snat}"
    );
    // Isolation still holds: router A cannot reach router B's tenant through its hub.
    assert!(!pings(&ra, &rb_vpn, BLOCKED), "router A reached router B");
}
