//! Live WireGuard hot paths: parsing `wg show dump`, planning a reconcile against an
//! interface that already matches, and planning the status write of one poll.
//!
//! `cargo bench --bench wg`
//!
//! The poll-cycle bench runs against a real PostgreSQL (the test harness's private server, or
//! DATABASE_URL): 10,000 routers, 1% of them with new counters each poll.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::Ipv4Addr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tikwire::wg::Snapshot;
use tikwire::wg::desired::{DesiredInterface, DesiredPeer};
use tikwire::wg::dump::parse_dump;
use tikwire::wg::plan::{ReconcileOptions, plan};
use zeroize::Zeroizing;

fn key(kind: u8, i: u64) -> String {
    let mut bytes = [kind; 32];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    STANDARD.encode(bytes)
}

fn vpn_ip(i: u64) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        100 + (i / 65_000) as u8,
        1 + ((i % 65_000) / 254) as u8,
        1 + (i % 254) as u8,
    )
}

/// A hub dump like a busy fleet's: most peers with a recent handshake, some never seen.
fn synthetic_dump(peers: u64) -> String {
    let mut text = format!("{}\t{}\t51820\toff\n", key(1, 0), key(2, 0));
    for i in 0..peers {
        let (endpoint, handshake, rx, tx) = if i % 10 == 9 {
            ("(none)".to_owned(), 0, 0, 0)
        } else {
            (
                format!(
                    "203.0.{}.{}:{}",
                    (i / 250) % 250,
                    1 + i % 250,
                    1024 + i % 60_000
                ),
                1_795_538_000 + i % 120,
                10_000 + i * 7,
                20_000 + i * 3,
            )
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
        public_key: key(2, 0).parse().unwrap(),
        listen_port: 51820,
        addresses: vec!["10.100.0.1/16".parse().unwrap()],
        peers: (0..peers)
            .map(|i| {
                DesiredPeer::new(
                    format!("t/r{i}"),
                    key(3, i).parse().unwrap(),
                    Zeroizing::new(key(4, i)),
                    vpn_ip(i),
                )
            })
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
                Snapshot::from_dump("wg0", &dump, taken_at)
                    .unwrap()
                    .peers
                    .len()
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
        assert!(
            plan(&desired, &dump, ReconcileOptions::default()).is_empty(),
            "nothing to change"
        );
        group.throughput(Throughput::Elements(peers));
        group.bench_function(BenchmarkId::from_parameter(peers), |b| {
            b.iter(|| {
                plan(
                    black_box(&desired),
                    black_box(&dump),
                    ReconcileOptions::default(),
                )
                .is_empty()
            })
        });
    }
    group.finish();
}

/// One poll cycle as the agent runs it, minus the `wg` process: parse the dump, build the
/// snapshot, compare with the in-memory copy and write the changed rows in one statement.
fn poll_cycle(c: &mut Criterion) {
    use std::cell::Cell;

    use criterion::BatchSize;

    use tikwire::model::AgentIdentity;
    use tikwire::store::Store;
    use tikwire::wg::status::Thresholds;
    use tikwire::wg::sync::StatusSync;

    const ROUTERS: usize = 10_000;
    const CHANGED: usize = ROUTERS / 100;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (store, hub_id, keys) = runtime.block_on(async {
        let db = common::test_db().await;
        let p = common::provisioner(&db.pool);
        let hub = common::add_hub(&p, "wg0").await;
        common::bench_tenant(&p, ROUTERS).await;
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT client_public_key, host(client_ip) FROM vpn_configurations ORDER BY id",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        (Store::from_pool(db.pool), hub.id, keys)
    });
    let dump_at = |round: u64| {
        let mut text = format!("{}\t{}\t51820\toff\n", key(1, 0), key(2, 0));
        for (i, (public, ip)) in keys.iter().enumerate() {
            // The first 1% move on every round; the rest stay as they were.
            let bump = if i < CHANGED { round * 1000 } else { 0 };
            text.push_str(&format!(
                "{public}\t(none)\t203.0.113.{}:{}\t{ip}/32\t1795538600\t{}\t{}\t25\n",
                1 + i % 250,
                1024 + i,
                10_000 + bump,
                20_000 + bump
            ));
        }
        text
    };
    let taken_at: DateTime<Utc> = DateTime::from_timestamp(1_795_538_650, 0).unwrap();
    let mut sync = runtime.block_on(async {
        let mut sync = StatusSync::load(
            &store,
            hub_id,
            Thresholds::default(),
            AgentIdentity::current(),
        )
        .await
        .unwrap();
        let first = dump_at(0);
        let snapshot = Snapshot::from_dump("wg0", &parse_dump(&first).unwrap(), taken_at).unwrap();
        let report = sync.sync(&store, &snapshot).await.unwrap();
        assert_eq!(report.rows_updated as usize, ROUTERS);
        sync
    });
    let round = Cell::new(0u64);
    let mut group = c.benchmark_group("poll_cycle");
    group.sample_size(30);
    group.bench_function("10000_peers_1pct_changed_with_store", |b| {
        b.iter_batched(
            || {
                round.set(round.get() + 1);
                dump_at(round.get())
            },
            |text| {
                let snapshot =
                    Snapshot::from_dump("wg0", &parse_dump(&text).unwrap(), taken_at).unwrap();
                let report = runtime.block_on(sync.sync(&store, &snapshot)).unwrap();
                assert_eq!(report.rows_updated as usize, CHANGED);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, parsing, reconcile_plan, poll_cycle);
criterion_main!(benches);
