//! What the console's monitoring views show, as pure logic: a router's detail (its history
//! loaded in the background), the fleet's recent transitions and alerts kept bounded, the
//! toasts that new alerts make (coalesced per kind and hub), sparklines and the status strip. No clock, no I/O:
//! callers pass `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::alerts::AlertKind;
use crate::history::{Availability, FleetEvent, RouterHistory, Timeline, TrafficPoint};
use crate::model::RouterStatus;
use crate::store::console_history::{EventId, FeedEvent, RouterNow};

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
    /// Since when the router has its current status: its newest transition, else when it was
    /// provisioned if that is within the long history's span (a new router is not "unchanged
    /// for 30 days").
    pub fn status_since(&self) -> Option<DateTime<Utc>> {
        self.month.transitions.last().map(|t| t.at).or_else(|| {
            let created = self.now.created_at;
            (self.as_of - created < MONTH).then_some(created)
        })
    }
}

/// The newest events the console keeps (per view; the feed itself keeps only its cursors).
pub const EVENTS_KEPT: usize = 500;

/// The most events one live feed read takes of each table (the newest of them): a storm of
/// more is told by this many, and the cursors still move past all of it.
pub const FEED_READ_MAX: i64 = 5000;

/// Transitions and alerts in time order (then id), at most [`EVENTS_KEPT`] (the newest),
/// without duplicates: what the events view lists. Loads and live reads may overlap; an
/// event's key is its row's time, table and id, so merging the same row twice is harmless.
/// Time first, because ids follow commit order within one table, not when things happened
/// (history written after the fact, several hubs, two tables).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventLog {
    events: BTreeMap<(DateTime<Utc>, EventId), FeedEvent>,
}

impl EventLog {
    /// Adds events (any order, duplicates ignored) and drops the oldest beyond the cap.
    /// Returns how many were new.
    pub fn merge(&mut self, events: impl IntoIterator<Item = FeedEvent>) -> usize {
        let mut added = 0;
        for event in events {
            if self
                .events
                .insert((event.event.at(), event.id), event)
                .is_none()
            {
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

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &FeedEvent> {
        self.events.values().rev()
    }
}

/// The tenant an event is about ("" for a hub alert).
pub fn event_tenant(event: &FleetEvent) -> &str {
    match event {
        FleetEvent::Status { tenant, .. }
        | FleetEvent::FirstHandshake { tenant, .. }
        | FleetEvent::Alert { tenant, .. } => tenant,
    }
}

/// Bad news: told as an error (and kept on screen longer), marked so in the events view.
pub fn alarming(kind: AlertKind) -> bool {
    use AlertKind as K;
    match kind {
        K::RouterOffline | K::RouterStale | K::RouterFlapping | K::HubStorm | K::HubDown => true,
        K::RouterOnline | K::RouterFirstHandshake | K::HubRecovered | K::HubUp | K::WebhookTest => {
            false
        }
    }
}

/// The order a toast tells alerts in: the hub before its routers, bad news before good.
fn rank(kind: AlertKind) -> u8 {
    use AlertKind as K;
    match kind {
        K::HubDown => 0,
        K::HubStorm => 1,
        K::RouterOffline => 2,
        K::RouterStale => 3,
        K::RouterFlapping => 4,
        K::HubUp => 5,
        K::HubRecovered => 6,
        K::RouterOnline => 7,
        K::RouterFirstHandshake => 8,
        K::WebhookTest => 9,
    }
}

/// What the alerts of one or more feed reads tell an operator, for one toast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// How many alerts (a storm counts once: it is one alert).
    pub alerts: usize,
    /// One part per kind of alert and hub, most urgent first.
    pub parts: Vec<String>,
    pub alarming: bool,
}

impl Announcement {
    /// The toast's line: "acme/hq-1 went offline on hub1", or with several alerts
    /// "3 alerts: storm on hub1, 37 routers dropped · acme/hq-1 went offline on hub2 · …".
    pub fn text(&self) -> String {
        let parts = self.parts.join(" · ");
        if self.alerts > 1 {
            format!("{} alerts: {parts}", self.alerts)
        } else {
            parts
        }
    }

    /// These newer alerts told with `older` ones still on screen: one toast, newest first.
    pub fn then(mut self, older: &Announcement) -> Self {
        self.alerts += older.alerts;
        self.alarming |= older.alarming;
        self.parts.extend(older.parts.iter().cloned());
        // A toast is one line: what is beyond any terminal's width is not kept.
        self.parts.truncate(ANNOUNCED_PARTS_MAX);
        self
    }
}

/// The most parts one toast keeps.
const ANNOUNCED_PARTS_MAX: usize = 8;

/// The toast for a batch of new feed events: the judged alerts among them, one part per
/// kind of alert and hub ("37 routers went offline on hub1"), or `None` without any. Raw
/// transitions are not told: the alert engine already judged them (hysteresis, flapping,
/// storms), so a flapping router or a storm interrupts once, not once per transition.
pub fn announce<'a>(events: impl IntoIterator<Item = &'a FeedEvent>) -> Option<Announcement> {
    struct Group<'a> {
        alerts: usize,
        /// Routers: each alert's own, or those a hub alert folds.
        routers: i64,
        /// The router when the group is one router alert.
        one: Option<(&'a str, &'a str)>,
    }
    let mut groups: BTreeMap<(u8, AlertKind, &str), Group> = BTreeMap::new();
    for feed in events {
        let FleetEvent::Alert {
            alert,
            tenant,
            router,
            hub,
            ..
        } = &feed.event
        else {
            continue;
        };
        if *alert == AlertKind::WebhookTest {
            continue;
        }
        let group = groups
            .entry((rank(*alert), *alert, hub.as_str()))
            .or_insert(Group {
                alerts: 0,
                routers: 0,
                one: Some((tenant, router)),
            });
        group.alerts += 1;
        group.routers += feed.routers.unwrap_or(1);
        if group.alerts > 1 {
            group.one = None;
        }
    }
    if groups.is_empty() {
        return None;
    }
    let parts = groups
        .iter()
        .map(|((_, kind, hub), group)| {
            let who = match group.one {
                Some((tenant, router)) => format!("{tenant}/{router}"),
                None => format!("{} routers", crate::format::count(group.routers)),
            };
            let n = crate::format::count(group.routers);
            match kind {
                AlertKind::RouterOffline => format!("{who} went offline on {hub}"),
                AlertKind::RouterStale => format!("{who} went stale on {hub}"),
                AlertKind::RouterOnline => format!("{who} back online on {hub}"),
                AlertKind::RouterFlapping => format!("{who} flapping on {hub}"),
                AlertKind::RouterFirstHandshake => {
                    format!("{who} connected for the first time on {hub}")
                }
                AlertKind::HubStorm => format!("storm on {hub}: {n} routers dropped"),
                AlertKind::HubRecovered => format!("{n} routers recovered on {hub}"),
                AlertKind::HubDown => format!("hub {hub} down: its agent went silent"),
                AlertKind::HubUp => format!("hub {hub} up again"),
                AlertKind::WebhookTest => format!("webhook test on {hub}"),
            }
        })
        .collect();
    Some(Announcement {
        alerts: groups.values().map(|g| g.alerts).sum(),
        parts,
        alarming: groups.keys().any(|(_, kind, _)| alarming(*kind)),
    })
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

    fn transition(id: i64, from: RouterStatus, to: RouterStatus) -> FeedEvent {
        FeedEvent {
            id: EventId::Transition(id),
            event: status(id as u32, "hub1", from, to),
            routers: None,
        }
    }

    fn alert(id: i64, kind: AlertKind, router: &str, hub: &str) -> FeedEvent {
        let (tenant, routers) = match kind {
            AlertKind::HubStorm | AlertKind::HubRecovered => ("", Some(37)),
            AlertKind::HubDown | AlertKind::HubUp => ("", None),
            _ => ("acme", None),
        };
        FeedEvent {
            id: EventId::Alert(id),
            event: FleetEvent::Alert {
                at: t("2026-12-02T12:00:00Z"),
                alert: kind,
                tenant: tenant.into(),
                router: router.into(),
                hub: hub.into(),
            },
            routers,
        }
    }

    #[test]
    fn toasts_tell_alerts_not_raw_transitions() {
        // A router flapping: many transitions, one alert.
        let mut events: Vec<FeedEvent> = (0..12)
            .map(|i| match i % 2 {
                0 => transition(i, Online, Offline),
                _ => transition(i, Offline, Online),
            })
            .collect();
        assert_eq!(announce(&events), None, "transitions alone are not told");
        events.push(alert(1, AlertKind::RouterFlapping, "r1", "hub1"));
        let news = announce(&events).unwrap();
        assert_eq!(news.text(), "acme/r1 flapping on hub1");
        assert!(news.alarming);
        assert_eq!(news.alerts, 1);
        let first = announce(&[alert(2, AlertKind::RouterFirstHandshake, "hq", "hub1")]).unwrap();
        assert_eq!(first.text(), "acme/hq connected for the first time on hub1");
        assert!(!first.alarming);
    }

    #[test]
    fn many_alerts_make_one_line_most_urgent_first_with_the_storm_folded() {
        let mut events: Vec<FeedEvent> = (0..3)
            .map(|i| alert(i, AlertKind::RouterOnline, &format!("r{i}"), "hub2"))
            .collect();
        events.push(alert(10, AlertKind::HubStorm, "", "hub1"));
        events.push(alert(11, AlertKind::RouterOffline, "r9", "hub2"));
        events.push(alert(12, AlertKind::HubDown, "", "hub3"));
        let news = announce(&events).unwrap();
        assert_eq!(
            news.text(),
            "6 alerts: hub hub3 down: its agent went silent · storm on hub1: 37 routers dropped \
             · acme/r9 went offline on hub2 · 3 routers back online on hub2"
        );
        assert!(news.alarming);
        // More while that toast shows: joined, newest first, counted.
        let later = announce(&[alert(13, AlertKind::HubUp, "", "hub3")]).unwrap();
        assert!(!later.alarming);
        let joined = later.then(&news);
        assert_eq!(joined.alerts, 7);
        assert!(joined.alarming);
        assert!(
            joined
                .text()
                .starts_with("7 alerts: hub hub3 up again · hub hub3 down")
        );
        // However many: a bounded line.
        let mut big = joined.clone();
        for _ in 0..100 {
            big = announce(&events).unwrap().then(&big);
        }
        assert_eq!(big.alerts, 607);
        assert_eq!(big.parts.len(), ANNOUNCED_PARTS_MAX);
    }

    #[test]
    fn the_log_keeps_the_newest_and_ignores_repeats() {
        let mut log = EventLog::default();
        let ev = |i: i64| transition(i, Online, Offline);
        log.merge((1..=EVENTS_KEPT as i64 + 10).map(ev));
        assert_eq!(log.len(), EVENTS_KEPT);
        assert_eq!(
            log.newest_first().last().unwrap().id,
            EventId::Transition(11)
        );
        log.merge([ev(EVENTS_KEPT as i64 + 10)]);
        assert_eq!(log.len(), EVENTS_KEPT);
        // An alert with a transition's id is another event.
        log.merge([alert(
            EVENTS_KEPT as i64 + 10,
            AlertKind::RouterOffline,
            "r1",
            "hub1",
        )]);
        assert_eq!(log.len(), EVENTS_KEPT);
        assert_eq!(
            log.newest_first().next().unwrap().id,
            EventId::Alert(EVENTS_KEPT as i64 + 10)
        );
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
