//! Status sync against a real PostgreSQL: what one poll writes, that it writes only what
//! changed (in one statement, with one NOTIFY), counters across resets, ageing, disabled
//! routers, unknown peers and the agent heartbeat.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tikwire::events::ChangeKind;
use tikwire::model::AgentIdentity;
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};
use tikwire::store::notify::ChangeListener;
use tikwire::wg::poller::{PeerStats, Snapshot};
use tikwire::wg::status::Thresholds;
use tikwire::wg::sync::StatusSync;

const STRANGER: &str = "cGNGHGTQjJQCrV2Kp8cKzxDkNLZrri1nj+3S3VumoVg=";

struct Fleet {
    provisioner: Provisioner,
    hub_id: i64,
    /// router name -> public key
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

fn seen(handshake: Option<i64>, rx: u64, tx: u64) -> PeerStats {
    PeerStats {
        endpoint: Some("198.51.100.7:40001".parse().unwrap()),
        last_handshake: handshake.map(at),
        rx_bytes: rx,
        tx_bytes: tx,
        persistent_keepalive: None,
        allowed_ips: vec!["10.100.1.1/32".parse().unwrap()],
        has_preshared_key: true,
    }
}

fn snapshot(taken_at: i64, peers: Vec<(&str, PeerStats)>) -> Snapshot {
    Snapshot {
        interface: "wg0".into(),
        taken_at: at(taken_at),
        public_key: None,
        listen_port: 51820,
        peers: peers
            .into_iter()
            .map(|(k, p)| (k.parse().unwrap(), p))
            .collect(),
    }
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Row {
    status: String,
    first_handshake_at: Option<DateTime<Utc>>,
    last_handshake_at: Option<DateTime<Utc>>,
    last_endpoint: Option<String>,
    rx_bytes: i64,
    tx_bytes: i64,
    last_rx_counter: i64,
}

async fn row(pool: &PgPool, key: &str) -> Row {
    sqlx::query_as(
        "SELECT status, first_handshake_at, last_handshake_at, last_endpoint, rx_bytes, tx_bytes, last_rx_counter
         FROM vpn_configurations WHERE client_public_key = $1",
    )
    .bind(key)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn load(fleet: &Fleet) -> StatusSync {
    StatusSync::load(
        fleet.provisioner.store(),
        fleet.hub_id,
        Thresholds::default(),
        AgentIdentity::current(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_poll_writes_status_endpoint_counters_and_announces_it() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1", "r2"]).await;
    let (k1, k2) = (&fleet.keys["r1"], &fleet.keys["r2"]);
    let mut sync = load(&fleet).await;
    assert_eq!(sync.known_count(), 2);
    let mut listener = ChangeListener::connect(&db.url).await.unwrap();

    let report = sync
        .sync(
            fleet.provisioner.store(),
            &snapshot(100, vec![(k1, seen(Some(95), 1500, 900))]),
        )
        .await
        .unwrap();
    assert_eq!(report.rows_updated, 1, "r2 did not change");
    assert_eq!(report.transitions.len(), 1);
    assert_eq!(report.transitions[0].router.label(), "acme/r1");
    let r1 = row(&db.pool, k1).await;
    assert_eq!(
        r1,
        Row {
            status: "online".into(),
            first_handshake_at: Some(at(95)),
            last_handshake_at: Some(at(95)),
            last_endpoint: Some("198.51.100.7:40001".into()),
            rx_bytes: 1500,
            tx_bytes: 900,
            last_rx_counter: 1500,
        }
    );
    assert_eq!(row(&db.pool, k2).await.status, "pending");

    let change = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.kind, change.hub_id),
        (ChangeKind::StatusUpdated, Some(fleet.hub_id))
    );

    // Nothing new: no row written, no announcement. The next announcement is the operator's.
    let again = sync
        .sync(
            fleet.provisioner.store(),
            &snapshot(101, vec![(k1, seen(Some(95), 1500, 900))]),
        )
        .await
        .unwrap();
    assert_eq!(again.rows_updated, 0);
    fleet
        .provisioner
        .store()
        .set_router_enabled("acme", "r2", false)
        .await
        .unwrap();
    let change = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        change.kind,
        ChangeKind::RouterDisabled,
        "no status NOTIFY for a poll that changed nothing"
    );
}

#[tokio::test]
async fn counters_survive_resets_and_status_ages_without_news() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1"]).await;
    let k1 = &fleet.keys["r1"];
    let mut sync = load(&fleet).await;

    sync.sync(
        fleet.provisioner.store(),
        &snapshot(10, vec![(k1, seen(Some(5), 1000, 2000))]),
    )
    .await
    .unwrap();
    sync.sync(
        fleet.provisioner.store(),
        &snapshot(20, vec![(k1, seen(Some(5), 1600, 2100))]),
    )
    .await
    .unwrap();
    // The interface restarted: raw counters start over, the handshake is not shown yet.
    sync.sync(
        fleet.provisioner.store(),
        &snapshot(30, vec![(k1, seen(None, 50, 70))]),
    )
    .await
    .unwrap();
    let r = row(&db.pool, k1).await;
    assert_eq!(
        (r.rx_bytes, r.tx_bytes, r.last_rx_counter),
        (1650, 2170, 50)
    );
    assert_eq!(r.last_handshake_at, Some(at(5)));
    assert_eq!(r.first_handshake_at, Some(at(5)));

    // A fresh agent continues from what is stored.
    let mut restarted = load(&fleet).await;
    restarted
        .sync(
            fleet.provisioner.store(),
            &snapshot(40, vec![(k1, seen(Some(35), 80, 70))]),
        )
        .await
        .unwrap();
    let r = row(&db.pool, k1).await;
    assert_eq!((r.rx_bytes, r.tx_bytes), (1680, 2170));
    assert_eq!(
        r.first_handshake_at,
        Some(at(5)),
        "first handshake never moves"
    );

    // No handshakes any more, the peer even gone from the interface: ages to stale, offline,
    // from its last sign of life (bytes received at 40).
    restarted
        .sync(fleet.provisioner.store(), &snapshot(40 + 300, vec![]))
        .await
        .unwrap();
    assert_eq!(row(&db.pool, k1).await.status, "stale");
    restarted
        .sync(fleet.provisioner.store(), &snapshot(40 + 601, vec![]))
        .await
        .unwrap();
    assert_eq!(row(&db.pool, k1).await.status, "offline");
    assert_eq!(row(&db.pool, k1).await.rx_bytes, 1680);
}

#[tokio::test]
async fn disabled_routers_stay_disabled_even_when_disabled_behind_our_back() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1", "r2"]).await;
    let (k1, k2) = (&fleet.keys["r1"], &fleet.keys["r2"]);
    let mut sync = load(&fleet).await;
    fleet
        .provisioner
        .store()
        .set_router_enabled("acme", "r1", false)
        .await
        .unwrap();
    // Not reloaded yet: the in-memory copy still thinks r1 is enabled.
    let report = sync
        .sync(
            fleet.provisioner.store(),
            &snapshot(
                100,
                vec![(k1, seen(Some(99), 10, 10)), (k2, seen(Some(99), 10, 10))],
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        report.rows_updated, 1,
        "the write for r1 is refused by the enabled guard"
    );
    assert_eq!(row(&db.pool, k1).await.status, "disabled");
    assert_eq!(row(&db.pool, k2).await.status, "online");

    sync.mark_dirty();
    sync.sync(
        fleet.provisioner.store(),
        &snapshot(110, vec![(k1, seen(Some(109), 20, 20))]),
    )
    .await
    .unwrap();
    assert_eq!(row(&db.pool, k1).await.status, "disabled");

    // A router deleted while the copy still has it: nothing to update, no error.
    fleet
        .provisioner
        .store()
        .delete_router("acme", "r2")
        .await
        .unwrap();
    sync.sync(fleet.provisioner.store(), &snapshot(400, vec![]))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_peers_and_heartbeat_are_stored_for_unprivileged_consoles() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &["r1"]).await;
    let k1 = &fleet.keys["r1"];
    let mut sync = load(&fleet).await;

    let mut stranger = seen(Some(50), 1, 1);
    stranger.allowed_ips = vec![
        "10.100.9.9/32".parse().unwrap(),
        "10.100.9.10/32".parse().unwrap(),
    ];
    let report = sync
        .sync(
            fleet.provisioner.store(),
            &snapshot(
                60,
                vec![(k1, seen(None, 0, 0)), (STRANGER, stranger.clone())],
            ),
        )
        .await
        .unwrap();
    assert_eq!(report.new_unknown, vec![STRANGER.parse().unwrap()]);
    let unknown: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT public_key, endpoint, allowed_ips FROM wg_unknown_peers WHERE hub_id = $1",
    )
    .bind(fleet.hub_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        unknown,
        vec![(
            STRANGER.to_owned(),
            Some("198.51.100.7:40001".to_owned()),
            "10.100.9.9/32,10.100.9.10/32".to_owned()
        )]
    );
    let beat: (i32, i32, Option<String>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT peers, unknown_peers, last_error, last_poll_at FROM wg_agent_status WHERE hub_id = $1")
            .bind(fleet.hub_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(beat, (2, 1, None, Some(at(60))));

    // Seen again unchanged: not reported as new.
    let report = sync
        .sync(
            fleet.provisioner.store(),
            &snapshot(65, vec![(STRANGER, stranger)]),
        )
        .await
        .unwrap();
    assert!(report.new_unknown.is_empty());

    sync.record_error(fleet.provisioner.store(), "interface wg0 does not exist")
        .await
        .unwrap();
    let error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM wg_agent_status WHERE hub_id = $1")
            .bind(fleet.hub_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(error.as_deref(), Some("interface wg0 does not exist"));

    // The stranger left and polling works again: table emptied, error cleared.
    sync.sync(fleet.provisioner.store(), &snapshot(70, vec![]))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM wg_unknown_peers")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM wg_agent_status WHERE hub_id = $1")
            .bind(fleet.hub_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(error, None);
}

#[tokio::test]
async fn thousands_of_rows_one_statement() {
    let db = common::test_db().await;
    let fleet = fleet(&db.pool, &[]).await;
    let specs: Vec<RouterSpec> = (0..3000)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("bulk{i}")).unwrap()))
        .collect();
    fleet
        .provisioner
        .import_routers(&TenantName::parse("acme").unwrap(), None, &specs)
        .await
        .unwrap();
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT client_public_key FROM vpn_configurations ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let mut sync = load(&fleet).await;
    assert_eq!(sync.known_count(), 3000);
    let peers: Vec<(&str, PeerStats)> = keys
        .iter()
        .map(|k| (k.as_str(), seen(Some(100), 10, 20)))
        .collect();
    let report = sync
        .sync(fleet.provisioner.store(), &snapshot(110, peers))
        .await
        .unwrap();
    assert_eq!(report.rows_updated, 3000);
    let online: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM vpn_configurations WHERE status = 'online' AND rx_bytes = 10",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(online, 3000);
}
