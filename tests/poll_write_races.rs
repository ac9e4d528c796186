//! A poll's history and outbox rows have no foreign keys (migration 0012): these tests hold
//! the guarantees the keys gave when a router or a webhook endpoint is deleted while an agent
//! writes a poll, against a real PostgreSQL. The deletion waits for the poll's transaction
//! and takes its rows along; a router deleted before the poll gets no rows.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tikwire::alerts::AlertKind;
use tikwire::alerts::endpoints::{self, NewWebhook};
use tikwire::alerts::event::hub_event;
use tikwire::history::{Retention, bucket_start};
use tikwire::model::{AgentIdentity, RouterName, RouterStatus, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};
use tikwire::store::history::{EndpointMove, FirstHandshake, RouterRef, TrafficDelta, Transition};
use tikwire::store::{LinkUpdate, PollWrite, StoredLink, status, webhooks};

const RETENTION: Retention = Retention {
    traffic_days: 14,
    rollup_days: 400,
};

struct Router {
    provisioner: Provisioner,
    hub_id: i64,
    config_id: i64,
    router: RouterRef,
}

async fn one_router(pool: &PgPool) -> Router {
    let provisioner = common::provisioner(pool);
    let hub = common::add_hub(&provisioner, "wg0").await;
    let tenant = TenantName::parse("acme").unwrap();
    provisioner.add_tenant(&tenant).await.unwrap();
    let router = provisioner
        .add_router(&NewRouter {
            tenant,
            hub: None,
            spec: RouterSpec::named(RouterName::parse("r1").unwrap()),
        })
        .await
        .unwrap();
    let (config_id, tenant_id): (i64, i64) =
        sqlx::query_as("SELECT id, tenant_id FROM vpn_configurations WHERE router_id = $1")
            .bind(router.id)
            .fetch_one(pool)
            .await
            .unwrap();
    provisioner
        .store()
        .maintain_history(Utc::now(), RETENTION)
        .await
        .unwrap();
    Router {
        provisioner,
        hub_id: hub.id,
        config_id,
        router: RouterRef {
            router_id: router.id,
            tenant_id,
            tenant: "acme".into(),
            name: "r1".into(),
        },
    }
}

/// The rows of a first poll that sees the router shake hands: every kind of history.
struct FirstPoll {
    at: DateTime<Utc>,
    updates: Vec<LinkUpdate>,
    transitions: Vec<Transition>,
    firsts: Vec<FirstHandshake>,
    endpoints: Vec<EndpointMove>,
    traffic: Vec<TrafficDelta>,
    agent: AgentIdentity,
}

impl FirstPoll {
    fn new(r: &Router) -> Self {
        let at = Utc::now();
        let handshake = at - TimeDelta::seconds(3);
        Self {
            at,
            updates: vec![LinkUpdate {
                id: r.config_id,
                link: StoredLink {
                    status: RouterStatus::Online,
                    first_handshake_at: Some(handshake),
                    last_handshake_at: Some(handshake),
                    last_seen_at: Some(at),
                    last_endpoint: Some("198.51.100.7:40001".into()),
                    rx_bytes: 1000,
                    tx_bytes: 500,
                    last_rx_counter: 1000,
                    last_tx_counter: 500,
                },
            }],
            transitions: vec![Transition {
                router: r.router.clone(),
                hub_id: r.hub_id,
                at,
                from: RouterStatus::Pending,
                to: RouterStatus::Online,
                last_handshake_at: Some(handshake),
            }],
            firsts: vec![FirstHandshake {
                router: r.router.clone(),
                hub_id: r.hub_id,
                at: handshake,
            }],
            endpoints: vec![EndpointMove {
                router_id: r.router.router_id,
                tenant_id: r.router.tenant_id,
                at,
                endpoint: "198.51.100.7:40001".into(),
            }],
            traffic: vec![TrafficDelta {
                router_id: r.router.router_id,
                tenant_id: r.router.tenant_id,
                bucket: bucket_start(at),
                rx_bytes: 1000,
                tx_bytes: 500,
            }],
            agent: AgentIdentity::current(),
        }
    }

    fn write(&self, hub_id: i64) -> PollWrite<'_> {
        PollWrite {
            hub_id,
            updates: &self.updates,
            transitions: &self.transitions,
            first_handshakes: &self.firsts,
            endpoints: &self.endpoints,
            traffic: &self.traffic,
            agent: &self.agent,
            polled_at: self.at,
            peers_seen: 1,
            unknown_peers: 0,
        }
    }
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

const HISTORY: [&str; 3] = [
    "router_transitions",
    "router_endpoints",
    "router_traffic_5m",
];

#[tokio::test]
async fn a_router_deleted_during_a_poll_write_takes_its_new_history_along() {
    let db = common::test_db().await;
    let r = one_router(&db.pool).await;
    let store = r.provisioner.store().clone();
    let poll = FirstPoll::new(&r);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        status::write_poll(&mut tx, &poll.write(r.hub_id))
            .await
            .unwrap(),
        1
    );

    let deleting = tokio::spawn(async move { store.delete_router("acme", "r1").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !deleting.is_finished(),
        "the delete waits for the poll's transaction"
    );
    tx.commit().await.unwrap();
    deleting.await.unwrap().unwrap();
    for table in HISTORY {
        assert_eq!(count(&db.pool, table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn a_router_deleted_before_a_poll_write_gets_no_history() {
    let db = common::test_db().await;
    let r = one_router(&db.pool).await;
    let store = r.provisioner.store();
    // The agent planned before the delete and writes after it.
    let poll = FirstPoll::new(&r);
    store.delete_router("acme", "r1").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        status::write_poll(&mut tx, &poll.write(r.hub_id))
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(count(&db.pool, "router_transitions").await, 0);
    assert_eq!(count(&db.pool, "router_endpoints").await, 0);
}

#[tokio::test]
async fn an_endpoint_removed_during_an_enqueue_takes_its_deliveries_along() {
    let db = common::test_db().await;
    let r = one_router(&db.pool).await;
    let hook = NewWebhook {
        url: "http://127.0.0.1:9/hook".into(),
        name: Some("ops".into()),
        tenant: None,
        events: None,
    };
    endpoints::add(&r.provisioner, &hook).await.unwrap();
    let event = hub_event(AlertKind::HubUp, Utc::now(), "hub1");
    let mut tx = r.provisioner.store().begin().await.unwrap();
    let done = webhooks::enqueue(&mut *tx, Some(r.hub_id), std::slice::from_ref(&event))
        .await
        .unwrap();
    assert_eq!((done.events, done.deliveries), (1, 1));

    let pool = db.pool.clone();
    let removing = tokio::spawn(async move { webhooks::remove_endpoint(&pool, "ops").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !removing.is_finished(),
        "the removal waits for the enqueue's transaction"
    );
    tx.commit().await.unwrap();
    assert!(removing.await.unwrap().unwrap());
    assert_eq!(count(&db.pool, "alert_events").await, 1);
    assert_eq!(count(&db.pool, "webhook_deliveries").await, 0);

    // Pruning events takes their deliveries along too.
    endpoints::add(&r.provisioner, &hook).await.unwrap();
    let old = hub_event(AlertKind::HubUp, Utc::now() - TimeDelta::days(40), "hub1");
    webhooks::enqueue(&db.pool, Some(r.hub_id), &[old])
        .await
        .unwrap();
    assert_eq!(count(&db.pool, "webhook_deliveries").await, 1);
    assert_eq!(webhooks::prune_events(&db.pool, 30).await.unwrap(), 1);
    assert_eq!(count(&db.pool, "webhook_deliveries").await, 0);
}

#[tokio::test]
async fn a_deleted_hub_leaves_its_alerts_without_a_hub() {
    let db = common::test_db().await;
    let provisioner = common::provisioner(&db.pool);
    let hub = common::add_hub(&provisioner, "wg0").await;
    let event = hub_event(AlertKind::HubUp, Utc::now(), "hub1");
    webhooks::enqueue(&db.pool, Some(hub.id), &[event])
        .await
        .unwrap();
    sqlx::query("DELETE FROM hubs WHERE id = $1")
        .bind(hub.id)
        .execute(&db.pool)
        .await
        .unwrap();
    let hubs: Vec<Option<i64>> = sqlx::query_scalar("SELECT hub_id FROM alert_events")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(hubs, vec![None]);
}
