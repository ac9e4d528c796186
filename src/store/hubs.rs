//! Hubs: the WireGuard endpoints routers dial.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow as _, PgExecutor, Row as _};

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
    pub max_peers: u32,
    pub mgmt_address: Option<Ipv4Addr>,
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
           h.public_key, h.created_at, 0::bigint AS routers, h.max_peers, h.mgmt_address
    FROM hubs h";
/// With the sealed private key, for the hub's own config.
const HUB_SECRET_SELECT: &str = "
    SELECT h.id, h.name, h.endpoint_host, h.endpoint_port, h.interface_name, h.listen_port,
           h.public_key, h.private_key_sealed, h.created_at, 0::bigint AS routers,
           h.max_peers, h.mgmt_address
    FROM hubs h";
/// Hub columns with the router count, for listings.
const HUB_SELECT_COUNTED: &str = "
    SELECT h.id, h.name, h.endpoint_host, h.endpoint_port, h.interface_name, h.listen_port,
           h.public_key, h.created_at,
           (SELECT coalesce(sum(c.routers), 0)::bigint FROM router_counts c WHERE c.hub_id = h.id) AS routers,
           h.max_peers, h.mgmt_address
    FROM hubs h";

pub(crate) fn hub_from_row(row: &PgRow) -> Result<Hub> {
    let mut hub = Hub::from_row(row)?.with_endpoint();
    hub.mgmt_address = mgmt_address(row)?;
    Ok(hub)
}

/// The `mgmt_address` column (IPv4 by its check constraint).
fn mgmt_address(row: &PgRow) -> Result<Option<Ipv4Addr>> {
    match row.try_get::<Option<IpNet>, _>("mgmt_address")? {
        None => Ok(None),
        Some(IpNet::V4(net)) => Ok(Some(net.addr())),
        Some(IpNet::V6(net)) => Err(Error::Database(format!(
            "hub management address {net} is not IPv4"
        ))),
    }
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
                               public_key, private_key_sealed, max_peers, mgmt_address)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new.id)
        .bind(new.name)
        .bind(new.endpoint_host)
        .bind(i32::from(new.endpoint_port))
        .bind(new.interface)
        .bind(i32::from(new.listen_port))
        .bind(new.public_key)
        .bind(new.private_key_sealed)
        .bind(new.max_peers as i32)
        .bind(new.mgmt_address.map(super::tenants::host))
        .execute(&mut *tx)
        .await
        .map_err(|err| on_unique_violation(err, |_| format!("hub {} already exists", new.name)))?;
        audit(
            &mut tx,
            AuditAction::HubAdd,
            None,
            None,
            serde_json::json!({
                "hub": new.name,
                "endpoint": format!("{}:{}", new.endpoint_host, new.endpoint_port),
                "max_peers": new.max_peers,
                "mgmt_address": new.mgmt_address,
            }),
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
        let mut hub = secret.hub.with_endpoint();
        hub.mgmt_address = mgmt_address(&row)?;
        Ok(HubSecretRow { hub, ..secret })
    }

    pub async fn hub_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM hubs")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Every hub with its load, tenants and agent heartbeat.
    pub async fn hub_loads(&self) -> Result<Vec<HubLoad>> {
        hub_loads(&self.pool).await
    }

    /// Changes a hub's capacity or management address, in one transaction.
    pub async fn set_hub(&self, name: &str, changes: &HubChanges) -> Result<()> {
        let mut tx = self.begin().await?;
        update_hub(&mut tx, name, changes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The management network's routes (see [`mgmt_routes`]). Refuses when a hub that
    /// should carry routes has no management address, so no route is silently missing.
    pub async fn mgmt_route_rows(&self) -> Result<Vec<MgmtRouteRow>> {
        let missing = hubs_without_mgmt_address(&self.pool).await?;
        if !missing.is_empty() {
            return Err(Error::Invalid(crate::model::InvalidInput(format!(
                "hub{} {} ha{} no management address: set one with `tikwire hub set NAME --mgmt-address ADDR`",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "s" } else { "ve" }
            ))));
        }
        mgmt_routes(&self.pool).await
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

/// A hub's load against its capacity and its agent's heartbeat, for `hub list`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HubLoad {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub hub: Hub,
    /// Tenants whose home it is.
    pub tenants: i64,
    /// Routers of those tenants: what placement and provisioning count against `max_peers`.
    pub load: i64,
    /// The agent's last heartbeat (any write to `wg_agent_status`), if an agent ever ran.
    pub agent_seen_at: Option<DateTime<Utc>>,
    /// The agent's last successful poll.
    pub agent_polled_at: Option<DateTime<Utc>>,
    /// The agent's last poll error, while polls fail.
    pub agent_error: Option<String>,
    /// The database's clock when read, so ages do not depend on this host's.
    #[serde(skip)]
    pub now: DateTime<Utc>,
}

/// Every hub with its load, tenants and agent heartbeat. One row per hub: the load sums the
/// allocation counters of at most 155 tenants, and the router count sums `router_counts`.
pub async fn hub_loads(db: impl PgExecutor<'_>) -> Result<Vec<HubLoad>> {
    let rows = sqlx::query(
        "SELECT h.id, h.name, h.endpoint_host, h.endpoint_port, h.interface_name, h.listen_port,
                h.public_key, h.created_at, h.max_peers, h.mgmt_address,
                (SELECT coalesce(sum(c.routers), 0)::bigint FROM router_counts c WHERE c.hub_id = h.id) AS routers,
                (SELECT count(*) FROM tenants t WHERE t.hub_id = h.id) AS tenants,
                tikwire_hub_load(h.id) AS load,
                s.updated_at AS agent_seen_at, s.last_poll_at AS agent_polled_at,
                s.last_error AS agent_error, now() AS now
         FROM hubs h LEFT JOIN wg_agent_status s ON s.hub_id = h.id
         ORDER BY h.name",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            let mut load = HubLoad::from_row(row)?;
            load.hub = load.hub.with_endpoint();
            load.hub.mgmt_address = mgmt_address(row)?;
            Ok(load)
        })
        .collect()
}

/// What `hub set` changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct HubChanges {
    pub max_peers: Option<u32>,
    pub mgmt_address: Option<Ipv4Addr>,
}

/// Changes a hub's capacity or management address. Lowering the capacity below the current
/// load is refused (the routers are there); the hub lock keeps provisioning out meanwhile.
pub async fn update_hub(tx: &mut Tx<'_>, name: &str, changes: &HubChanges) -> Result<()> {
    let id: i64 = sqlx::query_scalar("SELECT id FROM hubs WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| no_such_hub(name))?;
    // Read under the lock: provisioning cannot add routers between the check and the update.
    lock_hub(tx, id).await?;
    let load: i64 = sqlx::query_scalar("SELECT tikwire_hub_load($1)")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    if let Some(max) = changes.max_peers
        && i64::from(max) < load
    {
        return Err(Error::Invalid(crate::model::InvalidInput(format!(
            "hub {name} carries {load} routers already: --max-peers {max} is below that"
        ))));
    }
    sqlx::query(
        "UPDATE hubs SET max_peers = COALESCE($2, max_peers),
                         mgmt_address = COALESCE($3, mgmt_address), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(changes.max_peers.map(|m| m as i32))
    .bind(changes.mgmt_address.map(super::tenants::host))
    .execute(&mut **tx)
    .await?;
    audit(
        tx,
        AuditAction::HubSet,
        None,
        None,
        serde_json::json!({ "hub": name, "max_peers": changes.max_peers, "mgmt_address": changes.mgmt_address }),
    )
    .await?;
    publish(tx, &Change::new(ChangeKind::HubUpdated).hub(id).id(id)).await?;
    Ok(())
}

/// A hub as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HubRoom {
    pub id: i64,
    pub name: String,
    pub max_peers: i32,
    pub load: i64,
}

impl HubRoom {
    /// Routers it can still take; negative when over capacity (capacity lowered by hand).
    pub fn room(&self) -> i64 {
        i64::from(self.max_peers) - self.load
    }
}

/// The hub with the most room (ties: the first name), if any has room.
pub fn most_room(hubs: &[HubRoom]) -> Option<&HubRoom> {
    hubs.iter()
        .filter(|h| h.room() > 0)
        .min_by(|a, b| b.room().cmp(&a.room()).then_with(|| a.name.cmp(&b.name)))
}

/// Every hub with its load.
async fn hub_rooms(db: impl PgExecutor<'_>) -> Result<Vec<HubRoom>> {
    Ok(sqlx::query_as(
        "SELECT h.id, h.name, h.max_peers, tikwire_hub_load(h.id) AS load FROM hubs h ORDER BY h.name",
    )
    .fetch_all(db)
    .await?)
}

/// Chooses a new tenant's home hub: the named one, or the one with the most room. `None`
/// when no hub exists yet and none was named (the tenant is placed with its first router).
pub(crate) async fn place_tenant(tx: &mut Tx<'_>, name: Option<&str>) -> Result<Option<HubRoom>> {
    let hubs = hub_rooms(&mut **tx).await?;
    if let Some(name) = name {
        let hub = hubs
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| no_such_hub(name))?;
        if hub.room() <= 0 {
            return Err(hub_full(hub, None));
        }
        return Ok(Some(hub.clone()));
    }
    if hubs.is_empty() {
        return Ok(None);
    }
    match most_room(&hubs) {
        Some(hub) => Ok(Some(hub.clone())),
        None => Err(Error::Exhausted(format!(
            "every hub is full ({}): add a hub with `tikwire hub add`, or raise one's capacity with `tikwire hub set NAME --max-peers N`",
            hubs.iter()
                .map(|h| format!("{} {}/{}", h.name, h.load, h.max_peers))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn hub_full(hub: &HubRoom, adding: Option<usize>) -> Error {
    let adding = adding.map_or(String::new(), |n| {
        format!(
            " and this adds {}",
            crate::format::counted(n as i64, "router")
        )
    });
    Error::Exhausted(format!(
        "hub {} is full: its tenants have {} of its {} routers{adding}; raise its capacity with `tikwire hub set {} --max-peers N` or place new tenants on another hub",
        hub.name, hub.load, hub.max_peers, hub.name
    ))
}

/// Serializes the capacity check and the inserts of every tenant homed on one hub, so
/// concurrent provisioning cannot overfill it (pg_advisory_xact_lock key pair).
const HUB_LOCK_CLASS: i32 = 0x7477_6862;

async fn lock_hub(tx: &mut Tx<'_>, hub_id: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(HUB_LOCK_CLASS)
        .bind(hub_id as i32)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The home hub of a locked tenant, for `count` new routers: placed now when it has none,
/// refused when `requested` names another hub or the hub has no room for them. Holds the
/// hub's lock until the caller commits.
pub(crate) async fn home_hub_for_routers(
    tx: &mut Tx<'_>,
    tenant_id: i64,
    tenant: &str,
    requested: Option<&str>,
    count: usize,
) -> Result<Hub> {
    let home: Option<i64> = sqlx::query_scalar("SELECT hub_id FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_one(&mut **tx)
        .await?;
    let hub_id = match home {
        Some(id) => id,
        None => {
            let placed = place_tenant(tx, requested).await?.ok_or_else(|| {
                Error::NotFound(
                    "no hub yet: add one first with `tikwire hub add NAME --endpoint HOST:PORT`"
                        .into(),
                )
            })?;
            sqlx::query("UPDATE tenants SET hub_id = $2, updated_at = now() WHERE id = $1")
                .bind(tenant_id)
                .bind(placed.id)
                .execute(&mut **tx)
                .await?;
            placed.id
        }
    };
    lock_hub(tx, hub_id).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{HUB_SELECT} WHERE h.id = $1")))
        .bind(hub_id)
        .fetch_one(&mut **tx)
        .await?;
    let hub = hub_from_row(&row)?;
    if let Some(name) = requested
        && name != hub.name
    {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM hubs WHERE name = $1)")
            .bind(name)
            .fetch_one(&mut **tx)
            .await?;
        if !exists {
            return Err(no_such_hub(name));
        }
        return Err(Error::Invalid(crate::model::InvalidInput(format!(
            "tenant {tenant}'s routers live on its home hub {}, not {name}: leave out --hub",
            hub.name
        ))));
    }
    let load: i64 = sqlx::query_scalar("SELECT tikwire_hub_load($1)")
        .bind(hub_id)
        .fetch_one(&mut **tx)
        .await?;
    let room = HubRoom {
        id: hub.id,
        name: hub.name.clone(),
        max_peers: hub.max_peers as i32,
        load,
    };
    if (count as i64) > room.room() {
        return Err(hub_full(&room, Some(count)));
    }
    Ok(hub)
}

/// One route of the management network: a tenant's /16 via its home hub, or one router left
/// on another hub by the migration to home hubs (a /32 via that hub).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MgmtRouteRow {
    #[sqlx(try_from = "super::columns::V4")]
    pub destination: Ipv4Net,
    pub tenant: String,
    /// The router, for a /32.
    pub router: Option<String>,
    pub hub: String,
    #[sqlx(try_from = "super::columns::V4")]
    pub via: Ipv4Addr,
}

/// Hubs that carry routers or are some tenant's home but have no management address.
pub async fn hubs_without_mgmt_address(db: impl PgExecutor<'_>) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT h.name FROM hubs h
         WHERE h.mgmt_address IS NULL
           AND (EXISTS (SELECT 1 FROM tenants t WHERE t.hub_id = h.id)
                OR EXISTS (SELECT 1 FROM routers r WHERE r.hub_id = h.id))
         ORDER BY h.name",
    )
    .fetch_all(db)
    .await?)
}

/// The management network's routes, in address order: each placed tenant's /16 via its
/// home hub, and a /32 for each router on another hub than its tenant's home (one index
/// probe per tenant and hub).
pub async fn mgmt_routes(db: impl PgExecutor<'_>) -> Result<Vec<MgmtRouteRow>> {
    Ok(sqlx::query_as(
        "SELECT a.subnet_cidr AS destination, t.name AS tenant, NULL::text AS router,
                h.name AS hub, h.mgmt_address AS via
         FROM tenants t JOIN vpn_subnet_allocations a ON a.tenant_id = t.id
         JOIN hubs h ON h.id = t.hub_id
         UNION ALL
         SELECT r.vpn_ip, t.name, r.name, h.name, h.mgmt_address
         FROM tenants t JOIN hubs h ON h.id IS DISTINCT FROM t.hub_id
         JOIN routers r ON r.tenant_id = t.id AND r.hub_id = h.id
         ORDER BY destination",
    )
    .fetch_all(db)
    .await?)
}

pub(crate) fn no_such_hub(name: &str) -> Error {
    Error::NotFound(format!("no hub named {name:?} (see `tikwire hub list`)"))
}
