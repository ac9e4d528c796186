//! The console's own reads: the router table streamed row by row into compact rows (a
//! 100,000-router fleet never exists twice in memory, nor as full `Router` values), the
//! agents' heartbeats and unknown peers, and whether this process may poll the hub itself.

use std::path::Path;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use ipnet::IpNet;
use sqlx::PgPool;

use crate::error::{Error, Result};
use crate::model::{Hub, RouterStatus};
use crate::tui::data::{Interner, RouterRow, decode_key};
use crate::tui::peerview::{AgentBeat, AgentReport, StoredUnknown};

const ROUTER_ROWS: &str = "
    SELECT r.id, r.name, t.name AS tenant, r.vpn_ip, c.client_public_key, r.enabled, c.status,
           c.last_handshake_at, c.last_endpoint, c.rx_bytes, c.tx_bytes
    FROM routers r
    JOIN tenants t ON t.id = r.tenant_id
    JOIN vpn_configurations c ON c.router_id = r.id
    WHERE ($1::text IS NULL OR t.name = $1)";

#[derive(sqlx::FromRow)]
struct RowIn {
    id: i64,
    name: String,
    tenant: String,
    vpn_ip: IpNet,
    client_public_key: String,
    enabled: bool,
    status: String,
    last_handshake_at: Option<DateTime<Utc>>,
    last_endpoint: Option<String>,
    rx_bytes: i64,
    tx_bytes: i64,
}

/// One tenant's routers, or all, as table rows.
pub async fn router_rows(pool: &PgPool, tenant: Option<&str>) -> Result<Vec<RouterRow>> {
    let mut names = Interner::default();
    let mut rows = Vec::new();
    let mut stream = sqlx::query_as::<_, RowIn>(ROUTER_ROWS)
        .bind(tenant)
        .fetch(pool);
    while let Some(r) = stream.try_next().await? {
        let IpNet::V4(ip) = r.vpn_ip else {
            return Err(Error::Database(format!(
                "router {} has a non-IPv4 address",
                r.id
            )));
        };
        let status = RouterStatus::parse(&r.status).ok_or_else(|| {
            Error::Database(format!(
                "router {} has an unknown status {:?}",
                r.id, r.status
            ))
        })?;
        rows.push(RouterRow {
            id: r.id,
            name: r.name.into_boxed_str(),
            tenant: names.get(&r.tenant),
            vpn_ip: ip.addr(),
            key: decode_key(&r.client_public_key).unwrap_or([0; 32]),
            enabled: r.enabled,
            status,
            last_handshake: r.last_handshake_at,
            endpoint: r.last_endpoint.map(String::into_boxed_str),
            rx_bytes: r.rx_bytes,
            tx_bytes: r.tx_bytes,
        });
    }
    rows.shrink_to_fit();
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct BeatIn {
    hub: String,
    last_poll_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct UnknownIn {
    hub: String,
    public_key: String,
    endpoint: Option<String>,
    allowed_ips: String,
    last_handshake_at: Option<DateTime<Utc>>,
}

/// How many unknown peers the pane lists at most (they are a warning, not a fleet).
const UNKNOWN_SHOWN: i64 = 500;

/// What the agents last wrote: heartbeats and the peers they found unowned.
pub async fn agent_report(pool: &PgPool) -> Result<AgentReport> {
    let beats = sqlx::query_as::<_, BeatIn>(
        "SELECT h.name AS hub, s.last_poll_at, s.last_error
         FROM wg_agent_status s JOIN hubs h ON h.id = s.hub_id ORDER BY h.name",
    )
    .fetch_all(pool)
    .await?;
    let unknown = sqlx::query_as::<_, UnknownIn>(
        "SELECT h.name AS hub, u.public_key, u.endpoint, u.allowed_ips, u.last_handshake_at
         FROM wg_unknown_peers u JOIN hubs h ON h.id = u.hub_id
         ORDER BY u.last_handshake_at DESC NULLS LAST, u.public_key LIMIT $1",
    )
    .bind(UNKNOWN_SHOWN)
    .fetch_all(pool)
    .await?;
    Ok(AgentReport {
        beats: beats
            .into_iter()
            .map(|b| AgentBeat {
                hub: b.hub,
                last_poll_at: b.last_poll_at,
                last_error: b.last_error,
            })
            .collect(),
        unknown: unknown
            .into_iter()
            .map(|u| StoredUnknown {
                hub: u.hub,
                public_key: u.public_key,
                endpoint: u.endpoint,
                allowed_ips: u.allowed_ips,
                last_handshake: u.last_handshake_at,
            })
            .collect(),
    })
}

/// Whether this process may read WireGuard interfaces: root, or CAP_NET_ADMIN in effect.
pub fn may_read_interfaces() -> bool {
    if crate::config::is_root() {
        return true;
    }
    const CAP_NET_ADMIN: u32 = 12;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// The hub whose interface this host has: `wg show IFACE dump` succeeds and, where the
/// interface has a key, it is the hub's (two hubs may share an interface name).
pub async fn local_hub(wg: &Path, hubs: &[Hub]) -> Option<Hub> {
    let mut tried = std::collections::HashSet::new();
    for hub in hubs {
        if !tried.insert(hub.interface.as_str()) {
            continue;
        }
        match crate::wg::poller::poll_once(wg, &hub.interface).await {
            Ok(snap) => {
                let owner = hubs.iter().find(|h| {
                    h.interface == hub.interface
                        && snap.public_key.as_deref().is_none_or(|k| k == h.public_key)
                });
                if let Some(h) = owner {
                    return Some(h.clone());
                }
            }
            Err(e) => tracing::debug!("not polling {} here: {e}", hub.interface),
        }
    }
    None
}
