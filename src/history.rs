//! What happened to routers over time, as pure logic: which traffic bucket a poll falls in,
//! which partitions must exist and which have aged out, which hours to roll up, availability
//! from a status timeline, and the shapes `router history` and `tikwire events` print.
//! No clock and no I/O: callers pass `now`; src/store/history.rs runs the queries.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Utc};
use serde::Serialize;

use crate::model::RouterStatus;

/// The width of a traffic bucket.
pub const BUCKET_SECS: i64 = 300;
/// Daily partitions of the 5-minute table created ahead of today.
pub const DAYS_AHEAD: u32 = 3;

/// The start of the 5-minute bucket `at` falls in.
pub fn bucket_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(BUCKET_SECS) * BUCKET_SECS;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// The start of the hour `at` falls in.
pub fn hour_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(3600) * 3600;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// How long history is kept, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// 5-minute buckets.
    pub traffic_days: u32,
    /// Hourly roll-ups.
    pub rollup_days: u32,
}

/// The two partitioned traffic tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficTable {
    /// `router_traffic_5m`, daily partitions.
    FiveMinute,
    /// `router_traffic_1h`, monthly partitions.
    Hourly,
}

impl TrafficTable {
    pub fn name(self) -> &'static str {
        match self {
            Self::FiveMinute => "router_traffic_5m",
            Self::Hourly => "router_traffic_1h",
        }
    }

    /// The partition holding `day`'s rows.
    fn partition_of(self, day: NaiveDate) -> Partition {
        let (from, to, suffix) = match self {
            Self::FiveMinute => (day, day + TimeDelta::days(1), day.format("%Y%m%d")),
            Self::Hourly => {
                let first = day.with_day(1).unwrap_or(day);
                (first, first + Months::new(1), first.format("%Y%m"))
            }
        };
        Partition {
            table: self,
            name: format!("{}_p{suffix}", self.name()),
            from: midnight(from),
            to: midnight(to),
        }
    }

    /// The end of the span a partition of this table named `name` covers, if it is one.
    fn partition_end(self, name: &str) -> Option<DateTime<Utc>> {
        let suffix = name.strip_prefix(self.name())?.strip_prefix("_p")?;
        let first = match self {
            Self::FiveMinute if suffix.len() == 8 => {
                NaiveDate::parse_from_str(suffix, "%Y%m%d").ok()?
            }
            Self::Hourly if suffix.len() == 6 => {
                NaiveDate::parse_from_str(&format!("{suffix}01"), "%Y%m%d").ok()?
            }
            _ => return None,
        };
        Some(self.partition_of(first).to)
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN))
}

/// One partition of a traffic table: rows with `from <= time < to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub table: TrafficTable,
    pub name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Every partition that should exist at `now`: from the oldest day retention keeps to
/// [`DAYS_AHEAD`] days ahead (the past too, so history written late or by `demo` has a home).
pub fn wanted_partitions(now: DateTime<Utc>, retention: Retention) -> Vec<Partition> {
    let today = now.date_naive();
    let mut wanted = Vec::new();
    for (table, days) in [
        (TrafficTable::FiveMinute, retention.traffic_days),
        (TrafficTable::Hourly, retention.rollup_days),
    ] {
        let mut day = today - TimeDelta::days(i64::from(days));
        let last = today + TimeDelta::days(i64::from(DAYS_AHEAD));
        while day <= last {
            let partition = table.partition_of(day);
            day = partition.to.date_naive();
            wanted.push(partition);
        }
    }
    wanted
}

/// Which of `existing` (partition names of `table`) hold only rows older than retention.
pub fn expired_partitions(
    table: TrafficTable,
    existing: &[String],
    now: DateTime<Utc>,
    retention: Retention,
) -> Vec<&str> {
    let days = match table {
        TrafficTable::FiveMinute => retention.traffic_days,
        TrafficTable::Hourly => retention.rollup_days,
    };
    let keep_from = midnight(now.date_naive() - TimeDelta::days(i64::from(days)));
    existing
        .iter()
        .filter(|name| {
            table
                .partition_end(name)
                .is_some_and(|end| end <= keep_from)
        })
        .map(String::as_str)
        .collect()
}

/// The hours to roll up from 5-minute buckets into hourly ones: `[from, to)`, whole hours.
/// The last hour rolled is rolled again (a poll may have added to it just after), and nothing
/// older than the 5-minute retention (those buckets are gone).
pub fn rollup_window(
    rolled_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    traffic_days: u32,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let to = hour_start(now);
    // The oldest bucket retention keeps: its day's partition stays whole.
    let oldest = midnight((now - TimeDelta::days(i64::from(traffic_days))).date_naive());
    let from = match rolled_until {
        Some(until) => (until - TimeDelta::hours(1)).max(oldest),
        None => oldest,
    };
    (from < to).then_some((from, to))
}

/// A router's status over a span: what it was before the span starts (if known) and each
/// change since, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    pub before: Option<RouterStatus>,
    pub changes: Vec<(DateTime<Utc>, RouterStatus)>,
}

/// The fraction of `[from, now]` the router was online, counting from its first known state.
/// Time pending (not yet installed) or disabled (switched off on purpose) is not counted
/// either way. `None` without any such time.
pub fn availability(timeline: &Timeline, from: DateTime<Utc>, now: DateTime<Utc>) -> Option<f64> {
    let mut state = timeline.before.map(|s| (from, s));
    let mut counted = TimeDelta::zero();
    let mut online = TimeDelta::zero();
    let mut account = |since: DateTime<Utc>, status: RouterStatus, until: DateTime<Utc>| {
        let span = until.min(now) - since.max(from);
        if span <= TimeDelta::zero() {
            return;
        }
        match status {
            RouterStatus::Pending | RouterStatus::Disabled => {}
            RouterStatus::Online => {
                counted += span;
                online += span;
            }
            RouterStatus::Stale | RouterStatus::Offline => counted += span,
        }
    };
    for &(at, status) in &timeline.changes {
        if let Some((since, was)) = state {
            account(since, was, at);
        }
        state = Some((at, status));
    }
    if let Some((since, was)) = state {
        account(since, was, now);
    }
    let counted = counted.num_milliseconds();
    (counted > 0).then(|| online.num_milliseconds() as f64 / counted as f64)
}

/// Availability over the three spans `router show` and the API report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Availability {
    #[serde(rename = "24h")]
    pub day: Option<f64>,
    #[serde(rename = "7d")]
    pub week: Option<f64>,
    #[serde(rename = "30d")]
    pub month: Option<f64>,
}

/// The longest span availability looks at: the timeline to load.
pub const AVAILABILITY_SPAN_DAYS: i64 = 30;

impl Availability {
    /// From a timeline that starts at least 30 days before `now`.
    pub fn over(timeline: &Timeline, now: DateTime<Utc>) -> Self {
        let since = |days: i64| availability(timeline, now - TimeDelta::days(days), now);
        Self {
            day: since(1),
            week: since(7),
            month: since(AVAILABILITY_SPAN_DAYS),
        }
    }
}

impl Availability {
    /// "24h 99.52% · 7d 98.10% · 30d -" (no data: -).
    pub fn describe(&self) -> String {
        let pct =
            |f: Option<f64>| f.map_or_else(|| "-".to_owned(), |f| format!("{:.2}%", f * 100.0));
        format!(
            "24h {} · 7d {} · 30d {}",
            pct(self.day),
            pct(self.week),
            pct(self.month)
        )
    }
}

/// Which traffic table a history of a given span reads: 5-minute buckets up to two days
/// (at most 576 rows), hourly ones beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    FiveMinute,
    Hourly,
}

impl Resolution {
    pub const FIVE_MINUTE_MAX: TimeDelta = TimeDelta::days(2);

    pub fn for_span(span: TimeDelta) -> Self {
        if span <= Self::FIVE_MINUTE_MAX {
            Self::FiveMinute
        } else {
            Self::Hourly
        }
    }
}

/// At most this many transitions and endpoints in one history (the newest).
pub const HISTORY_EVENTS_MAX: i64 = 1000;

/// Traffic in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TrafficPoint {
    pub at: DateTime<Utc>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

/// One status change in a router's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StatusChange {
    pub at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub from: RouterStatus,
    #[schema(value_type = String)]
    pub to: RouterStatus,
}

/// One NAT endpoint the hub saw the router at, from `at` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EndpointChange {
    pub at: DateTime<Utc>,
    pub endpoint: String,
}

/// A router's past over a span, oldest first (`router history`, `GET /api/vpn/{id}/history`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RouterHistory {
    pub traffic: Vec<TrafficPoint>,
    pub transitions: Vec<StatusChange>,
    pub endpoints: Vec<EndpointChange>,
}

/// What happened to a router, as `tikwire events` lists it. More kinds (alerts) join here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FleetEvent {
    Status {
        at: DateTime<Utc>,
        tenant: String,
        router: String,
        hub: String,
        from: RouterStatus,
        to: RouterStatus,
    },
    FirstHandshake {
        at: DateTime<Utc>,
        tenant: String,
        router: String,
        hub: String,
    },
    /// An alert the agent judged worth sending (after hysteresis, flapping and storm
    /// folding). Hub alerts name no tenant or router (empty).
    Alert {
        at: DateTime<Utc>,
        alert: crate::alerts::AlertKind,
        tenant: String,
        router: String,
        hub: String,
    },
}

impl FleetEvent {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Status { at, .. } | Self::FirstHandshake { at, .. } | Self::Alert { at, .. } => {
                *at
            }
        }
    }
}

/// At most this many events in one listing (the newest).
pub const EVENTS_MAX: i64 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const RETENTION: Retention = Retention {
        traffic_days: 14,
        rollup_days: 400,
    };

    #[test]
    fn buckets_are_five_minutes() {
        assert_eq!(
            bucket_start(t("2026-12-02T13:04:59Z")),
            t("2026-12-02T13:00:00Z")
        );
        assert_eq!(
            bucket_start(t("2026-12-02T13:05:00Z")),
            t("2026-12-02T13:05:00Z")
        );
        assert_eq!(
            hour_start(t("2026-12-02T13:59:59Z")),
            t("2026-12-02T13:00:00Z")
        );
    }

    #[test]
    fn partitions_cover_retention_and_days_ahead() {
        let now = t("2026-12-02T13:00:00Z");
        let wanted = wanted_partitions(now, RETENTION);
        let daily: Vec<&Partition> = wanted
            .iter()
            .filter(|p| p.table == TrafficTable::FiveMinute)
            .collect();
        assert_eq!(daily.len(), 14 + 1 + 3);
        assert_eq!(daily[0].name, "router_traffic_5m_p20261118");
        assert_eq!(daily.last().unwrap().name, "router_traffic_5m_p20261205");
        assert_eq!(daily.last().unwrap().to, t("2026-12-06T00:00:00Z"));
        let monthly: Vec<&Partition> = wanted
            .iter()
            .filter(|p| p.table == TrafficTable::Hourly)
            .collect();
        assert_eq!(monthly[0].name, "router_traffic_1h_p202510");
        assert_eq!(monthly[0].from, t("2025-10-01T00:00:00Z"));
        assert_eq!(monthly.last().unwrap().name, "router_traffic_1h_p202612");
        // Contiguous, no overlap.
        for pair in monthly.windows(2).chain(daily.windows(2)) {
            assert_eq!(pair[0].to, pair[1].from);
        }
    }

    #[test]
    fn expired_partitions_are_those_wholly_past_retention() {
        let now = t("2026-12-02T13:00:00Z");
        let existing: Vec<String> = [
            "router_traffic_5m_p20261117",
            "router_traffic_5m_p20261118",
            "router_traffic_5m_p20261202",
            "router_traffic_5m_default",
            "router_traffic_5m_p2026",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            expired_partitions(TrafficTable::FiveMinute, &existing, now, RETENTION),
            ["router_traffic_5m_p20261117"]
        );
        let monthly: Vec<String> = ["router_traffic_1h_p202509", "router_traffic_1h_p202510"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            expired_partitions(TrafficTable::Hourly, &monthly, now, RETENTION),
            ["router_traffic_1h_p202509"]
        );
    }

    #[test]
    fn rollup_redoes_the_last_hour_and_stops_at_the_current_one() {
        let now = t("2026-12-02T13:20:00Z");
        assert_eq!(
            rollup_window(Some(t("2026-12-02T12:00:00Z")), now, 14),
            Some((t("2026-12-02T11:00:00Z"), t("2026-12-02T13:00:00Z")))
        );
        assert_eq!(
            rollup_window(None, now, 14),
            Some((t("2026-11-18T00:00:00Z"), t("2026-12-02T13:00:00Z")))
        );
        assert_eq!(
            rollup_window(Some(t("2026-01-01T00:00:00Z")), now, 14)
                .unwrap()
                .0,
            t("2026-11-18T00:00:00Z"),
            "never older than the buckets kept"
        );
    }

    #[test]
    fn availability_counts_from_the_first_known_state() {
        use RouterStatus::*;
        let now = t("2026-12-02T12:00:00Z");
        let from = t("2026-12-01T12:00:00Z");
        assert_eq!(availability(&Timeline::default(), from, now), None);
        // Pending until 18:00, online 6 h, offline 6 h, online to now.
        let timeline = Timeline {
            before: Some(Pending),
            changes: vec![
                (t("2026-12-01T18:00:00Z"), Online),
                (t("2026-12-02T00:00:00Z"), Offline),
                (t("2026-12-02T06:00:00Z"), Online),
            ],
        };
        assert_eq!(availability(&timeline, from, now), Some(12.0 / 18.0));
        // Known only from a change inside the span: earlier time does not count.
        let late = Timeline {
            before: None,
            changes: vec![
                (t("2026-12-02T06:00:00Z"), Online),
                (t("2026-12-02T09:00:00Z"), Stale),
            ],
        };
        assert_eq!(availability(&late, from, now), Some(0.5));
        // A change before the span only sets the starting state.
        let steady = Timeline {
            before: None,
            changes: vec![(t("2026-11-01T00:00:00Z"), Online)],
        };
        assert_eq!(availability(&steady, from, now), Some(1.0));
        let off = Timeline {
            before: Some(Disabled),
            changes: vec![],
        };
        assert_eq!(availability(&off, from, now), None, "disabled all along");
    }

    #[test]
    fn availability_serialises_with_span_names() {
        let a = Availability {
            day: Some(1.0),
            week: None,
            month: Some(0.5),
        };
        assert_eq!(
            serde_json::to_value(a).unwrap(),
            serde_json::json!({"24h": 1.0, "7d": null, "30d": 0.5})
        );
    }

    #[test]
    fn resolution_follows_span() {
        assert_eq!(
            Resolution::for_span(TimeDelta::hours(24)),
            Resolution::FiveMinute
        );
        assert_eq!(Resolution::for_span(TimeDelta::days(7)), Resolution::Hourly);
    }
}
