//! What one poll knows about the hub, handed whole to the metrics side: scrapes render from
//! the latest of these and never touch the database or the interface.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::model::RouterStatus;

/// One router as the poll left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterFigures {
    /// Shared by the tenant's routers (one allocation per tenant, not per router).
    pub tenant: Arc<str>,
    pub name: Arc<str>,
    pub vpn_ip: Ipv4Addr,
    pub status: RouterStatus,
    /// Cumulative bytes received from the router, across interface restarts.
    pub rx_bytes: i64,
    /// Cumulative bytes sent to the router.
    pub tx_bytes: i64,
    pub last_handshake_at: Option<DateTime<Utc>>,
}

/// How many of a tenant's routers (on this hub) are in each status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRouters {
    pub tenant: Arc<str>,
    /// Indexed like [`RouterStatus::ALL`].
    pub by_status: [u64; RouterStatus::ALL.len()],
}

impl TenantRouters {
    pub fn count(&self, status: RouterStatus) -> u64 {
        self.by_status[status_slot(status)]
    }
}

/// The hub as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFigures {
    pub taken_at: DateTime<Utc>,
    /// Peers on the interface, known or not.
    pub peers: u64,
    /// Peers on the interface that no router owns.
    pub unknown_peers: u64,
    /// Sorted by tenant.
    pub tenants: Vec<TenantRouters>,
    /// Every router, in no particular order; only with `--metrics-per-router`.
    pub routers: Option<Vec<RouterFigures>>,
}

impl HubFigures {
    /// Counts `routers` by tenant and status, and keeps them whole when `per_router`.
    pub fn from_routers(
        routers: impl Iterator<Item = RouterFigures>,
        peers: usize,
        unknown_peers: usize,
        taken_at: DateTime<Utc>,
        per_router: bool,
    ) -> Self {
        let mut counts: BTreeMap<Arc<str>, [u64; RouterStatus::ALL.len()]> = BTreeMap::new();
        let mut kept = per_router.then(Vec::new);
        for router in routers {
            counts.entry(router.tenant.clone()).or_default()[status_slot(router.status)] += 1;
            if let Some(kept) = &mut kept {
                kept.push(router);
            }
        }
        Self {
            taken_at,
            peers: peers as u64,
            unknown_peers: unknown_peers as u64,
            tenants: counts
                .into_iter()
                .map(|(tenant, by_status)| TenantRouters { tenant, by_status })
                .collect(),
            routers: kept,
        }
    }
}

/// The index of `status` in [`RouterStatus::ALL`].
fn status_slot(status: RouterStatus) -> usize {
    match status {
        RouterStatus::Pending => 0,
        RouterStatus::Online => 1,
        RouterStatus::Stale => 2,
        RouterStatus::Offline => 3,
        RouterStatus::Disabled => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(tenant: &Arc<str>, name: &str, status: RouterStatus) -> RouterFigures {
        RouterFigures {
            tenant: tenant.clone(),
            name: name.into(),
            vpn_ip: Ipv4Addr::new(10, 100, 1, 1),
            status,
            rx_bytes: 0,
            tx_bytes: 0,
            last_handshake_at: None,
        }
    }

    #[test]
    fn slots_follow_the_order_of_all() {
        for (i, status) in RouterStatus::ALL.into_iter().enumerate() {
            assert_eq!(status_slot(status), i);
        }
    }

    #[test]
    fn routers_are_counted_by_tenant_and_status() {
        let (acme, zeta): (Arc<str>, Arc<str>) = ("acme".into(), "zeta".into());
        let routers = vec![
            router(&zeta, "z1", RouterStatus::Offline),
            router(&acme, "a1", RouterStatus::Online),
            router(&acme, "a2", RouterStatus::Online),
            router(&acme, "a3", RouterStatus::Disabled),
        ];
        let now = Utc::now();
        let figures = HubFigures::from_routers(routers.clone().into_iter(), 5, 1, now, false);
        assert_eq!(figures.tenants.len(), 2);
        assert_eq!(&*figures.tenants[0].tenant, "acme");
        assert_eq!(figures.tenants[0].count(RouterStatus::Online), 2);
        assert_eq!(figures.tenants[0].count(RouterStatus::Disabled), 1);
        assert_eq!(figures.tenants[0].count(RouterStatus::Offline), 0);
        assert_eq!(figures.tenants[1].count(RouterStatus::Offline), 1);
        assert_eq!((figures.peers, figures.unknown_peers), (5, 1));
        assert_eq!(figures.routers, None, "no per-router figures unless asked");

        let with = HubFigures::from_routers(routers.into_iter(), 5, 1, now, true);
        assert_eq!(with.routers.map(|r| r.len()), Some(4));
    }
}
