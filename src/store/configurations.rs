//! `vpn_configurations`, one row per router: every write of the table is here. Provisioning
//! inserts the rows (keys sealed) in the statement that inserts their routers, enabling and
//! disabling sets their status, agents write their link columns after each poll (in one
//! statement with the agent's heartbeat), and demo data sets them by hand.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgExecutor, Postgres};

use super::Tx;
use super::notify::CHANNEL;
use super::routers::{NewRouterRow, TenantLock};
use super::status::{LinkUpdate, PollWrite, status_change};
use crate::Result;
use crate::ipam;
use crate::keys::PublicKey;
use crate::model::Hub;

/// The link columns of `vpn_configurations v` set from rows `u` unnested from parameters $2
/// to $11 (the columns of [`LinkColumns`], in order). A macro so the statements stay `&str`.
macro_rules! set_links_from_params {
    () => {
        "
        SET status = u.status, first_handshake_at = u.first_hs, last_handshake_at = u.last_hs,
            last_endpoint = u.endpoint, rx_bytes = u.rx, tx_bytes = u.tx,
            last_rx_counter = u.rx_raw, last_tx_counter = u.tx_raw, last_seen_at = u.seen,
            updated_at = now()
        FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                    $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::timestamptz[])
             AS u(id, status, first_hs, last_hs, endpoint, rx, tx, rx_raw, tx_raw, seen)"
    };
}

/// Binds [`LinkColumns`] as parameters $2 to $11 (a macro: `query` and `query_as` differ in type).
macro_rules! bind_link_columns {
    ($query:expr, $columns:expr) => {
        $query
            .bind(&$columns.ids)
            .bind(&$columns.statuses)
            .bind(&$columns.first_hs)
            .bind(&$columns.last_hs)
            .bind(&$columns.endpoints)
            .bind(&$columns.rx)
            .bind(&$columns.tx)
            .bind(&$columns.rx_raw)
            .bind(&$columns.tx_raw)
            .bind(&$columns.seen)
    };
}

/// One statement per poll: the changed rows (only where the router's enabled flag is still
/// what the status was based on), the heartbeat, and a NOTIFY when any row changed.
const WRITE_POLL: &str = concat!(
    "
    WITH upd AS (
        UPDATE vpn_configurations v",
    set_links_from_params!(),
    ",
             routers r
        WHERE v.id = u.id AND v.hub_id = $1 AND r.id = v.router_id
          AND r.enabled = (u.status <> 'disabled')
        RETURNING v.id
    ), beat AS (
        INSERT INTO wg_agent_status AS s
            (hub_id, host, pid, started_at, last_poll_at, last_error, last_error_at, peers, unknown_peers, updated_at)
        VALUES ($1, $12, $13, $14, $15, NULL, NULL, $16, $17, now())
        ON CONFLICT (hub_id) DO UPDATE SET
            host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
            last_poll_at = EXCLUDED.last_poll_at, last_error = NULL, last_error_at = NULL,
            peers = EXCLUDED.peers, unknown_peers = EXCLUDED.unknown_peers, updated_at = now()
    ), note AS (
        SELECT pg_notify($18, $19) FROM (SELECT 1 FROM upd LIMIT 1) AS any_update
    )
    -- Reading `note` is what runs it: a plain SELECT in a WITH runs only when referenced.
    SELECT (SELECT count(*) FROM upd) AS updated, (SELECT count(*) FROM note) AS notified"
);

/// Status set by hand (demo data), by router id; disabled routers are switched off too.
const SET_LINKS: &str = concat!(
    "
    UPDATE vpn_configurations v",
    set_links_from_params!(),
    "
    WHERE v.router_id = u.id AND v.tenant_id = $1"
);

/// Provisioning's one write: the locked tenant's allocation counters ($1 tenant, $3 next
/// host index, $4 allocated), the routers ($2 hub, $5 the tenant's network address, $6 to $10
/// the rows) and their configuration rows ($11 to $20, bound by [`bind_new_rows`]), in one
/// statement so the tenant's lock is held one round trip for them all. Run by
/// [`super::routers::insert_routers`], which binds $1 to $10.
pub(super) const INSERT_WITH_ROUTERS: &str = "
    WITH allocation AS (
        UPDATE vpn_subnet_allocations
        SET next_host_index = $3, allocated_ips = $4, updated_at = now(),
            status = CASE WHEN $4 >= total_ips THEN 'exhausted' ELSE 'active' END
        WHERE tenant_id = $1
    ), r AS (
        INSERT INTO routers (id, tenant_id, hub_id, name, host_index, vpn_ip, platform_router_id, display_name)
        SELECT u.id, $1, $2, u.name, u.idx, $5::inet + 257 + u.idx, u.platform_id, u.display_name
        FROM unnest($6::bigint[], $7::text[], $8::int[], $9::bigint[], $10::text[])
             AS u(id, name, idx, platform_id, display_name)
        RETURNING id, vpn_ip
    )
    INSERT INTO vpn_configurations
       (tenant_id, router_id, hub_id, server_public_key, client_public_key, client_private_key_sealed,
        preshared_key_sealed, server_ip, client_ip, subnet_cidr, listen_port, server_endpoint,
        interface_name, keepalive_interval, allowed_ips)
    SELECT $1, u.id, $2, $11, u.public_key, u.private_sealed, u.psk_sealed, $12, r.vpn_ip, $13, $14, $15,
           u.iface, u.keepalive, jsonb_build_array(host($12) || '/32')
    FROM unnest($6::bigint[], $16::text[], $17::bytea[], $18::bytea[], $19::text[], $20::int[])
         AS u(id, public_key, private_sealed, psk_sealed, iface, keepalive)
    JOIN r ON r.id = u.id";

/// Binds the configuration rows' parameters ($11 to $20) of [`INSERT_WITH_ROUTERS`].
pub(super) fn bind_new_rows<'q>(
    query: Query<'q, Postgres, PgArguments>,
    lock: &TenantLock,
    hub: &'q Hub,
    rows: &'q [NewRouterRow],
) -> Query<'q, Postgres, PgArguments> {
    let public_keys: Vec<PublicKey> = rows.iter().map(|r| r.public_key).collect();
    let private_sealed: Vec<&[u8]> = rows
        .iter()
        .map(|r| r.private_key_sealed.as_slice())
        .collect();
    let psk_sealed: Vec<&[u8]> = rows
        .iter()
        .map(|r| r.preshared_key_sealed.as_slice())
        .collect();
    let interfaces: Vec<&str> = rows.iter().map(|r| r.interface_name.as_str()).collect();
    let keepalives: Vec<i32> = rows.iter().map(|r| i32::from(r.keepalive)).collect();
    let hub_ip = ipam::hub_address(lock.octet);
    query
        .bind(hub.public_key)
        .bind(super::tenants::host(hub_ip))
        .bind(IpNet::V4(ipam::tenant_subnet(lock.octet)))
        .bind(i32::from(hub.listen_port))
        .bind(&hub.endpoint)
        .bind(public_keys)
        .bind(private_sealed)
        .bind(psk_sealed)
        .bind(interfaces)
        .bind(keepalives)
}

/// Disabled is a status of its own; re-enabled starts again from what handshakes say. The
/// change of status is a transition in the router's history (the agent reloads the new status
/// and does not record it again).
pub(super) async fn set_enabled(tx: &mut Tx<'_>, router_id: i64, enabled: bool) -> Result<()> {
    sqlx::query(
        "WITH before AS (
             SELECT id, status AS was FROM vpn_configurations WHERE router_id = $1 FOR UPDATE
         ), upd AS (
             UPDATE vpn_configurations v SET updated_at = now(), status = CASE
                 WHEN NOT $2 THEN 'disabled'
                 WHEN v.last_handshake_at IS NULL THEN 'pending'
                 ELSE 'offline' END
             FROM before b WHERE v.id = b.id
             RETURNING v.router_id, v.tenant_id, v.hub_id, b.was, v.status
         )
         INSERT INTO router_transitions (router_id, tenant_id, hub_id, at, kind, from_status, to_status)
         SELECT router_id, tenant_id, hub_id, now(), 'status', was, status FROM upd WHERE was <> status",
    )
    .bind(router_id)
    .bind(enabled)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes one poll (changed rows and heartbeat) and announces it when a row changed.
/// Returns how many rows changed.
pub async fn write_poll(db: impl PgExecutor<'_>, poll: &PollWrite<'_>) -> Result<u64> {
    let columns = LinkColumns::new(poll.updates);
    let query = sqlx::query_as(WRITE_POLL).bind(poll.hub_id);
    let (updated, _notified): (i64, i64) = bind_link_columns!(query, columns)
        .bind(&poll.agent.host)
        .bind(poll.agent.pid)
        .bind(poll.agent.started_at)
        .bind(poll.polled_at)
        .bind(poll.peers_seen)
        .bind(poll.unknown_peers)
        .bind(CHANNEL)
        .bind(status_change(poll.hub_id).to_json())
        .fetch_one(db)
        .await?;
    Ok(updated as u64)
}

/// Sets link status by hand (by router id) in one tenant, and switches off the routers it
/// marks disabled.
pub(super) async fn set_links(
    tx: &mut Tx<'_>,
    tenant_id: i64,
    updates: &[LinkUpdate],
) -> Result<()> {
    let columns = LinkColumns::new(updates);
    let query = sqlx::query(SET_LINKS).bind(tenant_id);
    bind_link_columns!(query, columns)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE routers SET enabled = false
         WHERE id = ANY($1::bigint[]) AND id IN (
             SELECT router_id FROM vpn_configurations WHERE status = 'disabled')",
    )
    .bind(&columns.ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Link updates column by column, for `unnest`.
struct LinkColumns {
    ids: Vec<i64>,
    statuses: Vec<&'static str>,
    first_hs: Vec<Option<DateTime<Utc>>>,
    last_hs: Vec<Option<DateTime<Utc>>>,
    endpoints: Vec<Option<String>>,
    rx: Vec<i64>,
    tx: Vec<i64>,
    rx_raw: Vec<i64>,
    tx_raw: Vec<i64>,
    seen: Vec<Option<DateTime<Utc>>>,
}

impl LinkColumns {
    fn new(updates: &[LinkUpdate]) -> Self {
        Self {
            ids: updates.iter().map(|u| u.id).collect(),
            statuses: updates.iter().map(|u| u.link.status.as_str()).collect(),
            first_hs: updates.iter().map(|u| u.link.first_handshake_at).collect(),
            last_hs: updates.iter().map(|u| u.link.last_handshake_at).collect(),
            endpoints: updates
                .iter()
                .map(|u| u.link.last_endpoint.clone())
                .collect(),
            rx: updates.iter().map(|u| u.link.rx_bytes).collect(),
            tx: updates.iter().map(|u| u.link.tx_bytes).collect(),
            rx_raw: updates.iter().map(|u| u.link.last_rx_counter).collect(),
            tx_raw: updates.iter().map(|u| u.link.last_tx_counter).collect(),
            seen: updates.iter().map(|u| u.link.last_seen_at).collect(),
        }
    }
}
