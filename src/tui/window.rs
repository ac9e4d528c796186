//! The router list as a window: the rows on screen plus a margin either side, read from
//! PostgreSQL by keyset around the selected router ([`crate::store::window`]). Moving
//! within the loaded rows is immediate; near an edge that is not the list's own, or on a
//! jump, a sort, a filter or a change notification, the state asks for a [`Fetch`], which
//! the runtime runs in the background ([`fetch`]) and hands back to [`RouterWindow::apply`].
//! Memory and work per step depend on the page height, never on the fleet.

use crate::error::Result;
use crate::store::window::{ListSpec, Position, Side};
use crate::store::{RouterLink, Store};
use crate::tui::data::{Interner, RouterRow};
use crate::tui::keymap::Action;

/// What to read next.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    /// The list's first rows (`g`, a new tenant scope).
    First,
    /// Its last rows (`G`).
    Last,
    /// The rows around a router, selecting it if it is still listed, else the row now in
    /// its place (a move near the window's edge, a sort, a filter, a change).
    Around { id: i64, at: Position },
}

/// A fetch's answer, for the spec and request it was made for.
#[derive(Debug)]
pub struct Fetched {
    /// Which request this answers: an older one is dropped.
    pub ticket: u64,
    pub rows: Vec<RouterLink>,
    /// Which of `rows` to select.
    pub selected: usize,
    pub at_start: bool,
    pub at_end: bool,
    /// Routers the spec lists (capped at [`COUNT_CAP`] when filtered).
    pub count: i64,
}

/// A filtered list stops counting here ("10,000+"); an unfiltered one is counted whole.
pub const COUNT_CAP: i64 = 10_000;

/// The router list's window and where the selection is in it.
#[derive(Debug)]
pub struct RouterWindow {
    pub spec: ListSpec,
    rows: Vec<RouterRow>,
    selected: usize,
    at_start: bool,
    at_end: bool,
    /// Rows per page as last drawn: the margin kept either side is two pages.
    pub page: usize,
    pub count: i64,
    /// The latest request; answers to earlier ones are stale.
    ticket: u64,
    /// The latest request has not been answered yet.
    in_flight: bool,
    /// A change arrived while a request was out: read again once it is answered.
    stale: bool,
    /// Tenant names shared between rows.
    names: Interner,
}

impl RouterWindow {
    pub fn new(spec: ListSpec) -> Self {
        RouterWindow {
            spec,
            rows: Vec::new(),
            selected: 0,
            at_start: true,
            at_end: true,
            page: 20,
            count: 0,
            ticket: 0,
            in_flight: false,
            stale: false,
            names: Interner::default(),
        }
    }

    /// Rows to read either side of the selection.
    pub fn margin(&self) -> usize {
        self.page.max(1) * 2
    }

    pub fn rows(&self) -> &[RouterRow] {
        &self.rows
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    pub fn selected(&self) -> Option<&RouterRow> {
        self.rows.get(self.selected)
    }

    pub fn at_start(&self) -> bool {
        self.at_start
    }

    pub fn at_end(&self) -> bool {
        self.at_end
    }

    /// Where `row` stands in the spec's order.
    pub fn position(&self, row: &RouterRow) -> Position {
        Position {
            name: row.name.to_string(),
            tenant: row.tenant.to_string(),
            vpn_ip: row.vpn_ip,
            status: row.status,
            last_handshake: row.last_handshake,
            traffic: row.rx_bytes + row.tx_bytes,
        }
    }

    /// Issues a request: a ticket for its answer.
    fn ask(&mut self, fetch: Fetch) -> (u64, Fetch) {
        self.ticket += 1;
        self.in_flight = true;
        self.stale = false;
        (self.ticket, fetch)
    }

    /// A change notification: the window (and its count) is read again, whatever changed
    /// and wherever: one keyset read around the selection, the same work at any fleet size.
    /// A burst of notifications while a read is out costs one more read, not one each.
    pub fn changed(&mut self) -> Option<(u64, Fetch)> {
        if self.in_flight {
            self.stale = true;
            return None;
        }
        Some(self.refresh())
    }

    /// After an answer or a failure: the read a change asked for meanwhile, if any.
    pub fn follow_up(&mut self) -> Option<(u64, Fetch)> {
        (!self.in_flight && self.stale).then(|| self.refresh())
    }

    /// A request failed: the window keeps what it shows.
    pub fn failed(&mut self, ticket: u64) {
        if ticket == self.ticket {
            self.in_flight = false;
        }
    }

    /// Reads again around the selected router (or from the start when nothing is selected).
    pub fn refresh(&mut self) -> (u64, Fetch) {
        let fetch = match self.selected() {
            Some(row) => Fetch::Around {
                id: row.id,
                at: self.position(row),
            },
            None => Fetch::First,
        };
        self.ask(fetch)
    }

    /// A key: moves within the loaded rows; asks for more when the selection comes within a
    /// page of an edge that is not the list's, or jumps.
    pub fn step(&mut self, action: Action) -> Option<(u64, Fetch)> {
        let last = self.rows.len().saturating_sub(1);
        let page = self.page.max(1);
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(page),
            Action::PageDown => self.selected = (self.selected + page).min(last),
            Action::Top if self.at_start => self.selected = 0,
            Action::Top => return Some(self.ask(Fetch::First)),
            Action::Bottom if self.at_end => self.selected = last,
            Action::Bottom => return Some(self.ask(Fetch::Last)),
            _ => return None,
        }
        let near_start = !self.at_start && self.selected < page;
        let near_end = !self.at_end && self.selected + page > last;
        (near_start || near_end).then(|| self.refresh())
    }

    /// A new spec (sort, direction, filter, tenant): the selection stays on its router
    /// while it is still listed.
    pub fn respec(&mut self, spec: ListSpec) -> (u64, Fetch) {
        let scope_changed = spec.tenant_id != self.spec.tenant_id;
        self.spec = spec;
        if scope_changed {
            self.ask(Fetch::First)
        } else {
            self.refresh()
        }
    }

    /// Follows a selection made outside the window (the console's table moves on its own
    /// over the same rows): later reads are around that router. False if it is not loaded.
    pub fn select_id(&mut self, id: i64) -> bool {
        match self.rows.iter().position(|r| r.id == id) {
            Some(i) => {
                self.selected = i;
                true
            }
            None => false,
        }
    }

    /// Reads around `row`, a router the console selected that the window does not hold
    /// (one just provisioned, say).
    pub fn around(&mut self, row: &RouterRow) -> (u64, Fetch) {
        let fetch = Fetch::Around {
            id: row.id,
            at: self.position(row),
        };
        self.ask(fetch)
    }

    /// A jump to the list's first or last rows (`g`/`G` past the loaded rows).
    pub fn jump(&mut self, fetch: Fetch) -> (u64, Fetch) {
        self.ask(fetch)
    }

    /// An answer: dropped unless it answers the latest request.
    pub fn apply(&mut self, fetched: Fetched) -> bool {
        if fetched.ticket != self.ticket {
            return false;
        }
        self.in_flight = false;
        let names = &mut self.names;
        self.rows = fetched
            .rows
            .into_iter()
            .map(|r| {
                let tenant = names.get(&r.tenant);
                RouterRow::new(r, tenant)
            })
            .collect();
        self.selected = fetched.selected.min(self.rows.len().saturating_sub(1));
        self.at_start = fetched.at_start;
        self.at_end = fetched.at_end;
        self.count = fetched.count;
        true
    }
}

/// Runs a request against the store: at most `margin` rows either side of the selection
/// and a page more after it, plus the count. Three indexed reads at most.
pub async fn fetch(
    store: &Store,
    spec: &ListSpec,
    ticket: u64,
    request: &Fetch,
    margin: usize,
) -> Result<Fetched> {
    let margin = margin.max(1) as i64;
    // Unfiltered, the count is the kept per-status sums (no rows counted): no cap, or a
    // fleet past it would read "10,000 of 100,000".
    let cap = if spec.filter.is_empty() {
        i64::MAX
    } else {
        COUNT_CAP
    };
    let count = store.list_count(spec, cap).await?;
    let fetched = match request {
        Fetch::First => {
            let mut rows = store
                .list_page(spec, None, Side::After { inclusive: false }, 2 * margin + 1)
                .await?;
            let at_end = !beyond(&mut rows, 2 * margin, Edge::End);
            Fetched {
                ticket,
                rows,
                selected: 0,
                at_start: true,
                at_end,
                count,
            }
        }
        Fetch::Last => {
            let mut rows = store.list_end(spec, 2 * margin + 1).await?;
            let at_start = !beyond(&mut rows, 2 * margin, Edge::Start);
            Fetched {
                ticket,
                selected: rows.len().saturating_sub(1),
                rows,
                at_start,
                at_end: true,
                count,
            }
        }
        Fetch::Around { id, at } => {
            // Where the router stands now (a change may have moved it), else where it stood.
            let now_at = match store.list_row(*id).await? {
                Some(row) => Position::of(&row),
                None => at.clone(),
            };
            let mut rows = store
                .list_page(spec, Some(&now_at), Side::Before, margin + 1)
                .await?;
            let at_start = !beyond(&mut rows, margin, Edge::Start);
            let before = rows.len();
            let mut after = store
                .list_page(
                    spec,
                    Some(&now_at),
                    Side::After { inclusive: true },
                    margin + 1,
                )
                .await?;
            let at_end = !beyond(&mut after, margin, Edge::End);
            rows.extend(after);
            let selected = rows
                .iter()
                .position(|r| r.id == *id)
                .unwrap_or(before.min(rows.len().saturating_sub(1)));
            Fetched {
                ticket,
                rows,
                selected,
                at_start,
                at_end,
                count,
            }
        }
    };
    Ok(fetched)
}

/// Which end of a piece of the list lies away from the selection.
enum Edge {
    Start,
    End,
}

/// Whether rows were read beyond `keep` (one more is always asked for, to know whether the
/// list goes on); drops that extra row from the far `edge`.
fn beyond(rows: &mut Vec<RouterLink>, keep: i64, edge: Edge) -> bool {
    let keep = keep as usize;
    if rows.len() <= keep {
        return false;
    }
    match edge {
        Edge::Start => {
            rows.drain(..rows.len() - keep);
        }
        Edge::End => rows.truncate(keep),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testdata;

    fn window_of(n: usize, at_start: bool, at_end: bool) -> RouterWindow {
        let mut w = RouterWindow::new(ListSpec::all_by_name());
        w.page = 5;
        let (ticket, _) = w.refresh();
        let rows = testdata::routers(testdata::now(), n)
            .iter()
            .map(RouterLink::from)
            .collect();
        assert!(w.apply(Fetched {
            ticket,
            rows,
            selected: n / 2,
            at_start,
            at_end,
            count: 1_000,
        }));
        w
    }

    #[test]
    fn moves_within_the_window_without_reading_until_a_page_from_its_edge() {
        let mut w = window_of(30, false, false);
        assert_eq!(w.selected_index(), 15);
        assert_eq!(w.step(Action::Down), None);
        assert_eq!(w.step(Action::PageDown), None);
        assert_eq!(w.selected_index(), 21);
        // 26 + 5 > 29: within a page of an edge the list goes on past
        let (_, fetch) = w.step(Action::PageDown).unwrap();
        let id = w.selected().unwrap().id;
        assert!(matches!(fetch, Fetch::Around { id: i, .. } if i == id));
        // the list's own ends are jumped to in place, others are read
        let mut w = window_of(30, true, false);
        assert_eq!(w.step(Action::Top), None);
        assert_eq!(w.selected_index(), 0);
        assert_eq!(w.step(Action::Bottom).unwrap().1, Fetch::Last);
        let mut w = window_of(30, false, true);
        assert_eq!(w.step(Action::Bottom), None);
        assert_eq!(w.selected_index(), 29);
        assert_eq!(w.step(Action::Top).unwrap().1, Fetch::First);
    }

    #[test]
    fn a_burst_of_changes_costs_one_more_read_and_stale_answers_are_dropped() {
        let mut w = window_of(30, true, true);
        let (first, _) = w.changed().unwrap();
        assert_eq!(w.changed(), None);
        assert_eq!(w.changed(), None);
        let answer = |ticket| Fetched {
            ticket,
            rows: Vec::new(),
            selected: 0,
            at_start: true,
            at_end: true,
            count: 0,
        };
        assert!(!w.apply(answer(first - 1)));
        assert!(w.apply(answer(first)));
        let (second, _) = w.follow_up().unwrap();
        assert_eq!(w.follow_up(), None);
        w.failed(second);
        assert_eq!(w.follow_up(), None);
        assert!(w.changed().is_some());
    }
}
