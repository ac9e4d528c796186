//! The peer pane's state: where peer status comes from (the hub's interface polled by this
//! process, or what the agent stored) and the list of peers. The list refers to rows of the
//! router table by index and to the live snapshot by reference: the fleet is never copied.
//! With a database and the stored feed, the routers it lists are its own [`RouterWindow`]
//! over the whole fleet (read by keyset like the routers pane's), so it scrolls to the
//! fleet's last router without loading the fleet.

use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::keys::PublicKey;
use crate::model::RouterStatus;
use crate::tui::data::{ListCursor, RouterRow, RouterTable, Slot};
use crate::tui::format;
use crate::tui::format::escaped;
use crate::tui::keymap::Action;
use crate::tui::window::{Fetch, RouterWindow};
use crate::wg::Snapshot;
use crate::wg::poller::PeerStats;

pub use crate::store::{AgentBeat, StoredUnknown};

/// Where a peer goes in the list: unknown peers first by public key, then routers by their
/// place in the routers pane's sort.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PeerOrder {
    Unknown(Option<PublicKey>),
    Router(u32),
}

/// What the agents reported, for consoles that cannot read the interface themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentReport {
    pub beats: Vec<AgentBeat>,
    pub unknown: Vec<StoredUnknown>,
}

/// The interface polled by this process.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFeed {
    pub interface: String,
    /// The newest snapshot shown (while frozen: the one frozen).
    pub snapshot: Option<Arc<Snapshot>>,
    /// The last poll failed with this (the last good snapshot stays on screen).
    pub error: Option<String>,
    /// Keys of the snapshot's peers no router owns.
    unknown: Vec<PublicKey>,
}

/// Where peer status comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// What the agent last stored (router rows, heartbeat, unknown peers).
    Stored,
    Live(LiveFeed),
}

/// A line of the peer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerEntry {
    /// Row index in the router table, or in the pane's own window when it reads one
    /// (see [`PeerPane::window`]).
    Router(u32),
    /// Index into the unknown peers of the current source.
    Unknown(u32),
}

/// What the hub knows of one peer's link, from whichever source is current.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    pub last_handshake: Option<DateTime<Utc>>,
    pub endpoint: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

impl Link {
    fn from_stats(s: &PeerStats) -> Self {
        Link {
            last_handshake: s.last_handshake,
            endpoint: s.endpoint.map(|e| e.to_string()),
            rx_bytes: i64::try_from(s.rx_bytes).unwrap_or(i64::MAX),
            tx_bytes: i64::try_from(s.tx_bytes).unwrap_or(i64::MAX),
        }
    }
}

/// One line of the peer list, resolved for drawing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerLine {
    /// "tenant/router", or None for a peer tikwire does not know.
    pub router: Option<String>,
    pub public_key: PublicKey,
    pub vpn_ip: Option<Ipv4Addr>,
    /// None for an unknown peer.
    pub status: Option<RouterStatus>,
    pub link: Link,
}

#[derive(Debug)]
pub struct PeerPane {
    pub feed: Feed,
    pub agent: Slot<AgentReport>,
    pub frozen: bool,
    /// The newest snapshot, held back while frozen.
    pub held: Option<Arc<Snapshot>>,
    pub cursor: ListCursor,
    pub filter: String,
    /// The poll interval, for telling a fresh update from a late one.
    pub interval_secs: u64,
    /// The router table holds only part of the fleet (a window): a live peer not in it may
    /// be a router off screen, so it is left out rather than called unknown.
    pub window_only: bool,
    /// With a database: the routers the stored feed lists, read as a window of the whole
    /// fleet in the routers pane's order (its filter is the pane's). `None`: the routers
    /// come from the router table (tests feeding whole lists; the live feed).
    pub window: Option<RouterWindow>,
    /// The read a move asked of the window, for the app to send.
    pending: Option<(u64, Fetch)>,
    /// The latest read of the window is this jump (`g`/`G`): its answer selects that end.
    jumped: Option<Fetch>,
    /// A change came while the pane was off screen: read again when it shows.
    missed_change: bool,
    view: Vec<PeerEntry>,
}

impl Default for PeerPane {
    fn default() -> Self {
        PeerPane {
            feed: Feed::Stored,
            agent: Slot::default(),
            frozen: false,
            held: None,
            cursor: ListCursor::default(),
            filter: String::new(),
            interval_secs: 5,
            window_only: false,
            window: None,
            pending: None,
            jumped: None,
            missed_change: false,
            view: Vec::new(),
        }
    }
}

impl PeerPane {
    pub fn is_live(&self) -> bool {
        matches!(self.feed, Feed::Live(_))
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        match &self.feed {
            Feed::Live(l) => l.snapshot.as_deref(),
            Feed::Stored => None,
        }
    }

    /// A poll result for `interface`. Returns whether the list must be rebuilt.
    pub fn offer_live(&mut self, interface: &str, state: LiveState) -> bool {
        if !self.is_live() {
            self.feed = Feed::Live(LiveFeed {
                interface: interface.to_owned(),
                snapshot: None,
                error: None,
                unknown: Vec::new(),
            });
        }
        let Feed::Live(live) = &mut self.feed else {
            return false;
        };
        match state {
            LiveState::Error(e) => {
                live.error = Some(e);
                false
            }
            LiveState::Ready(snap) if self.frozen && live.snapshot.is_some() => {
                live.error = None;
                self.held = Some(snap);
                false
            }
            LiveState::Ready(snap) => {
                live.error = None;
                live.snapshot = Some(snap);
                true
            }
        }
    }

    /// Freezes or thaws the live list; thawing shows the newest snapshot. Returns whether
    /// the list must be rebuilt.
    pub fn toggle_freeze(&mut self) -> bool {
        self.frozen = !self.frozen;
        if !self.frozen
            && let Some(s) = self.held.take()
            && let Feed::Live(live) = &mut self.feed
        {
            live.snapshot = Some(s);
            return true;
        }
        false
    }

    /// Rebuilds the list from the current source and router table, filtered. The order is
    /// stable from one poll to the next: unknown peers first (they need a look) by public
    /// key, then routers in the routers pane's order (same sort key and direction).
    pub fn rebuild(&mut self, table: &RouterTable) {
        let entries: Vec<PeerEntry> = match &mut self.feed {
            Feed::Live(live) => {
                live.unknown.clear();
                match live.snapshot.as_deref() {
                    None => Vec::new(),
                    Some(snap) => {
                        let mut out = Vec::with_capacity(snap.peers.len());
                        for key in snap.peers.keys() {
                            let entry = match table.find_key(key) {
                                Some(i) => PeerEntry::Router(i),
                                None if self.window_only => continue,
                                None => {
                                    live.unknown.push(*key);
                                    PeerEntry::Unknown(live.unknown.len() as u32 - 1)
                                }
                            };
                            out.push(entry);
                        }
                        out
                    }
                }
            }
            Feed::Stored if self.window.is_some() => return self.rebuild_windowed(),
            Feed::Stored => {
                let known = table
                    .all()
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.enabled)
                    .map(|(i, _)| PeerEntry::Router(i as u32));
                let unknown = (0..self.agent.value.unknown.len() as u32).map(PeerEntry::Unknown);
                known.chain(unknown).collect()
            }
        };
        let ranks = table.sort_ranks();
        let mut keyed: Vec<(PeerOrder, PeerEntry)> = entries
            .into_iter()
            .map(|e| {
                let order = match e {
                    PeerEntry::Unknown(i) => PeerOrder::Unknown(self.unknown_key(i)),
                    PeerEntry::Router(i) => {
                        PeerOrder::Router(ranks.get(i as usize).copied().unwrap_or(u32::MAX))
                    }
                };
                (order, e)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let needle = self.filter.to_ascii_lowercase();
        let mut view = std::mem::take(&mut self.view);
        view.clear();
        view.extend(
            keyed
                .into_iter()
                .map(|(_, e)| e)
                .filter(|e| needle.is_empty() || self.matches(table, *e, &needle)),
        );
        view.shrink_to_fit();
        self.view = view;
        self.cursor.clamp(self.view.len());
    }

    /// The stored feed over the pane's window: unknown peers first (bounded, filtered here)
    /// while the window holds the list's start, then the window's enabled routers in its
    /// order (filtered by the database).
    fn rebuild_windowed(&mut self) {
        let Some(window) = self.window.as_ref() else {
            return;
        };
        let needle = self.filter.to_ascii_lowercase();
        let mut view = std::mem::take(&mut self.view);
        view.clear();
        if window.at_start() {
            let mut unknown: Vec<u32> = (0..self.agent.value.unknown.len() as u32).collect();
            unknown.sort_unstable_by_key(|&i| self.unknown_key(i));
            view.extend(
                unknown
                    .into_iter()
                    .map(PeerEntry::Unknown)
                    .filter(|e| needle.is_empty() || self.unknown_matches(*e, &needle)),
            );
        }
        let rows = window.rows();
        view.extend(
            (0..rows.len() as u32)
                .filter(|&i| rows[i as usize].enabled)
                .map(PeerEntry::Router),
        );
        view.shrink_to_fit();
        self.view = view;
        self.cursor.clamp(self.view.len());
    }

    /// Whether the stored feed's routers come from the pane's own window.
    fn windowed(&self) -> bool {
        self.window.is_some() && !self.is_live()
    }

    /// The spec the pane's window reads: the whole fleet in the routers pane's order,
    /// filtered by the pane's filter.
    pub fn window_spec(&self, table: &RouterTable) -> crate::store::window::ListSpec {
        crate::store::window::ListSpec {
            tenant_id: None,
            filter: self.filter.clone(),
            sort: table.sort,
            descending: table.descending,
        }
    }

    /// After the cursor moved by `action`: the read its window needs, if any (a jump to
    /// the list's end past the loaded rows, or a move within a page of the window's edge).
    pub fn window_step(&mut self, action: Action) {
        if let Some(read) = self.step_read(action) {
            self.jumped = matches!(read.1, Fetch::First | Fetch::Last).then(|| read.1.clone());
            self.pending = Some(read);
        }
    }

    fn step_read(&mut self, action: Action) -> Option<(u64, Fetch)> {
        if !self.windowed() {
            return None;
        }
        let router = |line: usize| match self.entry(line) {
            Some(PeerEntry::Router(i)) => Some(i as usize),
            _ => None,
        };
        let selected = router(self.cursor.selected);
        // The window rows the view means to show (lines are its enabled rows, after any
        // unknown peers): from the first router line to the last.
        let shown = self.cursor.meant();
        let first = shown.clone().find_map(router);
        let last = shown.rev().find_map(router);
        let window = self.window.as_mut()?;
        match action {
            Action::Top if !window.at_start() => return Some(window.jump(Fetch::First)),
            Action::Bottom if !window.at_end() => return Some(window.jump(Fetch::Last)),
            _ => {}
        }
        let id = window.rows().get(selected?)?.id;
        window.select_id(id);
        let page = window.page.max(1);
        let len = window.rows().len();
        let near_start = !window.at_start() && first.unwrap_or(0) < page;
        let near_end = !window.at_end() && last.unwrap_or(len) + 1 + page > len;
        (near_start || near_end).then(|| window.refresh())
    }

    /// A read of the pane's window came back: the list shows its routers, the selection
    /// on the router the cursor is on (same screen row) if the rows hold it, else where
    /// the answer put it; after a jump, at the list's end it asked for.
    /// An answer to a read sent before the feed turned live changes nothing shown: the live
    /// list is the interface's peers.
    pub fn window_answer(&mut self, fetched: crate::tui::window::Fetched) -> bool {
        let moved_to = self.selected_router_id();
        let live = self.is_live();
        let Some(window) = self.window.as_mut() else {
            return false;
        };
        if !window.apply(fetched) || live {
            return false;
        }
        let jump = self.jumped.take();
        let answered = window.selected().map(|r| r.id);
        self.rebuild_windowed();
        let position =
            |pane: &Self, id: i64| (0..pane.view.len()).find(|&p| pane.router_id(p) == Some(id));
        match jump {
            Some(Fetch::First) => self.cursor.top(),
            Some(Fetch::Last) => self.cursor.bottom(self.view.len()),
            _ => {
                let at = moved_to
                    .and_then(|id| position(self, id))
                    .or_else(|| answered.and_then(|id| position(self, id)));
                if let Some(p) = at {
                    self.cursor.rebase(p);
                }
            }
        }
        self.cursor.clamp(self.view.len());
        true
    }

    /// The read the window needs now, if any: one a move asked for, else a read with a new
    /// spec (the pane's filter, the routers pane's sort), else after a change (`reload`),
    /// or the first. Nothing while the feed is live, nor while the pane is off screen (a
    /// change then is read when it shows).
    pub fn window_read(
        &mut self,
        spec: crate::store::window::ListSpec,
        page: usize,
        reload: bool,
        visible: bool,
    ) -> Option<(u64, Fetch)> {
        if !self.windowed() {
            return None;
        }
        if !visible {
            self.missed_change |= reload;
            return None;
        }
        let reload = reload || std::mem::take(&mut self.missed_change);
        let pending = self.pending.take();
        let window = self.window.as_mut()?;
        window.page = page.max(1);
        if pending.is_some() {
            return pending;
        }
        self.jumped = None;
        if spec != window.spec {
            return Some(window.respec(spec));
        }
        if reload { window.changed() } else { None }
    }

    /// A read of the window failed: the pane keeps what it shows.
    pub fn window_failed(&mut self, ticket: u64) {
        if let Some(w) = self.window.as_mut() {
            w.failed(ticket);
        }
    }

    /// After an answer or a failure: the read a change asked for meanwhile, if any.
    pub fn window_follow_up(&mut self) -> Option<(u64, Fetch)> {
        let read = self.window.as_mut()?.follow_up();
        if read.is_some() {
            self.jumped = None;
        }
        read
    }

    /// The id of the router on line `p`, if a router is there.
    fn router_id(&self, p: usize) -> Option<i64> {
        match self.entry(p)? {
            PeerEntry::Router(i) => self.window.as_ref()?.rows().get(i as usize).map(|r| r.id),
            PeerEntry::Unknown(_) => None,
        }
    }

    fn selected_router_id(&self) -> Option<i64> {
        self.router_id(self.cursor.selected)
    }

    /// The router of entry `i`: from the pane's window, or the router table.
    fn router<'a>(&'a self, table: &'a RouterTable, i: u32) -> Option<&'a RouterRow> {
        match &self.window {
            Some(w) if !self.is_live() => w.rows().get(i as usize),
            _ => table.row(i),
        }
    }

    /// The public key of unknown peer `i`, whichever feed it came from.
    fn unknown_key(&self, i: u32) -> Option<PublicKey> {
        let i = i as usize;
        match &self.feed {
            Feed::Live(live) => live.unknown.get(i).copied(),
            Feed::Stored => self.agent.value.unknown.get(i).map(|u| u.public_key),
        }
    }

    fn matches(&self, table: &RouterTable, entry: PeerEntry, needle: &str) -> bool {
        match entry {
            PeerEntry::Router(i) => {
                table.search_text(i as usize).contains(needle)
                    || table
                        .row(i)
                        .is_some_and(|r| r.tenant.to_ascii_lowercase().contains(needle))
                    || self
                        .status_of(table, i)
                        .is_some_and(|s| s.as_str().contains(needle))
            }
            PeerEntry::Unknown(_) => self.unknown_matches(entry, needle),
        }
    }

    fn unknown_matches(&self, entry: PeerEntry, needle: &str) -> bool {
        match entry {
            PeerEntry::Router(_) => false,
            PeerEntry::Unknown(_) => {
                "unknown".contains(needle)
                    || self.unknown_line(entry).is_some_and(|l| {
                        l.public_key
                            .to_string()
                            .to_ascii_lowercase()
                            .contains(needle)
                            || l.link
                                .endpoint
                                .as_deref()
                                .is_some_and(|e| e.contains(needle))
                    })
            }
        }
    }

    /// A new filter: filters the list as loaded (with a window, the window is read again
    /// with it: see [`Self::window_spec`]).
    pub fn set_filter(&mut self, filter: &str, table: &RouterTable) {
        if self.filter != filter {
            self.filter = filter.to_owned();
            if self.windowed() {
                let needle = self.filter.to_ascii_lowercase();
                let rows = self.window.as_ref().map_or(&[][..], |w| w.rows());
                let keep: Vec<bool> = self
                    .view
                    .iter()
                    .map(|e| match *e {
                        PeerEntry::Router(i) => rows
                            .get(i as usize)
                            .is_some_and(|r| row_matches(r, &needle)),
                        PeerEntry::Unknown(_) => {
                            needle.is_empty() || self.unknown_matches(*e, &needle)
                        }
                    })
                    .collect();
                let mut keep = keep.into_iter();
                self.view.retain(|_| keep.next().unwrap_or(false));
                self.cursor.clamp(self.view.len());
            } else {
                self.rebuild(table);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.view.len()
    }

    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    pub fn entry(&self, i: usize) -> Option<PeerEntry> {
        self.view.get(i).copied()
    }

    /// The status shown for router row `i`: the stored one (the agent's verdict, as the
    /// routers pane, the command line and the API show it), whatever the live handshake.
    pub fn status_of(&self, table: &RouterTable, i: u32) -> Option<RouterStatus> {
        self.router(table, i).map(|r| r.status)
    }

    /// The live stats of router `row`, if the interface has it.
    fn live_link_of(&self, row: &RouterRow) -> Option<Link> {
        let snap = self.snapshot()?;
        snap.peers.get(&row.key).map(Link::from_stats)
    }

    /// The live stats of the router in table row `i`, if the interface has it.
    pub fn live_link(&self, table: &RouterTable, i: u32) -> Option<Link> {
        self.live_link_of(table.row(i)?)
    }

    /// The link of router `r`: live when the interface has it, as stored otherwise.
    fn link_of(&self, r: &RouterRow) -> Link {
        self.live_link_of(r).unwrap_or_else(|| Link {
            last_handshake: r.last_handshake,
            endpoint: r.endpoint.as_deref().map(str::to_owned),
            rx_bytes: r.rx_bytes,
            tx_bytes: r.tx_bytes,
        })
    }

    /// The link of the router in table row `i` (the routers pane's rows).
    pub fn link(&self, table: &RouterTable, i: u32) -> Option<Link> {
        Some(self.link_of(table.row(i)?))
    }

    /// Everything the pane shows of one entry; built for the rows on screen only.
    pub fn line(&self, table: &RouterTable, entry: PeerEntry) -> Option<PeerLine> {
        match entry {
            PeerEntry::Router(i) => {
                let r = self.router(table, i)?;
                let link = self.link_of(r);
                Some(PeerLine {
                    router: Some(escaped(&format!("{}/{}", r.tenant, r.name))),
                    public_key: r.key,
                    vpn_ip: Some(r.vpn_ip),
                    status: Some(r.status),
                    link,
                })
            }
            PeerEntry::Unknown(_) => self.unknown_line(entry),
        }
    }

    /// The line of an unknown peer, from whichever feed it came.
    fn unknown_line(&self, entry: PeerEntry) -> Option<PeerLine> {
        match entry {
            PeerEntry::Router(_) => None,
            PeerEntry::Unknown(i) => match &self.feed {
                Feed::Live(live) => {
                    let key = live.unknown.get(i as usize)?;
                    let stats = live.snapshot.as_ref()?.peers.get(key)?;
                    Some(PeerLine {
                        router: None,
                        public_key: *key,
                        vpn_ip: stats.allowed_ips.iter().find_map(|n| match n {
                            ipnet::IpNet::V4(v4) => Some(v4.addr()),
                            ipnet::IpNet::V6(_) => None,
                        }),
                        status: None,
                        link: Link::from_stats(stats),
                    })
                }
                Feed::Stored => {
                    let u = self.agent.value.unknown.get(i as usize)?;
                    Some(PeerLine {
                        router: None,
                        public_key: u.public_key,
                        vpn_ip: u
                            .allowed_ips
                            .split(',')
                            .find_map(|a| a.trim().split('/').next()?.parse().ok()),
                        status: None,
                        link: Link {
                            last_handshake: u.last_handshake,
                            endpoint: u.endpoint.clone(),
                            rx_bytes: 0,
                            tx_bytes: 0,
                        },
                    })
                }
            },
        }
    }

    /// How long an update may be old and still count as on time.
    fn fresh_secs(&self) -> u64 {
        match self.feed {
            // the poll interval plus the time `wg` takes, with room to spare
            Feed::Live(_) => 2 * self.interval_secs,
            // the agent's interval plus ours between reloads of its heartbeat
            Feed::Stored => 3 * self.interval_secs,
        }
    }

    /// Says where the data comes from and how current it is. While updates arrive on time
    /// the text does not change with each one ("updated ≤10s ago"): a poll that changed
    /// nothing visible must not redraw. A late update shows its real, ticking age.
    pub fn source_label(&self, now: DateTime<Utc>) -> SourceLabel {
        let fresh = self.fresh_secs();
        let when = |t: DateTime<Utc>| {
            if (now - t).num_seconds() <= fresh as i64 {
                (format!("≤{fresh}s ago"), Tone::Good)
            } else {
                (format!("{} (late)", format::age(Some(t), now)), Tone::Warn)
            }
        };
        match &self.feed {
            Feed::Live(live) => {
                let mut text = format!("live from {}", live.interface);
                let tone = match (&live.error, &live.snapshot) {
                    (Some(e), snap) => {
                        text.push_str(&format!(" · ✗ {e}"));
                        if let Some(s) = snap {
                            let age = format::age(Some(s.taken_at), now);
                            text.push_str(&format!(" · last good {age}"));
                        }
                        Tone::Bad
                    }
                    (None, None) => {
                        text.push_str(" · waiting for the first poll");
                        Tone::Quiet
                    }
                    (None, Some(s)) => {
                        let (age, tone) = when(s.taken_at);
                        text.push_str(&format!(" · updated {age}"));
                        tone
                    }
                };
                SourceLabel { text, tone }
            }
            Feed::Stored => {
                let mut text = "as stored by the agent".to_string();
                let mut tone = Tone::Quiet;
                if self.agent.is_ready() {
                    let beats = &self.agent.value.beats;
                    let failing = beats.iter().find(|b| b.last_error.is_some());
                    // The hub heard from least recently speaks for all.
                    let stalest = beats.iter().min_by_key(|b| b.last_poll_at);
                    match (failing, stalest) {
                        (Some(b), _) => {
                            let e = b.last_error.as_deref().unwrap_or_default();
                            text.push_str(&format!(" · agent on {}: ✗ {e}", b.hub));
                            tone = Tone::Bad;
                        }
                        (None, None) => {
                            text.push_str(" · no agent has reported (tikwire agent)");
                            tone = Tone::Warn;
                        }
                        (None, Some(b)) => match b.last_poll_at {
                            None => {
                                text.push_str(&format!(" · agent on {} has not polled yet", b.hub));
                                tone = Tone::Warn;
                            }
                            Some(t) => {
                                let (age, t) = when(t);
                                text.push_str(&format!(" · agent last poll {age}"));
                                tone = t;
                            }
                        },
                    }
                }
                SourceLabel { text, tone }
            }
        }
    }

    /// Seconds until [`Self::source_label`] changes on its own, if it does.
    pub fn label_changes_in(&self, now: DateTime<Utc>) -> Option<u64> {
        let fresh = self.fresh_secs() as i64;
        let at = match &self.feed {
            Feed::Live(live) => live.snapshot.as_ref().map(|s| s.taken_at),
            Feed::Stored => self
                .agent
                .value
                .beats
                .iter()
                .filter(|b| b.last_error.is_none())
                .filter_map(|b| b.last_poll_at)
                .min(),
        }?;
        let age = (now - at).num_seconds();
        if age <= fresh {
            Some((fresh + 1 - age).max(1) as u64)
        } else {
            Some(format::age_changes_in(at, now))
        }
    }

    /// A digest of what the pane shows in the window last drawn, to tell whether new data
    /// changes anything on screen.
    pub fn digest(&self, table: &RouterTable, now: DateTime<Utc>) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.source_label(now).text.hash(&mut h);
        self.view.len().hash(&mut h);
        self.held.is_some().hash(&mut h);
        for i in self.cursor.window(self.view.len()) {
            if let Some(e) = self.entry(i) {
                self.line(table, e).hash(&mut h);
            }
        }
        h.finish()
    }
}

/// A poll result as the pane takes it.
#[derive(Debug, Clone)]
pub enum LiveState {
    Ready(Arc<Snapshot>),
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Quiet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLabel {
    pub text: String,
    pub tone: Tone,
}

/// Whether a router row matches a lower-case filter as the database's filter does (name,
/// address or stored status): narrows the loaded rows until the read with it comes back.
fn row_matches(r: &RouterRow, needle: &str) -> bool {
    needle.is_empty()
        || r.name.to_ascii_lowercase().contains(needle)
        || r.vpn_ip.to_string().contains(needle)
        || r.status.as_str().contains(needle)
}
