//! Tenant isolation enforced by PostgreSQL itself: connected as the server connects, with
//! `SET LOCAL ROLE tikwire_api`, a query without any WHERE sees only the tenant that is set,
//! and with no tenant set, nothing at all.

mod api_support;
mod common;

use api_support::Api;
use sqlx::{Connection, Executor, PgConnection};
use tikwire::store::tokens::TokenRole;

/// Every tenant-scoped table the API reads, and the column naming its tenant.
const TENANT_TABLES: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("vpn_subnet_allocations", "tenant_id"),
    ("released_host_indexes", "tenant_id"),
    ("routers", "tenant_id"),
    ("vpn_configurations", "tenant_id"),
    ("router_transitions", "tenant_id"),
    ("router_endpoints", "tenant_id"),
    ("router_traffic_5m", "tenant_id"),
    ("router_traffic_1h", "tenant_id"),
];
/// Tenant-scoped too (row-level security on), but the API only writes them: reading is
/// refused outright.
const WRITE_ONLY_TABLES: &[&str] = &["audit_log", "api_tokens"];

async fn tenant_id(conn: &mut PgConnection, name: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
        .bind(name)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The tenants whose rows `table` shows in this transaction, in order.
async fn visible_tenants(conn: &mut PgConnection, table: &str, column: &str) -> Vec<Option<i64>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT {column} FROM {table} ORDER BY 1"
    )))
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Tenants a and b, each with routers, released addresses and audited API actions.
async fn populated() -> Api {
    let api = Api::start().await;
    for tenant in ["a", "b"] {
        let token = api
            .token(&format!("{tenant}-admin"), Some(tenant), TokenRole::Admin)
            .await;
        let first = api.create(&token, 1).await;
        api.create(&token, 2).await;
        api.create(&token, 3).await;
        api.delete(&format!("/api/vpn/{first}"), &token).await;
        api.get(&format!("/api/vpn/{}/download/linux", first + 1), &token)
            .await;
    }
    history(&api).await;
    api
}

/// A row of every history table for each router, as an agent and maintenance would write.
async fn history(api: &Api) {
    let store = api.provisioner.store();
    let now = chrono::Utc::now();
    store
        .maintain_history(
            now,
            tikwire::history::Retention {
                traffic_days: 14,
                rollup_days: 400,
            },
        )
        .await
        .unwrap();
    for statement in [
        "INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT router_id, tenant_id, hub_id, $1, 'status', 'pending', 'online' FROM vpn_configurations",
        "INSERT INTO router_endpoints (router_id, tenant_id, at, endpoint)
         SELECT router_id, tenant_id, $1, '198.51.100.1:4000' FROM vpn_configurations",
        "INSERT INTO router_traffic_5m (router_id, tenant_id, bucket, rx_bytes, tx_bytes)
         SELECT router_id, tenant_id, date_trunc('hour', $1), 1, 1 FROM vpn_configurations",
        "INSERT INTO router_traffic_1h (router_id, tenant_id, hour, rx_bytes, tx_bytes)
         SELECT router_id, tenant_id, date_trunc('hour', $1), 1, 1 FROM vpn_configurations",
    ] {
        sqlx::query(statement)
            .bind(now)
            .execute(&api.db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn as_tikwire_api_a_tenant_sees_only_its_own_rows() {
    let api = populated().await;
    let mut conn = PgConnection::connect(&api.db.url).await.unwrap();
    let a = tenant_id(&mut conn, "a").await;
    let b = tenant_id(&mut conn, "b").await;

    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE tikwire_api").await.unwrap();
    sqlx::query("SELECT set_config('tikwire.tenant_id', $1, true)")
        .bind(a.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    for (table, column) in TENANT_TABLES {
        let tenants = visible_tenants(&mut tx, table, column).await;
        assert_eq!(tenants, [Some(a)], "{table} as tenant a");
    }
    // A join without any tenant condition cannot reach b either.
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM routers r JOIN vpn_configurations c ON c.router_id = r.id
         WHERE r.tenant_id = $1",
    )
    .bind(b)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
    tx.rollback().await.unwrap();

    // The same rows really exist: b's rows are there for the owner.
    for (table, column) in TENANT_TABLES.iter().chain(&[("audit_log", "tenant_id")]) {
        let b_rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE {column} = $1"
        )))
        .bind(b)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(b_rows > 0, "the owner sees tenant b's rows in {table}");
    }
}

#[tokio::test]
async fn as_tikwire_api_with_no_tenant_set_nothing_is_visible_or_writable() {
    let api = populated().await;
    let mut conn = PgConnection::connect(&api.db.url).await.unwrap();
    let b = tenant_id(&mut conn, "b").await;
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE tikwire_api").await.unwrap();
    for (table, _) in TENANT_TABLES {
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(rows, 0, "{table} with no tenant set");
    }
    // Writes are checked as well: no row of b can be changed or made.
    let updated = sqlx::query("UPDATE routers SET display_name = 'x' WHERE tenant_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
    let insert =
        sqlx::query("INSERT INTO released_host_indexes (tenant_id, host_index) VALUES ($1, 60000)")
            .bind(b)
            .execute(&mut *tx)
            .await;
    assert!(insert.is_err(), "row-level security refuses the insert");
    sqlx::query("ROLLBACK TO SAVEPOINT s")
        .execute(&mut *tx)
        .await
        .unwrap();
    // The audit log, tokens and the hub's private key cannot be read at all.
    for forbidden in [
        "SELECT count(*) FROM audit_log",
        "SELECT count(*) FROM api_tokens",
        "SELECT count(private_key_sealed) FROM hubs",
    ] {
        sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
        let err = sqlx::query(forbidden).execute(&mut *tx).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{forbidden}: {err}"
        );
        sqlx::query("ROLLBACK TO SAVEPOINT s")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_role_is_unprivileged_and_the_server_really_uses_it() {
    let api = populated().await;
    let (login, bypass, superuser): (bool, bool, bool) = sqlx::query_as(
        "SELECT rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = 'tikwire_api'",
    )
    .fetch_one(&api.db.pool)
    .await
    .unwrap();
    assert!(!login && !bypass && !superuser);
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
         WHERE r.rolname = 'tikwire_api'",
    )
    .fetch_one(&api.db.pool)
    .await
    .unwrap();
    assert_eq!(owned, 0, "tikwire_api owns nothing");
    for table in TENANT_TABLES
        .iter()
        .map(|(t, _)| *t)
        .chain(WRITE_ONLY_TABLES.iter().copied())
    {
        let (enabled,): (bool,) =
            sqlx::query_as("SELECT relrowsecurity FROM pg_class WHERE relname = $1")
                .bind(table)
                .fetch_one(&api.db.pool)
                .await
                .unwrap();
        assert!(enabled, "row-level security on {table}");
    }

    // A request's transaction runs as tikwire_api with the caller's tenant.
    let store = api.provisioner.store().clone();
    let mut conn = PgConnection::connect(&api.db.url).await.unwrap();
    let a = tenant_id(&mut conn, "a").await;
    let origin = tikwire::store::api::RequestOrigin {
        token_name: "t",
        client_addr: "127.0.0.1",
        request_id: "r",
    };
    let mut tx = tikwire::store::api::begin_scoped(
        &store,
        tikwire::store::api::AccessScope::Tenant(a),
        &origin,
    )
    .await
    .unwrap();
    let (user, tenant): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_setting('tikwire.tenant_id')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(user, "tikwire_api");
    assert_eq!(tenant, a.to_string());
    tx.commit().await.unwrap();
    // Nothing outlives the transaction on the pooled connection.
    let mut plain = store.begin().await.unwrap();
    let (user, tenant): (String, Option<String>) = sqlx::query_as(
        "SELECT current_user::text, NULLIF(current_setting('tikwire.tenant_id', true), '')",
    )
    .fetch_one(&mut *plain)
    .await
    .unwrap();
    assert_ne!(user, "tikwire_api");
    assert_eq!(tenant, None);
}

#[tokio::test]
async fn a_request_transaction_sees_its_scope_and_carries_its_origin_verbatim() {
    let api = populated().await;
    let store = api.provisioner.store().clone();
    let mut conn = PgConnection::connect(&api.db.url).await.unwrap();
    let a = tenant_id(&mut conn, "a").await;
    let b = tenant_id(&mut conn, "b").await;
    // The origin goes into the transaction's settings written into the SQL text: quotes,
    // backslashes, semicolons and non-ASCII text come out exactly as they went in.
    let hostile = "x'); SET LOCAL ROLE NONE; SELECT ('\\ é\"$$";
    let origin = tikwire::store::api::RequestOrigin {
        token_name: hostile,
        client_addr: "::1",
        request_id: "req-1",
    };
    for (scope, visible) in [
        (tikwire::store::api::AccessScope::Tenant(a), vec![Some(a)]),
        (tikwire::store::api::AccessScope::Tenant(b), vec![Some(b)]),
        (
            tikwire::store::api::AccessScope::System,
            vec![Some(a), Some(b)],
        ),
    ] {
        let mut tx = tikwire::store::api::begin_scoped(&store, scope, &origin)
            .await
            .unwrap();
        let settings: (String, String, String, String, String) = sqlx::query_as(
            "SELECT current_user::text, current_setting('tikwire.token_name'),
                    current_setting('tikwire.actor'), current_setting('tikwire.client_addr'),
                    current_setting('tikwire.request_id')",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(
            settings,
            (
                "tikwire_api".to_owned(),
                hostile.to_owned(),
                format!("token:{hostile}"),
                "::1".to_owned(),
                "req-1".to_owned()
            )
        );
        for (table, column) in TENANT_TABLES {
            let tenants = visible_tenants(&mut tx, table, column).await;
            assert_eq!(tenants, visible, "{table} in scope {scope:?}");
        }
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn only_the_exact_system_scope_widens_what_is_visible() {
    let api = populated().await;
    let mut conn = PgConnection::connect(&api.db.url).await.unwrap();
    let a = tenant_id(&mut conn, "a").await;
    for scope in ["System", "system ", "", "tenant"] {
        let mut tx = conn.begin().await.unwrap();
        tx.execute("SET LOCAL ROLE tikwire_api").await.unwrap();
        sqlx::query(
            "SELECT set_config('tikwire.tenant_id', $1, true), set_config('tikwire.scope', $2, true)",
        )
        .bind(a.to_string())
        .bind(scope)
        .execute(&mut *tx)
        .await
        .unwrap();
        for (table, column) in TENANT_TABLES {
            let tenants = visible_tenants(&mut tx, table, column).await;
            assert_eq!(tenants, [Some(a)], "{table} with scope {scope:?}");
        }
        tx.rollback().await.unwrap();
    }
}
