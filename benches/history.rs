//! Router history at fleet scale, against a real PostgreSQL (the test harness's private
//! server, or DATABASE_URL):
//!
//! 1. One poll's database write at 65,278 routers with 1% changed: the status rows, a
//!    transition for each (online <-> offline), an endpoint change for a tenth of them, their
//!    traffic into the current bucket, the heartbeat, one transaction ([`Store::write_poll`]).
//!    Also the full cycle (snapshot, plan, write) when 1% only moved bytes.
//! 2. Disk per router per day: 10,000 routers x 288 five-minute buckets, their hourly
//!    roll-ups, and four transitions and one endpoint change per router per day.
//!
//! `cargo bench --bench history`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Executor as _, PgPool};
use tikwire::history::{Retention, TrafficTable, bucket_start};
use tikwire::model::{AgentIdentity, RouterName, RouterStatus, TenantName};
use tikwire::provision::RouterSpec;
use tikwire::store::history::{EndpointMove, RouterRef, TrafficDelta, Transition};
use tikwire::store::{LinkUpdate, PollWrite, Store, StoredLink};
use tikwire::wg::Snapshot;
use tikwire::wg::dump::parse_dump;
use tikwire::wg::status::Thresholds;
use tikwire::wg::sync::StatusSync;

const ROUTERS: usize = 65_278;
const CHANGED: usize = ROUTERS / 100;
const ROUNDS: usize = 40;
const RETENTION: Retention = Retention {
    traffic_days: 14,
    rollup_days: 400,
};

/// A stored router: configuration row id, router id, tenant id, public key, address.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    router_id: i64,
    tenant_id: i64,
    client_public_key: String,
    ip: String,
}

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: median {:.1} ms, p90 {:.1} ms, max {:.1} ms over {} rounds",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let db = common::test_db().await;
    let p = common::provisioner(&db.pool);
    let hub = common::add_hub(&p, "wg0").await;
    let tenant = TenantName::parse("bench").unwrap();
    p.add_tenant(&tenant).await.unwrap();
    let started = Instant::now();
    let specs: Vec<RouterSpec> = (0..ROUTERS)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("r{i}")).unwrap()))
        .collect();
    p.import_routers(&tenant, None, &specs).await.unwrap();
    println!("{ROUTERS} routers provisioned in {:.1?}", started.elapsed());
    let store = Store::from_pool(db.pool.clone());
    let now = Utc::now();
    store.maintain_history(now, RETENTION).await.unwrap();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, router_id, tenant_id, client_public_key, host(client_ip) AS ip
         FROM vpn_configurations ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();

    poll_write(&store, &db.pool, hub.id, &rows, now).await;
    poll_cycle(&store, hub.id, &rows, now).await;
    disk_per_router_day(&store, &db.pool, &rows, now).await;
}

/// Writes of one poll where 1% of the fleet changed status (with history), timed.
async fn poll_write(store: &Store, pool: &PgPool, hub_id: i64, rows: &[Row], now: DateTime<Utc>) {
    let agent = AgentIdentity::current();
    // Everyone online first (as after the agent's first poll).
    let online: Vec<LinkUpdate> = rows
        .iter()
        .map(|r| update(r, RouterStatus::Online, now, 0))
        .collect();
    store
        .write_poll(&PollWrite {
            hub_id,
            updates: &online,
            transitions: &[],
            first_handshakes: &[],
            endpoints: &[],
            traffic: &[],
            agent: &agent,
            polled_at: now,
            peers_seen: ROUTERS as i32,
            unknown_peers: 0,
        })
        .await
        .unwrap();

    let mut times = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        let at = now + TimeDelta::seconds(5 * round as i64);
        // Odd rounds: a new 1% drops; even rounds: the same 1% comes back.
        let (from, to) = if round % 2 == 1 {
            (RouterStatus::Online, RouterStatus::Offline)
        } else {
            (RouterStatus::Offline, RouterStatus::Online)
        };
        let first = (round.div_ceil(2) * CHANGED) % (ROUTERS - CHANGED);
        let slice = &rows[first..first + CHANGED];
        let updates: Vec<LinkUpdate> = slice
            .iter()
            .map(|r| update(r, to, at, round as i64))
            .collect();
        let transitions: Vec<Transition> = slice
            .iter()
            .map(|r| Transition {
                router: RouterRef {
                    router_id: r.router_id,
                    tenant_id: r.tenant_id,
                    tenant: "bench".into(),
                    name: format!("r{}", r.router_id),
                },
                hub_id,
                at,
                from,
                to,
                last_handshake_at: Some(at),
            })
            .collect();
        let endpoints: Vec<EndpointMove> = slice
            .iter()
            .step_by(10)
            .map(|r| EndpointMove {
                router_id: r.router_id,
                tenant_id: r.tenant_id,
                at,
                endpoint: format!("198.51.100.{}:{}", round % 250, 1024 + r.router_id % 60_000),
            })
            .collect();
        let traffic: Vec<TrafficDelta> = slice
            .iter()
            .map(|r| TrafficDelta {
                router_id: r.router_id,
                tenant_id: r.tenant_id,
                bucket: bucket_start(at),
                rx_bytes: 1000,
                tx_bytes: 2000,
            })
            .collect();
        let write = PollWrite {
            hub_id,
            updates: &updates,
            transitions: &transitions,
            first_handshakes: &[],
            endpoints: &endpoints,
            traffic: &traffic,
            agent: &agent,
            polled_at: at,
            peers_seen: ROUTERS as i32,
            unknown_peers: 0,
        };
        let started = Instant::now();
        let updated = store.write_poll(&write).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(updated as usize, CHANGED);
    }
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM router_transitions")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        written as usize,
        ROUNDS * CHANGED,
        "every transition written"
    );
    summary(
        &format!(
            "poll write, {ROUTERS} routers, {CHANGED} changed (status + transition + traffic, endpoint for 1 in 10)"
        ),
        times,
    );
}

fn update(r: &Row, status: RouterStatus, at: DateTime<Utc>, round: i64) -> LinkUpdate {
    LinkUpdate {
        id: r.id,
        link: StoredLink {
            status,
            first_handshake_at: Some(at - TimeDelta::seconds(5 * round + 60)),
            last_handshake_at: Some(at),
            last_seen_at: Some(at),
            last_endpoint: Some(format!("203.0.113.1:{}", 1024 + round)),
            rx_bytes: 10_000 + round * 1000,
            tx_bytes: 20_000 + round * 2000,
            last_rx_counter: 10_000 + round * 1000,
            last_tx_counter: 20_000 + round * 2000,
        },
    }
}

/// The agent's whole cycle minus `wg`: parse, snapshot, plan against the copy, write; 1% of
/// the routers received bytes since the last poll.
async fn poll_cycle(store: &Store, hub_id: i64, rows: &[Row], now: DateTime<Utc>) {
    let dump_at = |round: u64| {
        let mut text = format!(
            "{}\t{}\t51820\toff\n",
            STANDARD.encode([1u8; 32]),
            STANDARD.encode([2u8; 32])
        );
        for (i, r) in rows.iter().enumerate() {
            let bump = if i < CHANGED { round * 1000 } else { 0 };
            text.push_str(&format!(
                "{}\t(none)\t203.0.113.{}:{}\t{}/32\t{}\t{}\t{}\t25\n",
                r.client_public_key,
                1 + i % 250,
                1024 + i % 60_000,
                r.ip,
                now.timestamp(),
                10_000 + bump,
                20_000 + bump
            ));
        }
        text
    };
    let mut sync = StatusSync::load(
        store,
        hub_id,
        Thresholds::new(3600, 7200).unwrap(),
        AgentIdentity::current(),
    )
    .await
    .unwrap();
    let first = dump_at(0);
    let snapshot = Snapshot::from_dump("wg0", &parse_dump(&first).unwrap(), now).unwrap();
    sync.sync(store, &snapshot).await.unwrap();
    let mut times = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS as u64 {
        let text = dump_at(round);
        let taken = now + TimeDelta::seconds(5 * round as i64);
        let started = Instant::now();
        let snapshot = Snapshot::from_dump("wg0", &parse_dump(&text).unwrap(), taken).unwrap();
        let report = sync.sync(store, &snapshot).await.unwrap();
        times.push(started.elapsed());
        assert_eq!(report.rows_updated as usize, CHANGED);
    }
    summary(
        &format!("poll cycle (parse, plan, write), {ROUTERS} routers, {CHANGED} with new bytes"),
        times,
    );
}

/// Bytes on disk per router per day of history, measured with pg_total_relation_size.
async fn disk_per_router_day(store: &Store, pool: &PgPool, rows: &[Row], now: DateTime<Utc>) {
    const SAMPLE: i64 = 10_000;
    // A whole day that has a partition of its own, nobody else's rows in it.
    let day = tikwire::history::hour_start(now)
        - TimeDelta::hours(now.timestamp() % 86_400 / 3600)
        - TimeDelta::days(5);
    let partition = format!(
        "{}_p{}",
        TrafficTable::FiveMinute.name(),
        day.format("%Y%m%d")
    );
    sqlx::query(
        "INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
         SELECT 10000000 + r, 1, $1 + k * interval '5 minutes',
                (random() * 5e7)::bigint, (random() * 5e6)::bigint
         FROM generate_series(1, $2) r, generate_series(0, 287) k",
    )
    .bind(day)
    .bind(SAMPLE)
    .execute(pool)
    .await
    .unwrap();
    // Hourly roll-ups of that day, into an empty month of their own (as far as sizes go).
    sqlx::query("TRUNCATE router_traffic_1h")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO router_traffic_1h (router_id, tenant_id, hour, rx_bytes, tx_bytes)
         SELECT router_id, tenant_id, date_trunc('hour', bucket, 'UTC'), sum(rx_bytes), sum(tx_bytes)
         FROM router_traffic_5m WHERE bucket >= $1 AND bucket < $1 + interval '1 day' AND router_id > 10000000
         GROUP BY 1, 2, 3",
    )
    .bind(day)
    .execute(pool)
    .await
    .unwrap();
    // Transitions and endpoints: start from empty tables, four changes and one new endpoint
    // per router per day (a flaky site; most routers have none).
    sqlx::query("TRUNCATE router_transitions, router_endpoints")
        .execute(pool)
        .await
        .unwrap();
    let ids: Vec<i64> = rows
        .iter()
        .take(SAMPLE as usize)
        .map(|r| r.router_id)
        .collect();
    sqlx::query(
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT u.rid, v.tenant_id, v.hub_id, $2 + k * interval '6 hours', 'status',
                CASE WHEN k % 2 = 0 THEN 'online' ELSE 'offline' END,
                CASE WHEN k % 2 = 0 THEN 'offline' ELSE 'online' END
         FROM unnest($1::bigint[]) AS u(rid) JOIN vpn_configurations v ON v.router_id = u.rid,
              generate_series(0, 3) k",
    )
    .bind(&ids)
    .bind(day)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
         SELECT u.rid, v.tenant_id, $2, '198.51.100.' || (u.rid % 250) || ':' || (1024 + u.rid % 60000)
         FROM unnest($1::bigint[]) AS u(rid) JOIN vpn_configurations v ON v.router_id = u.rid",
    )
    .bind(&ids)
    .bind(day)
    .execute(pool)
    .await
    .unwrap();
    pool.execute(
        "VACUUM ANALYZE router_traffic_5m, router_traffic_1h, router_transitions, router_endpoints",
    )
    .await
    .unwrap();
    let size = |relation: String| async move {
        let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
            .bind(relation)
            .fetch_one(pool)
            .await
            .unwrap();
        bytes as f64 / SAMPLE as f64
    };
    let five = size(partition).await;
    let hourly_partition = format!("{}_p{}", TrafficTable::Hourly.name(), day.format("%Y%m"));
    let hourly = size(hourly_partition).await;
    let transitions = size("router_transitions".into()).await;
    let endpoints = size("router_endpoints".into()).await;
    println!(
        "disk per router per day ({SAMPLE} routers): 5-minute traffic {five:.0} B (288 buckets, kept {} days), \
         hourly roll-ups {hourly:.0} B (24 rows, kept {} days), transitions {transitions:.0} B (4 a day), \
         endpoints {endpoints:.0} B (1 a day)",
        RETENTION.traffic_days, RETENTION.rollup_days
    );
    println!(
        "steady state per router: {:.0} KiB of 5-minute buckets ({} days) + {:.0} KiB of roll-ups ({} days)",
        five * f64::from(RETENTION.traffic_days) / 1024.0,
        RETENTION.traffic_days,
        hourly * f64::from(RETENTION.rollup_days) / 1024.0,
        RETENTION.rollup_days
    );
    let _ = store;
}
