//! End to end with the real tools: a hub namespace running `tikwire agent` (short thresholds
//! from a config file), a router namespace with wireguard-go and a 1 s keepalive, and a real
//! HTTP receiver reached over a veth pair. The router comes online (the receiver gets
//! `router.first_handshake`, signed), its tunnel is taken down, and the receiver gets its
//! `router.stale` within seconds. Prints the time from the tunnel going down to the alert.
//!
//! Skipped, with the reason printed, when not root or a tool is missing.

mod common;
mod webhook_support;
mod wg_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tikwire::alerts::signature::SigningKey;
use webhook_support::{Receiver, verified};
use wg_support::Netns;
use wg_support::e2e::{REACHES, Tikwire, configure_router, pings, unavailable};

/// Kills the agent however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `limit` for a request of type `kind`; returns its body.
async fn wait_for(
    receiver: &Receiver,
    key: &SigningKey,
    kind: &str,
    limit: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(body) = receiver
            .got()
            .iter()
            .map(|r| verified(r, key))
            .find(|b| b["type"] == kind)
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} within {limit:?}; got {:?}",
            receiver
                .got()
                .iter()
                .map(|r| r.body.clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_goes_away_reaches_the_webhook_receiver_within_seconds() {
    if let Some(reason) = unavailable(&["wg-quick", "ping"]) {
        eprintln!("SKIPPED end-to-end alerts test: {reason}");
        return;
    }
    let db = common::test_db().await;
    if common::socket_dir().is_none() {
        eprintln!("SKIPPED end-to-end alerts test: DATABASE_URL is a TCP server");
        return;
    }
    let (tikwire, _data_dir_guard) =
        Tikwire::with_data_dir(common::server_url_for(&db.name), &db.name, "e2e-alerts");
    let data_dir = tikwire.data_dir.clone();

    // hub <-> router over one veth pair; the receiver in the test's own namespace over another.
    let mut hub = Netns::new("H");
    let mut ra = Netns::new("R");
    let (hub_if, ra_if) = (hub.name.clone(), ra.name.clone());
    let (h1, a1) = (format!("{}a", hub.name), format!("{}h", ra.name));
    wg_support::run(
        "ip",
        &[
            "link", "add", &h1, "netns", &hub.name, "type", "veth", "peer", "name", &a1, "netns",
            &ra.name,
        ],
    );
    let (root_side, hub_side) = (format!("{}w", hub.name), format!("{}r", hub.name));
    wg_support::run(
        "ip",
        &[
            "link", "add", &root_side, "type", "veth", "peer", "name", &hub_side, "netns",
            &hub.name,
        ],
    );
    hub.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &h1]);
    ra.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &a1]);
    hub.exec(&["ip", "addr", "add", "203.0.113.2/24", "dev", &hub_side]);
    wg_support::run("ip", &["addr", "add", "203.0.113.1/24", "dev", &root_side]);
    wg_support::run("ip", &["link", "set", &root_side, "up"]);
    for (ns, dev) in [(&hub, &h1), (&hub, &hub_side), (&ra, &a1)] {
        ns.exec(&["ip", "link", "set", dev, "up"]);
    }
    hub.add_wireguard(&hub_if);
    ra.add_wireguard(&ra_if);

    let listener = tokio::net::TcpListener::bind("203.0.113.1:0")
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    let _stop = receiver.serve(listener);

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
    tikwire.ok(&["router", "add", "ra", "--tenant", "ta", "--keepalive", "1"]);
    let created = tikwire.json(&["webhook", "add", &url, "--name", "noc", "--json"]);
    let key = SigningKey::parse(created["secret"].as_str().unwrap()).unwrap();
    let hub_ip = tikwire.json(&["router", "show", "ra", "--tenant", "ta", "--json"])["hub_ip"]
        .as_str()
        .unwrap()
        .to_owned();

    // Short thresholds through the config file.
    let config = data_dir.join("config.toml");
    std::fs::write(
        &config,
        "[status]\nonline_secs = 3\nstale_secs = 30\n[poll]\ninterval_secs = 1\n[alerts]\nrecover_secs = 2\n",
    )
    .unwrap();
    let mut agent = tikwire.prepared(Some(&hub.name), &["agent", "--hub", "hub1"]);
    agent
        .env("TIKWIRE_CONFIG", &config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _agent = KillOnDrop(agent.spawn().expect("start the agent"));

    configure_router(
        &ra,
        &ra_if,
        &tikwire.ok(&["script", "ra", "--tenant", "ta", "--format", "wg-quick"]),
    );
    assert!(
        pings(&ra, &hub_ip, REACHES),
        "the router reaches its hub address"
    );
    let first = wait_for(
        &receiver,
        &key,
        "router.first_handshake",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(first["data"]["router"], "ra");
    assert_eq!(first["data"]["tenant"], "ta");
    assert_eq!(first["data"]["hub"], "hub1");

    // Alive, it stays online well past online_secs: its keepalives (every second) are signs of
    // life although WireGuard shakes hands only every two minutes. No alert.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let early: Vec<serde_json::Value> = receiver
        .got()
        .iter()
        .map(|r| verified(r, &key))
        .filter(|b| b["type"] != "router.first_handshake")
        .collect();
    assert!(early.is_empty(), "a live router raised alerts: {early:?}");

    // The router goes away: its tunnel is gone, no more keepalives or handshakes.
    ra.exec(&["ip", "link", "del", &ra_if]);
    let gone_at = Instant::now();
    let stale = wait_for(&receiver, &key, "router.stale", Duration::from_secs(30)).await;
    let took = gone_at.elapsed();
    assert_eq!(stale["data"]["router"], "ra");
    assert_eq!(stale["data"]["from"], "online");
    assert_eq!(stale["data"]["to"], "stale");
    assert!(stale["data"]["last_handshake_at"].is_string());
    println!(
        "router tunnel down -> router.stale at the receiver: {took:?} (online_secs = 3, poll every 1 s; \
         status follows the later of the last handshake and the last bytes received)"
    );
    for request in receiver.got() {
        assert!(!request.body.contains("PrivateKey") && !request.body.contains("whsec_"));
    }
}
