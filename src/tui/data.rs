//! What the panes show, kept in the application state: per-dataset load phase, list
//! cursors, the router table with its sort and live filter, peer snapshots and scripts.

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::ops::Range;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::model::{Router, RouterStatus};

/// Where a dataset stands (rainfrog-style): the last good value stays on screen while a
/// reload runs or after it failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Loading,
    Ready,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Slot<T> {
    pub value: T,
    pub phase: Phase,
    /// When the value last arrived, for "updated Ns ago".
    pub updated_at: Option<DateTime<Utc>>,
}

impl<T: Default> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: T::default(),
            phase: Phase::Loading,
            updated_at: None,
        }
    }
}

impl<T> Slot<T> {
    pub fn set(&mut self, result: Result<T, String>, now: DateTime<Utc>) {
        match result {
            Ok(value) => {
                self.value = value;
                self.phase = Phase::Ready;
                self.updated_at = Some(now);
            }
            Err(message) => self.phase = Phase::Failed(message),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }
}

/// Tenants used out of the global pool of /16s.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolUsage {
    pub tenants_used: i64,
    pub tenants_capacity: i64,
}

/// A selection in a list plus the first visible row. The offset is adjusted while drawing
/// (only then is the height known), hence the `Cell`s; everything else is plain state.
#[derive(Debug, Default)]
pub struct ListCursor {
    pub selected: usize,
    offset: Cell<usize>,
    page: Cell<usize>,
}

impl ListCursor {
    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    pub fn up(&mut self, by: usize) {
        self.selected = self.selected.saturating_sub(by);
    }

    pub fn down(&mut self, by: usize, len: usize) {
        self.selected = (self.selected + by).min(len.saturating_sub(1));
    }

    pub fn top(&mut self) {
        self.selected = 0;
    }

    pub fn bottom(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }

    /// Rows per page as last drawn.
    pub fn page(&self) -> usize {
        self.page.get().max(1)
    }

    /// The rows to draw in `height` lines: keeps the selection visible, moving the window
    /// as little as possible.
    pub fn visible(&self, len: usize, height: usize) -> Range<usize> {
        self.page.set(height);
        if len == 0 || height == 0 {
            return 0..0;
        }
        let selected = self.selected.min(len - 1);
        let mut offset = self.offset.get().min(len.saturating_sub(height));
        if selected < offset {
            offset = selected;
        } else if selected >= offset + height {
            offset = selected + 1 - height;
        }
        self.offset.set(offset);
        offset..(offset + height).min(len)
    }
}

/// Columns the router list sorts by, in the order `s` cycles through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Address,
    Status,
    Handshake,
    Traffic,
    Tenant,
}

impl SortKey {
    const CYCLE: [SortKey; 6] = [
        Self::Name,
        Self::Address,
        Self::Status,
        Self::Handshake,
        Self::Traffic,
        Self::Tenant,
    ];

    pub fn next(self) -> Self {
        let i = Self::CYCLE.iter().position(|k| *k == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Address => "address",
            Self::Status => "status",
            Self::Handshake => "handshake",
            Self::Traffic => "traffic",
            Self::Tenant => "tenant",
        }
    }
}

/// All loaded routers with a sorted order and the filtered view of it. Filtering walks a
/// precomputed lower-case search key per row (no allocation per keystroke); sorting only
/// happens when rows or the sort change.
#[derive(Debug)]
pub struct RouterTable {
    rows: Vec<Router>,
    search_keys: Vec<String>,
    sorted: Vec<u32>,
    view: Vec<u32>,
    pub sort: SortKey,
    pub descending: bool,
    /// Only this tenant's routers (None: all tenants).
    pub tenant: Option<String>,
    pub filter: String,
    pub cursor: ListCursor,
    pub phase: Phase,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for RouterTable {
    fn default() -> Self {
        RouterTable {
            rows: Vec::new(),
            search_keys: Vec::new(),
            sorted: Vec::new(),
            view: Vec::new(),
            sort: SortKey::Name,
            descending: false,
            tenant: None,
            filter: String::new(),
            cursor: ListCursor::default(),
            phase: Phase::Loading,
            updated_at: None,
        }
    }
}

fn search_key(r: &Router) -> String {
    format!(
        "{}\u{1}{}\u{1}{}",
        r.name.to_ascii_lowercase(),
        r.vpn_ip,
        r.status.as_str()
    )
}

impl RouterTable {
    /// Replaces every row (`tenant` None) or only one tenant's rows.
    pub fn replace(&mut self, tenant: Option<&str>, rows: Vec<Router>) {
        let keep = self.selected().map(|r| r.id);
        match tenant {
            None => self.rows = rows,
            Some(t) => {
                self.rows.retain(|r| r.tenant != t);
                self.rows.extend(rows);
            }
        }
        self.reindex(keep);
    }

    /// Inserts or updates one row (a router just provisioned or toggled).
    pub fn upsert(&mut self, router: Router) {
        let keep = Some(router.id);
        match self.rows.iter_mut().find(|r| r.id == router.id) {
            Some(slot) => *slot = router,
            None => self.rows.push(router),
        }
        self.reindex(keep);
    }

    pub fn remove(&mut self, tenant: &str, name: &str) {
        let keep = self.selected().map(|r| r.id);
        self.rows
            .retain(|r| !(r.tenant == tenant && r.name == name));
        self.reindex(keep);
    }

    pub fn remove_tenant(&mut self, tenant: &str) {
        self.rows.retain(|r| r.tenant != tenant);
        self.reindex(None);
    }

    fn reindex(&mut self, keep: Option<i64>) {
        self.search_keys = self.rows.iter().map(search_key).collect();
        self.sorted = (0..self.rows.len() as u32).collect();
        self.resort(keep);
    }

    fn resort(&mut self, keep: Option<i64>) {
        let rows = &self.rows;
        let key = self.sort;
        self.sorted.sort_by(|&a, &b| {
            let (a, b) = (&rows[a as usize], &rows[b as usize]);
            let primary = match key {
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Address => a.vpn_ip.cmp(&b.vpn_ip),
                SortKey::Status => a.status.cmp(&b.status),
                // most recent first reads best; reversing gives oldest first
                SortKey::Handshake => b.last_handshake_at.cmp(&a.last_handshake_at),
                SortKey::Traffic => (b.rx_bytes + b.tx_bytes).cmp(&(a.rx_bytes + a.tx_bytes)),
                SortKey::Tenant => a.tenant.cmp(&b.tenant),
            };
            primary
                .then_with(|| a.tenant.cmp(&b.tenant))
                .then_with(|| a.name.cmp(&b.name))
        });
        if self.descending {
            self.sorted.reverse();
        }
        self.refilter(keep);
    }

    /// Rebuilds the view from the sorted order; keeps the selected router if still shown.
    fn refilter(&mut self, keep: Option<i64>) {
        let needle = self.filter.to_ascii_lowercase();
        let tenant = self.tenant.as_deref();
        let (rows, keys) = (&self.rows, &self.search_keys);
        self.view.clear();
        self.view.extend(self.sorted.iter().copied().filter(|&i| {
            let i = i as usize;
            tenant.is_none_or(|t| rows[i].tenant == t)
                && (needle.is_empty() || keys[i].contains(&needle))
        }));
        if let Some(id) = keep
            && let Some(pos) = self
                .view
                .iter()
                .position(|&i| self.rows[i as usize].id == id)
        {
            self.cursor.selected = pos;
        }
        self.cursor.clamp(self.view.len());
    }

    pub fn set_filter(&mut self, filter: &str) {
        if self.filter != filter {
            let keep = self.selected().map(|r| r.id);
            self.filter = filter.to_owned();
            self.refilter(keep);
        }
    }

    pub fn set_tenant(&mut self, tenant: Option<String>) {
        if self.tenant != tenant {
            self.tenant = tenant;
            self.cursor.top();
            self.refilter(None);
        }
    }

    pub fn cycle_sort(&mut self) {
        let keep = self.selected().map(|r| r.id);
        self.sort = self.sort.next();
        self.descending = false;
        self.resort(keep);
    }

    pub fn reverse(&mut self) {
        let keep = self.selected().map(|r| r.id);
        self.descending = !self.descending;
        self.resort(keep);
    }

    /// Selects a router by tenant and name, clearing the filter if it hides it.
    pub fn select(&mut self, tenant: Option<&str>, name: &str) -> bool {
        let found = |t: &RouterTable| {
            t.view.iter().position(|&i| {
                let r = &t.rows[i as usize];
                r.name == name && tenant.is_none_or(|x| r.tenant == x)
            })
        };
        if let Some(pos) = found(self) {
            self.cursor.selected = pos;
            return true;
        }
        self.filter.clear();
        if tenant.is_some() && self.tenant.as_deref() != tenant {
            self.tenant = tenant.map(str::to_owned);
        }
        self.refilter(None);
        if found(self).is_none() && self.tenant.is_some() {
            self.tenant = None;
            self.refilter(None);
        }
        match found(self) {
            Some(pos) => {
                self.cursor.selected = pos;
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.view.len()
    }

    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    pub fn total(&self) -> usize {
        self.rows.len()
    }

    pub fn all(&self) -> &[Router] {
        &self.rows
    }

    /// Row `i` of the filtered, sorted view.
    pub fn get(&self, i: usize) -> Option<&Router> {
        self.view.get(i).map(|&r| &self.rows[r as usize])
    }

    pub fn selected(&self) -> Option<&Router> {
        self.get(self.cursor.selected)
    }
}

/// Where peer status comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerSource {
    /// `wg show` on this host, read by the console itself.
    Interface(String),
    /// What the agent last stored in the database.
    Database,
}

/// One peer as the hub sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    /// "tenant/router", or None for a peer on the interface tikwire does not know.
    pub router: Option<String>,
    pub public_key: String,
    pub vpn_ip: Option<Ipv4Addr>,
    pub endpoint: Option<String>,
    pub last_handshake: Option<DateTime<Utc>>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

/// The peer table at one moment; the poller (or the database) sends a new one each time.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSnapshot {
    pub source: PeerSource,
    pub taken_at: DateTime<Utc>,
    pub peers: Vec<PeerRow>,
}

impl PeerSnapshot {
    /// Peer status from stored router rows, most recent handshake first, for when no live
    /// poller runs in this process.
    pub fn from_routers(routers: &[Router], taken_at: DateTime<Utc>) -> Self {
        let mut peers: Vec<PeerRow> = routers
            .iter()
            .filter(|r| r.enabled)
            .map(|r| PeerRow {
                router: Some(format!("{}/{}", r.tenant, r.name)),
                public_key: r.public_key.clone(),
                vpn_ip: Some(r.vpn_ip),
                endpoint: r.last_endpoint.clone(),
                last_handshake: r.last_handshake_at,
                rx_bytes: r.rx_bytes,
                tx_bytes: r.tx_bytes,
            })
            .collect();
        peers.sort_by(|a, b| b.last_handshake.cmp(&a.last_handshake));
        PeerSnapshot {
            source: PeerSource::Database,
            taken_at,
            peers,
        }
    }
}

/// Status from handshake age, with the configured thresholds.
pub fn status_from_handshake(
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    online_secs: u64,
    stale_secs: u64,
) -> RouterStatus {
    match last {
        None => RouterStatus::Pending,
        Some(t) => {
            let age = (now - t).num_seconds().max(0) as u64;
            if age <= online_secs {
                RouterStatus::Online
            } else if age <= stale_secs {
                RouterStatus::Stale
            } else {
                RouterStatus::Offline
            }
        }
    }
}

/// Which generated text a script view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    RouterOs,
    Undo,
    WgQuick,
}

impl ScriptKind {
    pub const ALL: [ScriptKind; 3] = [Self::RouterOs, Self::Undo, Self::WgQuick];

    pub fn title(self) -> &'static str {
        match self {
            Self::RouterOs => "RouterOS script",
            Self::Undo => "RouterOS undo script",
            Self::WgQuick => "wg-quick config",
        }
    }

    pub fn file_extension(self) -> &'static str {
        match self {
            Self::RouterOs => "rsc",
            Self::Undo => "undo.rsc",
            Self::WgQuick => "conf",
        }
    }

    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % 3]
    }

    pub fn prev(self) -> Self {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 2) % 3]
    }
}

/// Every text generated for one router. Holds the private and preshared keys in plaintext,
/// so all of it is zeroized on drop; `secrets` lists what to mask on screen.
pub struct ScriptBundle {
    pub routeros: Zeroizing<String>,
    pub undo: Zeroizing<String>,
    pub wg_quick: Zeroizing<String>,
    /// The wg-quick config without comments, for the QR code.
    pub qr_payload: Zeroizing<String>,
    pub secrets: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for ScriptBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScriptBundle { .. redacted .. }")
    }
}

impl ScriptBundle {
    pub fn text(&self, kind: ScriptKind) -> &Zeroizing<String> {
        match kind {
            ScriptKind::RouterOs => &self.routeros,
            ScriptKind::Undo => &self.undo,
            ScriptKind::WgQuick => &self.wg_quick,
        }
    }

    /// Whether the text of `kind` holds a key at all (the undo script does not).
    pub fn holds_secret(&self, kind: ScriptKind) -> bool {
        let text = self.text(kind);
        self.secrets
            .iter()
            .any(|s| !s.is_empty() && text.contains(s.as_str()))
    }

    /// The text with every secret replaced by a placeholder of the same shape.
    pub fn masked(&self, kind: ScriptKind) -> String {
        let mut text = self.text(kind).as_str().to_owned();
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            text = text.replace(secret.as_str(), MASK);
        }
        text
    }
}

/// What a masked key looks like on screen.
pub const MASK: &str = "••••••••••••••••(hidden: p shows)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testdata;

    #[test]
    fn table_filters_by_name_address_and_status() {
        let mut t = RouterTable::default();
        t.replace(None, testdata::routers(testdata::now(), 40));
        assert_eq!(t.len(), 40);
        t.set_filter("HQ");
        assert!(t.len() > 0 && (0..t.len()).all(|i| t.get(i).unwrap().name.contains("hq")));
        t.set_filter("10.101.1.");
        assert!((0..t.len()).all(|i| {
            t.get(i)
                .unwrap()
                .vpn_ip
                .to_string()
                .starts_with("10.101.1.")
        }));
        t.set_filter("offline");
        assert!(t.len() > 0);
        assert!((0..t.len()).all(|i| t.get(i).unwrap().status == RouterStatus::Offline));
        t.set_filter("");
        assert_eq!(t.len(), 40);
    }

    #[test]
    fn sort_keeps_selection_and_reverses() {
        let mut t = RouterTable::default();
        t.replace(None, testdata::routers(testdata::now(), 30));
        t.cursor.selected = 7;
        let id = t.selected().unwrap().id;
        t.cycle_sort();
        assert_eq!(t.sort, SortKey::Address);
        assert_eq!(t.selected().unwrap().id, id);
        let first = t.get(0).unwrap().vpn_ip;
        t.reverse();
        assert_eq!(t.get(t.len() - 1).unwrap().vpn_ip, first);
    }

    #[test]
    fn tenant_replace_only_touches_that_tenant() {
        let mut t = RouterTable::default();
        t.replace(None, testdata::routers(testdata::now(), 30));
        let before_other = t.all().iter().filter(|r| r.tenant != "acme").count();
        t.replace(Some("acme"), Vec::new());
        assert_eq!(t.total(), before_other);
    }

    #[test]
    fn cursor_window_follows_selection() {
        let mut c = ListCursor::default();
        assert_eq!(c.visible(100, 10), 0..10);
        c.down(15, 100);
        assert_eq!(c.visible(100, 10), 6..16);
        c.up(3);
        assert_eq!(c.visible(100, 10), 6..16);
        c.bottom(100);
        assert_eq!(c.visible(100, 10), 90..100);
    }

    #[test]
    fn masking_hides_every_secret() {
        let b = testdata::bundle();
        for kind in ScriptKind::ALL {
            let masked = b.masked(kind);
            for s in &b.secrets {
                assert!(!masked.contains(s.as_str()), "{kind:?}");
            }
        }
        assert!(b.masked(ScriptKind::WgQuick).contains(MASK));
    }
}
