//! Provisioning against a real PostgreSQL: address order and reuse, exhaustion, concurrency,
//! constraints the database enforces by itself, and sealed keys.

mod common;

use std::collections::HashSet;
use std::net::Ipv4Addr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::PgPool;
use tikwire::Error;
use tikwire::ipam::IpamConfig;
use tikwire::keys::PrivateKey;
use tikwire::model::{RouterName, TenantName};
use tikwire::provision::{NewRouter, Provisioner, RouterSpec};
use tikwire::store::RouterFilter;
use tikwire::vault::{MasterKeySource, Vault};

fn provisioner(pool: &PgPool, ipam: IpamConfig) -> Provisioner {
    common::provisioner_with(pool, ipam)
}

async fn with_hub(p: &Provisioner) {
    common::add_hub(p, "wg0").await;
}

fn router(tenant: &str, name: &str) -> NewRouter {
    NewRouter {
        tenant: TenantName::parse(tenant).unwrap(),
        hub: None,
        spec: RouterSpec::named(RouterName::parse(name).unwrap()),
    }
}

fn tenant(name: &str) -> TenantName {
    TenantName::parse(name).unwrap()
}

/// The bookkeeping that must hold after any sequence of operations, crashes included.
async fn assert_consistent(pool: &PgPool) {
    let bad: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT t.name, a.allocated_ips, (SELECT count(*) FROM routers r WHERE r.tenant_id = t.id)
         FROM tenants t JOIN vpn_subnet_allocations a ON a.tenant_id = t.id
         WHERE a.allocated_ips <> (SELECT count(*) FROM routers r WHERE r.tenant_id = t.id)
            OR a.next_host_index <> a.allocated_ips + (SELECT count(*) FROM released_host_indexes x WHERE x.tenant_id = t.id)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        bad.is_empty(),
        "allocation bookkeeping out of step: {bad:?}"
    );
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM routers r WHERE NOT EXISTS (SELECT 1 FROM vpn_configurations c WHERE c.router_id = r.id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "routers without a VPN configuration");
}

#[tokio::test]
async fn tenants_take_the_lowest_free_subnet_and_release_it() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    let a = p.add_tenant(&tenant("a")).await.unwrap();
    let b = p.add_tenant(&tenant("b")).await.unwrap();
    let c = p.add_tenant(&tenant("c")).await.unwrap();
    assert_eq!(
        [a.subnet_cidr, b.subnet_cidr, c.subnet_cidr].map(|n| n.to_string()),
        ["10.100.0.0/16", "10.101.0.0/16", "10.102.0.0/16"]
    );
    assert_eq!(b.hub_ip, Ipv4Addr::new(10, 101, 0, 1));
    assert_eq!(a.capacity, 65_278);
    p.store().delete_tenant("b").await.unwrap();
    let d = p.add_tenant(&tenant("d")).await.unwrap();
    assert_eq!(
        d.subnet_cidr.to_string(),
        "10.101.0.0/16",
        "released subnet is reused first"
    );
    let err = p.add_tenant(&tenant("a")).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err}");
}

#[tokio::test]
async fn tenant_pool_exhaustion_is_a_clear_error_and_changes_nothing() {
    let db = common::test_db().await;
    let plan = IpamConfig {
        first_tenant_octet: 100,
        last_tenant_octet: 101,
        ..Default::default()
    };
    let p = provisioner(&db.pool, plan);
    p.add_tenant(&tenant("a")).await.unwrap();
    p.add_tenant(&tenant("b")).await.unwrap();
    let err = p.add_tenant(&tenant("c")).await.unwrap_err();
    assert!(matches!(err, Error::Exhausted(_)), "{err}");
    assert!(err.to_string().contains("no tenant subnet left"), "{err}");
    assert_eq!(
        p.store().list_tenants().await.unwrap().len(),
        2,
        "the failed tenant was not kept"
    );
}

#[tokio::test]
async fn routers_take_the_lowest_free_address_and_reuse_released_ones() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    let mut ips = Vec::new();
    for name in ["r1", "r2", "r3", "r4"] {
        ips.push(
            p.add_router(&router("acme", name))
                .await
                .unwrap()
                .vpn_ip
                .to_string(),
        );
    }
    assert_eq!(
        ips,
        ["10.100.1.1", "10.100.1.2", "10.100.1.3", "10.100.1.4"]
    );
    p.store().delete_router("acme", "r3").await.unwrap();
    p.store().delete_router("acme", "r2").await.unwrap();
    assert_eq!(
        p.add_router(&router("acme", "r5"))
            .await
            .unwrap()
            .vpn_ip
            .to_string(),
        "10.100.1.2"
    );
    assert_eq!(
        p.add_router(&router("acme", "r6"))
            .await
            .unwrap()
            .vpn_ip
            .to_string(),
        "10.100.1.3"
    );
    assert_eq!(
        p.add_router(&router("acme", "r7"))
            .await
            .unwrap()
            .vpn_ip
            .to_string(),
        "10.100.1.5"
    );
    let err = p.add_router(&router("acme", "r7")).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err}");
    assert_consistent(&db.pool).await;
}

#[tokio::test]
async fn router_pool_exhaustion_is_a_clear_error_and_changes_nothing() {
    let db = common::test_db().await;
    let plan = IpamConfig {
        routers_per_tenant: 3,
        ..Default::default()
    };
    let p = provisioner(&db.pool, plan);
    with_hub(&p).await;
    p.add_tenant(&tenant("small")).await.unwrap();
    for name in ["a", "b", "c"] {
        p.add_router(&router("small", name)).await.unwrap();
    }
    let err = p.add_router(&router("small", "d")).await.unwrap_err();
    assert!(matches!(err, Error::Exhausted(_)), "{err}");
    assert!(
        err.to_string().contains("0 free router addresses of 3"),
        "{err}"
    );
    // A bulk import that does not fit is refused whole.
    p.store().delete_router("small", "b").await.unwrap();
    let specs: Vec<RouterSpec> = ["x", "y"]
        .iter()
        .map(|n| RouterSpec::named(RouterName::parse(n).unwrap()))
        .collect();
    let err = p
        .import_routers(&tenant("small"), None, &specs)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exhausted(_)), "{err}");
    let names: Vec<String> = p
        .store()
        .list_routers(&RouterFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(
        p.add_router(&router("small", "d"))
            .await
            .unwrap()
            .vpn_ip
            .to_string(),
        "10.100.1.2"
    );
    assert_consistent(&db.pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_provisioning_never_hands_out_an_address_twice() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("busy")).await.unwrap();
    const TASKS: usize = 40;
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { p.add_router(&router("busy", &format!("r{i}"))).await })
        })
        .collect();
    let mut ips = HashSet::new();
    for handle in handles {
        let router = handle.await.unwrap().expect("every provisioning succeeds");
        assert!(
            ips.insert(router.vpn_ip),
            "duplicate address {}",
            router.vpn_ip
        );
    }
    let expected: HashSet<Ipv4Addr> = (0..TASKS as u32)
        .map(|i| tikwire::ipam::router_address(100, i).unwrap())
        .collect();
    assert_eq!(ips, expected, "the lowest addresses, none lost");
    assert_eq!(
        p.store()
            .list_routers(&RouterFilter::default())
            .await
            .unwrap()
            .len(),
        TASKS
    );
    assert_consistent(&db.pool).await;
}

#[tokio::test]
async fn the_database_refuses_duplicates_even_when_tikwire_is_bypassed() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    let t = p.add_tenant(&tenant("acme")).await.unwrap();
    let other = p.add_tenant(&tenant("other")).await.unwrap();
    let r = p.add_router(&router("acme", "r1")).await.unwrap();

    let is_unique_violation =
        |result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>| match result {
            Err(sqlx::Error::Database(e)) => e.code().as_deref() == Some("23505"),
            _ => false,
        };
    // Duplicate tenant subnet.
    let dup_subnet = sqlx::query(
        "INSERT INTO vpn_subnet_allocations (tenant_id, subnet_cidr, subnet_octet_2, gateway_ip, range_start, range_end, total_ips)
         SELECT $1, subnet_cidr, subnet_octet_2, gateway_ip, range_start, range_end, total_ips FROM vpn_subnet_allocations WHERE tenant_id = $2",
    )
    .bind(other.id)
    .bind(t.id)
    .execute(&db.pool)
    .await;
    assert!(is_unique_violation(dup_subnet), "duplicate subnet accepted");
    // Duplicate router address within a tenant.
    let dup_ip = sqlx::query(
        "INSERT INTO routers (tenant_id, hub_id, name, host_index, vpn_ip) VALUES ($1, $2, 'other-name', 999, $3::inet)",
    )
    .bind(t.id)
    .bind(r.hub_id)
    .bind(r.vpn_ip.to_string())
    .execute(&db.pool)
    .await;
    assert!(
        is_unique_violation(dup_ip),
        "duplicate router address accepted"
    );
    // Duplicate router name within a tenant.
    let dup_name = sqlx::query(
        "INSERT INTO routers (tenant_id, hub_id, name, host_index, vpn_ip) VALUES ($1, $2, 'r1', 998, '10.100.4.231')",
    )
    .bind(t.id)
    .bind(r.hub_id)
    .execute(&db.pool)
    .await;
    assert!(
        is_unique_violation(dup_name),
        "duplicate router name accepted"
    );
    // The same name in another tenant is fine.
    p.add_router(&router("other", "r1")).await.unwrap();
}

#[tokio::test]
async fn keys_are_sealed_and_unseal_to_the_stored_public_key() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    let r = p.add_router(&router("acme", "r1")).await.unwrap();
    let m = p.router_material("acme", "r1").await.unwrap();
    let derived = PrivateKey::from_base64(&m.private_key)
        .unwrap()
        .public_key()
        .to_base64();
    assert_eq!(derived, r.public_key.to_base64());
    assert_eq!(STANDARD.decode(m.preshared_key.as_str()).unwrap().len(), 32);
    assert_eq!(m.hub.name, "hub1");
    let hub = p.hub_material("hub1").await.unwrap();
    assert_eq!(
        PrivateKey::from_base64(&hub.private_key)
            .unwrap()
            .public_key()
            .to_base64(),
        hub.hub.public_key.to_base64()
    );
    assert_eq!(hub.peers.len(), 1);
    assert_eq!(
        hub.peers[0].preshared_key.as_str(),
        m.preshared_key.as_str()
    );
    assert_eq!(hub.tenants.len(), 1);

    // Another master key cannot open them.
    let wrong = Provisioner::new(
        p.store().clone(),
        Vault::from_key(&[7; 32], MasterKeySource::Env),
        IpamConfig::default(),
    );
    let err = wrong
        .router_material("acme", "r1")
        .await
        .err()
        .expect("wrong key must fail");
    assert!(matches!(err, Error::Vault(_)), "{err}");
    assert!(!err.to_string().contains(m.private_key.as_str()));
}

#[tokio::test]
async fn tampered_or_moved_ciphertext_is_refused() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    let a = p.add_router(&router("acme", "a")).await.unwrap();
    let b = p.add_router(&router("acme", "b")).await.unwrap();
    // Flip one bit of a's preshared key.
    sqlx::query(
        "UPDATE vpn_configurations SET preshared_key_sealed = set_byte(preshared_key_sealed, 20, get_byte(preshared_key_sealed, 20) # 1) WHERE router_id = $1",
    )
    .bind(a.id)
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(matches!(
        p.router_material("acme", "a").await,
        Err(Error::Vault(_))
    ));
    // Move a's private key into b's row.
    sqlx::query(
        "UPDATE vpn_configurations SET client_private_key_sealed = (SELECT client_private_key_sealed FROM vpn_configurations WHERE router_id = $1) WHERE router_id = $2",
    )
    .bind(a.id)
    .bind(b.id)
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(matches!(
        p.router_material("acme", "b").await,
        Err(Error::Vault(_))
    ));
    // Swapping columns within a row fails too (the column is part of the identity).
    let c = p.add_router(&router("acme", "c")).await.unwrap();
    sqlx::query("UPDATE vpn_configurations SET preshared_key_sealed = client_private_key_sealed WHERE router_id = $1")
        .bind(c.id)
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(matches!(
        p.router_material("acme", "c").await,
        Err(Error::Vault(_))
    ));
}

#[tokio::test]
async fn no_plaintext_secret_anywhere_in_the_database() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    let specs: Vec<RouterSpec> = (0..20)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("r{i}")).unwrap()))
        .collect();
    p.import_routers(&tenant("acme"), None, &specs)
        .await
        .unwrap();

    let mut secrets = Vec::new();
    for i in 0..20 {
        let m = p.router_material("acme", &format!("r{i}")).await.unwrap();
        secrets.push(m.private_key.to_string());
        secrets.push(m.preshared_key.to_string());
    }
    secrets.push(
        p.hub_material("hub1")
            .await
            .unwrap()
            .private_key
            .to_string(),
    );
    // Each secret as base64 and as the hex PostgreSQL prints for bytea.
    let needles: Vec<String> = secrets
        .iter()
        .flat_map(|b64| {
            let raw = STANDARD.decode(b64).unwrap();
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            [b64.clone(), hex]
        })
        .collect();

    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(tables.len() >= 7, "{tables:?}");
    let mut dump = String::new();
    for table in &tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM {table} t"
        )))
        .fetch_all(&db.pool)
        .await
        .unwrap();
        dump.extend(rows.into_iter().map(|r| r + "\n"));
    }
    assert!(
        dump.contains("vpn.example.com"),
        "the dump holds the tables' contents"
    );
    for needle in &needles {
        assert!(
            !dump.contains(needle.as_str()),
            "a secret is stored in plaintext"
        );
    }
}

#[tokio::test]
async fn bulk_import_is_all_or_nothing() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    p.add_router(&router("acme", "existing")).await.unwrap();
    let names = |list: &[&str]| -> Vec<RouterSpec> {
        list.iter()
            .map(|n| RouterSpec::named(RouterName::parse(n).unwrap()))
            .collect()
    };
    let err = p
        .import_routers(&tenant("acme"), None, &names(&["n1", "existing", "n2"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("existing"), "{err}");
    let err = p
        .import_routers(&tenant("acme"), None, &names(&["n1", "n1"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
    assert_eq!(
        p.store()
            .list_routers(&RouterFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );

    let specs: Vec<RouterSpec> = (0..500)
        .map(|i| RouterSpec::named(RouterName::parse(&format!("site-{i}")).unwrap()))
        .collect();
    let summary = p
        .import_routers(&tenant("acme"), None, &specs)
        .await
        .unwrap();
    assert_eq!(summary.routers, 500);
    assert_eq!(summary.first_vpn_ip.unwrap().to_string(), "10.100.1.2");
    assert_eq!(summary.last_vpn_ip.unwrap().to_string(), "10.100.2.245");
    assert_consistent(&db.pool).await;
}

#[tokio::test]
async fn changes_are_announced() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    let mut listener = tikwire::store::notify::ChangeListener::connect(&db.url)
        .await
        .unwrap();
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    p.add_router(&router("acme", "r1")).await.unwrap();
    let kinds = [
        listener.recv().await.unwrap().unwrap(),
        listener.recv().await.unwrap().unwrap(),
        listener.recv().await.unwrap().unwrap(),
    ]
    .map(|c| c.kind.to_string());
    assert_eq!(kinds, ["hub.created", "tenant.created", "router.created"]);
}

#[tokio::test]
async fn disabling_keeps_the_address_and_marks_the_router() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    p.add_router(&router("acme", "r1")).await.unwrap();
    let r = p
        .store()
        .set_router_enabled("acme", "r1", false)
        .await
        .unwrap();
    assert!(!r.enabled);
    assert_eq!(r.status.as_str(), "disabled");
    assert_eq!(
        p.add_router(&router("acme", "r2"))
            .await
            .unwrap()
            .vpn_ip
            .to_string(),
        "10.100.1.2"
    );
    let r = p
        .store()
        .set_router_enabled("acme", "r1", true)
        .await
        .unwrap();
    assert_eq!(r.status.as_str(), "pending");
}

#[tokio::test]
async fn a_configuration_row_cannot_disagree_with_its_router() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("acme")).await.unwrap();
    let other = p.add_tenant(&tenant("other")).await.unwrap();
    let r = p.add_router(&router("acme", "r1")).await.unwrap();
    let moved = sqlx::query("UPDATE vpn_configurations SET tenant_id = $1 WHERE router_id = $2")
        .bind(other.id)
        .bind(r.id)
        .execute(&db.pool)
        .await;
    assert!(
        matches!(&moved, Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23503")),
        "a configuration moved to another tenant was accepted: {moved:?}"
    );
}

/// Sample fleets for benchmarks are written in bulk by SQL: they must keep the same
/// bookkeeping as provisioning, continue after provisioned routers and leave room for more.
#[tokio::test]
async fn sample_fleets_keep_the_bookkeeping_and_share_tenants_with_provisioning() {
    let db = common::test_db().await;
    let p = provisioner(&db.pool, IpamConfig::default());
    with_hub(&p).await;
    p.add_tenant(&tenant("big")).await.unwrap();
    p.add_router(&router("big", "real-one")).await.unwrap();
    let hub = p.store().list_hubs().await.unwrap().remove(0);
    let added = p
        .store()
        .fill_sample_routers("big", &hub, 5_000, "s")
        .await
        .unwrap();
    assert_eq!(added, 5_000);
    assert_consistent(&db.pool).await;
    // After the provisioned router's address (named by host index), all distinct, statuses spread.
    let (first, distinct, online, pending): (String, i64, i64, i64) = sqlx::query_as(
        "SELECT min(host(r.vpn_ip)) FILTER (WHERE r.name = 's-00002'), count(DISTINCT c.client_public_key),
                count(*) FILTER (WHERE c.status = 'online'), count(*) FILTER (WHERE c.status = 'pending')
         FROM routers r JOIN vpn_configurations c ON c.router_id = r.id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(first, "10.100.1.2");
    assert_eq!(distinct, 5_001);
    assert!(
        online > 3_000 && pending > 0,
        "online {online}, pending {pending}"
    );
    // Provisioning goes on after them, and a fill beyond the tenant's room changes nothing.
    let next = p.add_router(&router("big", "real-two")).await.unwrap();
    assert_eq!(next.vpn_ip, Ipv4Addr::new(10, 100, 20, 138));
    let err = p
        .store()
        .fill_sample_routers("big", &hub, 65_278, "t")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exhausted(_)), "{err}");
    assert_consistent(&db.pool).await;
}
