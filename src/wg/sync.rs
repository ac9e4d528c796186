//! Writes what the poller sees into PostgreSQL: each router's status, handshake times, last
//! endpoint and cumulative counters, the peers nobody owns, and the agent's heartbeat.
//!
//! The hub's routers are loaded once and kept in memory (reloaded after a change is
//! announced); each poll compares the snapshot with that copy and writes only the rows that
//! changed, all in one statement, followed by one `NOTIFY`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::poller::Snapshot;
use super::status::{Counter, LinkState, Thresholds, next_state};
use crate::model::RouterStatus;
use crate::store::notify::{CHANNEL, Change};
use crate::{Error, Result};

/// A router of this hub as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    id: i64,
    /// "tenant/router", for logs.
    label: String,
    enabled: bool,
    state: LinkState,
}

/// A peer on the interface that no router owns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnknownPeer {
    pub public_key: String,
    pub endpoint: Option<String>,
    pub allowed_ips: String,
    pub last_handshake_at: Option<DateTime<Utc>>,
}

/// A router whose status changed, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub label: String,
    pub from: RouterStatus,
    pub to: RouterStatus,
}

/// What one poll changes in the database. Computed without I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Public key and new state of every router row that changed.
    pub updates: Vec<(String, LinkState)>,
    pub transitions: Vec<Transition>,
    /// Every unknown peer, sorted by key; `None` when the set is what the table already holds.
    pub unknown: Option<Vec<UnknownPeer>>,
    pub unknown_count: usize,
    pub peers_seen: usize,
    pub taken_at: Option<DateTime<Utc>>,
}

/// What a sync wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub rows_updated: u64,
    pub transitions: Vec<Transition>,
    /// Unknown peers that appeared since the last write (public keys).
    pub new_unknown: Vec<String>,
    pub unknown_count: usize,
}

/// Who is writing: stored in the heartbeat row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub host: String,
    pub pid: i32,
    pub started_at: DateTime<Utc>,
}

impl AgentIdentity {
    pub fn current() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        Self {
            host,
            pid: std::process::id() as i32,
            started_at: Utc::now(),
        }
    }
}

/// The in-memory copy of one hub's status rows, and the writer for them.
#[derive(Debug)]
pub struct StatusSync {
    hub_id: i64,
    thresholds: Thresholds,
    identity: AgentIdentity,
    known: HashMap<String, Known>,
    /// What wg_unknown_peers holds for this hub; `None` until first written.
    unknown_written: Option<Vec<UnknownPeer>>,
    dirty: bool,
}

#[derive(sqlx::FromRow)]
struct KnownRow {
    id: i64,
    public_key: String,
    label: String,
    enabled: bool,
    status: String,
    first_handshake_at: Option<DateTime<Utc>>,
    last_handshake_at: Option<DateTime<Utc>>,
    last_endpoint: Option<String>,
    rx_bytes: i64,
    tx_bytes: i64,
    last_rx_counter: i64,
    last_tx_counter: i64,
}

const LOAD_KNOWN: &str = "
    SELECT v.id, v.client_public_key AS public_key, t.name || '/' || r.name AS label, r.enabled,
           v.status, v.first_handshake_at, v.last_handshake_at, v.last_endpoint,
           v.rx_bytes, v.tx_bytes, v.last_rx_counter, v.last_tx_counter
    FROM vpn_configurations v
    JOIN routers r ON r.id = v.router_id
    JOIN tenants t ON t.id = v.tenant_id
    WHERE v.hub_id = $1";

/// One statement per poll: the changed rows (only where the router's enabled flag is still
/// what we based the status on), the heartbeat, and a NOTIFY when any row changed.
const WRITE_POLL: &str = "
    WITH upd AS (
        UPDATE vpn_configurations v
        SET status = u.status, first_handshake_at = u.first_hs, last_handshake_at = u.last_hs,
            last_endpoint = u.endpoint, rx_bytes = u.rx, tx_bytes = u.tx,
            last_rx_counter = u.rx_raw, last_tx_counter = u.tx_raw, updated_at = now()
        FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                    $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
             AS u(id, status, first_hs, last_hs, endpoint, rx, tx, rx_raw, tx_raw),
             routers r
        WHERE v.id = u.id AND v.hub_id = $1 AND r.id = v.router_id
          AND r.enabled = (u.status <> 'disabled')
        RETURNING v.id
    ), beat AS (
        INSERT INTO wg_agent_status AS s
            (hub_id, host, pid, started_at, last_poll_at, last_error, last_error_at, peers, unknown_peers, updated_at)
        VALUES ($1, $11, $12, $13, $14, NULL, NULL, $15, $16, now())
        ON CONFLICT (hub_id) DO UPDATE SET
            host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
            last_poll_at = EXCLUDED.last_poll_at, last_error = NULL, last_error_at = NULL,
            peers = EXCLUDED.peers, unknown_peers = EXCLUDED.unknown_peers, updated_at = now()
    ), note AS (
        SELECT pg_notify($17, $18) FROM (SELECT 1 FROM upd LIMIT 1) AS any_update
    )
    SELECT (SELECT count(*) FROM upd) AS updated, (SELECT count(*) FROM note) AS notified";

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

impl StatusSync {
    /// Loads the hub's routers.
    pub async fn load(
        pool: &PgPool,
        hub_id: i64,
        thresholds: Thresholds,
        identity: AgentIdentity,
    ) -> Result<Self> {
        let mut sync = Self {
            hub_id,
            thresholds,
            identity,
            known: HashMap::new(),
            unknown_written: None,
            dirty: true,
        };
        sync.reload(pool).await?;
        Ok(sync)
    }

    pub fn hub_id(&self) -> i64 {
        self.hub_id
    }

    /// Routers known for this hub.
    pub fn known_count(&self) -> usize {
        self.known.len()
    }

    /// Routers were added, removed, enabled or disabled: reload before the next write.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Re-reads the hub's routers from the database.
    pub async fn reload(&mut self, pool: &PgPool) -> Result<()> {
        let rows: Vec<KnownRow> = sqlx::query_as(LOAD_KNOWN)
            .bind(self.hub_id)
            .fetch_all(pool)
            .await?;
        let mut known = HashMap::with_capacity(rows.len());
        for row in rows {
            let status = RouterStatus::parse(&row.status).ok_or_else(|| {
                Error::Database(format!(
                    "router {} has an unknown status {:?}",
                    row.label, row.status
                ))
            })?;
            let state = LinkState {
                status,
                first_handshake_at: row.first_handshake_at,
                last_handshake_at: row.last_handshake_at,
                last_endpoint: row.last_endpoint,
                rx: Counter {
                    total: row.rx_bytes,
                    last_raw: row.last_rx_counter,
                },
                tx: Counter {
                    total: row.tx_bytes,
                    last_raw: row.last_tx_counter,
                },
            };
            known.insert(
                row.public_key,
                Known {
                    id: row.id,
                    label: row.label,
                    enabled: row.enabled,
                    state,
                },
            );
        }
        self.known = known;
        self.dirty = false;
        Ok(())
    }

    /// What this snapshot changes. Pure: the in-memory copy is not touched.
    pub fn plan(&self, snapshot: &Snapshot) -> SyncPlan {
        let now = snapshot.taken_at;
        let mut plan = SyncPlan {
            peers_seen: snapshot.peers.len(),
            taken_at: Some(now),
            ..SyncPlan::default()
        };
        for (key, known) in &self.known {
            let seen = snapshot.peers.get(key).map(|p| p.observation());
            let next = next_state(
                &known.state,
                known.enabled,
                seen.as_ref(),
                now,
                &self.thresholds,
            );
            if next == known.state {
                continue;
            }
            if next.status != known.state.status {
                plan.transitions.push(Transition {
                    label: known.label.clone(),
                    from: known.state.status,
                    to: next.status,
                });
            }
            plan.updates.push((key.clone(), next));
        }
        let mut unknown: Vec<UnknownPeer> = snapshot
            .peers
            .iter()
            .filter(|(key, _)| !self.known.contains_key(key.as_str()))
            .map(|(key, peer)| UnknownPeer {
                public_key: key.clone(),
                endpoint: peer.endpoint.map(|e| e.to_string()),
                allowed_ips: peer
                    .allowed_ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                last_handshake_at: peer.last_handshake,
            })
            .collect();
        unknown.sort();
        plan.unknown_count = unknown.len();
        if self.unknown_written.as_ref() != Some(&unknown) {
            plan.unknown = Some(unknown);
        }
        plan
    }

    /// Reloads if needed, plans and writes one snapshot.
    pub async fn sync(&mut self, pool: &PgPool, snapshot: &Snapshot) -> Result<SyncReport> {
        if self.dirty {
            self.reload(pool).await?;
        }
        let plan = self.plan(snapshot);
        self.write(pool, plan).await
    }

    /// Writes a plan, then takes it into the in-memory copy. On error nothing is taken, so
    /// the next poll computes the same changes again (counters included) from the old copy.
    pub async fn write(&mut self, pool: &PgPool, plan: SyncPlan) -> Result<SyncReport> {
        let mut columns = Columns::with_capacity(plan.updates.len());
        for (key, state) in &plan.updates {
            if let Some(known) = self.known.get(key) {
                columns.push(known.id, state);
            }
        }
        let payload = status_payload(self.hub_id);
        let (updated, _notified): (i64, i64) = sqlx::query_as(WRITE_POLL)
            .bind(self.hub_id)
            .bind(&columns.ids)
            .bind(&columns.statuses)
            .bind(&columns.first_hs)
            .bind(&columns.last_hs)
            .bind(&columns.endpoints)
            .bind(&columns.rx)
            .bind(&columns.tx)
            .bind(&columns.rx_raw)
            .bind(&columns.tx_raw)
            .bind(&self.identity.host)
            .bind(self.identity.pid)
            .bind(self.identity.started_at)
            .bind(plan.taken_at.unwrap_or_else(Utc::now))
            .bind(plan.peers_seen as i32)
            .bind(plan.unknown_count as i32)
            .bind(CHANNEL)
            .bind(&payload)
            .fetch_one(pool)
            .await?;

        let mut new_unknown = Vec::new();
        if let Some(unknown) = plan.unknown {
            write_unknown(pool, self.hub_id, &unknown, &payload).await?;
            let before = self.unknown_written.take().unwrap_or_default();
            new_unknown = unknown
                .iter()
                .filter(|u| !before.iter().any(|b| b.public_key == u.public_key))
                .map(|u| u.public_key.clone())
                .collect();
            self.unknown_written = Some(unknown);
        }
        for (key, state) in plan.updates {
            if let Some(known) = self.known.get_mut(&key) {
                known.state = state;
            }
        }
        Ok(SyncReport {
            rows_updated: updated as u64,
            transitions: plan.transitions,
            new_unknown,
            unknown_count: plan.unknown_count,
        })
    }

    /// Records that polling failed, for consoles to show. Status rows are left alone: they
    /// age on their own the next time a poll works.
    pub async fn record_error(&self, pool: &PgPool, message: &str) -> Result<()> {
        sqlx::query(WRITE_ERROR)
            .bind(self.hub_id)
            .bind(&self.identity.host)
            .bind(self.identity.pid)
            .bind(self.identity.started_at)
            .bind(message)
            .execute(pool)
            .await?;
        Ok(())
    }
}

/// The `NOTIFY` payload for status changes on a hub.
fn status_payload(hub_id: i64) -> String {
    serde_json::to_string(&Change::new("status", "update").hub(hub_id)).unwrap_or_default()
}

async fn write_unknown(
    pool: &PgPool,
    hub_id: i64,
    unknown: &[UnknownPeer],
    payload: &str,
) -> Result<()> {
    let keys: Vec<&str> = unknown.iter().map(|u| u.public_key.as_str()).collect();
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
        .bind(payload)
        .execute(pool)
        .await?;
    Ok(())
}

/// The changed rows, column by column, for `unnest`.
struct Columns {
    ids: Vec<i64>,
    statuses: Vec<&'static str>,
    first_hs: Vec<Option<DateTime<Utc>>>,
    last_hs: Vec<Option<DateTime<Utc>>>,
    endpoints: Vec<Option<String>>,
    rx: Vec<i64>,
    tx: Vec<i64>,
    rx_raw: Vec<i64>,
    tx_raw: Vec<i64>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Self {
            ids: Vec::with_capacity(n),
            statuses: Vec::with_capacity(n),
            first_hs: Vec::with_capacity(n),
            last_hs: Vec::with_capacity(n),
            endpoints: Vec::with_capacity(n),
            rx: Vec::with_capacity(n),
            tx: Vec::with_capacity(n),
            rx_raw: Vec::with_capacity(n),
            tx_raw: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, id: i64, state: &LinkState) {
        self.ids.push(id);
        self.statuses.push(state.status.as_str());
        self.first_hs.push(state.first_handshake_at);
        self.last_hs.push(state.last_handshake_at);
        self.endpoints.push(state.last_endpoint.clone());
        self.rx.push(state.rx.total);
        self.tx.push(state.tx.total);
        self.rx_raw.push(state.rx.last_raw);
        self.tx_raw.push(state.tx.last_raw);
    }
}
