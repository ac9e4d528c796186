//! Live WireGuard hot paths: parsing `wg show dump`, planning a reconcile against an
//! interface that already matches, and planning the status write of one poll.
//!
//! `cargo bench --bench wg`

use std::hint::black_box;
use std::net::Ipv4Addr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tikwire::wg::Snapshot;
use tikwire::wg::apply::{DesiredInterface, DesiredPeer, ReconcileOptions, plan};
use tikwire::wg::dump::parse_dump;
use zeroize::Zeroizing;

fn key(kind: u8, i: u64) -> String {
    let mut bytes = [kind; 32];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    STANDARD.encode(bytes)
}

fn vpn_ip(i: u64) -> Ipv4Addr {
    Ipv4Addr::new(10, 100 + (i / 65_000) as u8, 1 + ((i % 65_000) / 254) as u8, 1 + (i % 254) as u8)
}

/// A hub dump like a busy fleet's: most peers with a recent handshake, some never seen.
fn synthetic_dump(peers: u64) -> String {
    let mut text = format!("{}\t{}\t51820\toff\n", key(1, 0), key(2, 0));
    for i in 0..peers {
        let (endpoint, handshake, rx, tx) = if i % 10 == 9 {
            ("(none)".to_owned(), 0, 0, 0)
        } else {
            (format!("203.0.{}.{}:{}", (i / 250) % 250, 1 + i % 250, 1024 + i % 60_000), 1_795_538_000 + i % 120, 10_000 + i * 7, 20_000 + i * 3)
        };
        text.push_str(&format!(
            "{}\t{}\t{endpoint}\t{}/32\t{handshake}\t{rx}\t{tx}\toff\n",
            key(3, i),
            key(4, i),
            vpn_ip(i)
        ));
    }
    text
}

fn desired_for(peers: u64) -> DesiredInterface {
    DesiredInterface {
        private_key: Zeroizing::new(key(1, 0)),
        public_key: key(2, 0),
        listen_port: 51820,
        addresses: vec!["10.100.0.1/16".parse().unwrap()],
        peers: (0..peers)
            .map(|i| DesiredPeer::new(format!("t/r{i}"), key(3, i), Zeroizing::new(key(4, i)), vpn_ip(i)))
            .collect(),
    }
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_dump");
    for peers in [10_000u64, 50_000] {
        let text = synthetic_dump(peers);
        group.throughput(Throughput::Elements(peers));
        group.bench_with_input(BenchmarkId::new("borrowed", peers), &text, |b, text| {
            b.iter(|| parse_dump(black_box(text)).unwrap().peers.len())
        });
        let taken_at: DateTime<Utc> = DateTime::from_timestamp(1_795_538_200, 0).unwrap();
        group.bench_with_input(BenchmarkId::new("to_snapshot", peers), &text, |b, text| {
            b.iter(|| {
                let dump = parse_dump(black_box(text)).unwrap();
                Snapshot::from_dump("wg0", &dump, taken_at).unwrap().peers.len()
            })
        });
    }
    group.finish();
}

fn reconcile_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("reconcile_plan_all_present");
    for peers in [10_000u64, 50_000] {
        let text = synthetic_dump(peers);
        let desired = desired_for(peers);
        let dump = parse_dump(&text).unwrap();
        assert!(plan(&desired, &dump, ReconcileOptions::default()).is_empty(), "nothing to change");
        group.throughput(Throughput::Elements(peers));
        group.bench_function(BenchmarkId::from_parameter(peers), |b| {
            b.iter(|| plan(black_box(&desired), black_box(&dump), ReconcileOptions::default()).is_empty())
        });
    }
    group.finish();
}

criterion_group!(benches, parsing, reconcile_plan);
criterion_main!(benches);

