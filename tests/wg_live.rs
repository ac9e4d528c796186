//! Reconcile and poll against a real wireguard-go interface in a network namespace.
//! Skipped, with the reason printed, where the machine does not allow it (not root, no tools).

mod wg_support;

use std::net::Ipv4Addr;

use tikwire::wg::apply::{Tools, reconcile};
use tikwire::wg::desired::{DesiredInterface, DesiredPeer};
use tikwire::wg::dump::parse_dump;
use tikwire::wg::plan::ReconcileOptions;
use tikwire::wg::poller::poll_once;
use wg_support::{Netns, keypair, live_unavailable, psk};
use zeroize::Zeroizing;

fn router(seed: u64, ip: Ipv4Addr) -> DesiredPeer {
    DesiredPeer::new(
        format!("acme/r{seed}"),
        keypair(seed).1.parse().unwrap(),
        Zeroizing::new(psk(seed)),
        ip,
    )
}

fn hub(peers: Vec<DesiredPeer>) -> DesiredInterface {
    let (private, public) = keypair(9_999_999);
    DesiredInterface {
        private_key: Zeroizing::new(private),
        public_key: public.parse().unwrap(),
        listen_port: 51820,
        addresses: vec![
            "10.100.0.1/16".parse().unwrap(),
            "10.101.0.1/16".parse().unwrap(),
        ],
        peers,
    }
}

#[tokio::test]
async fn reconcile_brings_a_bare_interface_to_the_database_state_and_then_leaves_it_alone() {
    if let Some(reason) = live_unavailable() {
        eprintln!("SKIPPED reconcile live test: {reason}");
        return;
    }
    let mut ns = Netns::new("rc");
    let ifname = ns.name.clone();
    ns.add_wireguard(&ifname);
    let tools = Tools {
        wg: ns.wrapper("wg"),
        ip: ns.wrapper("ip"),
    };
    // A stray address of a deleted tenant, and one someone else put there.
    ns.exec(&["ip", "addr", "add", "10.102.0.1/16", "dev", &ifname]);
    ns.exec(&["ip", "addr", "add", "192.168.77.1/24", "dev", &ifname]);

    let mut desired = hub(vec![
        router(1, Ipv4Addr::new(10, 100, 1, 1)),
        router(2, Ipv4Addr::new(10, 100, 1, 2)),
        router(3, Ipv4Addr::new(10, 101, 1, 1)),
    ]);
    let first = reconcile(&tools, &ifname, &desired, ReconcileOptions::default())
        .await
        .unwrap();
    assert!(first.set_private_key);
    assert_eq!(first.set_listen_port, Some(51820));
    assert_eq!(first.added, vec!["acme/r1", "acme/r2", "acme/r3"]);
    assert!(first.brought_up);
    assert_eq!(first.addresses_added.len(), 2);
    assert_eq!(
        first.addresses_removed,
        vec!["10.102.0.1/16".parse().unwrap()]
    );

    let text = ns.exec(&["wg", "show", &ifname, "dump"]);
    let dump = parse_dump(&text).unwrap();
    assert_eq!(dump.interface.public_key, Some(desired.public_key));
    assert_eq!(dump.interface.listen_port, 51820);
    assert_eq!(dump.peers.len(), 3);
    for peer in &desired.peers {
        let live = dump
            .peers
            .iter()
            .find(|p| p.public_key == peer.public_key)
            .expect("peer added");
        assert_eq!(
            live.preshared_key.map(|k| k.expose()),
            Some(peer.preshared_key.as_str())
        );
        assert_eq!(live.allowed_ips, peer.allowed_ips);
    }
    let addrs = ns.exec(&["ip", "-o", "addr", "show", "dev", &ifname]);
    assert!(
        addrs.contains("10.100.0.1/16") && addrs.contains("10.101.0.1/16"),
        "{addrs}"
    );
    assert!(
        addrs.contains("192.168.77.1/24"),
        "foreign address kept: {addrs}"
    );
    assert!(!addrs.contains("10.102.0.1/16"), "{addrs}");

    // Everything already right: not one command that changes anything.
    let again = reconcile(&tools, &ifname, &desired, ReconcileOptions::default())
        .await
        .unwrap();
    assert!(!again.changed_anything(), "{again:?}");
    assert_eq!(again.wg_calls, 0);

    // A new preshared key, a moved address, a deleted router, a new router.
    desired.peers[0].preshared_key = Zeroizing::new(psk(100));
    desired.peers[1].allowed_ips = vec!["10.100.1.9/32".parse().unwrap()];
    desired.peers.remove(2);
    desired.peers.push(router(4, Ipv4Addr::new(10, 100, 1, 4)));
    desired.addresses.pop();
    let removed_key = keypair(3).1;
    let third = reconcile(&tools, &ifname, &desired, ReconcileOptions::default())
        .await
        .unwrap();
    assert_eq!(third.added, vec!["acme/r4"]);
    assert_eq!(third.updated, vec!["acme/r1", "acme/r2"]);
    assert_eq!(third.removed, vec![removed_key.parse().unwrap()]);
    assert_eq!(
        third.addresses_removed,
        vec!["10.101.0.1/16".parse().unwrap()]
    );
    assert!(!third.set_private_key && !third.brought_up);

    let snapshot = poll_once(&tools.wg, &ifname).await.unwrap();
    assert_eq!(snapshot.peers.len(), 3);
    assert!(!snapshot.peers.contains_key(&removed_key.parse().unwrap()));
    assert_eq!(
        snapshot.peers[&desired.peers[1].public_key].allowed_ips,
        desired.peers[1].allowed_ips
    );
    let text = ns.exec(&["wg", "show", &ifname, "dump"]);
    let live = parse_dump(&text).unwrap();
    let r1 = live
        .peers
        .iter()
        .find(|p| p.public_key == desired.peers[0].public_key)
        .unwrap();
    assert_eq!(
        r1.preshared_key.map(|k| k.expose()),
        Some(psk(100).as_str())
    );

    // A stranger on the interface: kept and reported when asked, removed by default.
    let stranger = keypair(77).1;
    ns.exec(&[
        "wg",
        "set",
        &ifname,
        "peer",
        &stranger,
        "allowed-ips",
        "10.100.9.9/32",
    ]);
    let keep = reconcile(
        &tools,
        &ifname,
        &desired,
        ReconcileOptions {
            remove_unknown: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(keep.unknown_kept, vec![stranger.parse().unwrap()]);
    assert_eq!(keep.wg_calls, 0);
    let gone = reconcile(&tools, &ifname, &desired, ReconcileOptions::default())
        .await
        .unwrap();
    assert_eq!(gone.removed, vec![stranger.parse().unwrap()]);
}

#[tokio::test]
async fn thousands_of_peers_applied_once_then_nothing_to_do() {
    if let Some(reason) = live_unavailable() {
        eprintln!("SKIPPED bulk reconcile live test: {reason}");
        return;
    }
    let mut ns = Netns::new("bk");
    let ifname = ns.name.clone();
    ns.add_wireguard(&ifname);
    let tools = Tools {
        wg: ns.wrapper("wg"),
        ip: ns.wrapper("ip"),
    };
    let peers = (0..2000u64)
        .map(|i| {
            router(
                10_000 + i,
                Ipv4Addr::new(10, 100, 1 + (i / 250) as u8, 1 + (i % 250) as u8),
            )
        })
        .collect();
    let desired = hub(peers);
    let first = reconcile(&tools, &ifname, &desired, ReconcileOptions::default())
        .await
        .unwrap();
    assert_eq!(first.added.len(), 2000);
    // key + port, then all peers in one addconf.
    assert_eq!(first.wg_calls, 2);
    let again = reconcile(&tools, &ifname, &desired, ReconcileOptions::default())
        .await
        .unwrap();
    assert_eq!(again.wg_calls, 0, "{} updated", again.updated.len());
    assert!(!again.changed_anything());
    let snapshot = poll_once(&tools.wg, &ifname).await.unwrap();
    assert_eq!(snapshot.peers.len(), 2000);
}
