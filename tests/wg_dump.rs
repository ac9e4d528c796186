//! The `wg show IFACE dump` parser against output captured from real interfaces
//! (tests/fixtures/wg/capture.sh), and against every way that output can be damaged.

use std::net::SocketAddr;

use chrono::DateTime;
use ipnet::IpNet;
use proptest::prelude::*;
use tikwire::wg::Snapshot;
use tikwire::wg::dump::{parse_dump, parse_dump_bytes, parse_latest_handshakes};

const HUB: &str = include_str!("fixtures/wg/hub-live.dump");
const ROUTER_V4: &str = include_str!("fixtures/wg/router-ipv4.dump");
const ROUTER_V6: &str = include_str!("fixtures/wg/router-ipv6.dump");
const EMPTY: &str = include_str!("fixtures/wg/empty-interface.dump");

/// Every key-shaped field of a fixture (private keys, public keys, preshared keys).
fn keys_in(text: &str) -> Vec<&str> {
    text.split(['\t', '\n'])
        .filter(|f| f.len() == 44 && f.ends_with('='))
        .collect()
}

/// The secrets of a fixture: the interface private key and every preshared key.
fn secrets_in(text: &str) -> Vec<&str> {
    let mut lines = text.lines();
    let mut secrets: Vec<&str> = lines
        .next()
        .into_iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    secrets.extend(
        lines
            .map(|l| l.split('\t').nth(1).unwrap())
            .filter(|k| *k != "(none)"),
    );
    secrets
}

#[test]
fn hub_dump_with_every_kind_of_peer() {
    let dump = parse_dump(HUB).unwrap();
    assert!(dump.interface.has_private_key);
    assert_eq!(
        dump.interface.public_key.map(|k| k.to_string()).as_deref(),
        Some("4jv0ZnrFq3rs3bbY4eDG/nWYaJuwim+i+02U2c33fW0=")
    );
    assert_eq!(dump.interface.listen_port, 51820);
    assert_eq!(dump.interface.fwmark, None);
    assert_eq!(dump.peers.len(), 4);

    let [v4, v6, never, multi] = &dump.peers[..] else {
        panic!("four peers")
    };
    assert_eq!(v4.endpoint, Some("192.0.2.2:59971".parse().unwrap()));
    assert!(v4.preshared_key.is_some());
    assert_eq!(v4.latest_handshake, Some(1_795_538_675));
    assert_eq!((v4.rx_bytes, v4.tx_bytes), (564, 476));
    assert_eq!(v4.persistent_keepalive, None);

    assert_eq!(
        v6.endpoint,
        Some("[fd00:db8::2]:54047".parse::<SocketAddr>().unwrap())
    );
    assert!(v6.preshared_key.is_none());
    assert_eq!((v6.rx_bytes, v6.tx_bytes), (820, 732));

    assert_eq!(never.endpoint, None);
    assert_eq!(never.latest_handshake, None);
    assert_eq!((never.rx_bytes, never.tx_bytes), (0, 0));

    let nets: Vec<IpNet> = ["10.102.1.1/32", "10.102.5.0/24", "fd00:abcd::/64"]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(multi.allowed_ips, nets);
    assert_eq!(multi.persistent_keepalive, Some(25));
    assert_eq!(multi.line, 5);
}

#[test]
fn router_side_dumps() {
    let v4 = parse_dump(ROUTER_V4).unwrap();
    assert_eq!(v4.interface.listen_port, 59971);
    assert_eq!(
        v4.peers[0].endpoint,
        Some("192.0.2.1:51820".parse().unwrap())
    );
    assert_eq!(v4.peers[0].persistent_keepalive, Some(25));
    // The two ends count the same bytes the other way round.
    let hub = parse_dump(HUB).unwrap();
    assert_eq!(
        (v4.peers[0].rx_bytes, v4.peers[0].tx_bytes),
        (hub.peers[0].tx_bytes, hub.peers[0].rx_bytes)
    );

    let v6 = parse_dump(ROUTER_V6).unwrap();
    assert_eq!(
        v6.peers[0].endpoint,
        Some("[fd00:db8::1]:51820".parse().unwrap())
    );
}

#[test]
fn fresh_interface_without_keys() {
    let dump = parse_dump(EMPTY).unwrap();
    assert!(!dump.interface.has_private_key);
    assert_eq!(dump.interface.public_key, None);
    assert!(dump.peers.is_empty());
}

#[test]
fn snapshot_keeps_stats_and_drops_secrets() {
    let taken_at = DateTime::from_timestamp(1_795_538_680, 0).unwrap();
    let snapshot = Snapshot::from_dump("wg0", &parse_dump(HUB).unwrap(), taken_at).unwrap();
    assert_eq!(snapshot.peers.len(), 4);
    let v4 = &snapshot.peers[&"zepa9jNGsf2KNmiXVLjaYz+t0FehrMMvxF5o6XrIg20="
        .parse()
        .unwrap()];
    assert_eq!(
        v4.last_handshake,
        DateTime::from_timestamp(1_795_538_675, 0)
    );
    assert!(v4.has_preshared_key);
    let shown = format!("{snapshot:?}");
    for secret in secrets_in(HUB) {
        assert!(!shown.contains(secret), "snapshot shows a secret");
    }
}

#[test]
fn duplicate_peer_is_an_error() {
    let mut text = HUB.to_owned();
    text.push_str(HUB.lines().nth(1).unwrap());
    text.push('\n');
    let err =
        Snapshot::from_dump("wg0", &parse_dump(&text).unwrap(), chrono::Utc::now()).unwrap_err();
    assert_eq!(err.line, 6);
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn every_truncation_of_real_output_is_an_error_naming_its_line() {
    for cut in 1..HUB.len() - 1 {
        let text = &HUB[..cut];
        if text.ends_with('\n') {
            // Cut between lines: fewer peers, but every line whole.
            assert!(parse_dump(text).is_ok(), "cut at {cut}");
            continue;
        }
        let err = parse_dump(text).expect_err(text);
        assert_eq!(err.line, text.split('\n').count(), "cut at {cut}: {err}");
        let message = err.to_string();
        for key in keys_in(HUB) {
            assert!(
                !message.contains(key),
                "cut at {cut}: message quotes a key: {message}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Damaged bytes anywhere: never a panic, and an error never quotes a key.
    #[test]
    fn damaged_output_never_panics_or_leaks(
        edits in proptest::collection::vec((0usize..HUB.len(), any::<u8>()), 1..4),
    ) {
        let mut bytes = HUB.as_bytes().to_vec();
        for (at, byte) in edits {
            bytes[at] = byte;
        }
        if let Err(err) = parse_dump_bytes(&bytes) {
            let message = err.to_string();
            prop_assert!(!message.contains('\n'));
            for secret in secrets_in(HUB) {
                prop_assert!(!message.contains(secret), "{}", message);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[\\t\\n0-9a-zA-Z+/=:.,\\[\\]()%-]{0,300}") {
        let _ = parse_dump(&text);
    }
}

#[test]
fn latest_handshakes_of_a_live_hub() {
    // `wg show IFACE latest-handshakes` of the same interface as the dump.
    let text: String = parse_dump(HUB)
        .unwrap()
        .peers
        .iter()
        .map(|p| format!("{}\t{}\n", p.public_key, p.latest_handshake.unwrap_or(0)))
        .collect();
    let parsed = parse_latest_handshakes(&text).unwrap();
    let dump = parse_dump(HUB).unwrap();
    assert_eq!(parsed.len(), dump.peers.len());
    for ((key, at), peer) in parsed.iter().zip(&dump.peers) {
        assert_eq!((*key, *at), (peer.public_key, peer.latest_handshake));
    }
    assert_eq!(parse_latest_handshakes("").unwrap(), []);
    let cut = &text[..text.len() - 3];
    assert!(parse_latest_handshakes(cut).is_err(), "truncated output");
    let err = parse_latest_handshakes("not-a-key\t12\n").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(parse_latest_handshakes(&text.replace('\t', " ")).is_err());
}
