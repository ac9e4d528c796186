//! Live link status: each router's handshake, endpoint and counters (the status columns of
//! `vpn_configurations`), the agents' heartbeats (`wg_agent_status`) and the peers on a hub
//! that no router owns (`wg_unknown_peers`). Agents write them (the link columns through
//! [`super::configurations`], the one writer of that table); consoles read them.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt as _;
use sqlx::PgExecutor;

use super::history::{self, EndpointMove, FirstHandshake, TrafficDelta, Transition};
use super::notify::{CHANNEL, publish};
use super::{Store, Tx, configurations};
use crate::Result;
use crate::events::{Change, ChangeKind};
use crate::keys::PublicKey;
use crate::model::{AgentIdentity, RotationState, Router, RouterStatus};

/// A router of one hub with its stored link status, as an agent loads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HubLink {
    /// The `vpn_configurations` row.
    pub id: i64,
    pub public_key: PublicKey,
    /// A staged rotation's key: the router's second peer, not a stranger.
    pub pending_public_key: Option<PublicKey>,
    pub router_id: i64,
    pub tenant_id: i64,
    pub tenant: String,
    pub name: String,
    pub enabled: bool,
    #[sqlx(flatten)]
    pub link: StoredLink,
}

/// A router's link status as stored: what an agent last wrote.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredLink {
    pub status: RouterStatus,
    pub first_handshake_at: Option<DateTime<Utc>>,
    pub last_handshake_at: Option<DateTime<Utc>>,
    /// The last poll that saw the router's received bytes grow.
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_endpoint: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    /// The interface's own counters at the last poll (they restart with the interface).
    pub last_rx_counter: i64,
    pub last_tx_counter: i64,
}

/// New link status for one router (by `vpn_configurations` row, or by router id for
/// [`Store::set_link_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUpdate {
    pub id: i64,
    pub link: StoredLink,
}

/// A peer on a hub's interface that no router owns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnknownPeer {
    pub public_key: PublicKey,
    pub endpoint: Option<String>,
    pub allowed_ips: String,
    pub last_handshake_at: Option<DateTime<Utc>>,
}

/// One poll's write: the changed rows, what history records of them, and the agent's
/// heartbeat. All of it commits together ([`write_poll`]).
#[derive(Debug, Clone, Copy)]
pub struct PollWrite<'a> {
    pub hub_id: i64,
    pub updates: &'a [LinkUpdate],
    pub transitions: &'a [Transition],
    pub first_handshakes: &'a [FirstHandshake],
    pub endpoints: &'a [EndpointMove],
    pub traffic: &'a [TrafficDelta],
    pub agent: &'a AgentIdentity,
    pub polled_at: DateTime<Utc>,
    pub peers_seen: i32,
    pub unknown_peers: i32,
}

/// An agent's heartbeat, for consoles.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AgentBeat {
    pub hub: String,
    /// The last successful poll.
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A peer on a hub's interface that no router owns, as the agent stored it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredUnknown {
    pub hub: String,
    pub public_key: PublicKey,
    pub endpoint: Option<String>,
    pub allowed_ips: String,
    #[sqlx(rename = "last_handshake_at")]
    pub last_handshake: Option<DateTime<Utc>>,
}

/// A router as the console's table shows it: no hub, subnet or keys beyond the public one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RouterLink {
    pub id: i64,
    pub name: String,
    pub tenant: String,
    #[sqlx(try_from = "super::columns::V4")]
    pub vpn_ip: Ipv4Addr,
    pub public_key: PublicKey,
    pub enabled: bool,
    pub status: RouterStatus,
    pub last_handshake_at: Option<DateTime<Utc>>,
    pub last_endpoint: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    /// When the current keys were generated.
    pub keys_created_at: DateTime<Utc>,
    /// Set while a rotation is staged (the database keeps it set exactly then).
    pub rotation_staged_at: Option<DateTime<Utc>>,
}

/// The console's view of a router just provisioned or changed.
impl From<&Router> for RouterLink {
    fn from(router: &Router) -> Self {
        Self {
            id: router.id,
            name: router.name.clone(),
            tenant: router.tenant.clone(),
            vpn_ip: router.vpn_ip,
            public_key: router.public_key,
            enabled: router.enabled,
            status: router.status,
            last_handshake_at: router.last_handshake_at,
            last_endpoint: router.last_endpoint.clone(),
            rx_bytes: router.rx_bytes,
            tx_bytes: router.tx_bytes,
            keys_created_at: router.keys_created_at,
            rotation_staged_at: match router.rotation_state {
                RotationState::Staged => router.rotation_staged_at,
                RotationState::None => None,
            },
        }
    }
}

const HUB_LINKS: &str = "
    SELECT v.id, v.client_public_key AS public_key, v.pending_public_key,
           r.id AS router_id, t.id AS tenant_id, t.name AS tenant, r.name, r.enabled,
           v.status, v.first_handshake_at, v.last_handshake_at, v.last_seen_at, v.last_endpoint,
           v.rx_bytes, v.tx_bytes, v.last_rx_counter, v.last_tx_counter
    FROM vpn_configurations v
    JOIN routers r ON r.id = v.router_id
    JOIN tenants t ON t.id = v.tenant_id
    WHERE v.hub_id = $1";

/// Replaces the hub's unknown peers; announces only when the table actually changed.
const WRITE_UNKNOWN: &str = "
    WITH gone AS (
        DELETE FROM wg_unknown_peers WHERE hub_id = $1 AND NOT (public_key = ANY($2::text[]))
        RETURNING 1
    ), seen AS (
        INSERT INTO wg_unknown_peers (hub_id, public_key, endpoint, allowed_ips, last_handshake_at)
        SELECT $1, k, e, a, h FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(k, e, a, h)
        ON CONFLICT (hub_id, public_key) DO UPDATE SET
            endpoint = EXCLUDED.endpoint, allowed_ips = EXCLUDED.allowed_ips,
            last_handshake_at = EXCLUDED.last_handshake_at, last_seen_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM (
        SELECT pg_notify($6, $7) WHERE EXISTS (SELECT 1 FROM gone) OR EXISTS (SELECT 1 FROM seen)
    ) AS note";

const WRITE_ERROR: &str = "
    INSERT INTO wg_agent_status AS s (hub_id, host, pid, started_at, last_error, last_error_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, now(), now())
    ON CONFLICT (hub_id) DO UPDATE SET
        host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
        last_error = EXCLUDED.last_error, last_error_at = now(), updated_at = now()";

const ROUTER_LINKS: &str = "
    SELECT r.id, r.name, t.name AS tenant, r.vpn_ip, c.client_public_key AS public_key, r.enabled,
           c.status, c.last_handshake_at, c.last_endpoint, c.rx_bytes, c.tx_bytes,
           c.keys_created_at, c.rotation_staged_at
    FROM routers r
    JOIN tenants t ON t.id = r.tenant_id
    JOIN vpn_configurations c ON c.router_id = r.id
    WHERE ($1::text IS NULL OR t.name = $1)";

/// Writes one poll in the caller's transaction: the changed rows and the heartbeat, then one
/// statement per kind of history (skipped when empty). Returns how many rows changed.
pub async fn write_poll(tx: &mut Tx<'_>, poll: &PollWrite<'_>) -> Result<u64> {
    let updated = configurations::write_poll(&mut **tx, poll).await?;
    if !poll.transitions.is_empty() {
        history::insert_transitions(&mut **tx, poll.hub_id, poll.transitions).await?;
    }
    if !poll.first_handshakes.is_empty() {
        history::insert_first_handshakes(&mut **tx, poll.hub_id, poll.first_handshakes).await?;
    }
    if !poll.endpoints.is_empty() {
        history::insert_endpoints(&mut **tx, poll.endpoints).await?;
    }
    if !poll.traffic.is_empty() {
        add_traffic_or_skip(tx, poll.traffic).await?;
    }
    Ok(updated)
}

/// Adds the poll's traffic; when its bucket has no partition yet (history maintenance has not
/// run, see [`history::maintain`]) the traffic is left out with a warning rather than losing
/// the status write with it.
async fn add_traffic_or_skip(tx: &mut Tx<'_>, traffic: &[TrafficDelta]) -> Result<()> {
    sqlx::query("SAVEPOINT poll_traffic")
        .execute(&mut **tx)
        .await?;
    match history::add_traffic_raw(&mut **tx, traffic).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some(NO_PARTITION_FOR_ROW) => {
            tracing::warn!(
                "traffic history left out of this poll: {err} (history maintenance has not made its partition)"
            );
            sqlx::query("ROLLBACK TO SAVEPOINT poll_traffic")
                .execute(&mut **tx)
                .await?;
        }
        Err(err) => return Err(err.into()),
    }
    sqlx::query("RELEASE SAVEPOINT poll_traffic")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// SQLSTATE check_violation: what PostgreSQL raises for a row no partition takes.
const NO_PARTITION_FOR_ROW: &str = "23514";

/// The routers of a hub with their stored link status.
pub async fn hub_links(db: impl PgExecutor<'_>, hub_id: i64) -> Result<Vec<HubLink>> {
    Ok(sqlx::query_as(HUB_LINKS).bind(hub_id).fetch_all(db).await?)
}

/// Replaces a hub's unknown peers with `unknown`, announcing it when anything changed.
pub async fn write_unknown_peers(
    db: impl PgExecutor<'_>,
    hub_id: i64,
    unknown: &[UnknownPeer],
) -> Result<()> {
    let keys: Vec<PublicKey> = unknown.iter().map(|u| u.public_key).collect();
    let endpoints: Vec<Option<&str>> = unknown.iter().map(|u| u.endpoint.as_deref()).collect();
    let allowed: Vec<&str> = unknown.iter().map(|u| u.allowed_ips.as_str()).collect();
    let handshakes: Vec<Option<DateTime<Utc>>> =
        unknown.iter().map(|u| u.last_handshake_at).collect();
    sqlx::query(WRITE_UNKNOWN)
        .bind(hub_id)
        .bind(&keys)
        .bind(&endpoints)
        .bind(&allowed)
        .bind(&handshakes)
        .bind(CHANNEL)
        .bind(status_change(hub_id).to_json())
        .execute(db)
        .await?;
    Ok(())
}

/// Records that an agent's poll failed, for consoles to show.
pub async fn record_agent_error(
    db: impl PgExecutor<'_>,
    hub_id: i64,
    agent: &AgentIdentity,
    message: &str,
) -> Result<()> {
    sqlx::query(WRITE_ERROR)
        .bind(hub_id)
        .bind(&agent.host)
        .bind(agent.pid)
        .bind(agent.started_at)
        .bind(message)
        .execute(db)
        .await?;
    Ok(())
}

/// Every agent's heartbeat, by hub name.
pub async fn agent_beats(db: impl PgExecutor<'_>) -> Result<Vec<AgentBeat>> {
    Ok(sqlx::query_as(
        "SELECT h.name AS hub, s.last_poll_at, s.last_error
         FROM wg_agent_status s JOIN hubs h ON h.id = s.hub_id ORDER BY h.name",
    )
    .fetch_all(db)
    .await?)
}

/// The unknown peers of every hub, most recently seen first, at most `limit`.
pub async fn unknown_peers(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<StoredUnknown>> {
    Ok(sqlx::query_as(
        "SELECT h.name AS hub, u.public_key, u.endpoint, u.allowed_ips, u.last_handshake_at
         FROM wg_unknown_peers u JOIN hubs h ON h.id = u.hub_id
         ORDER BY u.last_handshake_at DESC NULLS LAST, u.public_key LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Feeds one tenant's routers, or all, to `each`, one row at a time: memory stays flat however
/// large the fleet.
pub async fn for_each_router_link(
    db: impl PgExecutor<'_>,
    tenant: Option<&str>,
    mut each: impl FnMut(RouterLink) -> Result<()>,
) -> Result<()> {
    let mut rows = sqlx::query_as::<_, RouterLink>(ROUTER_LINKS)
        .bind(tenant)
        .fetch(db);
    while let Some(row) = rows.try_next().await? {
        each(row)?;
    }
    Ok(())
}

/// The ids of a tenant's routers, in order.
pub async fn tenant_router_ids(db: impl PgExecutor<'_>, tenant_id: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT router_id FROM vpn_configurations WHERE tenant_id = $1 ORDER BY router_id",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// The same reads and writes on the store's pool.
impl Store {
    pub async fn hub_links(&self, hub_id: i64) -> Result<Vec<HubLink>> {
        hub_links(&self.pool, hub_id).await
    }

    /// Writes one poll in a transaction of its own.
    pub async fn write_poll(&self, poll: &PollWrite<'_>) -> Result<u64> {
        let mut tx = self.begin().await?;
        let updated = write_poll(&mut tx, poll).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Sets a tenant's routers' link status by hand (by router id), switches off those marked
    /// disabled, and announces it: one transaction.
    pub async fn set_link_status(&self, tenant_id: i64, updates: &[LinkUpdate]) -> Result<()> {
        let mut tx = self.begin().await?;
        configurations::set_links(&mut tx, tenant_id, updates).await?;
        publish(&mut tx, &Change::new(ChangeKind::StatusUpdated)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn write_unknown_peers(&self, hub_id: i64, unknown: &[UnknownPeer]) -> Result<()> {
        write_unknown_peers(&self.pool, hub_id, unknown).await
    }

    pub async fn record_agent_error(
        &self,
        hub_id: i64,
        agent: &AgentIdentity,
        message: &str,
    ) -> Result<()> {
        record_agent_error(&self.pool, hub_id, agent, message).await
    }

    pub async fn agent_beats(&self) -> Result<Vec<AgentBeat>> {
        agent_beats(&self.pool).await
    }

    pub async fn unknown_peers(&self, limit: i64) -> Result<Vec<StoredUnknown>> {
        unknown_peers(&self.pool, limit).await
    }

    pub async fn for_each_router_link(
        &self,
        tenant: Option<&str>,
        each: impl FnMut(RouterLink) -> Result<()>,
    ) -> Result<()> {
        for_each_router_link(&self.pool, tenant, each).await
    }

    pub async fn tenant_router_ids(&self, tenant_id: i64) -> Result<Vec<i64>> {
        tenant_router_ids(&self.pool, tenant_id).await
    }
}

/// What a hub's agent announces after writing status.
pub(super) fn status_change(hub_id: i64) -> Change {
    Change::new(ChangeKind::StatusUpdated).hub(hub_id)
}
