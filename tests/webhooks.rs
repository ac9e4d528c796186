//! Alerts against a real PostgreSQL and a real HTTP receiver (axum on loopback): outbox rows
//! commit with the poll's status write or not at all, signed deliveries verify, retries reach
//! a receiver that failed, a receiver down across a worker restart still gets the event, 410
//! disables the endpoint, the hub watchdog announces a silent hub once and its return.

mod common;
mod webhook_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tikwire::alerts::AlertKind;
use tikwire::alerts::delivery::{DeliveryWorker, RetryPolicy};
use tikwire::alerts::endpoints::{self, NewWebhook};
use tikwire::alerts::signature::SigningKey;
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};
use tikwire::wg::poller::Snapshot;
use tikwire::wg::sync::StatusSync;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use webhook_support::{Receiver, start_receiver, verified};

// ---------------------------------------------------------------------------------------------
// A hub with routers, and its status sync with alerts.

struct Fleet {
    provisioner: Provisioner,
    hub_id: i64,
    keys: HashMap<String, String>,
}

async fn fleet(pool: &PgPool, routers: &[&str]) -> Fleet {
    let provisioner = common::provisioner(pool);
    let hub = common::add_hub(&provisioner, "wg0").await;
    provisioner
        .add_tenant(&TenantName::parse("acme").unwrap())
        .await
        .unwrap();
    let mut keys = HashMap::new();
    for name in routers {
        let router = provisioner
            .add_router(&NewRouter {
                tenant: TenantName::parse("acme").unwrap(),
                hub: None,
                spec: RouterSpec::named(RouterName::parse(name).unwrap()),
            })
            .await
            .unwrap();
        keys.insert((*name).to_owned(), router.public_key.to_string());
    }
    Fleet {
        provisioner,
        hub_id: hub.id,
        keys,
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

/// A snapshot at `taken_at` where each router last shook hands at the given time.
fn snapshot(fleet: &Fleet, taken_at: i64, handshakes: &[(&str, i64)]) -> Snapshot {
    let peers = handshakes
        .iter()
        .map(|(name, hs)| (fleet.keys[*name].as_str(), at(*hs)));
    common::wg0_snapshot(at(taken_at), peers)
}

async fn sync_with_alerts(fleet: &Fleet, wake: Arc<Notify>) -> StatusSync {
    common::agent_sync(fleet.provisioner.store(), fleet.hub_id, "hub1", wake).await
}

async fn add_webhook(p: &Provisioner, url: &str, events: Option<Vec<AlertKind>>) -> SigningKey {
    let (_, key) = endpoints::add(
        p,
        &NewWebhook {
            url: url.into(),
            name: Some("noc".into()),
            tenant: None,
            events,
        },
    )
    .await
    .unwrap();
    key
}

async fn event_types(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM alert_events ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn status_of(pool: &PgPool, key: &str) -> String {
    sqlx::query_scalar("SELECT status FROM vpn_configurations WHERE client_public_key = $1")
        .bind(key)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn fast_worker(p: &Provisioner, wake: Arc<Notify>) -> DeliveryWorker {
    DeliveryWorker::new(p.clone(), wake, None)
        .unwrap()
        .with_policy(RetryPolicy {
            first: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            give_up_after: Duration::from_secs(3600),
        })
}

/// The hub's agent has been silent for longer than three of its intervals (5 s).
async fn agent_silent(pool: &PgPool) {
    sqlx::query("UPDATE alert_hub_watch SET last_poll_at = now() - interval '16 seconds'")
        .execute(pool)
        .await
        .unwrap();
}

/// Waits (bounded) until `check` holds.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Delivery {
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    delivered: bool,
    failed: bool,
    /// Seconds from the last attempt to the next.
    retry_in: f64,
}

async fn deliveries(pool: &PgPool) -> Vec<Delivery> {
    sqlx::query_as(
        "SELECT attempts, last_status, last_error, delivered_at IS NOT NULL AS delivered,
                failed_at IS NOT NULL AS failed,
                coalesce(extract(epoch FROM next_attempt_at - last_attempt_at)::float8, 0) AS retry_in
         FROM webhook_deliveries ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn outbox_rows_commit_with_the_poll_or_not_at_all() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1", "r2", "r3"]).await;
    add_webhook(&fleet.provisioner, "http://127.0.0.1:9/hook", None).await;
    let store = fleet.provisioner.store();
    let mut sync = sync_with_alerts(&fleet, Arc::new(Notify::new())).await;

    // All three shake hands for the first time.
    sync.sync(
        store,
        &snapshot(&fleet, 100, &[("r1", 95), ("r2", 95), ("r3", 95)]),
    )
    .await
    .unwrap();
    assert_eq!(
        event_types(&db.pool).await,
        vec!["router.first_handshake"; 3]
    );
    assert_eq!(
        deliveries(&db.pool).await.len(),
        3,
        "one per endpoint and event"
    );

    // The outbox insert fails: the status write goes with it.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON alert_events FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let failed = sync
        .sync(
            store,
            &snapshot(&fleet, 200, &[("r1", 95), ("r2", 195), ("r3", 195)]),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(
        status_of(&db.pool, &fleet.keys["r1"]).await,
        "online",
        "rolled back"
    );
    assert_eq!(event_types(&db.pool).await.len(), 3);

    // The status write fails: no outbox rows either.
    sqlx::raw_sql(
        "DROP TRIGGER refuse ON alert_events;
         CREATE TRIGGER refuse BEFORE UPDATE ON vpn_configurations FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let failed = sync
        .sync(
            store,
            &snapshot(&fleet, 205, &[("r1", 95), ("r2", 200), ("r3", 200)]),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(event_types(&db.pool).await.len(), 3);

    // The database works again: the disconnect seen by the failed polls is written once,
    // with the status.
    sqlx::raw_sql("DROP TRIGGER refuse ON vpn_configurations")
        .execute(&db.pool)
        .await
        .unwrap();
    sync.sync(
        store,
        &snapshot(&fleet, 210, &[("r1", 95), ("r2", 205), ("r3", 205)]),
    )
    .await
    .unwrap();
    assert_eq!(status_of(&db.pool, &fleet.keys["r1"]).await, "stale");
    let types = event_types(&db.pool).await;
    assert_eq!(types[3..], ["router.stale"]);
    let body: serde_json::Value =
        sqlx::query_scalar("SELECT body FROM alert_events WHERE type = 'router.stale'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(body["type"], "router.stale");
    assert_eq!(body["data"]["tenant"], "acme");
    assert_eq!(body["data"]["router"], "r1");
    assert_eq!(body["data"]["hub"], "hub1");
    assert_eq!(body["data"]["from"], "online");
    assert_eq!(body["data"]["to"], "stale");
    assert_eq!(body["data"]["vpn_ip"], "10.100.1.1");
    assert!(body["data"]["last_handshake_at"].is_string());
}

#[tokio::test]
async fn deliveries_are_signed_and_a_receiver_failing_twice_gets_the_event_once() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1"]).await;
    let (receiver, url, _stop) = start_receiver().await;
    let key = add_webhook(
        &fleet.provisioner,
        &url,
        Some(vec![AlertKind::RouterFirstHandshake]),
    )
    .await;
    receiver.answer(&[(500, None), (503, Some("1"))]);
    let wake = Arc::new(Notify::new());
    let mut sync = sync_with_alerts(&fleet, wake.clone()).await;
    sync.sync(
        fleet.provisioner.store(),
        &snapshot(&fleet, 100, &[("r1", 95)]),
    )
    .await
    .unwrap();

    let worker = fast_worker(&fleet.provisioner, wake);
    until("two attempts", async || {
        worker.deliver_due().await.unwrap();
        deliveries(&db.pool).await[0].attempts == 2
    })
    .await;
    let after_two = deliveries(&db.pool).await;
    assert_eq!(after_two.len(), 1);
    assert_eq!(after_two[0].attempts, 2);
    assert_eq!(after_two[0].last_status, Some(503));
    // Retry-After: 1 honoured (not the 100 ms backoff, not the 60 s lease).
    assert!(
        (1.0..5.0).contains(&after_two[0].retry_in),
        "{}",
        after_two[0].retry_in
    );
    until("the third attempt", async || {
        worker.deliver_due().await.unwrap();
        deliveries(&db.pool).await[0].delivered
    })
    .await;

    let got = receiver.got();
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![500, 503, 204]
    );
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one webhook-id across retries"
    );
    for request in &got {
        let body = verified(request, &key);
        assert_eq!(body["type"], "router.first_handshake");
        assert_eq!(body["data"]["router"], "r1");
        assert!(!request.body.contains("private") && !request.body.contains("whsec"));
    }
    // A wrong secret does not verify.
    let other = SigningKey::generate();
    let r = &got[2];
    let header = |n: &str| r.headers[n].to_str().unwrap().to_owned();
    assert!(!other.verify(
        &header("webhook-id"),
        header("webhook-timestamp").parse().unwrap(),
        r.body.as_bytes(),
        &header("webhook-signature")
    ));
    let done = &deliveries(&db.pool).await[0];
    assert_eq!((done.attempts, done.last_status), (3, Some(204)));
    // Nothing more to send: the event was accepted once.
    assert_eq!(worker.deliver_due().await.unwrap(), 0);
    assert_eq!(receiver.got().len(), 3);

    let list = endpoints::list(&fleet.provisioner).await.unwrap();
    assert_eq!(
        (list[0].delivered, list[0].pending, list[0].failed),
        (1, 0, 0)
    );
    assert!(!format!("{list:?}").contains(&key.to_secret_string()[6..]));
}

#[tokio::test]
async fn a_receiver_down_across_a_worker_restart_still_gets_the_event() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1"]).await;
    // A port nobody listens on yet.
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = parked.local_addr().unwrap();
    drop(parked);
    let url = format!("http://{addr}/hook");
    let key = add_webhook(&fleet.provisioner, &url, None).await;
    let wake = Arc::new(Notify::new());
    let mut sync = sync_with_alerts(&fleet, wake.clone()).await;
    sync.sync(
        fleet.provisioner.store(),
        &snapshot(&fleet, 100, &[("r1", 95)]),
    )
    .await
    .unwrap();

    // The first worker tries and fails, then stops (the agent restarts).
    let cancel = CancellationToken::new();
    let first = tokio::spawn(fast_worker(&fleet.provisioner, wake.clone()).run(cancel.clone()));
    until("a failed attempt", async || {
        deliveries(&db.pool).await[0].attempts >= 2
    })
    .await;
    cancel.cancel();
    first.await.unwrap();
    let before = &deliveries(&db.pool).await[0];
    assert!(!before.delivered);
    assert!(
        before.last_error.as_deref().unwrap().contains("connect"),
        "{:?}",
        before.last_error
    );

    // The receiver comes up; a new worker (new pool: a new process) delivers.
    let receiver = Receiver::default();
    let _stop = receiver.serve(tokio::net::TcpListener::bind(addr).await.unwrap());
    let again = common::provisioner(&PgPool::connect(&db.url).await.unwrap());
    let cancel = CancellationToken::new();
    let second = tokio::spawn(fast_worker(&again, Arc::new(Notify::new())).run(cancel.clone()));
    until("the delivery", async || {
        deliveries(&db.pool).await[0].delivered
    })
    .await;
    cancel.cancel();
    second.await.unwrap();
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(verified(&got[0], &key)["type"], "router.first_handshake");
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1", "r2"]).await;
    let (receiver, url, _stop) = start_receiver().await;
    add_webhook(&fleet.provisioner, &url, None).await;
    receiver.answer(&[(410, None)]);
    let wake = Arc::new(Notify::new());
    let mut sync = sync_with_alerts(&fleet, wake.clone()).await;
    let store = fleet.provisioner.store();
    sync.sync(store, &snapshot(&fleet, 100, &[("r1", 95)]))
        .await
        .unwrap();
    let worker = fast_worker(&fleet.provisioner, wake);
    worker.deliver_due().await.unwrap();

    let list = endpoints::list(&fleet.provisioner).await.unwrap();
    assert!(!list[0].enabled);
    assert!(list[0].disabled_reason.as_deref().unwrap().contains("410"));
    assert_eq!(list[0].failed, 1);
    let gone = &deliveries(&db.pool).await[0];
    assert!(gone.failed && !gone.delivered);
    assert_eq!(gone.last_status, Some(410));
    // Later events are not queued for it, and nothing more is sent.
    sync.sync(store, &snapshot(&fleet, 105, &[("r1", 100), ("r2", 100)]))
        .await
        .unwrap();
    assert_eq!(event_types(&db.pool).await.len(), 2);
    assert_eq!(deliveries(&db.pool).await.len(), 1);
    assert_eq!(worker.deliver_due().await.unwrap(), 0);
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn a_silent_hub_is_announced_once_by_any_watcher_and_its_return_too() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1"]).await;
    let (receiver, url, _stop) = start_receiver().await;
    let key = add_webhook(&fleet.provisioner, &url, None).await;
    let mut sync = sync_with_alerts(&fleet, Arc::new(Notify::new())).await;
    let store = fleet.provisioner.store();
    sync.sync(store, &snapshot(&fleet, 100, &[("r1", 95)]))
        .await
        .unwrap();

    agent_silent(&db.pool).await;
    // Two watchers (two agents, or an agent and `serve`) look at once: one announcement.
    let a = fast_worker(&fleet.provisioner, Arc::new(Notify::new()));
    let other = common::provisioner(&PgPool::connect(&db.url).await.unwrap());
    let b = fast_worker(&other, Arc::new(Notify::new()));
    let (na, nb) = tokio::join!(a.watch_hubs(), b.watch_hubs());
    assert_eq!(na.unwrap() + nb.unwrap(), 1);
    assert_eq!(a.watch_hubs().await.unwrap(), 0, "announced already");
    // The agent polls again: hub.up, in its poll's transaction.
    sync.sync(store, &snapshot(&fleet, 110, &[("r1", 105)]))
        .await
        .unwrap();
    let types = event_types(&db.pool).await;
    assert_eq!(types, ["router.first_handshake", "hub.down", "hub.up"]);

    while a.deliver_due().await.unwrap() > 0 {}
    let got = receiver.got();
    let bodies: Vec<_> = got.iter().map(|r| verified(r, &key)).collect();
    let down = bodies.iter().find(|b| b["type"] == "hub.down").unwrap();
    assert_eq!(down["data"]["hub"], "hub1");
    assert!(bodies.iter().any(|b| b["type"] == "hub.up"));
}

/// Not an assertion: prints how long from the poll that sees a disconnect to the webhook
/// request arriving at the receiver, with the worker woken by the agent's commit.
#[tokio::test]
async fn measure_disconnect_to_webhook_latency() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1", "r2", "r3", "r4", "r5", "r6"]).await;
    let (receiver, url, _stop) = start_receiver().await;
    add_webhook(&fleet.provisioner, &url, Some(vec![AlertKind::RouterStale])).await;
    let wake = Arc::new(Notify::new());
    let mut sync = sync_with_alerts(&fleet, wake.clone()).await;
    let store = fleet.provisioner.store();
    let all: Vec<(&str, i64)> = ["r1", "r2", "r3", "r4", "r5", "r6"]
        .iter()
        .map(|n| (*n, 95))
        .collect();
    sync.sync(store, &snapshot(&fleet, 100, &all))
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let worker = tokio::spawn(fast_worker(&fleet.provisioner, wake).run(cancel.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut samples = Vec::new();
    for (i, name) in ["r1", "r2", "r3", "r4", "r5"].iter().enumerate() {
        // 100 s apart: the router that stops shaking hands is stale at the next poll.
        let now = 200 + 100 * i as i64;
        let handshakes: Vec<(&str, i64)> = all
            .iter()
            .map(|(n, _)| (*n, if n == name { 95 } else { now - 1 }))
            .collect();
        let before = receiver.got().len();
        let started = Instant::now();
        sync.sync(store, &snapshot(&fleet, now, &handshakes))
            .await
            .unwrap();
        while receiver.got().len() == before {
            if started.elapsed() > Duration::from_secs(10) {
                panic!(
                    "no webhook: events {:?}, deliveries {:?}",
                    event_types(&db.pool).await,
                    deliveries(&db.pool).await
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(started.elapsed());
    }
    cancel.cancel();
    worker.await.unwrap();
    samples.sort();
    println!(
        "disconnect poll -> webhook request: min {:?}, median {:?}, max {:?} ({} samples)",
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
        samples.len()
    );
    assert_eq!(receiver.got().len(), 5);
}

#[tokio::test]
async fn a_storm_reaches_each_tenant_endpoint_with_only_its_routers() {
    let db = common::test_db().await;
    let mut fleet = fleet(&db.pool, &["a1", "a2", "a3"]).await;
    fleet
        .provisioner
        .add_tenant(&TenantName::parse("beta").unwrap())
        .await
        .unwrap();
    for name in ["b1", "b2"] {
        let router = fleet
            .provisioner
            .add_router(&NewRouter {
                tenant: TenantName::parse("beta").unwrap(),
                hub: None,
                spec: RouterSpec::named(RouterName::parse(name).unwrap()),
            })
            .await
            .unwrap();
        fleet
            .keys
            .insert(name.into(), router.public_key.to_string());
    }
    add_webhook(&fleet.provisioner, "http://127.0.0.1:9/all", None).await;
    endpoints::add(
        &fleet.provisioner,
        &NewWebhook {
            url: "http://127.0.0.1:9/beta".into(),
            name: Some("beta-noc".into()),
            tenant: Some("beta".into()),
            events: None,
        },
    )
    .await
    .unwrap();
    let mut sync = sync_with_alerts(&fleet, Arc::new(Notify::new())).await;
    let store = fleet.provisioner.store();
    let all = [("a1", 95), ("a2", 95), ("a3", 95), ("b1", 95), ("b2", 95)];
    sync.sync(store, &snapshot(&fleet, 100, &all))
        .await
        .unwrap();
    // Four of five drop in one poll: a storm.
    sync.sync(store, &snapshot(&fleet, 200, &[("a3", 199)]))
        .await
        .unwrap();

    let received: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT e.name, ev.type, ev.body FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN alert_events ev ON ev.id = d.event_id
         WHERE ev.type <> 'router.first_handshake' ORDER BY e.name, ev.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let summary: Vec<(&str, &str, &serde_json::Value, &serde_json::Value)> = received
        .iter()
        .map(|(e, t, b)| {
            (
                e.as_str(),
                t.as_str(),
                &b["data"]["routers"],
                &b["data"]["sample"],
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "beta-noc",
                "hub.storm",
                &serde_json::json!(2),
                &serde_json::json!(["beta/b1", "beta/b2"])
            ),
            (
                "noc",
                "hub.storm",
                &serde_json::json!(4),
                &serde_json::json!(["acme/a1", "acme/a2", "beta/b1", "beta/b2"])
            ),
        ]
    );
    // Beta's endpoint heard nothing of acme's first handshakes either.
    let beta_events: Vec<String> = sqlx::query_scalar(
        "SELECT ev.body->'data'->>'tenant' FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN alert_events ev ON ev.id = d.event_id
         WHERE e.name = 'beta-noc'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(beta_events.iter().all(|t| t == "beta"), "{beta_events:?}");
}

/// `hub.down` and `hub.up` concern every tenant the hub serves: endpoints without a tenant,
/// and those of tenants whose home is the hub or who have a router on it; not the endpoints
/// of a tenant served elsewhere, nor those filtering the types out. The watchdog's `hub.down`
/// also wakes the consoles (as a status change of the hub).
#[tokio::test]
async fn a_silent_hub_is_told_to_the_tenants_it_serves() {
    use tikwire::model::HubName;
    use tikwire::store::notify::{ChangeKind, ChangeListener};

    let db = common::test_db().await;
    let mut fleet = fleet(&db.pool, &["a1"]).await;
    let p = fleet.provisioner.clone();
    let hub2 = HubName::parse("hub2").unwrap();
    let other = p
        .add_hub(&tikwire::provision::NewHub::new(
            hub2.clone(),
            tikwire::model::Endpoint::parse("vpn2.example.com:51820").unwrap(),
            tikwire::model::InterfaceName::parse("wg1").unwrap(),
            51820,
        ))
        .await
        .unwrap();
    // globex lives on hub2 but has one router on hub1 (placed before its home moved, as the
    // migration to home hubs leaves such routers); initech lives on hub2 only.
    p.add_tenant_on(
        &TenantName::parse("globex").unwrap(),
        Some(&HubName::parse("hub1").unwrap()),
    )
    .await
    .unwrap();
    let g1 = p
        .add_router(&NewRouter {
            tenant: TenantName::parse("globex").unwrap(),
            hub: None,
            spec: RouterSpec::named(RouterName::parse("g1").unwrap()),
        })
        .await
        .unwrap();
    fleet.keys.insert("g1".into(), g1.public_key.to_string());
    sqlx::query("UPDATE tenants SET hub_id = $1 WHERE name = 'globex'")
        .bind(other.id)
        .execute(&db.pool)
        .await
        .unwrap();
    p.add_tenant_on(&TenantName::parse("initech").unwrap(), Some(&hub2))
        .await
        .unwrap();
    p.add_router(&NewRouter {
        tenant: TenantName::parse("initech").unwrap(),
        hub: None,
        spec: RouterSpec::named(RouterName::parse("i1").unwrap()),
    })
    .await
    .unwrap();
    let homes: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, hub_id FROM tenants ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        homes,
        [
            ("acme".into(), fleet.hub_id),
            ("globex".into(), other.id),
            ("initech".into(), other.id)
        ]
    );
    add_webhook(&p, "http://127.0.0.1:9/all", None).await;
    for (name, tenant, events) in [
        ("acme-noc", "acme", None),
        ("globex-noc", "globex", None),
        ("initech-noc", "initech", None),
        ("acme-routers", "acme", Some(vec![AlertKind::RouterOffline])),
    ] {
        endpoints::add(
            &p,
            &NewWebhook {
                url: format!("http://127.0.0.1:9/{name}"),
                name: Some(name.into()),
                tenant: Some(tenant.into()),
                events,
            },
        )
        .await
        .unwrap();
    }
    let mut sync = sync_with_alerts(&fleet, Arc::new(Notify::new())).await;
    let store = p.store();
    sync.sync(store, &snapshot(&fleet, 100, &[("a1", 95), ("g1", 95)]))
        .await
        .unwrap();

    agent_silent(&db.pool).await;
    let mut listener = ChangeListener::from_store(store).await.unwrap();
    let worker = fast_worker(&p, Arc::new(Notify::new()));
    assert_eq!(worker.watch_hubs().await.unwrap(), 1);
    let change = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("consoles hear of hub.down")
        .unwrap()
        .unwrap();
    assert_eq!(change.kind, ChangeKind::StatusUpdated);
    assert_eq!(change.hub_id, Some(fleet.hub_id));
    // The agent polls again: hub.up, to the same endpoints.
    sync.sync(store, &snapshot(&fleet, 110, &[("a1", 105), ("g1", 105)]))
        .await
        .unwrap();

    let told: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT ev.type, e.name, t.name FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN alert_events ev ON ev.id = d.event_id
         LEFT JOIN tenants t ON t.id = d.tenant_id
         WHERE ev.type LIKE 'hub.%' ORDER BY ev.id, e.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = |kind: &str| {
        [
            (
                kind.to_owned(),
                "acme-noc".to_owned(),
                Some("acme".to_owned()),
            ),
            (
                kind.to_owned(),
                "globex-noc".to_owned(),
                Some("globex".to_owned()),
            ),
            (kind.to_owned(), "noc".to_owned(), None),
        ]
    };
    let mut want = expected("hub.down").to_vec();
    want.extend(expected("hub.up"));
    assert_eq!(told, want, "each delivery belongs to its endpoint's tenant");
}

#[tokio::test]
async fn old_alerts_are_pruned_with_their_deliveries() {
    use tikwire::alerts::event::hub_event;
    use tikwire::store::webhooks;
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &[]).await;
    add_webhook(&fleet.provisioner, "http://127.0.0.1:9/hook", None).await;
    let old = hub_event(
        AlertKind::HubDown,
        Utc::now() - chrono::Duration::days(31),
        "hub1",
    );
    let new = hub_event(AlertKind::HubUp, Utc::now(), "hub1");
    webhooks::enqueue(&db.pool, Some(fleet.hub_id), &[old, new])
        .await
        .unwrap();
    assert_eq!(deliveries(&db.pool).await.len(), 2);
    assert_eq!(webhooks::prune_events(&db.pool, 30).await.unwrap(), 1);
    assert_eq!(event_types(&db.pool).await, ["hub.up"]);
    assert_eq!(deliveries(&db.pool).await.len(), 1);
}

#[tokio::test]
async fn an_agent_restart_recalls_what_was_said() {
    use tikwire::store::webhooks;
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1", "r2"]).await;
    let store = fleet.provisioner.store();
    let mut first = sync_with_alerts(&fleet, Arc::new(Notify::new())).await;
    first
        .sync(store, &snapshot(&fleet, 100, &[("r1", 95), ("r2", 95)]))
        .await
        .unwrap();
    first
        .sync(store, &snapshot(&fleet, 200, &[("r2", 199)]))
        .await
        .unwrap();
    assert_eq!(event_types(&db.pool).await[2..], ["router.stale"]);
    drop(first);

    // A new agent: what was said comes from the outbox.
    let mut second = sync_with_alerts(&fleet, Arc::new(Notify::new())).await;
    let said = webhooks::last_router_alerts(&db.pool, fleet.hub_id)
        .await
        .unwrap();
    assert_eq!(said, [(1, AlertKind::RouterStale)]);
    second.alerts_mut().unwrap().recall(said);
    second
        .sync(store, &snapshot(&fleet, 205, &[("r1", 204), ("r2", 204)]))
        .await
        .unwrap();
    second
        .sync(store, &snapshot(&fleet, 270, &[("r1", 269), ("r2", 269)]))
        .await
        .unwrap();
    assert_eq!(
        event_types(&db.pool).await[2..],
        ["router.stale", "router.online"]
    );
}
