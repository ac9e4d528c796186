//! PostgreSQL: the pool, migrations, and the queries the rest of tikwire uses.
//!
//! One module per table group. Writes that need key material (hubs, routers) are driven by
//! `provision`, which generates and seals the keys and calls the transactional helpers
//! (`lock_tenant`, `allocate_host_indexes`, `insert_routers`, ...) inside one transaction.

pub mod api;
pub mod audit;
mod hubs;
pub mod notify;
mod routers;
mod tenants;
pub mod tokens;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

pub use hubs::{HubSecretRow, NewHubRow};
pub use routers::{DeletedRouter, NewRouterRow, RouterFilter, RouterSecretRow, TenantLock};
pub use tenants::{DeletedTenant, PoolUsage};

use crate::{Error, Result};

/// The SQL migrations in `migrations/`, embedded into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
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
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|err| {
                let line = err
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                Error::Database(format!("cannot connect to the database: {line}"))
            })?;
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn begin(&self) -> Result<Tx<'static>> {
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
    action: &str,
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
    .bind(action)
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
    if let sqlx::Error::Database(db) = &err {
        if db.code().as_deref() == Some("23505") {
            return Error::AlreadyExists(message(db.constraint().unwrap_or_default()));
        }
    }
    err.into()
}

pub(crate) use hubs::resolve_hub as hubs_resolve;
pub(crate) use routers::{
    allocate_host_indexes, audit_import, audit_router_add, insert_routers, lock_tenant,
    reserve_router_ids, taken_names,
};
