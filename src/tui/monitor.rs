//! What the console's monitoring views show, as pure logic: a router's detail (its history
//! loaded in the background), the fleet's recent events kept bounded, the toasts that new
//! events make (coalesced per hub), sparklines and the status strip. No clock, no I/O:
//! callers pass `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::history::{Availability, FleetEvent, RouterHistory, Timeline, TrafficPoint};
use crate::model::RouterStatus;
use crate::store::console_history::RouterNow;

/// Everything a router's detail view shows, loaded in one background task.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterDetail {
    pub now: RouterNow,
    /// Last 24 hours: 5-minute buckets, transitions and endpoints.
    pub day: RouterHistory,
    /// Last 30 days: hourly buckets, transitions and endpoints (the store caps each list).
    pub month: RouterHistory,
    /// Status over the last 24 hours (the state before included).
    pub timeline: Timeline,
    pub availability: Availability,
    /// The clock the history was read at.
    pub as_of: DateTime<Utc>,
}

/// The span of the short history and the status strip.
pub const DAY: TimeDelta = TimeDelta::hours(24);
/// The span of the long history.
pub const MONTH: TimeDelta = TimeDelta::days(30);

impl RouterDetail {
    /// Since when the router has its current status: its newest transition, if any.
    pub fn status_since(&self) -> Option<DateTime<Utc>> {
        self.month.transitions.last().map(|t| t.at)
    }
}

/// The newest events the console keeps (per view; the feed itself keeps only its cursor).
pub const EVENTS_KEPT: usize = 500;

/// The most events one live feed read takes (the newest of them): a storm of more is told
/// by this many, and the cursor still moves past all of it.
pub const FEED_READ_MAX: i64 = 5000;

/// Events in time order (then id), at most [`EVENTS_KEPT`] (the newest), without duplicates:
/// what the events view lists. Loads and live reads may overlap; an event's key is its row's
/// time and id, so merging the same row twice is harmless. Time first, because ids follow
/// commit order, not when things happened (history written after the fact, several hubs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventLog {
    events: BTreeMap<(DateTime<Utc>, i64), FleetEvent>,
}

impl EventLog {
    /// Adds events (any order, duplicates ignored) and drops the oldest beyond the cap.
    /// Returns how many were new.
    pub fn merge(&mut self, events: impl IntoIterator<Item = (i64, FleetEvent)>) -> usize {
        let mut added = 0;
        for (id, event) in events {
            if self.events.insert((event.at(), id), event).is_none() {
                added += 1;
            }
        }
        while self.events.len() > EVENTS_KEPT {
            self.events.pop_first();
        }
        added
    }

    pub fn clear(&mut self) {
        self.events.clear();
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The highest id held.
    pub fn newest_id(&self) -> Option<i64> {
        self.events.keys().map(|(_, id)| *id).max()
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = (&i64, &FleetEvent)> {
        self.events.iter().rev().map(|((_, id), event)| (id, event))
    }
}

/// The tenant an event is about.
pub fn event_tenant(event: &FleetEvent) -> &str {
    match event {
        FleetEvent::Status { tenant, .. }
        | FleetEvent::FirstHandshake { tenant, .. }
        | FleetEvent::Alert { tenant, .. } => tenant,
    }
}

/// What an event tells an operator, for toasts; `None` for changes nobody needs told
/// (pending to disabled, an operator's own enable/disable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Happening {
    WentOffline,
    WentStale,
    CameBack,
    FirstHandshake,
}

impl Happening {
    pub fn of(event: &FleetEvent) -> Option<Self> {
        use RouterStatus as S;
        match event {
            FleetEvent::FirstHandshake { .. } => Some(Self::FirstHandshake),
            // The console tells transitions as they happen; alerts go to people elsewhere.
            FleetEvent::Alert { .. } => None,
            FleetEvent::Status { from, to, .. } => match (from, to) {
                (_, S::Offline) if *from != S::Disabled => Some(Self::WentOffline),
                (S::Online, S::Stale) => Some(Self::WentStale),
                (S::Stale | S::Offline, S::Online) => Some(Self::CameBack),
                _ => None,
            },
        }
    }

    /// Bad news: the toast says it as an error (and stays longer).
    pub fn alarming(self) -> bool {
        matches!(self, Self::WentOffline | Self::WentStale)
    }

    fn verb(self) -> &'static str {
        match self {
            Self::WentOffline => "went offline",
            Self::WentStale => "went stale",
            Self::CameBack => "came back online",
            Self::FirstHandshake => "shook hands for the first time",
        }
    }
}

/// The toast for a batch of new events: one line whatever the batch's size, one part per
/// happening and hub ("37 routers went offline on hub1 · acme/hq-1 came back online on hub1"),
/// or `None` when nothing in it is worth telling. The bool: whether it is bad news.
pub fn announce<'a>(events: impl IntoIterator<Item = &'a FleetEvent>) -> Option<(String, bool)> {
    // (happening, hub) -> (count, the one router when count is 1)
    let mut groups: BTreeMap<(Happening, &str), (usize, String)> = BTreeMap::new();
    for event in events {
        let Some(happening) = Happening::of(event) else {
            continue;
        };
        let (tenant, router, hub) = match event {
            FleetEvent::Status {
                tenant,
                router,
                hub,
                ..
            }
            | FleetEvent::FirstHandshake {
                tenant,
                router,
                hub,
                ..
            }
            | FleetEvent::Alert {
                tenant,
                router,
                hub,
                ..
            } => (tenant, router, hub),
        };
        let entry = groups
            .entry((happening, hub.as_str()))
            .or_insert_with(|| (0, format!("{tenant}/{router}")));
        entry.0 += 1;
    }
    if groups.is_empty() {
        return None;
    }
    let alarming = groups.keys().any(|(h, _)| h.alarming());
    let parts: Vec<String> = groups
        .iter()
        .map(|((happening, hub), (n, one))| {
            let who = if *n == 1 {
                one.clone()
            } else {
                format!("{} routers", crate::format::count(*n as i64))
            };
            format!("{who} {} on {hub}", happening.verb())
        })
        .collect();
    Some((parts.join(" · "), alarming))
}

/// Traffic summed into `width` equal columns of `[from, from + span)` (a point belongs to the
/// column its start falls in; points outside are left out). Returns (rx, tx) per column.
pub fn traffic_columns(
    points: &[TrafficPoint],
    from: DateTime<Utc>,
    span: TimeDelta,
    width: usize,
) -> (Vec<u64>, Vec<u64>) {
    let mut rx = vec![0u64; width];
    let mut tx = vec![0u64; width];
    let span_ms = span.num_milliseconds();
    if width == 0 || span_ms <= 0 {
        return (rx, tx);
    }
    for p in points {
        let offset = (p.at - from).num_milliseconds();
        if offset < 0 || offset >= span_ms {
            continue;
        }
        let col = (offset as i128 * width as i128 / span_ms as i128) as usize;
        rx[col] += p.rx_bytes.max(0) as u64;
        tx[col] += p.tx_bytes.max(0) as u64;
    }
    (rx, tx)
}

/// A sparkline: one block character per value, scaled to the largest; a blank for nothing
/// and at least the lowest block for any traffic at all (a trickle stays visible).
pub fn spark(values: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| match v {
            0 => ' ',
            v => {
                let level = (v as u128 * 8).div_ceil(max as u128).clamp(1, 8) as usize;
                BLOCKS[level - 1]
            }
        })
        .collect()
}

/// The router's status in each of `width` equal slots of `[from, now)`: the worst status the
/// slot saw (a short outage stays visible however narrow the slot), `None` where unknown.
pub fn status_strip(
    timeline: &Timeline,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    width: usize,
) -> Vec<Option<RouterStatus>> {
    let span_ms = (now - from).num_milliseconds();
    if width == 0 || span_ms <= 0 {
        return vec![None; width];
    }
    let slot_start = |i: usize| {
        from + TimeDelta::milliseconds((span_ms as i128 * i as i128 / width as i128) as i64)
    };
    // Each stretch: (start, status); the state before the span counts from `from`.
    let mut stretches: Vec<(DateTime<Utc>, RouterStatus)> = Vec::new();
    if let Some(before) = timeline.before {
        stretches.push((from, before));
    }
    stretches.extend(timeline.changes.iter().copied());
    (0..width)
        .map(|i| {
            let (start, end) = (slot_start(i), slot_start(i + 1));
            let mut worst: Option<RouterStatus> = None;
            for (k, &(at, status)) in stretches.iter().enumerate() {
                let until = stretches.get(k + 1).map_or(now, |next| next.0);
                if at < end && until > start {
                    worst = Some(match worst {
                        Some(w) if severity(w) >= severity(status) => w,
                        _ => status,
                    });
                }
            }
            worst
        })
        .collect()
}

/// Which status a strip slot shows when it saw several.
fn severity(status: RouterStatus) -> u8 {
    match status {
        RouterStatus::Disabled => 0,
        RouterStatus::Pending => 1,
        RouterStatus::Online => 2,
        RouterStatus::Stale => 3,
        RouterStatus::Offline => 4,
    }
}

/// An availability fraction as shown: "99.95%", or "–" without data.
pub fn percent(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) => format!("{:.2}%", f * 100.0),
        None => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RouterStatus::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn status(id: u32, hub: &str, from: RouterStatus, to: RouterStatus) -> FleetEvent {
        FleetEvent::Status {
            at: t("2026-12-02T12:00:00Z"),
            tenant: "acme".into(),
            router: format!("r{id}"),
            hub: hub.into(),
            from,
            to,
        }
    }

    #[test]
    fn many_routers_going_down_make_one_toast_per_hub() {
        let mut events: Vec<FleetEvent> = (0..37)
            .map(|i| status(i, "hub1", Online, Offline))
            .collect();
        events.push(status(99, "hub2", Offline, Online));
        events.push(status(98, "hub1", Pending, Disabled));
        let (text, alarming) = announce(&events).unwrap();
        assert_eq!(
            text,
            "37 routers went offline on hub1 · acme/r99 came back online on hub2"
        );
        assert!(alarming);
        let (one, alarming) = announce(&[status(5, "hub1", Stale, Online)]).unwrap();
        assert_eq!(one, "acme/r5 came back online on hub1");
        assert!(!alarming);
        assert_eq!(announce(&[status(1, "h", Online, Disabled)]), None);
        assert_eq!(announce(&[status(1, "h", Disabled, Offline)]), None);
    }

    #[test]
    fn the_log_keeps_the_newest_and_ignores_repeats() {
        let mut log = EventLog::default();
        let ev = |i: i64| (i, status(i as u32, "h", Online, Offline));
        log.merge((1..=EVENTS_KEPT as i64 + 10).map(ev));
        assert_eq!(log.len(), EVENTS_KEPT);
        assert_eq!(log.newest_id(), Some(EVENTS_KEPT as i64 + 10));
        assert_eq!(*log.newest_first().last().unwrap().0, 11);
        log.merge([ev(EVENTS_KEPT as i64 + 10)]);
        assert_eq!(log.len(), EVENTS_KEPT);
    }

    #[test]
    fn traffic_falls_into_its_column_and_sparks_scale() {
        let from = t("2026-12-01T12:00:00Z");
        let p = |at: &str, rx: i64| TrafficPoint {
            at: t(at),
            rx_bytes: rx,
            tx_bytes: 2 * rx,
        };
        let points = [
            p("2026-12-01T12:00:00Z", 10),
            p("2026-12-01T17:55:00Z", 5),
            p("2026-12-02T11:55:00Z", 80),
            p("2026-12-02T12:00:00Z", 1000), // the span's end: outside
        ];
        let (rx, tx) = traffic_columns(&points, from, DAY, 4);
        assert_eq!(rx, [15, 0, 0, 80]);
        assert_eq!(tx, [30, 0, 0, 160]);
        assert_eq!(spark(&rx), "▂  █");
        assert_eq!(spark(&[0, 0]), "  ");
        assert_eq!(spark(&[1, 1_000_000]), "▁█");
    }

    #[test]
    fn the_strip_shows_the_worst_status_of_each_slot() {
        let from = t("2026-12-01T12:00:00Z");
        let now = t("2026-12-02T12:00:00Z");
        let timeline = Timeline {
            before: Some(Online),
            changes: vec![
                (t("2026-12-01T18:10:00Z"), Offline),
                (t("2026-12-01T18:20:00Z"), Online),
            ],
        };
        assert_eq!(
            status_strip(&timeline, from, now, 4),
            [Some(Online), Some(Offline), Some(Online), Some(Online)]
        );
        let unknown = Timeline {
            before: None,
            changes: vec![(t("2026-12-02T07:00:00Z"), Online)],
        };
        assert_eq!(
            status_strip(&unknown, from, now, 4),
            [None, None, None, Some(Online)]
        );
        assert_eq!(percent(Some(0.99951)), "99.95%");
        assert_eq!(percent(None), "–");
    }
}
