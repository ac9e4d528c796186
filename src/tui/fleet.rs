//! The console's reads: the router table streamed row by row into compact rows (a
//! 100,000-router fleet never exists twice in memory, nor as full `Router` values), and the
//! agents' heartbeats and unknown peers.

use crate::error::Result;
use crate::store::Store;
use crate::tui::data::{Interner, RouterRow};
use crate::tui::peerview::AgentReport;

/// One tenant's routers, or all, as table rows.
pub async fn router_rows(store: &Store, tenant: Option<&str>) -> Result<Vec<RouterRow>> {
    let mut names = Interner::default();
    let mut rows = Vec::new();
    store
        .for_each_router_link(tenant, |r| {
            let tenant = names.get(&r.tenant);
            rows.push(RouterRow::new(r, tenant));
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
