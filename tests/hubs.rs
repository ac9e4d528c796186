//! Several hubs against a real PostgreSQL and the real binary: placement of tenants on home
//! hubs (most room, named, a full hub refused with nothing changed), routers kept on their
//! tenant's home hub, `hub routes` in its three formats (golden), `hub list` load, and the
//! migration of data with one tenant's routers on several hubs.

mod common;
mod wg_support;

use std::borrow::Cow;

use sqlx::{Connection as _, Executor as _, PgConnection};
use tikwire::store::{MIGRATOR, Store};
use wg_support::e2e::{RemoveOnDrop, Tikwire};

fn tikwire(db: &common::TestDb) -> (Tikwire, RemoveOnDrop) {
    let data_dir = std::env::temp_dir().join(format!("tikwire-hubs-{}", db.name));
    std::fs::create_dir_all(&data_dir).unwrap();
    (
        Tikwire {
            url: db.url.clone(),
            data_dir: data_dir.clone(),
        },
        RemoveOnDrop(data_dir),
    )
}

/// Runs a command that must fail with exit 1 and one line on stderr containing `expect`.
fn fails(t: &Tikwire, args: &[&str], expect: &str) -> String {
    let out = t.command(None, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(expect), "{args:?}: {stderr}");
    stderr
}

/// Everything placement may change, to compare before and after a refusal.
async fn snapshot(pool: &sqlx::PgPool) -> Vec<(String, Option<i64>, i32, i64)> {
    sqlx::query_as(
        "SELECT t.name, t.hub_id, a.allocated_ips, (SELECT count(*) FROM routers r WHERE r.tenant_id = t.id)
         FROM tenants t JOIN vpn_subnet_allocations a ON a.tenant_id = t.id ORDER BY t.name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn tenants_go_to_the_hub_with_most_room_and_a_full_hub_is_refused() {
    let db = common::test_db().await;
    let (t, _guard) = tikwire(&db);
    // Tenants added before any hub have none, and are placed with their first router.
    let early = t.json(&["tenant", "add", "early", "--json"]);
    assert_eq!(early["hub"], serde_json::Value::Null);

    t.ok(&[
        "hub",
        "add",
        "small",
        "--endpoint",
        "192.0.2.1:51820",
        "--max-peers",
        "3",
    ]);
    t.ok(&[
        "hub",
        "add",
        "big",
        "--endpoint",
        "192.0.2.2:51820",
        "--max-peers",
        "10",
        "--interface",
        "wg1",
    ]);
    // The most room: big (10 free) over small (3 free).
    assert_eq!(t.json(&["tenant", "add", "a", "--json"])["hub"], "big");
    t.ok(&["router", "add", "r1", "--tenant", "a"]);
    assert_eq!(
        t.json(&["router", "show", "r1", "--tenant", "a", "--json"])["hub"],
        "big"
    );
    // Named.
    assert_eq!(
        t.json(&["tenant", "add", "b", "--hub", "small", "--json"])["hub"],
        "small"
    );
    fails(
        &t,
        &["tenant", "add", "c", "--hub", "nowhere"],
        "no hub named",
    );
    // Routers live on their tenant's home hub: another hub is refused.
    fails(
        &t,
        &["router", "add", "r2", "--tenant", "b", "--hub", "big"],
        "home hub small",
    );
    t.ok(&["router", "add", "r2", "--tenant", "b", "--hub", "small"]);

    // Fill small: two more fit, a batch of two does not, nothing changes.
    t.ok(&["router", "add", "r3", "--tenant", "b"]);
    let before = snapshot(&db.pool).await;
    let csv = t.data_dir.join("two.csv");
    std::fs::write(&csv, "name\nr4\nr5\n").unwrap();
    fails(
        &t,
        &["router", "import", "--tenant", "b", csv.to_str().unwrap()],
        "hub small is full",
    );
    assert_eq!(
        snapshot(&db.pool).await,
        before,
        "a refused import changed something"
    );
    t.ok(&["router", "add", "r4", "--tenant", "b"]);
    let before = snapshot(&db.pool).await;
    fails(
        &t,
        &["router", "add", "r5", "--tenant", "b"],
        "hub small is full: its tenants have 3 of its 3 routers",
    );
    fails(
        &t,
        &["tenant", "add", "c", "--hub", "small"],
        "hub small is full",
    );
    assert_eq!(
        snapshot(&db.pool).await,
        before,
        "a refused placement changed something"
    );

    // The tenant added before any hub goes to the hub with room when its first router comes.
    t.ok(&["router", "add", "e1", "--tenant", "early"]);
    assert_eq!(
        t.json(&["router", "show", "e1", "--tenant", "early", "--json"])["hub"],
        "big"
    );

    // Load against capacity, and heartbeat, in `hub list`.
    let hubs = t.json(&["hub", "list", "--json"]);
    let by_name = |n: &str| {
        hubs.as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("small")["load"], 3);
    assert_eq!(by_name("small")["max_peers"], 3);
    assert_eq!(by_name("small")["tenants"], 1);
    assert_eq!(by_name("big")["load"], 2);
    assert_eq!(by_name("big")["tenants"], 2);
    assert_eq!(by_name("big")["agent_seen_at"], serde_json::Value::Null);
    // Routers per hub, as `router_counts` keeps them (migration 0013), follow adds, status
    // changes and deletes, and agree with counting the rows.
    assert_eq!(by_name("small")["routers"], 3);
    assert_eq!(by_name("big")["routers"], 2);
    t.ok(&["router", "disable", "r2", "--tenant", "b"]);
    t.ok(&["router", "rm", "r1", "--tenant", "a"]);
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT h.name, (SELECT count(*) FROM routers r WHERE r.hub_id = h.id) FROM hubs h ORDER BY h.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(counted, [("big".to_owned(), 1), ("small".to_owned(), 3)]);
    let kept: Vec<(String, i64)> = t
        .json(&["hub", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["routers"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kept, counted);
    t.ok(&["router", "add", "r1", "--tenant", "a"]);
    t.ok(&["router", "enable", "r2", "--tenant", "b"]);
    let table = t.ok(&["hub", "list"]);
    assert!(table.contains("3/3 (100%)"), "{table}");
    assert!(table.contains("never ran"), "{table}");

    // Capacity may be raised, not lowered below the load.
    fails(
        &t,
        &["hub", "set", "small", "--max-peers", "2"],
        "carries 3 routers already",
    );
    t.ok(&["hub", "set", "small", "--max-peers", "4"]);
    t.ok(&["router", "add", "r5", "--tenant", "b"]);
    // Every hub full: a new tenant is refused.
    t.ok(&["hub", "set", "big", "--max-peers", "2"]);
    fails(&t, &["tenant", "add", "c"], "every hub is full");
    fails(
        &t,
        &[
            "hub",
            "add",
            "bad",
            "--endpoint",
            "192.0.2.9:1",
            "--max-peers",
            "0",
        ],
        "--max-peers",
    );
    fails(
        &t,
        &[
            "hub",
            "add",
            "bad",
            "--endpoint",
            "192.0.2.9:1",
            "--mgmt-address",
            "mgmt.example",
        ],
        "--mgmt-address",
    );
}

/// Three tenants on two hubs (one added with a DNS endpoint and a management address given),
/// and the routes in each format.
#[tokio::test]
async fn hub_routes_in_three_formats() {
    let db = common::test_db().await;
    let (t, _guard) = tikwire(&db);
    t.ok(&["hub", "add", "hub-a", "--endpoint", "203.0.113.1:51820"]);
    t.ok(&[
        "hub",
        "add",
        "hub-b",
        "--endpoint",
        "vpn-b.example.net:51820",
        "--interface",
        "wg1",
    ]);
    t.ok(&["tenant", "add", "acme", "--hub", "hub-a"]);
    t.ok(&["tenant", "add", "globex", "--hub", "hub-b"]);
    t.ok(&["tenant", "add", "initech", "--hub", "hub-a"]);
    // A DNS endpoint gives no management address: routes are refused until one is set.
    fails(
        &t,
        &["hub", "routes"],
        "hub hub-b has no management address",
    );
    t.ok(&["hub", "set", "hub-b", "--mgmt-address", "192.168.50.2"]);
    assert_eq!(
        t.json(&["hub", "show", "hub-a", "--json"])["mgmt_address"],
        "203.0.113.1",
        "an IPv4 endpoint is the default management address"
    );
    for format in ["ip", "frr", "bird"] {
        let out = t.ok(&["hub", "routes", "--format", format]);
        insta::assert_snapshot!(format!("hub_routes_{format}"), out);
    }
    assert_eq!(
        t.ok(&["hub", "routes"]),
        t.ok(&["hub", "routes", "--format", "ip"])
    );
}

/// A database at the schema before home hubs, with tenant `split` having routers on two hubs
/// (2 on h2, 1 on h1), `one` on h1, and `empty` with none; then the migration.
#[tokio::test]
async fn migration_gives_tenants_the_hub_most_of_their_routers_are_on() {
    let template = common::test_db().await;
    let name = format!("{}_mig", template.name);
    template
        .pool
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let url = common::server_url_for(&name);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let before = sqlx::migrate::Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < 9)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    conn.execute(
        "INSERT INTO hubs (id, name, endpoint_host, endpoint_port, interface_name, public_key, private_key_sealed)
         VALUES (1, 'h1', '198.51.100.1', 51820, 'wg0', 'k1', '\\x00'),
                (2, 'h2', 'vpn.example.net', 51820, 'wg1', 'k2', '\\x00');
         INSERT INTO tenants (id, name) VALUES (1, 'split'), (2, 'one'), (3, 'empty');
         INSERT INTO vpn_subnet_allocations (tenant_id, subnet_cidr, subnet_octet_2, gateway_ip, range_start, range_end, total_ips, allocated_ips, next_host_index)
         VALUES (1, '10.100.0.0/16', 100, '10.100.0.1', '10.100.1.1', '10.100.255.254', 65278, 3, 3),
                (2, '10.101.0.0/16', 101, '10.101.0.1', '10.101.1.1', '10.101.255.254', 65278, 1, 1),
                (3, '10.102.0.0/16', 102, '10.102.0.1', '10.102.1.1', '10.102.255.254', 65278, 0, 0);
         INSERT INTO routers (tenant_id, hub_id, name, host_index, vpn_ip)
         VALUES (1, 1, 'on-h1', 0, '10.100.1.1'), (1, 2, 'on-h2-a', 1, '10.100.1.2'),
                (1, 2, 'on-h2-b', 2, '10.100.1.3'), (2, 1, 'only', 0, '10.101.1.1');",
    )
    .await
    .unwrap();
    MIGRATOR.run(&pool).await.unwrap();

    let homes: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT t.name, h.name FROM tenants t LEFT JOIN hubs h ON h.id = t.hub_id ORDER BY t.name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        homes,
        [
            ("empty".to_owned(), None),
            ("one".to_owned(), Some("h1".to_owned())),
            ("split".to_owned(), Some("h2".to_owned())),
        ]
    );
    let mgmt: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, host(mgmt_address) FROM hubs ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        mgmt,
        [
            ("h1".to_owned(), Some("198.51.100.1".to_owned())),
            ("h2".to_owned(), None)
        ]
    );
    // No router moved.
    let moved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM routers WHERE (name = 'on-h1') <> (hub_id = 1) AND tenant_id = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(moved, 0);

    // The tenant list names the other hub; the routes keep the router left on h1 reachable.
    let store = Store::from_pool(pool.clone());
    let split = store.tenant("split").await.unwrap();
    assert_eq!(split.hub.as_deref(), Some("h2"));
    assert_eq!(split.other_hubs, ["h1"]);
    assert!(store.tenant("one").await.unwrap().other_hubs.is_empty());
    let err = store.mgmt_route_rows().await.unwrap_err().to_string();
    assert!(err.contains("hub h2 has no management address"), "{err}");
    sqlx::query("UPDATE hubs SET mgmt_address = '192.168.9.2' WHERE name = 'h2'")
        .execute(&pool)
        .await
        .unwrap();
    let routes: Vec<(String, Option<String>, String)> = store
        .mgmt_route_rows()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.destination.to_string(), r.router, r.via.to_string()))
        .collect();
    assert_eq!(
        routes,
        [
            ("10.100.0.0/16".to_owned(), None, "192.168.9.2".to_owned()),
            (
                "10.100.1.1/32".to_owned(),
                Some("on-h1".to_owned()),
                "198.51.100.1".to_owned()
            ),
            ("10.101.0.0/16".to_owned(), None, "198.51.100.1".to_owned()),
        ]
    );
    // h1 still serves the split tenant (its router there keeps its hub address).
    let served: Vec<String> = store
        .tenants_served_by(1)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(served, ["split", "one"]);
    pool.close().await;
    let _ = conn.close().await;
    template
        .pool
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
}
