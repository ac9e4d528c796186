//! Router history against a real PostgreSQL: a poll's transitions, first handshake, endpoint
//! changes and traffic commit with its status write or not at all; a reloaded agent invents
//! nothing; partitions are created ahead and dropped by retention; roll-ups; availability over
//! a scripted timeline; `router history` reads.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Executor as _, PgPool};
use tikwire::history::{Retention, TrafficTable};
use tikwire::model::{AgentIdentity, RouterName, RouterStatus, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};
use tikwire::store::history::{self, TrafficDelta};
use tikwire::wg::poller::{PeerStats, Snapshot};
use tikwire::wg::status::Thresholds;
use tikwire::wg::sync::StatusSync;

const RETENTION: Retention = Retention {
    traffic_days: 14,
    rollup_days: 400,
};

struct Fleet {
    provisioner: Provisioner,
    hub_id: i64,
    router_id: i64,
    key: String,
}

async fn fleet(pool: &PgPool) -> Fleet {
    let provisioner = common::provisioner(pool);
    let hub = common::add_hub(&provisioner, "wg0").await;
    provisioner
        .add_tenant(&TenantName::parse("acme").unwrap())
        .await
        .unwrap();
    let router = provisioner
        .add_router(&NewRouter {
            tenant: TenantName::parse("acme").unwrap(),
            hub: None,
            spec: RouterSpec::named(RouterName::parse("r1").unwrap()),
        })
        .await
        .unwrap();
    Fleet {
        provisioner,
        hub_id: hub.id,
        router_id: router.id,
        key: router.public_key.to_string(),
    }
}

/// Polls happen "now" (partitions are made around the real date).
fn base() -> DateTime<Utc> {
    tikwire::history::hour_start(Utc::now()) - TimeDelta::hours(2)
}

fn at(secs: i64) -> DateTime<Utc> {
    base() + TimeDelta::seconds(secs)
}

fn snapshot(key: &str, taken: i64, handshake: i64, endpoint: &str, rx: u64, tx: u64) -> Snapshot {
    Snapshot {
        interface: "wg0".into(),
        taken_at: at(taken),
        public_key: None,
        listen_port: 51820,
        peers: [(
            key.parse().unwrap(),
            PeerStats {
                endpoint: Some(endpoint.parse().unwrap()),
                last_handshake: Some(at(handshake)),
                rx_bytes: rx,
                tx_bytes: tx,
                persistent_keepalive: Some(25),
                allowed_ips: vec![],
                has_preshared_key: true,
            },
        )]
        .into_iter()
        .collect(),
    }
}

async fn load(fleet: &Fleet) -> StatusSync {
    StatusSync::load(
        fleet.provisioner.store(),
        fleet.hub_id,
        Thresholds::new(60, 120).unwrap(),
        AgentIdentity::current(),
    )
    .await
    .unwrap()
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn status(pool: &PgPool, router_id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM vpn_configurations WHERE router_id = $1")
        .bind(router_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn history_commits_with_the_status_write_or_not_at_all() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    let mut sync = load(&fleet).await;
    let first = snapshot(&fleet.key, 10, 9, "198.51.100.7:40001", 1000, 500);

    // No partition for the traffic yet: status and transitions are written, traffic is left
    // out (history maintenance makes partitions before the agent's first poll).
    let report = sync.sync(store, &first).await.unwrap();
    assert_eq!(report.rows_updated, 1);
    assert_eq!(count(&db.pool, "router_transitions").await, 2);
    assert_eq!(count(&db.pool, "router_traffic_5m").await, 0);
    // Start again from a pending router.
    (&db.pool)
        .execute(
            "DELETE FROM router_transitions; DELETE FROM router_endpoints;
             UPDATE vpn_configurations SET status = 'pending', first_handshake_at = NULL,
                 last_handshake_at = NULL, last_seen_at = NULL, last_endpoint = NULL,
                 rx_bytes = 0, tx_bytes = 0, last_rx_counter = 0, last_tx_counter = 0",
        )
        .await
        .unwrap();
    let mut sync = load(&fleet).await;
    let done = store.maintain_history(Utc::now(), RETENTION).await.unwrap();
    assert!(done.ran && !done.created.is_empty());

    // The last statement of the poll fails: nothing of it stays, status included.
    (&db.pool)
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON router_traffic_5m_p{}
                 FOR EACH ROW EXECUTE FUNCTION refuse();",
            at(10).format("%Y%m%d")
        )))
        .await
        .unwrap();
    let err = sync.sync(store, &first).await.unwrap_err();
    assert!(err.to_string().contains("refused by the test"), "{err}");
    assert_eq!(status(&db.pool, fleet.router_id).await, "pending");
    for table in [
        "router_transitions",
        "router_endpoints",
        "router_traffic_5m",
    ] {
        assert_eq!(
            count(&db.pool, table).await,
            0,
            "{table} after the failed poll"
        );
    }
    sqlx::query("DROP FUNCTION refuse() CASCADE")
        .execute(&db.pool)
        .await
        .unwrap();

    // The next poll computes the same changes from the untouched copy, and they all commit.
    let report = sync.sync(store, &first).await.unwrap();
    assert_eq!(report.rows_updated, 1);
    assert_eq!(status(&db.pool, fleet.router_id).await, "online");
    let kinds: Vec<TransitionRow> = sqlx::query_as(
        "SELECT kind, from_status, to_status, at FROM router_transitions ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        [
            (
                "status".into(),
                Some("pending".into()),
                Some("online".into()),
                at(10)
            ),
            ("first_handshake".into(), None, None, at(9)),
        ]
    );
    let traffic: (DateTime<Utc>, i64, i64) =
        sqlx::query_as("SELECT bucket, rx_bytes, tx_bytes FROM router_traffic_5m")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(traffic, (tikwire::history::bucket_start(at(10)), 1000, 500));

    // More bytes in the same bucket add up; a new NAT address is recorded.
    sync.sync(
        store,
        &snapshot(&fleet.key, 40, 9, "203.0.113.5:7000", 1300, 700),
    )
    .await
    .unwrap();
    let traffic: (i64, i64) = sqlx::query_as("SELECT rx_bytes, tx_bytes FROM router_traffic_5m")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(traffic, (1300, 700));
    let endpoints: Vec<String> =
        sqlx::query_scalar("SELECT endpoint FROM router_endpoints ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(endpoints, ["198.51.100.7:40001", "203.0.113.5:7000"]);
}

#[tokio::test]
async fn a_restarted_agent_invents_no_transitions() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    store.maintain_history(Utc::now(), RETENTION).await.unwrap();
    let mut sync = load(&fleet).await;
    sync.sync(
        store,
        &snapshot(&fleet.key, 10, 9, "198.51.100.7:40001", 1000, 500),
    )
    .await
    .unwrap();
    // Silence: online -> stale.
    sync.sync(
        store,
        &snapshot(&fleet.key, 80, 9, "198.51.100.7:40001", 1000, 500),
    )
    .await
    .unwrap();
    let before = count(&db.pool, "router_transitions").await;
    assert_eq!(before, 3, "pending->online, first handshake, online->stale");

    // The agent restarts (a new copy from the database) and sees the same interface.
    drop(sync);
    let mut restarted = load(&fleet).await;
    let report = restarted
        .sync(
            store,
            &snapshot(&fleet.key, 85, 9, "198.51.100.7:40001", 1000, 500),
        )
        .await
        .unwrap();
    assert!(report.transitions.is_empty());
    assert_eq!(count(&db.pool, "router_transitions").await, before);
    assert_eq!(count(&db.pool, "router_endpoints").await, 1);
    let rx: i64 = sqlx::query_scalar("SELECT sum(rx_bytes)::bigint FROM router_traffic_5m")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rx, 1000, "the same counters again are no traffic");
    // Keepalives resume: back online, one transition.
    restarted
        .sync(
            store,
            &snapshot(&fleet.key, 90, 9, "198.51.100.7:40001", 1032, 532),
        )
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "router_transitions").await, before + 1);
    assert_eq!(status(&db.pool, fleet.router_id).await, "online");
}

/// kind, from, to, at.
type TransitionRow = (String, Option<String>, Option<String>, DateTime<Utc>);

fn day(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn partitions_are_made_ahead_dropped_by_retention_and_maintenance_is_idempotent() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    let now = day("2030-03-10T12:00:00Z");
    // A first run fifteen days earlier, and a bucket written then.
    let earlier = store
        .maintain_history(now - TimeDelta::days(15), RETENTION)
        .await
        .unwrap();
    assert!(
        earlier
            .created
            .contains(&"router_traffic_5m_p20300209".to_string())
    );
    history::add_traffic(
        &db.pool,
        &[TrafficDelta {
            router_id: fleet.router_id,
            tenant_id: 1,
            bucket: day("2030-02-24T08:05:00Z"),
            rx_bytes: 5,
            tx_bytes: 6,
        }],
    )
    .await
    .unwrap();

    let first = store.maintain_history(now, RETENTION).await.unwrap();
    assert!(
        first
            .dropped
            .contains(&"router_traffic_5m_p20300223".to_string())
    );
    assert!(
        !first
            .dropped
            .contains(&"router_traffic_5m_p20300224".to_string())
    );
    assert!(first.rolled_up >= 1);
    let daily = history::partitions(&db.pool, TrafficTable::FiveMinute)
        .await
        .unwrap();
    assert!(daily.contains(&"router_traffic_5m_p20300313".to_string()));
    assert!(daily.contains(&"router_traffic_5m_p20300224".to_string()));
    assert!(!daily.contains(&"router_traffic_5m_p20300314".to_string()));
    let monthly = history::partitions(&db.pool, TrafficTable::Hourly)
        .await
        .unwrap();
    assert!(monthly.contains(&"router_traffic_1h_p203003".to_string()));
    assert!(monthly.contains(&"router_traffic_1h_p202902".to_string()));

    let again = store.maintain_history(now, RETENTION).await.unwrap();
    assert!(again.ran && again.created.is_empty() && again.dropped.is_empty());

    // Twenty days on, the bucket leaves with its partition; its hour stays (400 days).
    let later = store
        .maintain_history(now + TimeDelta::days(20), RETENTION)
        .await
        .unwrap();
    assert!(
        later
            .dropped
            .contains(&"router_traffic_5m_p20300224".to_string())
    );
    assert!(
        later
            .created
            .contains(&"router_traffic_5m_p20300402".to_string())
    );
    assert_eq!(count(&db.pool, "router_traffic_5m").await, 0);
    let hourly: (DateTime<Utc>, i64, i64) =
        sqlx::query_as("SELECT hour, rx_bytes, tx_bytes FROM router_traffic_1h")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(hourly, (day("2030-02-24T08:00:00Z"), 5, 6));
    let daily = history::partitions(&db.pool, TrafficTable::FiveMinute)
        .await
        .unwrap();
    assert_eq!(daily.len(), 14 + 1 + 3);

    // Another agent holding the lock: this one does nothing.
    let mut other = db.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(x'74696b7768697374'::bigint)")
        .execute(&mut *other)
        .await
        .unwrap();
    let skipped = store
        .maintain_history(now + TimeDelta::days(40), RETENTION)
        .await
        .unwrap();
    assert!(!skipped.ran);
    other.rollback().await.unwrap();
}

#[tokio::test]
async fn hourly_rollups_sum_the_buckets_of_finished_hours() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    let now = day("2030-03-10T12:20:00Z");
    // Partitions from an earlier run; then the buckets of the last hours.
    store
        .maintain_history(now - TimeDelta::hours(3), RETENTION)
        .await
        .unwrap();
    let bucket = |s: &str, rx: i64| TrafficDelta {
        router_id: fleet.router_id,
        tenant_id: 1,
        bucket: day(s),
        rx_bytes: rx,
        tx_bytes: rx * 2,
    };
    history::add_traffic(
        &db.pool,
        &[
            bucket("2030-03-10T10:55:00Z", 1),
            bucket("2030-03-10T11:00:00Z", 10),
            bucket("2030-03-10T11:55:00Z", 20),
            bucket("2030-03-10T12:05:00Z", 400),
        ],
    )
    .await
    .unwrap();
    store.maintain_history(now, RETENTION).await.unwrap();
    // A late bucket of 11:00 arrives; the next run rolls the last hour again.
    history::add_traffic(&db.pool, &[bucket("2030-03-10T11:55:00Z", 5)])
        .await
        .unwrap();
    store
        .maintain_history(now + TimeDelta::minutes(50), RETENTION)
        .await
        .unwrap();
    let hours: Vec<(DateTime<Utc>, i64, i64)> =
        sqlx::query_as("SELECT hour, rx_bytes, tx_bytes FROM router_traffic_1h ORDER BY hour")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        hours,
        [
            (day("2030-03-10T10:00:00Z"), 1, 2),
            (day("2030-03-10T11:00:00Z"), 35, 70),
            (day("2030-03-10T12:00:00Z"), 400, 800),
        ]
    );
}

/// Writes a scripted status timeline for the router.
async fn script(pool: &PgPool, fleet: &Fleet, changes: &[(&str, &str, &str)]) {
    for (when, from, to) in changes {
        sqlx::query(
            "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
             SELECT $1, v.tenant_id, v.hub_id, $2, 'status', $3, $4 FROM routers r
             JOIN vpn_configurations v ON v.router_id = r.id WHERE r.id = $1",
        )
        .bind(fleet.router_id)
        .bind(day(when))
        .bind(from)
        .bind(to)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn availability_follows_a_scripted_timeline() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    let now = day("2030-03-31T00:00:00Z");
    let none = store.availability(fleet.router_id, now).await.unwrap();
    assert_eq!((none.day, none.week, none.month), (None, None, None));

    script(
        &db.pool,
        &fleet,
        &[
            // Installed 20 days ago, online since.
            ("2030-03-11T00:00:00Z", "pending", "online"),
            // Down 12 hours five days ago.
            ("2030-03-26T00:00:00Z", "online", "offline"),
            ("2030-03-26T12:00:00Z", "offline", "online"),
            // Stale the last 6 hours.
            ("2030-03-30T18:00:00Z", "online", "stale"),
        ],
    )
    .await;
    let a = store.availability(fleet.router_id, now).await.unwrap();
    assert_eq!(a.day, Some(18.0 / 24.0));
    assert_eq!(a.week, Some((7.0 * 24.0 - 18.0) / (7.0 * 24.0)));
    // Counted from the first known state, 20 days ago, not over 30.
    assert_eq!(a.month, Some((20.0 * 24.0 - 18.0) / (20.0 * 24.0)));
    let json = serde_json::to_value(a).unwrap();
    assert_eq!(json["24h"], 0.75);

    // The router history shows the same changes.
    let past = store
        .router_history(fleet.router_id, now - TimeDelta::days(7), now)
        .await
        .unwrap();
    let moves: Vec<(RouterStatus, RouterStatus)> =
        past.transitions.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        moves,
        [
            (RouterStatus::Online, RouterStatus::Offline),
            (RouterStatus::Offline, RouterStatus::Online),
            (RouterStatus::Online, RouterStatus::Stale),
        ]
    );
}

#[tokio::test]
async fn deleting_a_router_deletes_its_traffic() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    store.maintain_history(Utc::now(), RETENTION).await.unwrap();
    let mut sync = load(&fleet).await;
    sync.sync(
        store,
        &snapshot(&fleet.key, 10, 9, "198.51.100.7:40001", 1000, 500),
    )
    .await
    .unwrap();
    assert_eq!(count(&db.pool, "router_traffic_5m").await, 1);
    store.delete_router("acme", "r1").await.unwrap();
    for table in [
        "router_traffic_5m",
        "router_transitions",
        "router_endpoints",
    ] {
        assert_eq!(count(&db.pool, table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn disabling_and_enabling_are_transitions_the_agent_does_not_repeat() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool).await;
    let store = fleet.provisioner.store();
    store.maintain_history(Utc::now(), RETENTION).await.unwrap();
    let mut sync = load(&fleet).await;
    let up = snapshot(&fleet.key, 10, 9, "198.51.100.7:40001", 1000, 500);
    sync.sync(store, &up).await.unwrap();
    store.set_router_enabled("acme", "r1", false).await.unwrap();
    store.set_router_enabled("acme", "r1", true).await.unwrap();
    let moves: Vec<(String, String)> = sqlx::query_as(
        "SELECT from_status, to_status FROM router_transitions WHERE kind = 'status' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        moves,
        [
            ("pending".into(), "online".into()),
            ("online".into(), "disabled".into()),
            ("disabled".into(), "offline".into()),
        ]
    );
    // The agent reloads what is stored and records only its own news: back online.
    sync.mark_dirty();
    let report = sync
        .sync(
            store,
            &snapshot(&fleet.key, 20, 19, "198.51.100.7:40001", 1100, 600),
        )
        .await
        .unwrap();
    assert_eq!(report.transitions.len(), 1);
    assert_eq!(count(&db.pool, "router_transitions").await, 5);
}
