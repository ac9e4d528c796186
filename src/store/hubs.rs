//! Hubs: the WireGuard endpoints routers dial.

use sqlx::FromRow as _;
use sqlx::postgres::PgRow;

use super::notify::publish;
use super::{Store, Tx, audit, on_unique_violation};
use crate::events::{AuditAction, Change, ChangeKind};
use crate::keys::PublicKey;
use crate::model::Hub;
use crate::{Error, Result};

/// A hub about to be inserted; its private key is already sealed for row `id`.
pub struct NewHubRow<'a> {
    pub id: i64,
    pub name: &'a str,
    pub endpoint_host: &'a str,
    pub endpoint_port: u16,
    pub interface: &'a str,
    pub listen_port: u16,
    pub public_key: PublicKey,
    pub private_key_sealed: &'a [u8],
}

/// A hub with its sealed private key.
#[derive(sqlx::FromRow)]
pub struct HubSecretRow {
    #[sqlx(flatten)]
    pub hub: Hub,
    pub private_key_sealed: Vec<u8>,
}

/// Hub columns without the router count: for paths that run per provisioning, whose cost
/// must not grow with the fleet.
/// Never the sealed private key: the API's database role may not read it.
pub(crate) const HUB_SELECT: &str = "
    SELECT h.id, h.name, h.endpoint_host, h.endpoint_port, h.interface_name, h.listen_port,
           h.public_key, h.created_at, 0::bigint AS routers
    FROM hubs h";
/// With the sealed private key, for the hub's own config.
const HUB_SECRET_SELECT: &str = "
    SELECT h.id, h.name, h.endpoint_host, h.endpoint_port, h.interface_name, h.listen_port,
           h.public_key, h.private_key_sealed, h.created_at, 0::bigint AS routers
    FROM hubs h";
/// Hub columns with the router count, for listings.
const HUB_SELECT_COUNTED: &str = "
    SELECT h.id, h.name, h.endpoint_host, h.endpoint_port, h.interface_name, h.listen_port,
           h.public_key, h.created_at,
           (SELECT count(*) FROM routers r WHERE r.hub_id = h.id) AS routers
    FROM hubs h";

pub(crate) fn hub_from_row(row: &PgRow) -> Result<Hub> {
    Ok(Hub::from_row(row)?.with_endpoint())
}

impl Store {
    /// Reserves a hub id, so the private key can be sealed to its row before the insert.
    pub async fn next_hub_id(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('hubs', 'id'))")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn insert_hub(&self, new: &NewHubRow<'_>) -> Result<Hub> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO hubs (id, name, endpoint_host, endpoint_port, interface_name, listen_port,
                               public_key, private_key_sealed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id)
        .bind(new.name)
        .bind(new.endpoint_host)
        .bind(i32::from(new.endpoint_port))
        .bind(new.interface)
        .bind(i32::from(new.listen_port))
        .bind(new.public_key)
        .bind(new.private_key_sealed)
        .execute(&mut *tx)
        .await
        .map_err(|err| on_unique_violation(err, |_| format!("hub {} already exists", new.name)))?;
        audit(
            &mut tx,
            AuditAction::HubAdd,
            None,
            None,
            serde_json::json!({ "hub": new.name, "endpoint": format!("{}:{}", new.endpoint_host, new.endpoint_port) }),
        )
        .await?;
        publish(
            &mut tx,
            &Change::new(ChangeKind::HubCreated).hub(new.id).id(new.id),
        )
        .await?;
        tx.commit().await?;
        self.hub(new.name).await
    }

    pub async fn list_hubs(&self) -> Result<Vec<Hub>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{HUB_SELECT_COUNTED} ORDER BY h.name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hub_from_row).collect()
    }

    /// A hub with its router count.
    pub async fn hub(&self, name: &str) -> Result<Hub> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{HUB_SELECT_COUNTED} WHERE h.name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| no_such_hub(name))?;
        hub_from_row(&row)
    }

    /// A hub with its sealed private key, without its router count.
    pub async fn hub_secret(&self, name: &str) -> Result<HubSecretRow> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{HUB_SECRET_SELECT} WHERE h.name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| no_such_hub(name))?;
        let secret = HubSecretRow::from_row(&row)?;
        Ok(HubSecretRow {
            hub: secret.hub.with_endpoint(),
            ..secret
        })
    }

    pub async fn hub_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM hubs")
            .fetch_one(&self.pool)
            .await?)
    }

    /// A hub by id, without its router count (`routers` is 0).
    pub async fn hub_by_id(&self, id: i64) -> Result<Hub> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{HUB_SELECT} WHERE h.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no hub with id {id}")))?;
        hub_from_row(&row)
    }
}

/// The hub a new router is served by: the named one, or the only one.
pub(crate) async fn resolve_hub(tx: &mut Tx<'_>, name: Option<&str>) -> Result<Hub> {
    let rows = match name {
        Some(name) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{HUB_SELECT} WHERE h.name = $1"
            )))
            .bind(name)
            .fetch_all(&mut **tx)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{HUB_SELECT} ORDER BY h.name LIMIT 3"
            )))
            .fetch_all(&mut **tx)
            .await?
        }
    };
    match (rows.as_slice(), name) {
        ([row], _) => hub_from_row(row),
        ([], Some(name)) => Err(no_such_hub(name)),
        ([], None) => Err(Error::NotFound(
            "no hub yet: add one first with `tikwire hub add NAME --endpoint HOST:PORT`".into(),
        )),
        (_, _) => {
            let names: Vec<String> = rows
                .iter()
                .filter_map(|r| hub_from_row(r).ok().map(|h| h.name))
                .collect();
            Err(Error::Invalid(crate::model::InvalidInput(format!(
                "several hubs exist ({}{}): choose one with --hub",
                names.join(", "),
                if names.len() >= 3 { ", ..." } else { "" }
            ))))
        }
    }
}

pub(crate) fn no_such_hub(name: &str) -> Error {
    Error::NotFound(format!("no hub named {name:?} (see `tikwire hub list`)"))
}
