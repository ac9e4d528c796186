//! The console's reads: the router table streamed row by row into compact rows (a
//! 100,000-router fleet never exists twice in memory, nor as full `Router` values), and the
//! agents' heartbeats and unknown peers.

use crate::error::{Error, Result};
use crate::store::Store;
use crate::tui::data::{Interner, RouterRow};
use crate::tui::peerview::AgentReport;

/// One tenant's routers, or all, as table rows.
pub async fn router_rows(store: &Store, tenant: Option<&str>) -> Result<Vec<RouterRow>> {
    let mut names = Interner::default();
    let mut rows = Vec::new();
    store
        .for_each_router_link(tenant, |r| {
            let ipnet::IpNet::V4(ip) = r.vpn_ip else {
                return Err(Error::Database(format!(
                    "router {} has a non-IPv4 address",
                    r.id
                )));
            };
            rows.push(RouterRow {
                id: r.id,
                name: r.name.into_boxed_str(),
                tenant: names.get(&r.tenant),
                vpn_ip: ip.addr(),
                key: r.public_key,
                enabled: r.enabled,
                status: r.status,
                last_handshake: r.last_handshake_at,
                endpoint: r.last_endpoint.map(String::into_boxed_str),
                rx_bytes: r.rx_bytes,
                tx_bytes: r.tx_bytes,
            });
            Ok(())
        })
        .await?;
    rows.shrink_to_fit();
    Ok(rows)
}

/// How many unknown peers the pane lists at most (they are a warning, not a fleet).
const UNKNOWN_SHOWN: i64 = 500;

/// What the agents last wrote: heartbeats and the peers they found unowned.
pub async fn agent_report(store: &Store) -> Result<AgentReport> {
    Ok(AgentReport {
        beats: store.agent_beats().await?,
        unknown: store.unknown_peers(UNKNOWN_SHOWN).await?,
    })
}
