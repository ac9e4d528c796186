//! The console's monitoring reads against a real PostgreSQL: the detail view's loader returns
//! what was stored (status, 24-hour and 30-day traffic, transitions, endpoints, the status
//! timeline, availability), and the live feed starts at the newest event and reads only what
//! comes after it.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tikwire::history::{FleetEvent, Retention, StatusChange};
use tikwire::model::{RouterName, RouterStatus, TenantName};
use tikwire::provision::{NewRouter, RouterSpec};
use tikwire::store::console_history::{EventId, FeedCursor, FeedEvent};
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

    // The feed starts at the newest transition and alert (none yet) and then reads only what
    // comes after them.
    let cursor = store.feed_start().await.unwrap();
    let all = store
        .events(None, now - TimeDelta::days(30), 0, 500)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        cursor,
        FeedCursor {
            transitions: all.last().unwrap().0,
            alerts: 0
        }
    );
    assert!(store.feed_after(cursor, 500).await.unwrap().is_empty());
    // From the start: the same events as the listing, oldest first; a limit keeps the newest.
    let ids = |events: Vec<FeedEvent>| -> Vec<(EventId, FleetEvent)> {
        events.into_iter().map(|e| (e.id, e.event)).collect()
    };
    let listed: Vec<(EventId, FleetEvent)> = all
        .iter()
        .map(|(id, e)| (EventId::Transition(*id), e.clone()))
        .collect();
    assert_eq!(
        ids(store.feed_after(FeedCursor::default(), 500).await.unwrap()),
        listed
    );
    assert_eq!(
        ids(store.feed_after(FeedCursor::default(), 2).await.unwrap()),
        listed[2..]
    );
    assert_eq!(
        ids(store
            .recent_events(None, now - TimeDelta::days(30), 500)
            .await
            .unwrap()),
        listed
    );
    transition(pool, other.id, tenant.id, hub.id, now, "offline", "online").await;
    let new = store.feed_after(cursor, 500).await.unwrap();
    assert_eq!(new.len(), 1);
    assert!(cursor.precedes(new[0].id));
    assert!(matches!(
        &new[0].event,
        FleetEvent::Status { router, to: RouterStatus::Online, .. } if router == "r2"
    ));
    // A raw transition is not toasted: alerts are (see the test below).
    assert_eq!(tikwire::tui::monitor::announce(&new), None);
}

// ---------------------------------------------------------------------------------------------
// Alerts in the feed, written by the agent's own poll write path (status sync with alerts).

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

/// A snapshot of `wg0` at `taken_at` where each router last shook hands at the given time.
fn snapshot(
    keys: &std::collections::HashMap<String, String>,
    taken_at: i64,
    handshakes: &[(&str, i64)],
) -> tikwire::wg::Snapshot {
    let peers = handshakes
        .iter()
        .map(|(name, hs)| (keys[*name].as_str(), at(*hs)));
    common::wg0_snapshot(at(taken_at), peers)
}

/// What the feed read, as (table, kind) pairs: "t:pending->online", "a:router.stale".
fn described(events: &[FeedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match (&e.id, &e.event) {
            (
                EventId::Transition(_),
                FleetEvent::Status {
                    router, from, to, ..
                },
            ) => {
                format!("t:{router} {from}->{to}")
            }
            (EventId::Transition(_), FleetEvent::FirstHandshake { router, .. }) => {
                format!("t:{router} first")
            }
            (EventId::Alert(_), FleetEvent::Alert { alert, router, .. }) => {
                format!("a:{router} {alert}")
            }
            (id, event) => panic!("{id:?} holds {event:?}"),
        })
        .collect()
}

#[tokio::test]
async fn the_feed_merges_the_agents_transitions_and_alerts_in_time_order() {
    use tikwire::alerts::AlertKind;

    let db = common::test_db().await;
    let provisioner = common::provisioner(&db.pool);
    let hub = common::add_hub(&provisioner, "wg0").await;
    let mut keys = std::collections::HashMap::new();
    for tenant in ["acme", "globex"] {
        provisioner
            .add_tenant(&TenantName::parse(tenant).unwrap())
            .await
            .unwrap();
    }
    let names = ["r1", "r2", "r3", "r4", "r5"];
    for (i, name) in names.iter().enumerate() {
        let router = provisioner
            .add_router(&NewRouter {
                tenant: TenantName::parse(if i < 3 { "acme" } else { "globex" }).unwrap(),
                hub: None,
                spec: RouterSpec::named(RouterName::parse(name).unwrap()),
            })
            .await
            .unwrap();
        keys.insert((*name).to_owned(), router.public_key.to_string());
    }
    let store = provisioner.store();
    let mut sync = common::agent_sync(store, hub.id, "hub1", Default::default()).await;
    let start = store.feed_start().await.unwrap();
    assert_eq!(start, FeedCursor::default());

    // All five shake hands for the first time: their transitions and first-handshake alerts.
    let fresh: Vec<(&str, i64)> = names.iter().map(|n| (*n, 95)).collect();
    sync.sync(store, &snapshot(&keys, 100, &fresh))
        .await
        .unwrap();
    let first = store.feed_after(start, 500).await.unwrap();
    assert_eq!(
        first
            .iter()
            .filter(|e| matches!(e.id, EventId::Alert(_)))
            .count(),
        5
    );
    assert_eq!(first.len(), 15, "{:#?}", described(&first));
    let times: Vec<_> = first.iter().map(|e| (e.event.at(), e.id)).collect();
    assert!(times.is_sorted(), "merged by time: {times:?}");
    let news = tikwire::tui::monitor::announce(&first).unwrap();
    assert_eq!(
        news.text(),
        "5 alerts: 5 routers connected for the first time on hub1"
    );
    let cursor = start.past(&first);

    // r1 goes stale: its transition, then the alert the engine raised for it.
    let mut handshakes: Vec<(&str, i64)> = names.iter().map(|n| (*n, 195)).collect();
    handshakes[0].1 = 95;
    sync.sync(store, &snapshot(&keys, 200, &handshakes))
        .await
        .unwrap();
    let stale = store.feed_after(cursor, 500).await.unwrap();
    assert_eq!(
        described(&stale),
        ["t:r1 online->stale", "a:r1 router.stale"]
    );
    let cursor = cursor.past(&stale);
    assert_eq!(
        tikwire::tui::monitor::announce(&stale).unwrap().text(),
        "acme/r1 went stale on hub1"
    );

    // The other four drop in one poll: a storm, one hub alert folding all four.
    let silent: Vec<(&str, i64)> = names.iter().map(|n| (*n, 95)).collect();
    sync.sync(store, &snapshot(&keys, 300, &silent))
        .await
        .unwrap();
    let storm = store.feed_after(cursor, 500).await.unwrap();
    assert_eq!(
        described(&storm),
        [
            "t:r2 online->stale",
            "t:r3 online->stale",
            "t:r4 online->stale",
            "t:r5 online->stale",
            "a: hub.storm"
        ]
    );
    assert_eq!(storm[4].routers, Some(4));
    let news = tikwire::tui::monitor::announce(&storm).unwrap();
    assert_eq!(news.text(), "storm on hub1: 4 routers dropped");
    assert!(news.alarming);
    // The per-tenant copies of the storm are not read again.
    let copies: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_events WHERE tenant_copy")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(copies, 2);
    let cursor = cursor.past(&storm);
    assert!(store.feed_after(cursor, 500).await.unwrap().is_empty());
    // A console opening now starts past all of it (the copies' ids included).
    let now_start = store.feed_start().await.unwrap();
    assert_eq!(now_start.transitions, cursor.transitions);
    assert_eq!(now_start.alerts, cursor.alerts + 2);

    // The events view's load: a tenant's transitions and alerts; the storm (hub-wide) only
    // under all tenants.
    let since = at(0);
    let all = store.recent_events(None, since, 500).await.unwrap();
    assert_eq!(all.len(), 15 + 2 + 5);
    assert!(all.iter().map(|e| (e.event.at(), e.id)).is_sorted());
    assert!(all.iter().any(|e| matches!(
        e.event,
        FleetEvent::Alert {
            alert: AlertKind::HubStorm,
            ..
        }
    )));
    let acme = store.recent_events(Some("acme"), since, 500).await.unwrap();
    assert!(
        acme.iter()
            .all(|e| tikwire::tui::monitor::event_tenant(&e.event) == "acme")
    );
    assert_eq!(
        acme.iter()
            .filter(|e| matches!(e.id, EventId::Alert(_)))
            .count(),
        3 + 1,
        "acme's three first handshakes and r1 going stale"
    );
    // Bounded: a limit per table keeps the newest of each.
    let few = store.recent_events(None, since, 2).await.unwrap();
    assert_eq!(
        described(&few),
        [
            "a:r1 router.stale",
            "t:r4 online->stale",
            "t:r5 online->stale",
            "a: hub.storm"
        ]
    );
    let few = store.feed_after(FeedCursor::default(), 1).await.unwrap();
    assert_eq!(described(&few), ["t:r5 online->stale", "a: hub.storm"]);
}
