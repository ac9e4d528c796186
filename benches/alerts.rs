//! Alerts: the engine's work per poll, and one poll's write with its outbox rows, at a full
//! tenant (65,278 routers) with 1% of the routers changing status each poll.
//!
//! `cargo bench --bench alerts`
//!
//! The poll bench runs against a real PostgreSQL (the test harness's private server, or
//! DATABASE_URL), with one webhook endpoint, so each alert is an event and a delivery row.
//! Each poll, one block of 1% of the routers goes stale (653 router.stale alerts) and the
//! block that went stale the poll before is back online (its recovery is announced a poll
//! later, past recover_secs): about 650 status changes and 650 alerts per poll.
//!
//! KNOWN FLAW (to fix): every router's handshake advances each round, so every poll rewrites
//! all 65,278 rows, not 1%; its figures (about 7.5 s with alerts, 5.6 s without, on a loaded
//! shared machine) measure that, not the outbox. Keep the other routers' handshakes still.

#[path = "../tests/common/mod.rs"]
mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tikwire::alerts::endpoints::{self, NewWebhook};
use tikwire::alerts::monitor::{AlertSetup, HubAlerts};
use tikwire::alerts::{AlertEngine, AlertRules, RouterChange};
use tikwire::model::{AgentIdentity, RouterName, RouterStatus, TenantName};
use tikwire::provision::RouterSpec;
use tikwire::store::Store;
use tikwire::wg::Snapshot;
use tikwire::wg::dump::parse_dump;
use tikwire::wg::status::Thresholds;
use tikwire::wg::sync::StatusSync;
use tokio::sync::Notify;

const ROUTERS: usize = 65_278;
const BLOCK: usize = ROUTERS / 100;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_538_650, 0).unwrap()
}

/// The engine alone: 653 routers drop and the previous 653 come back, each poll.
fn engine(c: &mut Criterion) {
    let mut engine = AlertEngine::new(AlertRules::default());
    engine.track((0..ROUTERS as i64).map(|id| (id, RouterStatus::Online)));
    let round = Cell::new(0usize);
    let mut group = c.benchmark_group("alert_engine");
    group.bench_function("65278_routers_1pct_changed", |b| {
        b.iter_batched(
            || {
                let r = round.get() + 1;
                round.set(r);
                let down = (r % 100) * BLOCK;
                let up = ((r + 99) % 100) * BLOCK;
                let mut changes: Vec<RouterChange> = (down..down + BLOCK)
                    .map(|id| RouterChange {
                        router: id as i64,
                        from: RouterStatus::Online,
                        to: RouterStatus::Stale,
                        first_handshake: false,
                    })
                    .collect();
                if r > 1 {
                    changes.extend((up..up + BLOCK).map(|id| RouterChange {
                        router: id as i64,
                        from: RouterStatus::Stale,
                        to: RouterStatus::Online,
                        first_handshake: false,
                    }));
                }
                (t0() + TimeDelta::seconds(200 * r as i64), changes)
            },
            |(at, changes)| black_box(engine.observe(at, &changes)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let size = std::mem::size_of::<(i64, [u8; 12])>();
    println!(
        "alert engine memory: {} routers remembered, about {} bytes each plus the hash table's overhead",
        engine.remembered(),
        size
    );
}

fn key(i: u64) -> String {
    let mut bytes = [1u8; 32];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    STANDARD.encode(bytes)
}

/// One poll's write, with and without alerts.
fn poll_write(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(async {
        let db = common::test_db().await;
        let p = common::provisioner(&db.pool);
        let hub = common::add_hub(&p, "wg0").await;
        let tenant = TenantName::parse("bench").unwrap();
        p.add_tenant(&tenant).await.unwrap();
        let specs: Vec<RouterSpec> = (0..ROUTERS)
            .map(|i| RouterSpec::named(RouterName::parse(&format!("r{i}")).unwrap()))
            .collect();
        p.import_routers(&tenant, None, &specs).await.unwrap();
        endpoints::add(
            &p,
            &NewWebhook {
                url: "http://127.0.0.1:9/hook".into(),
                name: Some("bench".into()),
                tenant: None,
                events: None,
            },
        )
        .await
        .unwrap();
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT client_public_key, host(client_ip) FROM vpn_configurations ORDER BY id",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        (Store::from_pool(db.pool.clone()), db.pool, hub.id, keys)
    });
    let (store, pool, hub_id, keys) = (store.0, store.1, store.2, store.3);
    // Round r at t0 + 200 r: everyone shook hands 10 s ago, but block r % 100, which stopped
    // after the previous round (stale now, online_secs 180 s).
    let dump_at = |r: usize| {
        let now = t0().timestamp() + 200 * r as i64;
        let silent = (r % 100) * BLOCK;
        let mut text = format!("{}\t{}\t51820\toff\n", key(0), key(u64::MAX));
        for (i, (public, ip)) in keys.iter().enumerate() {
            let handshake = if r > 0 && (silent..silent + BLOCK).contains(&i) {
                now - 200 - 10
            } else {
                now - 10
            };
            text.push_str(&format!(
                "{public}\t(none)\t203.0.113.{}:{}\t{ip}/32\t{handshake}\t1000\t1000\t25\n",
                1 + i % 250,
                1024 + i % 60_000,
            ));
        }
        (text, DateTime::from_timestamp(now, 0).unwrap())
    };
    let mut sync = runtime.block_on(async {
        let mut sync = StatusSync::load(
            &store,
            hub_id,
            Thresholds::default(),
            AgentIdentity::current(),
        )
        .await
        .unwrap();
        sync.set_alerts(HubAlerts::new(
            AlertSetup {
                rules: AlertRules::default(),
                hook: None,
                wake: Arc::new(Notify::new()),
            },
            "hub1".into(),
            Duration::from_secs(5),
        ));
        let (text, at) = dump_at(0);
        let snapshot = Snapshot::from_dump("wg0", &parse_dump(&text).unwrap(), at).unwrap();
        sync.sync(&store, &snapshot).await.unwrap();
        sync
    });
    let round = Cell::new(0usize);
    let mut group = c.benchmark_group("poll_write");
    group.sample_size(20);
    let mut bench = |name: &str, sync: &mut StatusSync| {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    round.set(round.get() + 1);
                    let (text, at) = dump_at(round.get());
                    Snapshot::from_dump("wg0", &parse_dump(&text).unwrap(), at).unwrap()
                },
                |snapshot| {
                    let report = runtime.block_on(sync.sync(&store, &snapshot)).unwrap();
                    assert!(report.transitions.len() >= BLOCK);
                },
                BatchSize::PerIteration,
            )
        });
    };
    bench("65278_routers_1pct_status_changes_with_alerts", &mut sync);
    let events: i64 = runtime.block_on(async {
        sqlx::query_scalar("SELECT count(*) FROM alert_events")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    let alerts = sync.take_alerts();
    bench(
        "65278_routers_1pct_status_changes_without_alerts",
        &mut sync,
    );
    drop(alerts);
    group.finish();
    println!("alert events written during the bench: {events}");
}

criterion_group!(benches, engine, poll_write);
criterion_main!(benches);
