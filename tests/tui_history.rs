//! The console's monitoring reads against a real PostgreSQL: the detail view's loader returns
//! what was stored (status, 24-hour and 30-day traffic, transitions, endpoints, the status
//! timeline, availability), and the live feed starts at the newest event and reads only what
//! comes after it.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tikwire::history::{Retention, StatusChange};
use tikwire::model::{RouterName, RouterStatus, TenantName};
use tikwire::provision::{NewRouter, RouterSpec};
use tikwire::tui::fleet::router_detail;

const RETENTION: Retention = Retention {
    traffic_days: 14,
    rollup_days: 400,
};

async fn transition(
    pool: &PgPool,
    router: i64,
    tenant: i64,
    hub: i64,
    at: DateTime<Utc>,
    from: &str,
    to: &str,
) {
    sqlx::query(
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         VALUES ($1, $2, $3, $4, 'status', $5, $6)",
    )
    .bind(router)
    .bind(tenant)
    .bind(hub)
    .bind(at)
    .bind(from)
    .bind(to)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_detail_loader_returns_what_was_stored_and_the_feed_reads_only_what_is_new() {
    let db = common::test_db().await;
    let pool = &db.pool;
    let provisioner = common::provisioner(pool);
    let hub = common::add_hub(&provisioner, "wg0").await;
    let tenant = provisioner
        .add_tenant(&TenantName::parse("acme").unwrap())
        .await
        .unwrap();
    let add = |name: &'static str| {
        let p = provisioner.clone();
        async move {
            p.add_router(&NewRouter {
                tenant: TenantName::parse("acme").unwrap(),
                hub: None,
                spec: RouterSpec::named(RouterName::parse(name).unwrap()),
            })
            .await
            .unwrap()
        }
    };
    let router = add("r1").await;
    let other = add("r2").await;
    let store = provisioner.store();
    let now = tikwire::history::bucket_start(Utc::now());
    store.maintain_history(now, RETENTION).await.unwrap();

    // Online 10 days ago, offline 5 h ago for 30 min; the other router's history beside it.
    let changes = [
        (now - TimeDelta::days(10), "pending", "online"),
        (now - TimeDelta::hours(5), "online", "offline"),
        (
            now - TimeDelta::hours(5) + TimeDelta::minutes(30),
            "offline",
            "online",
        ),
    ];
    for (at, from, to) in changes {
        transition(pool, router.id, tenant.id, hub.id, at, from, to).await;
    }
    transition(
        pool,
        other.id,
        tenant.id,
        hub.id,
        now - TimeDelta::hours(1),
        "online",
        "offline",
    )
    .await;
    for (id, endpoint, ago) in [
        (router.id, "198.51.100.7:40001", TimeDelta::days(10)),
        (router.id, "203.0.113.9:51000", TimeDelta::hours(4)),
        (other.id, "192.0.2.1:1", TimeDelta::hours(1)),
    ] {
        sqlx::query(
            "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(tenant.id)
        .bind(now - ago)
        .bind(endpoint)
        .execute(pool)
        .await
        .unwrap();
    }
    // 5-minute buckets over the last 3 hours; hourly roll-ups over 20 days.
    for i in 1..=36i64 {
        sqlx::query(
            "INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
             VALUES ($1, $2, $3, $4, $5), ($6, $2, $3, 999999, 999999)",
        )
        .bind(router.id)
        .bind(tenant.id)
        .bind(now - TimeDelta::minutes(5 * i))
        .bind(1000 * i)
        .bind(10 * i)
        .bind(other.id)
        .execute(pool)
        .await
        .unwrap();
    }
    let hour = tikwire::history::hour_start(now);
    for i in 1..=480i64 {
        sqlx::query(
            "INSERT INTO router_traffic_1h (router_id, tenant_id, hour, rx_bytes, tx_bytes)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(router.id)
        .bind(tenant.id)
        .bind(hour - TimeDelta::hours(i))
        .bind(50_000 * i)
        .bind(7 * i)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "UPDATE vpn_configurations SET status = 'online', last_endpoint = '203.0.113.9:51000',
         last_handshake_at = $2 WHERE router_id = $1",
    )
    .bind(router.id)
    .bind(now - TimeDelta::seconds(20))
    .execute(pool)
    .await
    .unwrap();

    let detail = router_detail(store, router.id, now).await.unwrap().unwrap();
    assert_eq!(detail.as_of, now);
    assert_eq!(detail.now.hub_id, hub.id);
    assert_eq!(detail.now.hub, "hub1");
    assert_eq!(detail.now.status, RouterStatus::Online);
    assert_eq!(
        detail.now.last_endpoint.as_deref(),
        Some("203.0.113.9:51000")
    );
    assert_eq!(
        detail.now.last_handshake_at,
        Some(now - TimeDelta::seconds(20))
    );
    // 24 hours: every 5-minute bucket of this router, oldest first, none of the other's.
    assert_eq!(detail.day.traffic.len(), 36);
    assert_eq!(detail.day.traffic[0].at, now - TimeDelta::minutes(180));
    assert_eq!(detail.day.traffic[0].rx_bytes, 36_000);
    assert_eq!(
        detail.day.traffic.iter().map(|p| p.tx_bytes).sum::<i64>(),
        (1..=36).map(|i| 10 * i).sum::<i64>()
    );
    // 30 days: the hourly roll-ups.
    assert_eq!(detail.month.traffic.len(), 480);
    assert_eq!(detail.month.traffic[479].at, hour - TimeDelta::hours(1));
    assert_eq!(detail.month.traffic[479].rx_bytes, 50_000);
    // Transitions and endpoints of 30 days, oldest first, only this router's.
    let expected: Vec<StatusChange> = changes
        .iter()
        .map(|(at, from, to)| StatusChange {
            at: *at,
            from: RouterStatus::parse(from).unwrap(),
            to: RouterStatus::parse(to).unwrap(),
        })
        .collect();
    assert_eq!(detail.month.transitions, expected);
    assert_eq!(detail.status_since(), Some(changes[2].0));
    let endpoints: Vec<&str> = detail
        .month
        .endpoints
        .iter()
        .map(|e| e.endpoint.as_str())
        .collect();
    assert_eq!(endpoints, ["198.51.100.7:40001", "203.0.113.9:51000"]);
    assert_eq!(
        detail.day.transitions.len(),
        2,
        "the 24 hours hold the outage only"
    );
    // The strip's timeline starts with the status before the 24 hours.
    assert_eq!(
        detail.timeline.changes,
        vec![
            (changes[0].0, RouterStatus::Online),
            (changes[1].0, RouterStatus::Offline),
            (changes[2].0, RouterStatus::Online),
        ]
    );
    let day = detail.availability.day.unwrap();
    assert!((day - (1.0 - 30.0 / 1440.0)).abs() < 1e-9, "{day}");
    assert!((detail.availability.month.unwrap() - (1.0 - 30.0 / (10.0 * 1440.0))).abs() < 1e-9);

    // A router that is gone: nothing, not an error.
    assert_eq!(
        router_detail(store, other.id + 1000, now).await.unwrap(),
        None
    );

    // The feed starts at the newest event and then reads only what comes after it.
    let cursor = store.newest_event_id().await.unwrap();
    let all = store
        .events(None, now - TimeDelta::days(30), 0, 500)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all.last().unwrap().0, cursor);
    assert!(store.events_after(cursor, 500).await.unwrap().is_empty());
    // From the start: the same events as the listing, oldest first; a limit keeps the newest.
    assert_eq!(store.events_after(0, 500).await.unwrap(), all);
    assert_eq!(store.events_after(0, 2).await.unwrap(), all[2..]);
    transition(pool, other.id, tenant.id, hub.id, now, "offline", "online").await;
    let new = store.events_after(cursor, 500).await.unwrap();
    assert_eq!(new.len(), 1);
    assert!(new[0].0 > cursor);
    assert!(matches!(
        &new[0].1,
        tikwire::history::FleetEvent::Status { router, to: RouterStatus::Online, .. } if router == "r2"
    ));
    let (text, alarming) = tikwire::tui::monitor::announce(new.iter().map(|(_, e)| e)).unwrap();
    assert_eq!(text, "acme/r2 came back online on hub1");
    assert!(!alarming);
}
