//! Webhook endpoints, the alert outbox (`alert_events`), deliveries per endpoint and event,
//! and the hub watchdog's memory (`alert_hub_watch`). Each query sits beside the function that
//! runs it; the writes a poll makes take an executor so they join the poll's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::notify::{CHANNEL, Change, ChangeKind};
use super::{Store, on_unique_violation};
use crate::Result;
use crate::alerts::AlertKind;
use crate::alerts::event::OutboxEvent;

/// The NOTIFY channel that wakes delivery workers when deliveries were enqueued.
pub const WEBHOOK_CHANNEL: &str = "tikwire_webhooks";

/// A new endpoint, its secret already sealed to `id`.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub id: i64,
    pub name: &'a str,
    pub url: &'a str,
    pub tenant_id: Option<i64>,
    pub event_types: Option<&'a [AlertKind]>,
    pub secret_sealed: &'a [u8],
}

/// An endpoint as `webhook list` shows it: never the secret.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct EndpointSummary {
    pub name: String,
    pub url: String,
    pub tenant: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered: i64,
    pub pending: i64,
    pub failed: i64,
    /// Deliveries whose last attempt failed (pending retries and given up).
    pub failing: i64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// An endpoint with its sealed secret, to sign with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointSecretRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub secret_sealed: Vec<u8>,
}

/// A delivery a worker claimed: the event to send and where.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub message_id: String,
    pub body: String,
    pub event_created_at: DateTime<Utc>,
    pub url: String,
    pub secret_sealed: Vec<u8>,
}

/// A hub whose agent went silent, just claimed for announcing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SilentHub {
    pub hub_id: i64,
    pub hub: String,
    pub last_poll_at: DateTime<Utc>,
}

/// The next free endpoint id: the secret is sealed to it before the insert.
pub async fn next_endpoint_id(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('webhook_endpoints', 'id'))")
            .fetch_one(db)
            .await?,
    )
}

pub async fn insert_endpoint(db: impl PgExecutor<'_>, new: &NewEndpoint<'_>) -> Result<()> {
    let types: Option<Vec<&str>> = new
        .event_types
        .map(|kinds| kinds.iter().map(|k| k.as_str()).collect());
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, name, url, tenant_id, event_types, secret_sealed)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.name)
    .bind(new.url)
    .bind(new.tenant_id)
    .bind(types)
    .bind(new.secret_sealed)
    .execute(db)
    .await
    .map_err(|err| {
        on_unique_violation(err, |_| {
            format!(
                "a webhook named {:?} exists already (see `tikwire webhook list`)",
                new.name
            )
        })
    })?;
    Ok(())
}

const LIST_ENDPOINTS: &str = "
    SELECT e.name, e.url, t.name AS tenant, e.event_types, e.enabled, e.disabled_reason,
           e.created_at,
           count(d.delivered_at) AS delivered,
           count(*) FILTER (WHERE d.id IS NOT NULL AND d.delivered_at IS NULL AND d.failed_at IS NULL) AS pending,
           count(d.failed_at) AS failed,
           count(*) FILTER (WHERE d.delivered_at IS NULL AND d.last_error IS NOT NULL) AS failing,
           max(d.last_attempt_at) AS last_attempt_at,
           (array_agg(d.last_status ORDER BY d.last_attempt_at DESC NULLS LAST))[1] AS last_status,
           (array_agg(d.last_error ORDER BY d.last_attempt_at DESC NULLS LAST))[1] AS last_error
    FROM webhook_endpoints e
    LEFT JOIN tenants t ON t.id = e.tenant_id
    LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id
    GROUP BY e.id, t.name
    ORDER BY e.name";

pub async fn list_endpoints(db: impl PgExecutor<'_>) -> Result<Vec<EndpointSummary>> {
    Ok(sqlx::query_as(LIST_ENDPOINTS).fetch_all(db).await?)
}

/// Removes an endpoint (and its deliveries); false when there is none of that name.
pub async fn remove_endpoint(db: impl PgExecutor<'_>, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE name = $1")
        .bind(name)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn endpoint_by_name(
    db: impl PgExecutor<'_>,
    name: &str,
) -> Result<Option<EndpointSecretRow>> {
    Ok(
        sqlx::query_as(
            "SELECT id, name, url, secret_sealed FROM webhook_endpoints WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(db)
        .await?,
    )
}

pub async fn endpoint_by_url(
    db: impl PgExecutor<'_>,
    url: &str,
) -> Result<Option<EndpointSecretRow>> {
    Ok(sqlx::query_as(
        "SELECT id, name, url, secret_sealed FROM webhook_endpoints WHERE url = $1
         ORDER BY id LIMIT 1",
    )
    .bind(url)
    .fetch_optional(db)
    .await?)
}

/// Hub alerts about the hub itself, not its routers: they concern every tenant the hub serves
/// (see [`ENQUEUE`]).
pub const HUB_STATE_ALERTS: [AlertKind; 2] = [AlertKind::HubDown, AlertKind::HubUp];

/// Stores events and one delivery per matching enabled endpoint (tenant scope and type
/// filter), then wakes the workers and announces the alerts to consoles: one statement, so it
/// joins the caller's transaction.
///
/// Tenant scope: a tenant's endpoint gets that tenant's events (a hub alert's copy naming
/// only its routers included), and the hub-wide `hub.down` / `hub.up` of a hub that is its
/// home or carries any of its routers (a probe of two indexes per tenant endpoint, not a scan
/// of the hub's routers). Endpoints without a tenant get every original.
///
/// Consoles hear of alerts on the change channel as a status change of the hub: in a poll's
/// transaction that notification is the poll's own (identical ones are sent once); the hub
/// watchdog's `hub.down` has no other.
///
/// The outbox has no foreign keys (a check per row, migration 0012): the hub and the
/// endpoints are locked once here instead, so deleting them waits for this transaction and
/// then takes its rows along (or sets the hub to NULL) by trigger; a hub already gone is NULL.
const ENQUEUE: &str = "
    WITH hub AS (
        SELECT id FROM hubs WHERE id = $1 FOR KEY SHARE
    ), endpoint AS (
        SELECT id, tenant_id, event_types FROM webhook_endpoints WHERE enabled FOR KEY SHARE
    ), ev AS (
        INSERT INTO alert_events (type, at, hub_id, tenant_id, router_id, tenant_copy, body)
        SELECT k, a, (SELECT id FROM hub), t, r, c, b::jsonb
        FROM unnest($2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bool[], $7::text[])
             AS u(k, a, t, r, c, b)
        RETURNING id, type, tenant_id, tenant_copy
    ), del AS (
        INSERT INTO webhook_deliveries (endpoint_id, event_id, tenant_id)
        SELECT e.id, ev.id, coalesce(ev.tenant_id, e.tenant_id)
        FROM ev JOIN endpoint e
          ON (e.tenant_id = ev.tenant_id
              OR (e.tenant_id IS NULL AND NOT ev.tenant_copy)
              OR (ev.tenant_id IS NULL AND ev.type = ANY ($9::text[])
                  AND (EXISTS (SELECT 1 FROM tenants t WHERE t.id = e.tenant_id AND t.hub_id = $1)
                       OR EXISTS (SELECT 1 FROM routers r
                                  WHERE r.tenant_id = e.tenant_id AND r.hub_id = $1))))
         AND (e.event_types IS NULL OR ev.type = ANY (e.event_types))
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM del) AS deliveries,
           (SELECT count(*) FROM (SELECT pg_notify($8, '') WHERE EXISTS (SELECT 1 FROM del)) n)
               AS notified,
           (SELECT count(*) FROM (SELECT pg_notify($10, $11) WHERE EXISTS (SELECT 1 FROM ev)) c)
               AS announced";

/// What an enqueue wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enqueued {
    pub events: i64,
    pub deliveries: i64,
}

pub async fn enqueue(
    db: impl PgExecutor<'_>,
    hub_id: Option<i64>,
    events: &[OutboxEvent],
) -> Result<Enqueued> {
    if events.is_empty() {
        return Ok(Enqueued::default());
    }
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let at: Vec<DateTime<Utc>> = events.iter().map(|e| e.at).collect();
    let tenants: Vec<Option<i64>> = events.iter().map(|e| e.tenant_id).collect();
    let routers: Vec<Option<i64>> = events.iter().map(|e| e.router_id).collect();
    let copies: Vec<bool> = events.iter().map(|e| e.tenant_copy).collect();
    let bodies = events
        .iter()
        .map(|e| serde_json::to_string(&e.body))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|err| crate::Error::Other(format!("cannot encode an alert: {err}")))?;
    let hub_state: Vec<&str> = HUB_STATE_ALERTS.iter().map(|k| k.as_str()).collect();
    let change = match hub_id {
        Some(hub_id) => super::status::status_change(hub_id),
        None => Change::new(ChangeKind::StatusUpdated),
    };
    let (events, deliveries, _notified, _announced): (i64, i64, i64, i64) = sqlx::query_as(ENQUEUE)
        .bind(hub_id)
        .bind(&kinds)
        .bind(&at)
        .bind(&tenants)
        .bind(&routers)
        .bind(&copies)
        .bind(&bodies)
        .bind(WEBHOOK_CHANNEL)
        .bind(&hub_state)
        .bind(CHANNEL)
        .bind(change.to_json())
        .fetch_one(db)
        .await?;
    Ok(Enqueued { events, deliveries })
}

/// Claims up to `limit` due deliveries of enabled endpoints. Claiming leases them: their next
/// attempt moves `lease_secs` ahead, so a worker that dies mid-send leaves them to be retried,
/// never lost; SKIP LOCKED lets several workers (agents on several hubs) share the queue.
const CLAIM: &str = "
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, last_attempt_at = now(),
        next_attempt_at = now() + make_interval(secs => $2)
    FROM alert_events ev, webhook_endpoints e
    WHERE d.id IN (
            SELECT d2.id FROM webhook_deliveries d2
            JOIN webhook_endpoints e2 ON e2.id = d2.endpoint_id
            WHERE d2.delivered_at IS NULL AND d2.failed_at IS NULL
              AND d2.next_attempt_at <= now() AND e2.enabled
            ORDER BY d2.next_attempt_at
            LIMIT $1
            FOR UPDATE OF d2 SKIP LOCKED)
      AND ev.id = d.event_id AND e.id = d.endpoint_id
    RETURNING d.id, d.endpoint_id, d.attempts, ev.message_id, ev.body::text AS body,
              ev.created_at AS event_created_at, e.url, e.secret_sealed";

pub async fn claim_due(
    db: impl PgExecutor<'_>,
    limit: i64,
    lease_secs: f64,
) -> Result<Vec<ClaimedDelivery>> {
    Ok(sqlx::query_as(CLAIM)
        .bind(limit)
        .bind(lease_secs)
        .fetch_all(db)
        .await?)
}

/// The receiver accepted the event.
pub async fn record_delivered(db: impl PgExecutor<'_>, id: i64, status: u16) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries
         SET delivered_at = now(), last_status = $2, last_error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(i32::from(status))
    .execute(db)
    .await?;
    Ok(())
}

/// An attempt failed: retry in `retry_in_secs`, or give up (`None`).
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    id: i64,
    status: Option<u16>,
    error: &str,
    retry_in_secs: Option<f64>,
) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries
         SET last_status = $2, last_error = $3,
             next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                    ELSE now() + make_interval(secs => $4) END,
             failed_at = CASE WHEN $4::float8 IS NULL THEN now() END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.map(i32::from))
    .bind(error)
    .bind(retry_in_secs)
    .execute(db)
    .await?;
    Ok(())
}

/// The receiver said 410 Gone: the endpoint is switched off, with the reason.
pub async fn disable_endpoint(
    db: impl PgExecutor<'_>,
    endpoint_id: i64,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints
         SET enabled = false, disabled_reason = $2, disabled_at = now()
         WHERE id = $1",
    )
    .bind(endpoint_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// The agent of `hub_id` polled: remembers its interval on the database's clock. Returns
/// true when the hub had been announced down (the caller announces `hub.up`, in the same
/// transaction). The old value comes from the join: RETURNING sees only the new row.
const HUB_BEAT: &str = "
    WITH upd AS (
        UPDATE alert_hub_watch w
        SET interval_ms = $2, last_poll_at = now(), down_announced_at = NULL
        FROM (SELECT hub_id, down_announced_at FROM alert_hub_watch WHERE hub_id = $1 FOR UPDATE) old
        WHERE w.hub_id = old.hub_id
        RETURNING old.down_announced_at IS NOT NULL AS was_down
    ), ins AS (
        INSERT INTO alert_hub_watch (hub_id, interval_ms, last_poll_at)
        SELECT $1, $2, now() WHERE NOT EXISTS (SELECT 1 FROM upd)
        ON CONFLICT (hub_id) DO NOTHING
    )
    SELECT coalesce((SELECT was_down FROM upd), false)";

pub async fn hub_beat(db: impl PgExecutor<'_>, hub_id: i64, interval_ms: i32) -> Result<bool> {
    Ok(sqlx::query_scalar(HUB_BEAT)
        .bind(hub_id)
        .bind(interval_ms)
        .fetch_one(db)
        .await?)
}

/// Hubs silent for `intervals` of their own poll interval and not yet announced: marked
/// announced and returned, so however many watchers run, one announces each silence.
const CLAIM_SILENT: &str = "
    UPDATE alert_hub_watch w SET down_announced_at = now()
    FROM hubs h
    WHERE h.id = w.hub_id AND w.down_announced_at IS NULL
      AND w.last_poll_at < now() - make_interval(secs => w.interval_ms * $1 / 1000.0)
    RETURNING w.hub_id, h.name AS hub, w.last_poll_at";

pub async fn claim_silent_hubs(db: impl PgExecutor<'_>, intervals: i32) -> Result<Vec<SilentHub>> {
    Ok(sqlx::query_as(CLAIM_SILENT)
        .bind(intervals)
        .fetch_all(db)
        .await?)
}

/// The newest state alert said about each router of a hub (for an agent starting).
const LAST_ROUTER_ALERTS: &str = "
    SELECT DISTINCT ON (router_id) router_id, type
    FROM alert_events
    WHERE hub_id = $1 AND router_id IS NOT NULL
      AND type IN ('router.stale', 'router.offline', 'router.online', 'router.flapping')
    ORDER BY router_id, id DESC";

pub async fn last_router_alerts(
    db: impl PgExecutor<'_>,
    hub_id: i64,
) -> Result<Vec<(i64, AlertKind)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(LAST_ROUTER_ALERTS)
        .bind(hub_id)
        .fetch_all(db)
        .await?;
    // A type this build does not know (written by a newer one) is skipped, not fatal.
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind)| AlertKind::parse(&kind).ok().map(|k| (id, k)))
        .collect())
}

/// Forgets alerts older than `keep_days` (their deliveries go with them), a bounded batch
/// at a time so one call never holds locks for long. Returns how many were removed.
pub async fn prune_events(db: impl PgExecutor<'_>, keep_days: i32) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM alert_events WHERE id IN (
             SELECT id FROM alert_events WHERE at < now() - make_interval(days => $1)
             ORDER BY at LIMIT 10000)",
    )
    .bind(keep_days)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Deliveries not yet made or given up (the outbox depth), and those given up.
pub async fn outbox_depth(db: impl PgExecutor<'_>) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
                count(failed_at)
         FROM webhook_deliveries",
    )
    .fetch_one(db)
    .await?)
}

impl Store {
    pub(crate) fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }
}
