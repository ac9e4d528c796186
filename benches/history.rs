//! Router history's disk cost, against a real PostgreSQL (the test harness's private server,
//! or DATABASE_URL): per router per day, 288 five-minute buckets (measured on 10,000 routers),
//! their hourly roll-ups, and four transitions and one endpoint change.
//!
//! What a poll costs to write (history included) is measured with the whole cycle in
//! benches/poll_cycle.rs.
//!
//! `cargo bench --bench history`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Executor as _, PgPool};
use tikwire::history::{Retention, TrafficTable};
use tikwire::store::Store;

/// Routers measured.
const SAMPLE: i64 = 10_000;
const RETENTION: Retention = Retention {
    traffic_days: 14,
    rollup_days: 400,
};

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
    common::add_hub(&p, "wg0").await;
    let started = Instant::now();
    common::bench_tenant(&p, SAMPLE as usize).await;
    println!("{SAMPLE} routers provisioned in {:.1?}", started.elapsed());
    let store = Store::from_pool(db.pool.clone());
    let now = Utc::now();
    store.maintain_history(now, RETENTION).await.unwrap();
    let router_ids: Vec<i64> =
        sqlx::query_scalar("SELECT router_id FROM vpn_configurations ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    disk_per_router_day(&db.pool, &router_ids, now).await;
}

/// Bytes on disk per router per day of history, measured with pg_total_relation_size.
async fn disk_per_router_day(pool: &PgPool, router_ids: &[i64], now: DateTime<Utc>) {
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
    let ids = router_ids;
    sqlx::query(
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT u.rid, v.tenant_id, v.hub_id, $2 + k * interval '6 hours', 'status',
                CASE WHEN k % 2 = 0 THEN 'online' ELSE 'offline' END,
                CASE WHEN k % 2 = 0 THEN 'offline' ELSE 'online' END
         FROM unnest($1::bigint[]) AS u(rid) JOIN vpn_configurations v ON v.router_id = u.rid,
              generate_series(0, 3) k",
    )
    .bind(ids)
    .bind(day)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
         SELECT u.rid, v.tenant_id, $2, '198.51.100.' || (u.rid % 250) || ':' || (1024 + u.rid % 60000)
         FROM unnest($1::bigint[]) AS u(rid) JOIN vpn_configurations v ON v.router_id = u.rid",
    )
    .bind(ids)
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
}
