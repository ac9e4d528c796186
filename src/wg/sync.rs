//! Writes what the poller sees into PostgreSQL: each router's status, handshake times, last
//! endpoint and cumulative counters, the peers nobody owns, and the agent's heartbeat.
//!
//! The hub's routers are loaded once and kept in memory (reloaded after a change is
//! announced); each poll compares the snapshot with that copy and writes only the rows that
//! changed, all in one statement, followed by one `NOTIFY`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::poller::Snapshot;
use super::status::{Counter, LinkState, Thresholds, next_state};
use crate::Result;
use crate::alerts::engine::RouterChange;
use crate::alerts::event::RouterFacts;
use crate::alerts::monitor::HubAlerts;
use crate::keys::PublicKey;
use crate::model::{AgentIdentity, RouterStatus};
use crate::store::{LinkUpdate, PollWrite, Store, StoredLink, UnknownPeer};

/// A router of this hub as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    id: i64,
    /// "tenant/router", for logs.
    label: String,
    enabled: bool,
    state: LinkState,
    /// `routers.id` and who the router is, for alerts.
    router_id: i64,
    facts: RouterFacts,
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
    pub updates: Vec<(PublicKey, LinkState)>,
    pub transitions: Vec<Transition>,
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
        alerts.track(self.known.values().map(|k| (k.router_id, k.state.status)));
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
        let mut known = HashMap::with_capacity(rows.len());
        self.staged = rows.iter().filter_map(|r| r.pending_public_key).collect();
        for row in rows {
            let link = row.link;
            let state = LinkState {
                status: link.status,
                first_handshake_at: link.first_handshake_at,
                last_handshake_at: link.last_handshake_at,
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
                    label: row.label,
                    enabled: row.enabled,
                    state,
                    router_id: row.router_id,
                    facts: RouterFacts {
                        tenant_id: row.tenant_id,
                        tenant: row.tenant,
                        name: row.router,
                        vpn_ip: row.vpn_ip,
                        last_handshake_at: None,
                    },
                },
            );
        }
        self.by_router = known.iter().map(|(key, k)| (k.router_id, *key)).collect();
        self.known = known;
        self.dirty = false;
        if let Some(alerts) = &mut self.alerts {
            alerts.track(self.known.values().map(|k| (k.router_id, k.state.status)));
        }
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
            let first_handshake =
                known.state.first_handshake_at.is_none() && next.first_handshake_at.is_some();
            if next.status != known.state.status || first_handshake {
                plan.alert_changes.push(RouterChange {
                    router: known.router_id,
                    from: known.state.status,
                    to: next.status,
                    first_handshake,
                });
            }
            if next.status != known.state.status {
                plan.transitions.push(Transition {
                    label: known.label.clone(),
                    from: known.state.status,
                    to: next.status,
                });
            }
            plan.updates.push((*key, next));
        }
        let mut unknown: Vec<UnknownPeer> = snapshot
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
            .collect();
        unknown.sort();
        plan.unknown_count = unknown.len();
        if self.unknown_written.as_ref() != Some(&unknown) {
            plan.unknown = Some(unknown);
        }
        plan
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
                last_handshake_at: state.last_handshake_at,
                ..known.facts.clone()
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
            last_endpoint: state.last_endpoint.clone(),
            rx_bytes: state.rx.total,
            tx_bytes: state.tx.total,
            last_rx_counter: state.rx.last_raw,
            last_tx_counter: state.tx.last_raw,
        },
    }
}
