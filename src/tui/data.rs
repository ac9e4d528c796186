//! What the panes show, kept in the application state: per-dataset load phase, list
//! cursors, the router table with its sort and live filter, peer snapshots and scripts.

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::keys::PublicKey;
use crate::model::{KeyStanding, RotationState, Router, RouterStatus};
use crate::store::RouterLink;
use crate::tui::keymap::Action;

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

/// The one scroll type of the console. In a list (panes) it is a selection plus the first
/// visible row; in a text view (script, raw, help) `selected` is the first row shown. The
/// offset and page are learnt while drawing (only then is the height known), hence the
/// `Cell`s; everything else is plain state.
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

    /// Moves the selection in a list of `len` rows; true when it moved.
    pub fn step(&mut self, action: Action, len: usize) -> bool {
        let before = self.selected;
        let page = self.page();
        match action {
            Action::Up => self.up(1),
            Action::Down => self.down(1, len),
            Action::Top => self.top(),
            Action::Bottom => self.bottom(len),
            // A page moves the view by a page with the selection on the same screen row.
            Action::PageUp | Action::PageDown => {
                let row = self.screen_row();
                if action == Action::PageUp {
                    self.up(page);
                } else {
                    self.down(page, len);
                }
                self.offset.set(self.selected.saturating_sub(row));
            }
            _ => {}
        }
        self.selected != before
    }

    /// The selection's row on screen, as last drawn or since moved by a page.
    fn screen_row(&self) -> usize {
        self.selected.saturating_sub(self.offset.get())
    }

    /// The rows changed under the selection (a window read around it): it is now row `to`,
    /// and stays on the same screen row, so the view does not jump.
    pub fn rebase(&mut self, to: usize) {
        let row = self.screen_row();
        self.selected = to;
        self.offset.set(to.saturating_sub(row));
    }

    /// Scrolls a text of `rows` screen rows (as last drawn): the first row shown moves, and
    /// the last page stays full. True when it moved.
    pub fn scroll(&mut self, action: Action, rows: usize) -> bool {
        let last_top = rows.saturating_sub(self.page()) + 1;
        self.step(action, last_top)
    }

    /// The first row to draw of a text `rows` high in `height` lines (records the page).
    pub fn text_window(&self, rows: usize, height: usize) -> Range<usize> {
        self.page.set(height);
        let start = self.selected.min(rows.saturating_sub(height));
        start..(start + height).min(rows)
    }

    /// Rows per page as last drawn.
    pub fn page(&self) -> usize {
        self.page.get().max(1)
    }

    /// The rows the view means to show: from the first row shown (before a list's end
    /// clamps it) to a page on, the selection included even before it is drawn. A window
    /// of rows reads on when these come within a page of its edge, so a page move always
    /// has the rows it shows.
    pub fn meant(&self) -> Range<usize> {
        let offset = self.offset.get();
        offset.min(self.selected)..(offset + self.page()).max(self.selected + 1)
    }

    /// The rows shown by the last frame, for a list now `len` long (nothing is changed).
    pub fn window(&self, len: usize) -> Range<usize> {
        let page = self.page.get();
        let start = self.offset.get().min(len.saturating_sub(page));
        start..(start + page).min(len)
    }

    /// The rows to draw in `height` lines: keeps the selection visible, moving the window
    /// as little as possible, and the last page full.
    pub fn visible(&self, len: usize, height: usize) -> Range<usize> {
        self.page.set(height);
        if len == 0 || height == 0 {
            return 0..0;
        }
        let selected = self.selected.min(len - 1);
        let mut offset = self.offset.get();
        if selected < offset {
            offset = selected;
        } else if selected >= offset + height {
            offset = selected + 1 - height;
        }
        // Kept unclamped: rows about to arrive past a window's edge (a read around the
        // selection) are then drawn from the same screen row ([`Self::rebase`]).
        self.offset.set(offset);
        let start = offset.min(len - height.min(len));
        start..(start + height).min(len)
    }
}

/// The router list's sort orders are the store's (the windowed list sorts in PostgreSQL).
pub use crate::store::window::SortKey;

/// One router as the console keeps it: only what the table, the peer pane and the actions
/// need, with the tenant name shared between rows (100,000 of these stay in memory).
#[derive(Debug, Clone, PartialEq)]
pub struct RouterRow {
    pub id: i64,
    pub name: Box<str>,
    /// Shared by every row of the tenant.
    pub tenant: Arc<str>,
    pub vpn_ip: Ipv4Addr,
    /// The router's WireGuard public key.
    pub key: PublicKey,
    pub enabled: bool,
    /// As stored by the agent: what the console shows, as the command line and the API do.
    pub status: RouterStatus,
    pub last_handshake: Option<DateTime<Utc>>,
    pub endpoint: Option<Box<str>>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub keys: KeyDates,
}

impl RouterRow {
    /// The row for `router`, with `tenant` as its (shared) tenant name. The one mapping:
    /// rows streamed from the store and routers just provisioned both come through here.
    pub fn new(router: RouterLink, tenant: Arc<str>) -> Self {
        RouterRow {
            id: router.id,
            name: router.name.into_boxed_str(),
            tenant,
            vpn_ip: router.vpn_ip,
            key: router.public_key,
            enabled: router.enabled,
            status: router.status,
            last_handshake: router.last_handshake_at,
            endpoint: router.last_endpoint.map(String::into_boxed_str),
            rx_bytes: router.rx_bytes,
            tx_bytes: router.tx_bytes,
            keys: KeyDates {
                created_at: router.keys_created_at,
                staged_at: router.rotation_staged_at,
            },
        }
    }

    /// Rows for `routers`, tenant names shared.
    pub fn from_routers(routers: &[Router]) -> Vec<RouterRow> {
        let mut names = Interner::default();
        routers
            .iter()
            .map(|r| RouterRow::new(RouterLink::from(r), names.get(&r.tenant)))
            .collect()
    }
}

/// Shares equal strings (tenant names) between rows.
#[derive(Debug, Default)]
pub struct Interner(std::collections::HashMap<Box<str>, Arc<str>>);

impl Interner {
    pub fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = name.into();
        self.0.insert(name.into(), shared.clone());
        shared
    }
}

/// All loaded routers with a sorted order and the filtered view of it. Filtering walks one
/// precomputed lower-case search text for all rows (name and address; no allocation per
/// keystroke); sorting only happens when rows or the sort change, in the store's orders.
/// Status is the stored one (the agent's verdict, as the command line and the API show it).
#[derive(Debug)]
pub struct RouterTable {
    rows: Vec<RouterRow>,
    /// "name\u{1}address" of every row, back to back; row i ends at `search_ends[i]`.
    search: String,
    search_ends: Vec<u32>,
    /// Row indices ordered by public key, to find a live peer's router.
    by_key: Vec<u32>,
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
    /// Bumped whenever row indices may have changed (the peer view holds indices).
    pub generation: u64,
}

impl Default for RouterTable {
    fn default() -> Self {
        RouterTable {
            rows: Vec::new(),
            search: String::new(),
            search_ends: Vec::new(),
            by_key: Vec::new(),
            sorted: Vec::new(),
            view: Vec::new(),
            sort: SortKey::Name,
            descending: false,
            tenant: None,
            filter: String::new(),
            cursor: ListCursor::default(),
            phase: Phase::Loading,
            updated_at: None,
            generation: 0,
        }
    }
}

impl RouterTable {
    /// Replaces every row (`tenant` None) or only one tenant's rows.
    pub fn replace(&mut self, tenant: Option<&str>, rows: Vec<RouterRow>) {
        let keep = self.selected().map(|r| r.id);
        match tenant {
            None => self.rows = rows,
            Some(t) => {
                self.rows.retain(|r| &*r.tenant != t);
                self.rows.extend(rows);
            }
        }
        self.reindex(keep);
    }

    /// Inserts or updates one row (a router just provisioned or toggled).
    pub fn upsert(&mut self, router: &Router) {
        let tenant = self
            .rows
            .iter()
            .find(|r| *r.tenant == *router.tenant)
            .map_or_else(|| Arc::from(router.tenant.as_str()), |r| r.tenant.clone());
        let row = RouterRow::new(RouterLink::from(router), tenant);
        let keep = Some(row.id);
        match self.rows.iter_mut().find(|r| r.id == row.id) {
            Some(slot) => *slot = row,
            None => self.rows.push(row),
        }
        self.reindex(keep);
    }

    pub fn remove(&mut self, tenant: &str, name: &str) {
        let keep = self.selected().map(|r| r.id);
        self.rows
            .retain(|r| !(&*r.tenant == tenant && &*r.name == name));
        self.reindex(keep);
    }

    pub fn remove_tenant(&mut self, tenant: &str) {
        self.rows.retain(|r| &*r.tenant != tenant);
        self.reindex(None);
    }

    fn reindex(&mut self, keep: Option<i64>) {
        use std::fmt::Write as _;
        self.rows.shrink_to_fit();
        self.search.clear();
        self.search_ends.clear();
        self.search_ends.reserve_exact(self.rows.len());
        for r in &self.rows {
            self.search
                .extend(r.name.chars().map(|c| c.to_ascii_lowercase()));
            let _ = write!(self.search, "\u{1}{}", r.vpn_ip);
            self.search_ends.push(self.search.len() as u32);
        }
        self.search.shrink_to_fit();
        let rows = &self.rows;
        self.by_key = (0..rows.len() as u32).collect();
        self.by_key
            .sort_unstable_by_key(|&i| rows[i as usize].key.as_bytes());
        self.sorted = (0..rows.len() as u32).collect();
        self.generation += 1;
        self.resort(keep);
    }

    fn resort(&mut self, keep: Option<i64>) {
        let key = self.sort;
        let rows = &self.rows;
        self.sorted.sort_by(|&a, &b| {
            let (a, b) = (&rows[a as usize], &rows[b as usize]);
            let primary = match key {
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Address => a.vpn_ip.cmp(&b.vpn_ip),
                SortKey::Status => a.status.cmp(&b.status),
                // most recent first reads best; reversing gives oldest first
                SortKey::Handshake => b.last_handshake.cmp(&a.last_handshake),
                SortKey::Traffic => (b.rx_bytes + b.tx_bytes).cmp(&(a.rx_bytes + a.tx_bytes)),
                SortKey::Tenant => a.tenant.cmp(&b.tenant),
            };
            // Ties as the store breaks them (see `SortKey::ties_by_address`).
            if key.ties_by_address() {
                primary.then_with(|| a.vpn_ip.cmp(&b.vpn_ip))
            } else {
                primary
                    .then_with(|| a.tenant.cmp(&b.tenant))
                    .then_with(|| a.name.cmp(&b.name))
            }
        });
        if self.descending {
            self.sorted.reverse();
        }
        self.refilter(keep);
    }

    /// The search text of row `i`: lower-case name, \u{1}, address.
    pub fn search_text(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |p| self.search_ends[p] as usize);
        &self.search[start..self.search_ends[i] as usize]
    }

    /// Does row `i` match a lower-case `needle` (name, address or stored status)?
    pub fn matches(&self, i: usize, needle: &str) -> bool {
        needle.is_empty()
            || self.search_text(i).contains(needle)
            || self.rows[i].status.as_str().contains(needle)
    }

    /// Rebuilds the view from the sorted order; keeps the selected router if still shown.
    fn refilter(&mut self, keep: Option<i64>) {
        let needle = self.filter.to_ascii_lowercase();
        let tenant = self.tenant.as_deref();
        let mut view = std::mem::take(&mut self.view);
        view.clear();
        view.extend(self.sorted.iter().copied().filter(|&i| {
            let i = i as usize;
            tenant.is_none_or(|t| &*self.rows[i].tenant == t) && self.matches(i, &needle)
        }));
        self.view = view;
        if let Some(id) = keep
            && let Some(pos) = self
                .view
                .iter()
                .position(|&i| self.rows[i as usize].id == id)
        {
            self.cursor.rebase(pos);
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
                &*r.name == name && tenant.is_none_or(|x| &*r.tenant == x)
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

    /// Selects the router with this id if the view shows it.
    pub fn select_id(&mut self, id: i64) -> bool {
        match self
            .view
            .iter()
            .position(|&i| self.rows[i as usize].id == id)
        {
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

    pub fn phase_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    pub fn total(&self) -> usize {
        self.rows.len()
    }

    pub fn all(&self) -> &[RouterRow] {
        &self.rows
    }

    /// For every row of the whole table, its place in the current sort (the routers pane's
    /// order before filtering): the peer pane orders by it too.
    pub fn sort_ranks(&self) -> Vec<u32> {
        let mut ranks = vec![0; self.rows.len()];
        for (place, &row) in self.sorted.iter().enumerate() {
            ranks[row as usize] = place as u32;
        }
        ranks
    }

    /// Row `i` of the whole table (not the view), as the peer view refers to it.
    pub fn row(&self, i: u32) -> Option<&RouterRow> {
        self.rows.get(i as usize)
    }

    /// The row of the router with this public key.
    pub fn find_key(&self, key: &PublicKey) -> Option<u32> {
        self.by_key
            .binary_search_by_key(&key.as_bytes(), |&i| self.rows[i as usize].key.as_bytes())
            .ok()
            .map(|p| self.by_key[p])
    }

    /// The table row shown at line `i` of the view.
    pub fn view_index(&self, i: usize) -> Option<u32> {
        self.view.get(i).copied()
    }

    /// Row `i` of the filtered, sorted view.
    pub fn get(&self, i: usize) -> Option<&RouterRow> {
        self.view.get(i).map(|&r| &self.rows[r as usize])
    }

    pub fn selected(&self) -> Option<&RouterRow> {
        self.get(self.cursor.selected)
    }

    /// The loaded router `tenant/name`, filtered out or not.
    pub fn find(&self, tenant: &str, name: &str) -> Option<&RouterRow> {
        self.rows
            .iter()
            .find(|r| &*r.tenant == tenant && &*r.name == name)
    }

    /// The loaded router with this id, filtered out or not.
    pub fn find_id(&self, id: i64) -> Option<&RouterRow> {
        self.rows.iter().find(|r| r.id == id)
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
    /// The router's key dates as of these texts: whether they hold staged keys.
    pub keys: KeyDates,
}

/// When a router's current keys were made, and when new ones were staged (while they are:
/// the scripts then hold the staged keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDates {
    pub created_at: DateTime<Utc>,
    pub staged_at: Option<DateTime<Utc>>,
}

impl KeyDates {
    pub fn of(router: &Router) -> Self {
        KeyDates {
            created_at: router.keys_created_at,
            staged_at: match router.rotation_state {
                RotationState::Staged => router.rotation_staged_at,
                RotationState::None => None,
            },
        }
    }

    pub fn rotation_state(&self) -> RotationState {
        match self.staged_at {
            Some(_) => RotationState::Staged,
            None => RotationState::None,
        }
    }

    pub fn standing(&self, max_age: Option<chrono::Duration>, now: DateTime<Utc>) -> KeyStanding {
        KeyStanding::of(self.rotation_state(), self.created_at, max_age, now)
    }
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

    fn table(n: usize) -> RouterTable {
        let mut t = RouterTable::default();
        t.replace(
            None,
            RouterRow::from_routers(&testdata::routers(testdata::now(), n)),
        );
        t
    }

    #[test]
    fn table_filters_by_name_address_and_status() {
        let mut t = table(40);
        assert_eq!(t.len(), 40);
        t.set_filter("HQ");
        assert!(!t.is_empty() && (0..t.len()).all(|i| t.get(i).unwrap().name.contains("hq")));
        t.set_filter("10.101.1.");
        assert!((0..t.len()).all(|i| {
            t.get(i)
                .unwrap()
                .vpn_ip
                .to_string()
                .starts_with("10.101.1.")
        }));
        t.set_filter("offline");
        assert!(!t.is_empty());
        assert!((0..t.len()).all(|i| t.get(i).unwrap().status == RouterStatus::Offline));
        t.set_filter("");
        assert_eq!(t.len(), 40);
    }

    #[test]
    fn sort_keeps_selection_and_reverses() {
        let mut t = table(30);
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
        let mut t = table(30);
        let before_other = t.all().iter().filter(|r| &*r.tenant != "acme").count();
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
