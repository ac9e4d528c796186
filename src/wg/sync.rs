//! Writes what the poller sees into PostgreSQL: each router's status, handshake times, last
//! endpoint and cumulative counters, the peers nobody owns, and the agent's heartbeat.
//!
//! The hub's routers are loaded once and kept in memory (reloaded after a change is
//! announced); each poll compares the snapshot with that copy and writes only the rows that
//! changed, all in one statement, followed by one `NOTIFY`. The same comparison yields the
//! poll's history (status transitions, first handshakes, endpoint changes, traffic), written in
//! the same transaction. The copy always starts from what is stored, so a restarted agent
//! compares with the database, never with nothing, and invents no transitions.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::poller::Snapshot;
use super::status::{Counter, LinkState, Thresholds, changed_state};
use crate::Result;
use crate::alerts::engine::RouterChange;
use crate::alerts::event::RouterFacts;
use crate::alerts::monitor::HubAlerts;
use crate::history::bucket_start;
use crate::keys::PublicKey;
use crate::metrics::{HubFigures, RouterFigures};
use crate::model::AgentIdentity;
pub use crate::store::history::Transition;
use crate::store::history::{EndpointMove, FirstHandshake, RouterRef, TrafficDelta};
use crate::store::{HubLink, LinkUpdate, PollWrite, Store, StoredLink, UnknownPeer};

/// A router of this hub as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    /// The `vpn_configurations` row.
    id: i64,
    router: RouterRef,
    /// For alerts.
    vpn_ip: Ipv4Addr,
    enabled: bool,
    state: LinkState,
}

/// What one poll changes in the database. Computed without I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Public key and new state of every router row that changed.
    pub updates: Vec<(PublicKey, LinkState)>,
    pub transitions: Vec<Transition>,
    pub first_handshakes: Vec<FirstHandshake>,
    pub endpoints: Vec<EndpointMove>,
    /// Only routers whose counters grew.
    pub traffic: Vec<TrafficDelta>,
    /// What the alert engine needs: status changes and first handshakes, by router id.
    pub alert_changes: Vec<RouterChange>,
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
    pub new_unknown: Vec<PublicKey>,
    pub unknown_count: usize,
}

/// The in-memory copy of one hub's status rows, and the writer for them.
#[derive(Debug)]
pub struct StatusSync {
    hub_id: i64,
    thresholds: Thresholds,
    identity: AgentIdentity,
    known: HashMap<PublicKey, Known>,
    /// Staged rotation keys: peers of known routers until the cut-over, never unknown.
    staged: HashSet<PublicKey>,
    /// What wg_unknown_peers holds for this hub; `None` until first written.
    unknown_written: Option<Vec<UnknownPeer>>,
    dirty: bool,
    /// Alerts of this hub, when enabled: written with each poll.
    alerts: Option<HubAlerts>,
    /// `routers.id` -> public key, for alert facts.
    by_router: HashMap<i64, PublicKey>,
}

impl StatusSync {
    /// Loads the hub's routers.
    pub async fn load(
        store: &Store,
        hub_id: i64,
        thresholds: Thresholds,
        identity: AgentIdentity,
    ) -> Result<Self> {
        let mut sync = Self {
            hub_id,
            thresholds,
            identity,
            known: HashMap::new(),
            staged: HashSet::new(),
            unknown_written: None,
            dirty: true,
            alerts: None,
            by_router: HashMap::new(),
        };
        sync.reload(store).await?;
        Ok(sync)
    }

    pub fn hub_id(&self) -> i64 {
        self.hub_id
    }

    /// Routers known for this hub.
    pub fn known_count(&self) -> usize {
        self.known.len()
    }

    /// Alerts from now on, with what the engine remembers (kept across reloads of the hub).
    pub fn set_alerts(&mut self, mut alerts: HubAlerts) {
        alerts.track(
            self.known
                .values()
                .map(|k| (k.router.router_id, k.state.status)),
        );
        self.alerts = Some(alerts);
    }

    /// The alerts, when enabled (to recall what was said before a restart).
    pub fn alerts_mut(&mut self) -> Option<&mut HubAlerts> {
        self.alerts.as_mut()
    }

    /// The alert state, to carry into the next copy of this hub.
    pub fn take_alerts(&mut self) -> Option<HubAlerts> {
        self.alerts.take()
    }

    /// Routers were added, removed, enabled or disabled: reload before the next write.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Re-reads the hub's routers from the database.
    pub async fn reload(&mut self, store: &Store) -> Result<()> {
        let rows = store.hub_links(self.hub_id).await?;
        self.take_rows(rows);
        Ok(())
    }

    /// Replaces the in-memory copy with the stored rows.
    fn take_rows(&mut self, rows: Vec<HubLink>) {
        let mut known = HashMap::with_capacity(rows.len());
        self.staged = rows.iter().filter_map(|r| r.pending_public_key).collect();
        for row in rows {
            let link = row.link;
            let state = LinkState {
                status: link.status,
                first_handshake_at: link.first_handshake_at,
                last_handshake_at: link.last_handshake_at,
                last_seen_at: link.last_seen_at,
                last_endpoint: link.last_endpoint,
                rx: Counter {
                    total: link.rx_bytes,
                    last_raw: link.last_rx_counter,
                },
                tx: Counter {
                    total: link.tx_bytes,
                    last_raw: link.last_tx_counter,
                },
            };
            known.insert(
                row.public_key,
                Known {
                    id: row.id,
                    router: RouterRef {
                        router_id: row.router_id,
                        tenant_id: row.tenant_id,
                        tenant: row.tenant,
                        name: row.name,
                    },
                    vpn_ip: row.vpn_ip,
                    enabled: row.enabled,
                    state,
                },
            );
        }
        self.by_router = known
            .iter()
            .map(|(key, k)| (k.router.router_id, *key))
            .collect();
        self.known = known;
        self.dirty = false;
        if let Some(alerts) = &mut self.alerts {
            alerts.track(
                self.known
                    .values()
                    .map(|k| (k.router.router_id, k.state.status)),
            );
        }
    }

    /// What this snapshot changes. Pure: the in-memory copy is not touched.
    pub fn plan(&self, snapshot: &Snapshot) -> SyncPlan {
        let now = snapshot.taken_at;
        let mut plan = SyncPlan {
            peers_seen: snapshot.peers.len(),
            taken_at: Some(now),
            ..SyncPlan::default()
        };
        // Peers that are known routers: when that is all of them, none is unknown.
        let mut peers_known = 0;
        for (key, known) in &self.known {
            let seen = snapshot.peers.get(key).map(|p| p.observation());
            peers_known += usize::from(seen.is_some());
            let Some(next) = changed_state(
                &known.state,
                known.enabled,
                seen.as_ref(),
                now,
                &self.thresholds,
            ) else {
                continue;
            };
            let first_handshake =
                known.state.first_handshake_at.is_none() && next.first_handshake_at.is_some();
            if next.status != known.state.status || first_handshake {
                plan.alert_changes.push(RouterChange {
                    router: known.router.router_id,
                    from: known.state.status,
                    to: next.status,
                    first_handshake,
                });
            }
            self.plan_history(known, &next, now, &mut plan);
            plan.updates.push((*key, next));
        }
        let mut unknown: Vec<UnknownPeer> = if peers_known == snapshot.peers.len() {
            Vec::new()
        } else {
            snapshot
                .peers
                .iter()
                .filter(|(key, _)| !self.known.contains_key(*key) && !self.staged.contains(*key))
                .map(|(key, peer)| UnknownPeer {
                    public_key: *key,
                    endpoint: peer.endpoint.map(|e| e.to_string()),
                    allowed_ips: peer
                        .allowed_ips
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    last_handshake_at: peer.last_handshake,
                })
                .collect()
        };
        unknown.sort();
        plan.unknown_count = unknown.len();
        if self.unknown_written.as_ref() != Some(&unknown) {
            plan.unknown = Some(unknown);
        }
        plan
    }

    /// What history records of one router's change from its stored state to `next`.
    fn plan_history(
        &self,
        known: &Known,
        next: &LinkState,
        now: DateTime<Utc>,
        plan: &mut SyncPlan,
    ) {
        let was = &known.state;
        let router = &known.router;
        if next.status != was.status {
            plan.transitions.push(Transition {
                router: router.clone(),
                hub_id: self.hub_id,
                at: now,
                from: was.status,
                to: next.status,
                last_handshake_at: next.last_handshake_at,
            });
        }
        if let (None, Some(at)) = (was.first_handshake_at, next.first_handshake_at) {
            plan.first_handshakes.push(FirstHandshake {
                router: router.clone(),
                hub_id: self.hub_id,
                at,
            });
        }
        if let Some(endpoint) = &next.last_endpoint
            && was.last_endpoint.as_ref() != Some(endpoint)
        {
            plan.endpoints.push(EndpointMove {
                router_id: router.router_id,
                tenant_id: router.tenant_id,
                at: now,
                endpoint: endpoint.clone(),
            });
        }
        let rx = next.rx.total - was.rx.total;
        let tx = next.tx.total - was.tx.total;
        if rx > 0 || tx > 0 {
            plan.traffic.push(TrafficDelta {
                router_id: router.router_id,
                tenant_id: router.tenant_id,
                bucket: bucket_start(now),
                rx_bytes: rx,
                tx_bytes: tx,
            });
        }
    }

    /// Reloads if needed, plans and writes one snapshot.
    pub async fn sync(&mut self, store: &Store, snapshot: &Snapshot) -> Result<SyncReport> {
        if self.dirty {
            self.reload(store).await?;
        }
        let plan = self.plan(snapshot);
        self.observe_alerts(&plan);
        self.write(store, plan).await
    }

    /// Feeds the plan's changes to the alert engine; their events wait for the write.
    fn observe_alerts(&mut self, plan: &SyncPlan) {
        let Some(alerts) = &mut self.alerts else {
            return;
        };
        let at = plan.taken_at.unwrap_or_else(Utc::now);
        let planned: HashMap<&PublicKey, &LinkState> = plan
            .updates
            .iter()
            .map(|(key, state)| (key, state))
            .collect();
        let (known, by_router) = (&self.known, &self.by_router);
        alerts.observe(at, &plan.alert_changes, |router| {
            let key = by_router.get(&router)?;
            let known = known.get(key)?;
            let state = planned.get(key).copied().unwrap_or(&known.state);
            Some(RouterFacts {
                tenant_id: known.router.tenant_id,
                tenant: known.router.tenant.clone(),
                name: known.router.name.clone(),
                vpn_ip: known.vpn_ip,
                last_handshake_at: state.last_handshake_at,
            })
        });
    }

    /// Writes a plan, then takes it into the in-memory copy. On error nothing is taken, so
    /// the next poll computes the same changes again (counters included) from the old copy.
    pub async fn write(&mut self, store: &Store, plan: SyncPlan) -> Result<SyncReport> {
        let updates: Vec<LinkUpdate> = plan
            .updates
            .iter()
            .filter_map(|(key, state)| {
                let known = self.known.get(key)?;
                Some(link_update(known.id, state))
            })
            .collect();
        let poll = PollWrite {
            hub_id: self.hub_id,
            updates: &updates,
            transitions: &plan.transitions,
            first_handshakes: &plan.first_handshakes,
            endpoints: &plan.endpoints,
            traffic: &plan.traffic,
            agent: &self.identity,
            polled_at: plan.taken_at.unwrap_or_else(Utc::now),
            peers_seen: plan.peers_seen as i32,
            unknown_peers: plan.unknown_count as i32,
        };
        let updated = match &mut self.alerts {
            None => store.write_poll(&poll).await?,
            Some(alerts) => {
                let (updated, hub_up) = store
                    .write_poll_with_alerts(&poll, &alerts.outbox())
                    .await?;
                alerts.committed(hub_up.into_iter().collect());
                updated
            }
        };

        let mut new_unknown = Vec::new();
        if let Some(unknown) = plan.unknown {
            store.write_unknown_peers(self.hub_id, &unknown).await?;
            let before = self.unknown_written.take().unwrap_or_default();
            new_unknown = unknown
                .iter()
                .filter(|u| !before.iter().any(|b| b.public_key == u.public_key))
                .map(|u| u.public_key)
                .collect();
            self.unknown_written = Some(unknown);
        }
        for (key, state) in plan.updates {
            if let Some(known) = self.known.get_mut(&key) {
                known.state = state;
            }
        }
        Ok(SyncReport {
            rows_updated: updated,
            transitions: plan.transitions,
            new_unknown,
            unknown_count: plan.unknown_count,
        })
    }

    /// The hub as the in-memory copy now holds it, for metrics: the routers by tenant and
    /// status, and every router's counters and handshake when `per_router`. Pure.
    pub fn figures(
        &self,
        peers: usize,
        unknown_peers: usize,
        taken_at: DateTime<Utc>,
        per_router: bool,
    ) -> HubFigures {
        // One allocation per tenant; names only where they are shown (per-router series).
        let mut tenants: HashMap<&str, Arc<str>> = HashMap::new();
        let unnamed: Arc<str> = Arc::from("");
        let routers = self.known.values().map(|known| RouterFigures {
            tenant: tenants
                .entry(known.router.tenant.as_str())
                .or_insert_with_key(|name| Arc::from(*name))
                .clone(),
            name: if per_router {
                Arc::from(known.router.name.as_str())
            } else {
                unnamed.clone()
            },
            vpn_ip: known.vpn_ip,
            status: known.state.status,
            rx_bytes: known.state.rx.total,
            tx_bytes: known.state.tx.total,
            last_handshake_at: known.state.last_handshake_at,
        });
        HubFigures::from_routers(routers, peers, unknown_peers, taken_at, per_router)
    }

    /// Records that polling failed, for consoles to show. Status rows are left alone: they
    /// age on their own the next time a poll works.
    pub async fn record_error(&self, store: &Store, message: &str) -> Result<()> {
        store
            .record_agent_error(self.hub_id, &self.identity, message)
            .await
    }
}

/// A router's new link state as the store writes it.
fn link_update(id: i64, state: &LinkState) -> LinkUpdate {
    LinkUpdate {
        id,
        link: StoredLink {
            status: state.status,
            first_handshake_at: state.first_handshake_at,
            last_handshake_at: state.last_handshake_at,
            last_seen_at: state.last_seen_at,
            last_endpoint: state.last_endpoint.clone(),
            rx_bytes: state.rx.total,
            tx_bytes: state.tx.total,
            last_rx_counter: state.rx.last_raw,
            last_tx_counter: state.tx.last_raw,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RouterStatus;
    use crate::wg::poller::PeerStats;

    const KEY: &str = "cGNGHGTQjJQCrV2Kp8cKzxDkNLZrri1nj+3S3VumoVg=";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// A hub with one router, stored as `link`.
    fn sync_with(link: StoredLink) -> StatusSync {
        let mut sync = StatusSync {
            hub_id: 7,
            thresholds: Thresholds::new(60, 120).unwrap(),
            identity: AgentIdentity {
                host: "h".into(),
                pid: 1,
                started_at: at(0),
            },
            known: HashMap::new(),
            staged: HashSet::new(),
            unknown_written: None,
            dirty: true,
            alerts: None,
            by_router: HashMap::new(),
        };
        sync.take_rows(vec![HubLink {
            id: 1,
            public_key: KEY.parse().unwrap(),
            pending_public_key: None,
            router_id: 11,
            tenant_id: 3,
            tenant: "acme".into(),
            name: "r1".into(),
            enabled: true,
            vpn_ip: Ipv4Addr::new(10, 100, 1, 1),
            link,
        }]);
        sync
    }

    fn pending() -> StoredLink {
        link_update(0, &LinkState::pending()).link
    }

    fn poll(secs: i64, handshake: Option<i64>, endpoint: &str, rx: u64, tx: u64) -> Snapshot {
        let peer = PeerStats {
            endpoint: Some(endpoint.parse().unwrap()),
            last_handshake: handshake.map(at),
            rx_bytes: rx,
            tx_bytes: tx,
            persistent_keepalive: Some(25),
            allowed_ips: vec![],
            has_preshared_key: true,
        };
        Snapshot {
            interface: "wg0".into(),
            taken_at: at(secs),
            public_key: None,
            listen_port: 51820,
            peers: [(KEY.parse().unwrap(), peer)].into_iter().collect(),
        }
    }

    /// Plans a poll and takes it into the copy, as a successful write would.
    fn step(sync: &mut StatusSync, snapshot: &Snapshot) -> SyncPlan {
        let plan = sync.plan(snapshot);
        for (key, state) in &plan.updates {
            sync.known.get_mut(key).unwrap().state = state.clone();
        }
        plan
    }

    fn moves(plan: &SyncPlan) -> Vec<(RouterStatus, RouterStatus)> {
        plan.transitions.iter().map(|t| (t.from, t.to)).collect()
    }

    #[test]
    fn a_poll_sequence_yields_transitions_endpoints_and_traffic() {
        use RouterStatus::*;
        let mut sync = sync_with(pending());
        let a = "198.51.100.7:40001";
        let b = "203.0.113.9:5000";

        let p1 = step(&mut sync, &poll(10, Some(9), a, 100, 50));
        assert_eq!(moves(&p1), [(Pending, Online)]);
        let t = &p1.transitions[0];
        assert_eq!(
            (t.router.router_id, t.router.tenant_id, t.hub_id),
            (11, 3, 7)
        );
        assert_eq!((t.at, t.last_handshake_at), (at(10), Some(at(9))));
        assert_eq!(p1.first_handshakes.len(), 1);
        assert_eq!(p1.first_handshakes[0].at, at(9));
        assert_eq!(p1.endpoints.len(), 1);
        assert_eq!(p1.traffic.len(), 1);
        assert_eq!((p1.traffic[0].rx_bytes, p1.traffic[0].tx_bytes), (100, 50));

        // Keepalives: still online, traffic only, no repeated first handshake or endpoint.
        let p2 = step(&mut sync, &poll(40, Some(9), a, 132, 82));
        assert!(p2.transitions.is_empty() && p2.first_handshakes.is_empty());
        assert!(p2.endpoints.is_empty());
        assert_eq!((p2.traffic[0].rx_bytes, p2.traffic[0].tx_bytes), (32, 32));

        // Silence: stale, then offline; nothing flows, so no traffic rows.
        let p3 = step(&mut sync, &poll(110, Some(9), a, 132, 82));
        assert_eq!(moves(&p3), [(Online, Stale)]);
        assert!(p3.traffic.is_empty());
        let p4 = step(&mut sync, &poll(170, Some(9), a, 132, 82));
        assert_eq!(moves(&p4), [(Stale, Offline)]);

        // Back from another NAT address after the interface restarted (counters from zero).
        let p5 = step(&mut sync, &poll(200, Some(199), b, 20, 10));
        assert_eq!(moves(&p5), [(Offline, Online)]);
        assert_eq!(p5.endpoints[0].endpoint, b);
        assert_eq!((p5.traffic[0].rx_bytes, p5.traffic[0].tx_bytes), (20, 10));
        assert_eq!(p5.traffic[0].bucket, crate::history::bucket_start(at(200)));

        // Nothing new at all: nothing to write.
        let p6 = step(&mut sync, &poll(201, Some(199), b, 20, 10));
        assert_eq!(p6.updates.len(), 0);
    }

    #[test]
    fn a_copy_loaded_from_the_stored_rows_plans_no_transitions() {
        let mut before = sync_with(pending());
        step(
            &mut before,
            &poll(10, Some(9), "198.51.100.7:40001", 100, 50),
        );
        let stored = link_update(1, &before.known.values().next().unwrap().state).link;
        // A restarted agent: the copy comes from the database.
        let restarted = sync_with(stored);
        let plan = restarted.plan(&poll(12, Some(9), "198.51.100.7:40001", 100, 50));
        assert!(plan.transitions.is_empty());
        assert!(plan.first_handshakes.is_empty() && plan.endpoints.is_empty());
        assert!(plan.traffic.is_empty());
    }
}
