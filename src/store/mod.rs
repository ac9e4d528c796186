//! PostgreSQL: the pool, migrations, and the queries the rest of tikwire uses.
//!
//! One module per table group. Writes that need key material (hubs, routers) are driven by
//! `provision`, which generates and seals the keys and calls the transactional helpers
//! (`lock_tenant`, `allocate_host_indexes`, `insert_routers`, ...) inside one transaction.

pub mod api;
pub mod audit;
pub(crate) mod columns;
mod configurations;
pub mod console_history;
mod doctor;
pub mod history;
mod hubs;
pub mod notify;
pub mod rotation;
mod routers;
pub mod sample;
pub mod status;
mod tenants;
pub mod tokens;
pub mod webhooks;
pub mod window;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool, Postgres, Transaction};

pub use doctor::{AgentHeartbeat, AppliedMigration};
pub use hubs::{
    HubChanges, HubLoad, HubRoom, HubSecretRow, MgmtRouteRow, NewHubRow, hub_loads, mgmt_routes,
    most_room,
};
pub use routers::{
    DeletedRouter, NewRouterRow, PlatformIdentity, RouterFilter, RouterSecretRow, TenantLock,
};
pub use status::{
    AgentBeat, HubLink, LinkUpdate, PollWrite, RouterLink, StoredLink, StoredUnknown, UnknownPeer,
};
pub use tenants::{DeletedTenant, PoolUsage};

use crate::events::AuditAction;
use crate::{Error, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The server for messages: host and port or socket, and user; never the password.
fn describe_server(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(dir) => format!("socket {}/.s.PGSQL.{}", dir.display(), options.get_port()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!("{place} (user {})", options.get_username())
}

/// The SQL migrations in `migrations/`, embedded into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// Not derived: the pool's connect options hold the database password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

pub(crate) type Tx<'a> = Transaction<'a, Postgres>;

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn connect_without_migrating(url: &str) -> Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|err| Error::Config(format!("database URL is not valid: {err}")))?;
        let options = options.application_name("tikwire");
        // One plain connection first: the pool retries a refused connection until its
        // timeout and then says only "pool timed out"; this says why.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
            .map_err(|err| crate::error::connect_failure(&err, &describe_server(&options)))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self::from_pool(pool))
    }

    /// Closes the pool's connections (waits for the ones in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// A transaction on the store's pool, for callers that run several store functions as
    /// one unit (every store function takes any executor).
    pub async fn begin(&self) -> Result<Tx<'static>> {
        Ok(self.pool.begin().await?)
    }

    /// The sealed key-check value, if this database has one yet.
    pub async fn key_check(&self) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT key_check FROM vault_meta WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores the key check unless one exists; returns the one that is stored.
    pub async fn init_key_check(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "INSERT INTO vault_meta (id, key_check) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        self.key_check()
            .await?
            .ok_or_else(|| Error::Database("vault_meta row vanished".into()))
    }

    /// One cheap round trip: is the database reachable?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// How many migrations have been applied.
    pub async fn applied_migrations(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The server's version string.
    pub async fn server_version(&self) -> Result<String> {
        Ok(sqlx::query_scalar("SHOW server_version")
            .fetch_one(&self.pool)
            .await?)
    }

    /// How many tenants and routers there are.
    pub async fn fleet_counts(&self) -> Result<(i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT (SELECT count(*) FROM tenants), \
                 (SELECT coalesce(sum(routers), 0)::bigint FROM router_counts)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Whether any sealed secret exists (hubs or routers).
    pub async fn holds_secrets(&self) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM hubs) OR EXISTS (SELECT 1 FROM vpn_configurations)",
        )
        .fetch_one(&self.pool)
        .await?)
    }
}

/// Records an action in the audit log inside the caller's transaction. Inside an API request
/// the actor and client address come from the request's transaction settings (see
/// `store::api::begin_scoped`); on the command line they are the OS user and, over SSH, the
/// client's address.
pub(crate) async fn audit(
    tx: &mut Tx<'_>,
    action: AuditAction,
    tenant: Option<&str>,
    router: Option<&str>,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, tenant, router, detail, client_addr)
         VALUES (COALESCE(NULLIF(current_setting('tikwire.actor', true), ''), $1), $2, $3, $4, $5,
                 COALESCE(NULLIF(current_setting('tikwire.client_addr', true), ''), $6))",
    )
    .bind(actor())
    .bind(action.as_str())
    .bind(tenant)
    .bind(router)
    .bind(detail)
    .bind(ssh_client())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Who is acting: the login name, for the audit log.
fn actor() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The SSH client's address when tikwire runs in an SSH session.
fn ssh_client() -> Option<String> {
    let connection = std::env::var("SSH_CONNECTION").ok()?;
    connection.split_whitespace().next().map(str::to_owned)
}

/// Maps a unique violation to a readable message, passing other errors through.
pub(crate) fn on_unique_violation(err: sqlx::Error, message: impl FnOnce(&str) -> String) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.code().as_deref() == Some("23505")
    {
        return Error::AlreadyExists(message(db.constraint().unwrap_or_default()));
    }
    err.into()
}

pub(crate) use hubs::{home_hub_for_routers, place_tenant};
pub(crate) use routers::{
    allocate_host_indexes, audit_import, audit_router_add, insert_routers, lock_tenant,
    reserve_router_ids, tenant_and_taken_names,
};
