//! The agent loop against a real wireguard-go interface and a real PostgreSQL that goes away
//! and comes back (the agent reaches it through a proxy the test can cut).
//! Skipped, with the reason printed, without root and the WireGuard tools.

mod common;
mod wg_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use tikwire::embedded_pg::socket_url;
use tikwire::ipam::IpamConfig;
use tikwire::model::{Endpoint, HubName, InterfaceName, RouterName, TenantName};
use tikwire::provision::{NewHub, NewRouter, Provisioner, RouterSpec};
use tikwire::store::Store;
use tikwire::vault::{MasterKeySource, Vault};
use tikwire::wg::agent::{Agent, AgentConfig};
use tikwire::wg::apply::Tools;
use tikwire::wg::plan::ReconcileOptions;
use tikwire::wg::status::Thresholds;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use wg_support::{Netns, live_unavailable};

const SOCKET: &str = ".s.PGSQL.5432";

/// A Unix-socket proxy in front of the test server; `cut` drops it and every connection.
struct DbProxy {
    dir: PathBuf,
    target: PathBuf,
    tasks: JoinSet<()>,
}

impl DbProxy {
    fn new(target_dir: &Path) -> Self {
        let dir = std::env::temp_dir().join(format!("tikwire-dbproxy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut proxy = Self {
            dir,
            target: target_dir.join(SOCKET),
            tasks: JoinSet::new(),
        };
        proxy.open();
        proxy
    }

    fn open(&mut self) {
        let path = self.dir.join(SOCKET);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let target = self.target.clone();
        self.tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = UnixStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// The database "goes away": no new connections, existing ones broken.
    fn cut(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.tasks.abort_all();
        let _ = std::fs::remove_file(self.dir.join(SOCKET));
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn new_router(name: &str) -> NewRouter {
    NewRouter {
        tenant: TenantName::parse("acme").unwrap(),
        hub: None,
        spec: RouterSpec::named(RouterName::parse(name).unwrap()),
    }
}

/// Waits, bounded so a broken agent fails the test instead of hanging it.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting: {what}");
}

#[tokio::test]
async fn agent_applies_changes_and_survives_the_database_going_away() {
    if let Some(reason) = live_unavailable() {
        eprintln!("SKIPPED agent live test: {reason}");
        return;
    }
    let db = common::test_db().await;
    let Some(socket_dir) = common::socket_dir() else {
        eprintln!("SKIPPED agent live test: needs the harness's own server (DATABASE_URL is set)");
        return;
    };
    let mut ns = Netns::new("ag");
    let ifname = ns.name.clone();
    ns.add_wireguard(&ifname);
    let tools = Tools {
        wg: ns.wrapper("wg"),
        ip: ns.wrapper("ip"),
    };

    // The operator's side, straight to the database.
    let admin = Provisioner::new(
        Store::from_pool(db.pool.clone()),
        Vault::from_key(&[42; 32], MasterKeySource::Env),
        IpamConfig::default(),
    );
    admin
        .add_hub(&NewHub {
            name: HubName::parse("hub1").unwrap(),
            endpoint: Endpoint::parse("vpn.example.com:51820").unwrap(),
            interface: InterfaceName::parse(&ifname).unwrap(),
            listen_port: 51820,
        })
        .await
        .unwrap();
    admin
        .add_tenant(&TenantName::parse("acme").unwrap())
        .await
        .unwrap();
    admin.add_router(&new_router("r1")).await.unwrap();

    // The agent's side, through the proxy.
    let mut proxy = DbProxy::new(&socket_dir);
    let url = socket_url(&proxy.dir, &db.name);
    let agent_pool = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(&url)
        .unwrap();
    let agent_provisioner = Provisioner::new(
        Store::from_pool(agent_pool),
        Vault::from_key(&[42; 32], MasterKeySource::Env),
        IpamConfig::default(),
    );
    let config = AgentConfig {
        hub: "hub1".into(),
        interval: Duration::from_millis(300),
        thresholds: Thresholds::default(),
        tools,
        options: ReconcileOptions::default(),
        retention: tikwire::config::HistoryConfig::default().retention(),
    };
    let cancel = CancellationToken::new();
    let agent = tokio::spawn(Agent::new(agent_provisioner, url, config).run(cancel.clone()));

    let peers = || ns.exec(&["wg", "show", &ifname, "peers"]).lines().count();
    until("the first router's peer", async || peers() == 1).await;
    // The agent makes today's traffic partition (and the next days') when it starts.
    let today = format!("router_traffic_5m_p{}", chrono::Utc::now().format("%Y%m%d"));
    until("today's traffic partition", async || {
        tikwire::store::history::partitions(&db.pool, tikwire::history::TrafficTable::FiveMinute)
            .await
            .unwrap()
            .contains(&today)
    })
    .await;
    // A new router is announced and applied without waiting for the periodic reconcile.
    admin.add_router(&new_router("r2")).await.unwrap();
    until("the second router's peer", async || peers() == 2).await;

    proxy.cut();
    admin.add_router(&new_router("r3")).await.unwrap();
    admin.store().delete_router("acme", "r1").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !agent.is_finished(),
        "the agent keeps running without its database"
    );
    assert_eq!(peers(), 2, "nothing applied while the database is away");
    let beat_before: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT updated_at FROM wg_agent_status")
            .fetch_one(&db.pool)
            .await
            .unwrap();

    proxy.open();
    let r3_key: String = sqlx::query_scalar(
        "SELECT v.client_public_key FROM vpn_configurations v JOIN routers r ON r.id = v.router_id WHERE r.name = 'r3'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    until(
        "changes made while away are applied after reconnecting",
        async || {
            let live = ns.exec(&["wg", "show", &ifname, "peers"]);
            live.lines().count() == 2 && live.contains(&r3_key)
        },
    )
    .await;
    until("the heartbeat moves again", async || {
        let beat: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT updated_at FROM wg_agent_status")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        beat > beat_before
    })
    .await;

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), agent)
        .await
        .expect("stops when cancelled")
        .unwrap();
}
