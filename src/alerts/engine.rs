//! Which status changes of one hub's routers deserve an alert. Pure: no clock, no I/O; each
//! poll's time is passed in.
//!
//! - A router is *down* once its status reaches `down_on` (stale or offline); going down is
//!   announced at once, unless a storm or flapping explains it.
//! - Hysteresis: a router whose going down was announced must then stay online for
//!   `recover` before `router.online` is announced; going down again meanwhile cuts the
//!   recovery short and nothing is sent.
//! - Flapping (Nagios-style): over the last 21 polls (20 possible changes of down/up), the
//!   changes weigh from 0.8 (oldest) to 1.2 (newest); above `flap_high` percent the router is
//!   announced once as flapping and its transitions are held; below `flap_low` it has settled
//!   and one alert says the state it settled in.
//! - Storms: when more than `storm_percent` of the hub's online routers drop in one poll,
//!   one `hub.storm` carries them all (count and a bounded sample); their later going down
//!   (an online router becomes offline only after stale) is folded into it too. Recoveries
//!   that many at once are folded into one `hub.recovered`.
//!
//! Memory: one small record per router that ever changed, plus the ids of routers recovering
//! or flapping; the flapping window is 20 bits shifted lazily (polls without a change of that
//! router cost nothing), so a poll's work follows its changes, not the hub's size.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::event::AlertKind;
use crate::model::{InvalidInput, RouterStatus};

/// A router, by `routers.id`.
pub type RouterId = i64;

/// How many polls the flapping window covers (Nagios: 21 states, 20 changes).
pub const FLAP_WINDOW: u32 = 21;
const FLAP_CHANGES: u32 = FLAP_WINDOW - 1;
const FLAP_MASK: u32 = (1 << FLAP_CHANGES) - 1;

/// Which status counts as a disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DownOn {
    /// The first sign (no handshake or traffic within `online_secs`): the earliest alert;
    /// hysteresis and flapping keep it quiet for a router that only wobbles.
    #[default]
    Stale,
    /// Only when the router is offline (`stale_secs`): later, fewer alerts.
    Offline,
}

impl DownOn {
    pub fn is_down(self, status: RouterStatus) -> bool {
        match status {
            RouterStatus::Offline => true,
            RouterStatus::Stale => self == DownOn::Stale,
            RouterStatus::Pending | RouterStatus::Online | RouterStatus::Disabled => false,
        }
    }
}

/// The rules, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRules {
    pub down_on: DownOn,
    pub recover: TimeDelta,
    /// Flapping starts above this weighted percentage of changes...
    pub flap_high: f64,
    /// ...and ends below this one.
    pub flap_low: f64,
    /// A storm: more than this percentage of the hub's online routers drop in one poll...
    pub storm_percent: u32,
    /// ...and at least this many (two routers of a five-router hub are not a storm).
    pub storm_min_routers: u32,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            down_on: DownOn::Stale,
            recover: TimeDelta::seconds(60),
            flap_high: 50.0,
            flap_low: 25.0,
            storm_percent: 20,
            storm_min_routers: 3,
        }
    }
}

impl AlertRules {
    pub fn new(
        down_on: DownOn,
        recover_secs: u64,
        flap_low: f64,
        flap_high: f64,
        storm_percent: u32,
        storm_min_routers: u32,
    ) -> Result<Self, InvalidInput> {
        if recover_secs > 24 * 3600 {
            return Err(InvalidInput(format!(
                "[alerts] recover_secs {recover_secs}: at most one day"
            )));
        }
        if !(0.0..=100.0).contains(&flap_low)
            || !(0.0..=100.0).contains(&flap_high)
            || flap_low >= flap_high
        {
            return Err(InvalidInput(format!(
                "[alerts] flap thresholds low {flap_low} / high {flap_high}: need 0 <= low < high <= 100"
            )));
        }
        if !(1..=100).contains(&storm_percent) {
            return Err(InvalidInput(format!(
                "[alerts] hub_storm_percent {storm_percent}: need 1 to 100"
            )));
        }
        Ok(Self {
            down_on,
            recover: TimeDelta::seconds(recover_secs as i64),
            flap_low,
            flap_high,
            storm_percent,
            storm_min_routers: storm_min_routers.max(1),
        })
    }
}

/// One router's status change in a poll, as the status sync planned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterChange {
    pub router: RouterId,
    pub from: RouterStatus,
    pub to: RouterStatus,
    /// The router shook hands for the first time in this poll.
    pub first_handshake: bool,
}

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertSubject {
    Router {
        router: RouterId,
        from: RouterStatus,
        to: RouterStatus,
        /// Sent when a flapping router settled: its state after the flapping.
        after_flapping: bool,
    },
    /// A storm or a mass recovery: the routers whose alerts it stands for, in order.
    Hub { routers: Vec<RouterId> },
}

/// One alert to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub at: DateTime<Utc>,
    pub subject: AlertSubject,
}

impl Alert {
    fn router(kind: AlertKind, at: DateTime<Utc>, router: RouterId, from: RouterStatus) -> Self {
        let to = match kind {
            AlertKind::RouterOnline => RouterStatus::Online,
            AlertKind::RouterStale => RouterStatus::Stale,
            _ => RouterStatus::Offline,
        };
        Self::router_to(kind, at, router, from, to)
    }

    fn router_to(
        kind: AlertKind,
        at: DateTime<Utc>,
        router: RouterId,
        from: RouterStatus,
        to: RouterStatus,
    ) -> Self {
        Self {
            kind,
            at,
            subject: AlertSubject::Router {
                router,
                from,
                to,
                after_flapping: false,
            },
        }
    }
}

/// Bits of [`RouterMemory::flags`].
const ANNOUNCED_DOWN: u8 = 1;
const FLAPPING: u8 = 2;

/// What the engine remembers of one router: a few bytes.
#[derive(Debug, Clone, Copy)]
struct RouterMemory {
    status: RouterStatus,
    /// Bit 0: the down/up condition changed at the newest poll counted; bit 19 the oldest.
    changes: u32,
    /// The poll number `changes` was last shifted to.
    shifted_to: u32,
    flags: u8,
}

impl RouterMemory {
    fn new(status: RouterStatus) -> Self {
        Self {
            status,
            changes: 0,
            shifted_to: 0,
            flags: 0,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// Brings the window to poll `poll`: one zero (no change) per poll since.
    fn shift_to(&mut self, poll: u32) {
        let by = poll.saturating_sub(self.shifted_to);
        self.changes = if by >= FLAP_CHANGES {
            0
        } else {
            (self.changes << by) & FLAP_MASK
        };
        self.shifted_to = poll;
    }
}

/// The weighted state-change percentage of a window (Nagios: 0.8 for the oldest change,
/// rising evenly to 1.2 for the newest).
pub fn flap_percent(changes: u32) -> f64 {
    let mut weighted = 0.0;
    for age in 0..FLAP_CHANGES {
        if changes & (1 << age) != 0 {
            weighted += 1.2 - 0.4 * f64::from(age) / f64::from(FLAP_CHANGES - 1);
        }
    }
    weighted * 100.0 / f64::from(FLAP_CHANGES)
}

/// The alert engine of one hub.
#[derive(Debug)]
pub struct AlertEngine {
    rules: AlertRules,
    /// Routers that changed recently or carry a flag; the others are plain `status` entries
    /// only so that the online count stays right.
    routers: HashMap<RouterId, RouterMemory>,
    online: usize,
    poll: u32,
    /// Routers back online since then, their recovery not yet announced.
    recovering: HashMap<RouterId, DateTime<Utc>>,
    flapping: HashSet<RouterId>,
}

impl AlertEngine {
    pub fn new(rules: AlertRules) -> Self {
        Self {
            rules,
            routers: HashMap::new(),
            online: 0,
            poll: 0,
            recovering: HashMap::new(),
            flapping: HashSet::new(),
        }
    }

    pub fn rules(&self) -> &AlertRules {
        &self.rules
    }

    /// Takes the hub's routers as stored (at start, and after routers were added or removed).
    /// A router already down when first seen counts as announced (it was down before this
    /// engine started; its recovery is news). Known routers keep their memory.
    pub fn track(&mut self, routers: impl IntoIterator<Item = (RouterId, RouterStatus)>) {
        let mut seen = HashSet::new();
        for (id, status) in routers {
            seen.insert(id);
            let down_on = self.rules.down_on;
            self.routers.entry(id).or_insert_with(|| {
                let mut memory = RouterMemory::new(status);
                memory.set(ANNOUNCED_DOWN, down_on.is_down(status));
                memory
            });
        }
        self.routers.retain(|id, _| seen.contains(id));
        self.recovering.retain(|id, _| seen.contains(id));
        self.flapping.retain(|id| seen.contains(id));
        self.online = self
            .routers
            .values()
            .filter(|m| m.status == RouterStatus::Online)
            .count();
    }

    /// What was last said about each router before this engine started (its newest router
    /// alert in the outbox): an agent restart neither repeats a disconnect nor announces a
    /// recovery nobody heard the disconnect of. Call after [`Self::track`].
    pub fn recall(&mut self, said: impl IntoIterator<Item = (RouterId, AlertKind)>) {
        for (id, kind) in said {
            let Some(memory) = self.routers.get_mut(&id) else {
                continue;
            };
            match kind {
                AlertKind::RouterStale | AlertKind::RouterOffline => {
                    memory.set(ANNOUNCED_DOWN, true)
                }
                AlertKind::RouterOnline => memory.set(ANNOUNCED_DOWN, false),
                AlertKind::RouterFlapping => {
                    // Its window is gone: it settles (one alert) at the next quiet poll.
                    memory.set(FLAPPING, true);
                    self.flapping.insert(id);
                }
                _ => {}
            }
        }
    }

    /// Routers remembered (for memory checks).
    pub fn remembered(&self) -> usize {
        self.routers.len()
    }

    /// One poll: its status changes at `at`. Returns the alerts to send, in order.
    pub fn observe(&mut self, at: DateTime<Utc>, changes: &[RouterChange]) -> Vec<Alert> {
        self.poll = self.poll.wrapping_add(1);
        let poll = self.poll;
        let rules = self.rules;
        let online_before = self.online;
        let mut alerts = Vec::new();
        let mut downs: Vec<Alert> = Vec::new();
        let mut dropped: Vec<RouterId> = Vec::new();

        for change in changes {
            let memory = self
                .routers
                .entry(change.router)
                .or_insert_with(|| RouterMemory::new(change.from));
            memory.shift_to(poll);
            let from = memory.status;
            if from == change.to {
                if change.first_handshake {
                    alerts.push(Alert::router_to(
                        AlertKind::RouterFirstHandshake,
                        at,
                        change.router,
                        from,
                        change.to,
                    ));
                }
                continue;
            }
            memory.status = change.to;
            match (
                from == RouterStatus::Online,
                change.to == RouterStatus::Online,
            ) {
                (true, false) => self.online -= 1,
                (false, true) => self.online += 1,
                _ => {}
            }
            if change.first_handshake {
                alerts.push(Alert::router_to(
                    AlertKind::RouterFirstHandshake,
                    at,
                    change.router,
                    from,
                    change.to,
                ));
            }
            if change.to == RouterStatus::Disabled {
                // An operator's choice, not an outage: forget what was announced.
                memory.flags = 0;
                self.recovering.remove(&change.router);
                self.flapping.remove(&change.router);
                continue;
            }
            if from == RouterStatus::Online && change.to != RouterStatus::Online {
                dropped.push(change.router);
            }
            let was_down = rules.down_on.is_down(from);
            let is_down = rules.down_on.is_down(change.to);
            if was_down != is_down {
                memory.changes |= 1;
            }
            if change.to != RouterStatus::Online {
                // A recovery cut short: nothing was said, nothing is.
                self.recovering.remove(&change.router);
            }
            if !memory.has(FLAPPING) && flap_percent(memory.changes) > rules.flap_high {
                memory.set(FLAPPING, true);
                self.flapping.insert(change.router);
                alerts.push(Alert::router_to(
                    AlertKind::RouterFlapping,
                    at,
                    change.router,
                    from,
                    change.to,
                ));
                continue;
            }
            if memory.has(FLAPPING) {
                continue;
            }
            if is_down && !was_down && !memory.has(ANNOUNCED_DOWN) {
                memory.set(ANNOUNCED_DOWN, true);
                downs.push(Alert::router(down_kind(change.to), at, change.router, from));
            } else if change.to == RouterStatus::Online && memory.has(ANNOUNCED_DOWN) {
                self.recovering.insert(change.router, at);
            }
        }

        // A storm: many online routers dropped at once. One hub alert stands for them all;
        // they count as announced down, so their recovery is news (and with `down_on =
        // offline`, their going offline a few polls later is not).
        dropped.sort_unstable();
        let storm = dropped.len() as u64 >= u64::from(rules.storm_min_routers)
            && dropped.len() as u64 * 100 > u64::from(rules.storm_percent) * online_before as u64;
        if storm {
            for id in &dropped {
                if let Some(memory) = self.routers.get_mut(id)
                    && !memory.has(FLAPPING)
                {
                    memory.set(ANNOUNCED_DOWN, true);
                }
            }
            downs.retain(|alert| {
                subject_router(alert).is_none_or(|id| dropped.binary_search(&id).is_err())
            });
            alerts.push(Alert {
                kind: AlertKind::HubStorm,
                at,
                subject: AlertSubject::Hub {
                    routers: dropped.clone(),
                },
            });
        }
        alerts.extend(downs);

        alerts.extend(self.settle_flapping(poll, at));
        alerts.extend(self.announce_recoveries(at));
        alerts
    }

    /// Flapping routers whose window calmed below the low threshold: one alert each with the
    /// state they settled in.
    fn settle_flapping(&mut self, poll: u32, at: DateTime<Utc>) -> Vec<Alert> {
        let rules = self.rules;
        let mut alerts = Vec::new();
        let mut settled = Vec::new();
        for id in &self.flapping {
            let Some(memory) = self.routers.get_mut(id) else {
                continue;
            };
            memory.shift_to(poll);
            if flap_percent(memory.changes) >= rules.flap_low {
                continue;
            }
            settled.push(*id);
            memory.set(FLAPPING, false);
            let status = memory.status;
            let down = rules.down_on.is_down(status);
            memory.set(ANNOUNCED_DOWN, down);
            let kind = if down {
                down_kind(status)
            } else if status == RouterStatus::Online {
                AlertKind::RouterOnline
            } else {
                // Settled stale under `down_on = offline`: neither up nor down, nothing to say.
                continue;
            };
            alerts.push(Alert {
                kind,
                at,
                subject: AlertSubject::Router {
                    router: *id,
                    from: status,
                    to: status,
                    after_flapping: true,
                },
            });
        }
        for id in settled {
            self.flapping.remove(&id);
        }
        alerts.sort_by_key(subject_router);
        alerts
    }

    /// Routers online for `recover` since their announced going down: back online. Many at
    /// once (the end of a storm) become one `hub.recovered`.
    fn announce_recoveries(&mut self, at: DateTime<Utc>) -> Vec<Alert> {
        let recover = self.rules.recover;
        let mut due: Vec<RouterId> = self
            .recovering
            .iter()
            .filter(|(_, since)| at - **since >= recover)
            .map(|(id, _)| *id)
            .collect();
        if due.is_empty() {
            return Vec::new();
        }
        for id in &due {
            self.recovering.remove(id);
            if let Some(memory) = self.routers.get_mut(id) {
                memory.set(ANNOUNCED_DOWN, false);
            }
        }
        due.sort_unstable();
        let tracked = self.routers.len().max(self.online);
        let mass = due.len() as u64 >= u64::from(self.rules.storm_min_routers)
            && due.len() as u64 * 100 > u64::from(self.rules.storm_percent) * tracked as u64;
        if mass {
            return vec![Alert {
                kind: AlertKind::HubRecovered,
                at,
                subject: AlertSubject::Hub { routers: due },
            }];
        }
        // `from` is what was announced: down.
        let from = match self.rules.down_on {
            DownOn::Stale => RouterStatus::Stale,
            DownOn::Offline => RouterStatus::Offline,
        };
        due.into_iter()
            .map(|id| Alert::router(AlertKind::RouterOnline, at, id, from))
            .collect()
    }
}

fn subject_router(alert: &Alert) -> Option<RouterId> {
    match alert.subject {
        AlertSubject::Router { router, .. } => Some(router),
        AlertSubject::Hub { .. } => None,
    }
}

fn down_kind(status: RouterStatus) -> AlertKind {
    if status == RouterStatus::Offline {
        AlertKind::RouterOffline
    } else {
        AlertKind::RouterStale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RouterStatus::{Disabled, Offline, Online, Pending, Stale};

    /// A scripted hub: polls every 5 s; each step says which routers now have which status.
    struct Script {
        engine: AlertEngine,
        statuses: HashMap<RouterId, RouterStatus>,
        t: i64,
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    impl Script {
        fn new(rules: AlertRules, routers: &[(RouterId, RouterStatus)]) -> Self {
            let mut engine = AlertEngine::new(rules);
            engine.track(routers.iter().copied());
            Self {
                engine,
                statuses: routers.iter().copied().collect(),
                t: 0,
            }
        }

        fn online(n: i64) -> Self {
            let routers: Vec<_> = (1..=n).map(|id| (id, Online)).collect();
            Self::new(AlertRules::default(), &routers)
        }

        /// One poll 5 s after the previous one.
        fn poll(&mut self, moves: &[(RouterId, RouterStatus)]) -> Vec<(AlertKind, String)> {
            self.t += 5;
            let changes: Vec<RouterChange> = moves
                .iter()
                .map(|&(router, to)| {
                    let from = self.statuses.insert(router, to).unwrap_or(Pending);
                    RouterChange {
                        router,
                        from,
                        to,
                        first_handshake: from == Pending && to == Online,
                    }
                })
                .collect();
            let at = t0() + TimeDelta::seconds(self.t);
            self.engine
                .observe(at, &changes)
                .into_iter()
                .map(|a| {
                    assert_eq!(a.at, at);
                    let what = match a.subject {
                        AlertSubject::Router {
                            router,
                            from,
                            to,
                            after_flapping,
                        } => format!(
                            "r{router} {from}->{to}{}",
                            if after_flapping { " settled" } else { "" }
                        ),
                        AlertSubject::Hub { routers } => {
                            format!("{} routers {routers:?}", routers.len())
                        }
                    };
                    (a.kind, what)
                })
                .collect()
        }

        /// `n` polls without changes; all their alerts.
        fn quiet(&mut self, n: usize) -> Vec<(AlertKind, String)> {
            (0..n).flat_map(|_| self.poll(&[])).collect()
        }
    }

    fn kinds(alerts: &[(AlertKind, String)]) -> Vec<AlertKind> {
        alerts.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn going_down_is_announced_once_at_stale_by_default() {
        let mut hub = Script::online(10);
        let alerts = hub.poll(&[(3, Stale)]);
        assert_eq!(
            alerts,
            vec![(AlertKind::RouterStale, "r3 online->stale".into())]
        );
        // Worse is not news.
        assert!(hub.poll(&[(3, Offline)]).is_empty());
        assert!(hub.quiet(30).is_empty());
    }

    #[test]
    fn down_on_offline_waits_for_offline() {
        let rules = AlertRules {
            down_on: DownOn::Offline,
            ..AlertRules::default()
        };
        let mut hub = Script::new(rules, &[(1, Online), (2, Online), (3, Online)]);
        assert!(hub.poll(&[(1, Stale)]).is_empty());
        // Stale and back: never announced down, so no recovery either.
        assert!(hub.poll(&[(1, Online)]).is_empty());
        assert!(hub.quiet(20).is_empty());
        hub.poll(&[(1, Stale)]);
        assert_eq!(
            hub.poll(&[(1, Offline)]),
            vec![(AlertKind::RouterOffline, "r1 stale->offline".into())]
        );
    }

    #[test]
    fn recovery_is_announced_after_staying_online_for_recover_secs() {
        let mut hub = Script::online(10);
        hub.poll(&[(1, Stale)]);
        hub.poll(&[(1, Offline)]);
        assert!(hub.poll(&[(1, Online)]).is_empty());
        // 60 s = 12 polls of 5 s: announced at the 12th poll after coming back.
        assert!(hub.quiet(11).is_empty());
        assert_eq!(
            hub.poll(&[]),
            vec![(AlertKind::RouterOnline, "r1 stale->online".into())]
        );
        assert!(hub.quiet(20).is_empty());
    }

    #[test]
    fn a_recovery_cut_short_says_nothing() {
        let mut hub = Script::online(10);
        assert_eq!(
            kinds(&hub.poll(&[(1, Stale)])),
            vec![AlertKind::RouterStale]
        );
        hub.poll(&[(1, Online)]);
        assert!(hub.quiet(5).is_empty());
        // Down again before 60 s: no "back online", and no second "down" either.
        assert!(hub.poll(&[(1, Stale)]).is_empty());
        assert!(hub.quiet(20).is_empty());
        hub.poll(&[(1, Online)]);
        let later = hub.quiet(12);
        assert_eq!(kinds(&later), vec![AlertKind::RouterOnline]);
    }

    #[test]
    fn flapping_is_announced_once_held_and_settles_with_one_alert() {
        let mut hub = Script::online(10);
        let mut all = Vec::new();
        for i in 0..16 {
            let to = if i % 2 == 0 { Stale } else { Online };
            all.extend(hub.poll(&[(7, to)]));
        }
        assert_eq!(
            kinds(&all),
            vec![AlertKind::RouterStale, AlertKind::RouterFlapping],
            "{all:?}"
        );
        // It stays online: held until the window calms below 25 %, then one alert.
        let mut settled = Vec::new();
        let mut polls = 0;
        while settled.is_empty() && polls < 40 {
            settled = hub.poll(&[]);
            polls += 1;
        }
        assert_eq!(
            settled,
            vec![(AlertKind::RouterOnline, "r7 online->online settled".into())]
        );
        assert!(polls > 3, "settled after {polls} polls: too soon");
        assert!(hub.quiet(30).is_empty());
        // Settled online and announced: a new disconnect is announced normally.
        assert_eq!(
            kinds(&hub.poll(&[(7, Stale)])),
            vec![AlertKind::RouterStale]
        );
    }

    #[test]
    fn a_router_flapping_into_down_settles_down() {
        let mut hub = Script::online(10);
        for i in 0..16 {
            let to = if i % 2 == 0 { Stale } else { Online };
            hub.poll(&[(7, to)]);
        }
        let mut settled = hub.poll(&[(7, Offline)]);
        for _ in 0..40 {
            settled.extend(hub.poll(&[]));
        }
        assert_eq!(
            settled,
            vec![(
                AlertKind::RouterOffline,
                "r7 offline->offline settled".into()
            )]
        );
    }

    #[test]
    fn flap_percent_weighs_newer_changes_more() {
        assert_eq!(flap_percent(0), 0.0);
        assert!((flap_percent(FLAP_MASK) - 100.0).abs() < 1e-9);
        let newest = flap_percent(1);
        let oldest = flap_percent(1 << (FLAP_CHANGES - 1));
        assert!((newest - 6.0).abs() < 1e-9, "{newest}");
        assert!((oldest - 4.0).abs() < 1e-9, "{oldest}");
    }

    #[test]
    fn a_storm_is_one_hub_alert_and_its_recovery_another() {
        let mut hub = Script::online(20);
        let drop: Vec<_> = (1..=5).map(|id| (id, Stale)).collect();
        let alerts = hub.poll(&drop);
        assert_eq!(
            alerts,
            vec![(AlertKind::HubStorm, "5 routers [1, 2, 3, 4, 5]".into())]
        );
        // Their going offline is the same storm.
        let offline: Vec<_> = (1..=5).map(|id| (id, Offline)).collect();
        assert!(hub.poll(&offline).is_empty());
        let back: Vec<_> = (1..=5).map(|id| (id, Online)).collect();
        hub.poll(&back);
        let recovered = hub.quiet(12);
        assert_eq!(
            recovered,
            vec![(AlertKind::HubRecovered, "5 routers [1, 2, 3, 4, 5]".into())]
        );
    }

    #[test]
    fn a_storm_under_down_on_offline_folds_the_later_offlines() {
        let rules = AlertRules {
            down_on: DownOn::Offline,
            ..AlertRules::default()
        };
        let routers: Vec<_> = (1..=10).map(|id| (id, Online)).collect();
        let mut hub = Script::new(rules, &routers);
        let stale: Vec<_> = (1..=4).map(|id| (id, Stale)).collect();
        assert_eq!(kinds(&hub.poll(&stale)), vec![AlertKind::HubStorm]);
        let offline: Vec<_> = (1..=4).map(|id| (id, Offline)).collect();
        assert!(hub.poll(&offline).is_empty());
    }

    #[test]
    fn few_drops_are_no_storm() {
        let mut hub = Script::online(20);
        // 4 of 20 is 20 %: not more than 20 %.
        let alerts = hub.poll(&[(1, Stale), (2, Stale), (3, Stale), (4, Stale)]);
        assert_eq!(kinds(&alerts), vec![AlertKind::RouterStale; 4]);
        // Two of a three-router hub are many percent but too few routers.
        let mut small = Script::online(3);
        let alerts = small.poll(&[(1, Stale), (2, Stale)]);
        assert_eq!(kinds(&alerts), vec![AlertKind::RouterStale; 2]);
    }

    #[test]
    fn first_handshake_is_announced() {
        let mut hub = Script::new(AlertRules::default(), &[(1, Pending), (2, Online)]);
        assert_eq!(
            hub.poll(&[(1, Online)]),
            vec![(AlertKind::RouterFirstHandshake, "r1 pending->online".into())]
        );
        assert!(hub.quiet(20).is_empty());
    }

    #[test]
    fn disabling_is_not_an_outage() {
        let mut hub = Script::online(10);
        hub.poll(&[(1, Stale)]);
        assert!(hub.poll(&[(1, Disabled)]).is_empty());
        // Enabled again and back: it was never down as far as anyone was told since.
        hub.poll(&[(1, Pending)]);
        assert!(
            hub.poll(&[(1, Online)])
                .iter()
                .all(|(k, _)| *k == AlertKind::RouterFirstHandshake)
        );
        assert!(hub.quiet(20).is_empty());
        assert!(hub.poll(&[(2, Disabled)]).is_empty());
    }

    #[test]
    fn routers_already_down_at_start_get_their_recovery_announced() {
        let mut hub = Script::new(AlertRules::default(), &[(1, Offline), (2, Online)]);
        hub.poll(&[(1, Online)]);
        assert_eq!(kinds(&hub.quiet(12)), vec![AlertKind::RouterOnline]);
    }

    #[test]
    fn a_restart_recalls_what_was_said() {
        let mut hub = Script::new(
            AlertRules::default(),
            &[(1, Stale), (2, Stale), (3, Online), (4, Online)],
        );
        // r1's disconnect was announced, r2's never was (say, held while flapping and the
        // last word was online); r3 was flapping.
        hub.engine.recall([
            (1, AlertKind::RouterStale),
            (2, AlertKind::RouterOnline),
            (3, AlertKind::RouterFlapping),
        ]);
        let first = hub.poll(&[(1, Online), (2, Online)]);
        assert_eq!(
            first,
            vec![(AlertKind::RouterOnline, "r3 online->online settled".into())]
        );
        assert_eq!(
            hub.quiet(12),
            vec![(AlertKind::RouterOnline, "r1 stale->online".into())]
        );
    }

    #[test]
    fn memory_is_a_few_bytes_per_router_and_forgets_removed_routers() {
        assert!(std::mem::size_of::<RouterMemory>() <= 12);
        let mut hub = Script::online(1000);
        assert_eq!(hub.engine.remembered(), 1000);
        hub.engine.track((1..=10).map(|id| (id, Online)));
        assert_eq!(hub.engine.remembered(), 10);
    }

    #[test]
    fn rules_are_checked() {
        assert!(AlertRules::new(DownOn::Stale, 60, 25.0, 50.0, 20, 3).is_ok());
        assert!(AlertRules::new(DownOn::Stale, 60, 50.0, 25.0, 20, 3).is_err());
        assert!(AlertRules::new(DownOn::Stale, 60, 25.0, 50.0, 0, 3).is_err());
        assert!(AlertRules::new(DownOn::Stale, 90_000, 25.0, 50.0, 20, 3).is_err());
    }
}
