//! The console's reads: the router table streamed row by row into compact rows (a
//! 100,000-router fleet never exists twice in memory, nor as full `Router` values), and the
//! agents' heartbeats and unknown peers.

use crate::error::Result;
use crate::store::Store;
use crate::tui::data::{Interner, RouterRow};
use crate::tui::monitor::{self, RouterDetail};
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

/// A router's detail view: where it stands, its last 24 hours (5-minute traffic, status
/// strip) and 30 days (hourly traffic, transitions, endpoints), and its availability. A few
/// indexed reads for one router; the store caps every list. `Ok(None)`: the router is gone.
pub async fn router_detail(
    store: &Store,
    router_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<RouterDetail>> {
    let Some(router_now) = store.router_now(router_id).await? else {
        return Ok(None);
    };
    let day_from = now - monitor::DAY;
    let day = store.router_history(router_id, day_from, now).await?;
    let month = store
        .router_history(router_id, now - monitor::MONTH, now)
        .await?;
    let timeline = store.status_timeline(router_id, day_from).await?;
    let availability = store.availability(router_id, now).await?;
    Ok(Some(RouterDetail {
        now: router_now,
        day,
        month,
        timeline,
        availability,
        as_of: now,
    }))
}
