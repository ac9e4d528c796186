//! The status lifecycle of one router's link, derived from what the hub's interface reports.
//! Pure: no clock, no I/O; callers pass `now`.
//!
//! pending (never shook hands) -> online (handshake or activity within `online`) -> stale
//! (within `stale`) -> offline (older). Disabled routers stay disabled whatever the interface
//! says. Activity is received bytes growing: a router with persistent keepalive sends a packet
//! every keepalive interval, while WireGuard re-handshakes only every two minutes.

use std::net::SocketAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::model::{InvalidInput, RouterStatus};

/// How old the latest sign of life (handshake or received bytes) may be for a router to count
/// as online or stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    online_secs: u64,
    stale_secs: u64,
}

impl Thresholds {
    pub const DEFAULT_ONLINE_SECS: u64 = 180;
    pub const DEFAULT_STALE_SECS: u64 = 600;

    pub fn new(online_secs: u64, stale_secs: u64) -> Result<Self, InvalidInput> {
        // A WireGuard session rekeys every 120 s, so a live peer's handshake is never older.
        if online_secs < 1 || online_secs > stale_secs || stale_secs > 365 * 24 * 3600 {
            return Err(InvalidInput(format!(
                "status thresholds online {online_secs} s / stale {stale_secs} s: need 1 <= online <= stale <= one year"
            )));
        }
        Ok(Self {
            online_secs,
            stale_secs,
        })
    }

    pub fn online_secs(&self) -> u64 {
        self.online_secs
    }

    pub fn stale_secs(&self) -> u64 {
        self.stale_secs
    }

    /// The status of a link whose latest handshake was at `last_handshake`.
    pub fn status_at(
        &self,
        last_handshake: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> RouterStatus {
        let Some(at) = last_handshake else {
            return RouterStatus::Pending;
        };
        // A handshake "in the future" (clock adjusted) counts as fresh.
        let age = (now - at).max(TimeDelta::zero()).num_seconds() as u64;
        if age <= self.online_secs {
            RouterStatus::Online
        } else if age <= self.stale_secs {
            RouterStatus::Stale
        } else {
            RouterStatus::Offline
        }
    }
}

impl TryFrom<&crate::config::StatusThresholds> for Thresholds {
    type Error = InvalidInput;
    fn try_from(config: &crate::config::StatusThresholds) -> Result<Self, InvalidInput> {
        Self::new(config.online_secs, config.stale_secs)
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            online_secs: Self::DEFAULT_ONLINE_SECS,
            stale_secs: Self::DEFAULT_STALE_SECS,
        }
    }
}

/// A byte counter that keeps counting across interface restarts.
///
/// `wg` reports per-session raw counters that start again at zero when the interface (or
/// the peer) is recreated. We keep the last raw value seen: a raw value below it means a
/// reset, and the whole new raw value is traffic since the reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// Cumulative bytes, what operators see.
    pub total: i64,
    /// The raw counter last read from `wg`.
    pub last_raw: i64,
}

impl Counter {
    #[must_use]
    pub fn advance(self, raw: u64) -> Counter {
        let raw = i64::try_from(raw).unwrap_or(i64::MAX);
        let gained = if raw < self.last_raw {
            raw
        } else {
            raw - self.last_raw
        };
        Counter {
            total: self.total.saturating_add(gained),
            last_raw: raw,
        }
    }
}

/// What tikwire stores about one router's link (the status columns of vpn_configurations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub status: RouterStatus,
    pub first_handshake_at: Option<DateTime<Utc>>,
    pub last_handshake_at: Option<DateTime<Utc>>,
    /// The last poll that saw the router's received bytes grow.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The router's public (NAT) address as the hub last saw it.
    pub last_endpoint: Option<String>,
    pub rx: Counter,
    pub tx: Counter,
}

impl LinkState {
    /// A freshly provisioned router.
    pub fn pending() -> Self {
        Self {
            status: RouterStatus::Pending,
            first_handshake_at: None,
            last_handshake_at: None,
            last_seen_at: None,
            last_endpoint: None,
            rx: Counter::default(),
            tx: Counter::default(),
        }
    }
}

/// What one snapshot of the interface says about one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub last_handshake: Option<DateTime<Utc>>,
    pub endpoint: Option<SocketAddr>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// The next stored state of a link, given what the interface shows now (`None`: the peer is
/// not on the interface) and the time. Re-run every poll: status ages even without news.
pub fn next_state(
    stored: &LinkState,
    enabled: bool,
    seen: Option<&Observation>,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> LinkState {
    changed_state(stored, enabled, seen, now, thresholds).unwrap_or_else(|| stored.clone())
}

/// [`next_state`] when it differs from `stored`, `None` when the poll changes nothing (most
/// routers at most polls): an agent runs this for every router of its hub each poll, so the
/// unchanged case allocates nothing.
pub fn changed_state(
    stored: &LinkState,
    enabled: bool,
    seen: Option<&Observation>,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Option<LinkState> {
    let mut last_handshake_at = stored.last_handshake_at;
    let mut first_handshake_at = stored.first_handshake_at;
    let mut last_seen_at = stored.last_seen_at;
    let (mut rx, mut tx) = (stored.rx, stored.tx);
    let mut moved_to = None;
    if let Some(seen) = seen {
        // After an interface restart `wg` shows no handshake until the router comes back;
        // the one we stored still stands.
        last_handshake_at = stored.last_handshake_at.max(seen.last_handshake);
        if first_handshake_at.is_none() {
            first_handshake_at = seen.last_handshake;
        }
        moved_to = seen
            .endpoint
            .filter(|endpoint| !is_endpoint(stored.last_endpoint.as_deref(), *endpoint));
        rx = stored.rx.advance(seen.rx_bytes);
        tx = stored.tx.advance(seen.tx_bytes);
        if rx.total > stored.rx.total {
            last_seen_at = Some(now);
        }
    }
    // Activity counts only once the router has shaken hands (a handshake is what proves it).
    let alive_at =
        last_handshake_at.map(|handshake| handshake.max(last_seen_at.unwrap_or(handshake)));
    let status = if enabled {
        thresholds.status_at(alive_at, now)
    } else {
        RouterStatus::Disabled
    };
    let unchanged = moved_to.is_none()
        && status == stored.status
        && first_handshake_at == stored.first_handshake_at
        && last_handshake_at == stored.last_handshake_at
        && last_seen_at == stored.last_seen_at
        && rx == stored.rx
        && tx == stored.tx;
    if unchanged {
        return None;
    }
    Some(LinkState {
        status,
        first_handshake_at,
        last_handshake_at,
        last_seen_at,
        last_endpoint: match moved_to {
            Some(endpoint) => Some(endpoint.to_string()),
            None => stored.last_endpoint.clone(),
        },
        rx,
        tx,
    })
}

/// Whether `stored` is `endpoint` written out, compared without allocating.
fn is_endpoint(stored: Option<&str>, endpoint: SocketAddr) -> bool {
    use std::fmt::Write as _;

    /// Compares what is written to it with `expected`, a piece at a time.
    struct Matches<'a> {
        rest: &'a str,
        equal: bool,
    }
    impl std::fmt::Write for Matches<'_> {
        fn write_str(&mut self, piece: &str) -> std::fmt::Result {
            match self.rest.strip_prefix(piece) {
                Some(rest) if self.equal => self.rest = rest,
                _ => self.equal = false,
            }
            Ok(())
        }
    }
    let Some(stored) = stored else {
        return false;
    };
    let mut matches = Matches {
        rest: stored,
        equal: true,
    };
    let _ = write!(matches, "{endpoint}");
    matches.equal && matches.rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// A freshly provisioned, enabled router's first poll.
    fn first_poll(observed: Observation, now: DateTime<Utc>, t: &Thresholds) -> LinkState {
        next_state(&LinkState::pending(), true, Some(&observed), now, t)
    }

    fn seen(handshake: Option<i64>, rx: u64, tx: u64) -> Observation {
        Observation {
            last_handshake: handshake.map(at),
            endpoint: Some("198.51.100.9:40001".parse().unwrap()),
            rx_bytes: rx,
            tx_bytes: tx,
        }
    }

    #[test]
    fn status_follows_handshake_age() {
        let t = Thresholds::default();
        let now = at(10_000);
        assert_eq!(t.status_at(None, now), RouterStatus::Pending);
        assert_eq!(
            t.status_at(Some(at(10_000 - 180)), now),
            RouterStatus::Online
        );
        assert_eq!(
            t.status_at(Some(at(10_000 - 181)), now),
            RouterStatus::Stale
        );
        assert_eq!(
            t.status_at(Some(at(10_000 - 600)), now),
            RouterStatus::Stale
        );
        assert_eq!(
            t.status_at(Some(at(10_000 - 601)), now),
            RouterStatus::Offline
        );
        assert_eq!(
            t.status_at(Some(at(10_050)), now),
            RouterStatus::Online,
            "future handshake"
        );
        let custom = Thresholds::new(30, 60).unwrap();
        assert_eq!(
            custom.status_at(Some(at(10_000 - 45)), now),
            RouterStatus::Stale
        );
    }

    #[test]
    fn thresholds_are_validated() {
        assert!(Thresholds::new(0, 600).is_err());
        assert!(Thresholds::new(700, 600).is_err());
        assert!(Thresholds::new(180, 180).is_ok());
    }

    #[test]
    fn counters_accumulate_across_resets() {
        let c = Counter::default().advance(100).advance(250);
        assert_eq!(
            c,
            Counter {
                total: 250,
                last_raw: 250
            }
        );
        // Interface restarted: raw counter starts over.
        let c = c.advance(40);
        assert_eq!(
            c,
            Counter {
                total: 290,
                last_raw: 40
            }
        );
        let c = c.advance(40).advance(u64::MAX);
        assert_eq!(c.last_raw, i64::MAX);
        assert_eq!(c.advance(u64::MAX).total, c.total, "no overflow");
    }

    #[test]
    fn lifecycle_pending_online_stale_offline() {
        let t = Thresholds::default();
        let s0 = LinkState::pending();
        let s1 = next_state(&s0, true, Some(&seen(None, 0, 0)), at(0), &t);
        assert_eq!(s1.status, RouterStatus::Pending);
        assert_eq!(
            s1,
            LinkState {
                last_endpoint: s1.last_endpoint.clone(),
                ..s0.clone()
            }
        );

        let s2 = next_state(&s1, true, Some(&seen(Some(5), 92, 148)), at(6), &t);
        assert_eq!(s2.status, RouterStatus::Online);
        assert_eq!(s2.first_handshake_at, Some(at(5)));
        assert_eq!(s2.last_endpoint.as_deref(), Some("198.51.100.9:40001"));
        assert_eq!((s2.rx.total, s2.tx.total), (92, 148));

        let s3 = next_state(&s2, true, Some(&seen(Some(130), 500, 600)), at(131), &t);
        assert_eq!(
            s3.first_handshake_at,
            Some(at(5)),
            "first handshake is kept"
        );
        assert_eq!(s3.last_handshake_at, Some(at(130)));

        // No news: ages with time alone, from the last sign of life (bytes seen at 131).
        assert_eq!(s3.last_seen_at, Some(at(131)));
        let s4 = next_state(&s3, true, None, at(131 + 300), &t);
        assert_eq!(s4.status, RouterStatus::Stale);
        assert_eq!(s4.rx, s3.rx);
        let s5 = next_state(&s4, true, None, at(131 + 601), &t);
        assert_eq!(s5.status, RouterStatus::Offline);
    }

    #[test]
    fn interface_restart_keeps_history() {
        let t = Thresholds::default();
        let before = first_poll(seen(Some(5), 1000, 2000), at(6), &t);
        // Restarted interface: no handshake yet, counters from zero.
        let after = next_state(&before, true, Some(&seen(None, 10, 20)), at(20), &t);
        assert_eq!(after.last_handshake_at, Some(at(5)));
        assert_eq!(after.status, RouterStatus::Online);
        assert_eq!((after.rx.total, after.tx.total), (1010, 2020));
    }

    #[test]
    fn activity_keeps_a_router_online_between_handshakes() {
        let t = Thresholds::new(60, 120).unwrap();
        let s1 = first_poll(seen(Some(0), 100, 100), at(1), &t);
        assert_eq!(s1.last_seen_at, Some(at(1)));
        // Handshake 100 s old, but keepalives keep arriving.
        let s2 = next_state(&s1, true, Some(&seen(Some(0), 132, 100)), at(100), &t);
        assert_eq!(s2.status, RouterStatus::Online);
        assert_eq!(s2.last_seen_at, Some(at(100)));
        // Only sent bytes grow (the hub keeps trying): not a sign of life.
        let s3 = next_state(&s2, true, Some(&seen(Some(0), 132, 500)), at(161), &t);
        assert_eq!(s3.last_seen_at, Some(at(100)));
        assert_eq!(s3.status, RouterStatus::Stale);
        let s4 = next_state(&s3, true, Some(&seen(Some(0), 132, 900)), at(221), &t);
        assert_eq!(s4.status, RouterStatus::Offline);
        // After an interface restart, the first bytes again count as activity.
        let s5 = next_state(&s4, true, Some(&seen(Some(0), 32, 0)), at(230), &t);
        assert_eq!(
            (s5.status, s5.last_seen_at),
            (RouterStatus::Online, Some(at(230)))
        );
    }

    #[test]
    fn the_same_counters_again_are_no_activity() {
        // What a restarted agent sees first: the counters it stored.
        let t = Thresholds::new(60, 120).unwrap();
        let s1 = first_poll(seen(Some(0), 100, 100), at(1), &t);
        let again = next_state(&s1, true, Some(&seen(Some(0), 100, 100)), at(90), &t);
        assert_eq!(again.last_seen_at, Some(at(1)));
        assert_eq!(again.status, RouterStatus::Stale);
    }

    #[test]
    fn an_unchanged_poll_is_none_and_an_endpoint_move_is_seen() {
        let t = Thresholds::default();
        let s1 = first_poll(seen(Some(0), 100, 100), at(1), &t);
        assert_eq!(
            changed_state(&s1, true, Some(&seen(Some(0), 100, 100)), at(6), &t),
            None
        );
        let mut moved = seen(Some(0), 100, 100);
        moved.endpoint = Some("198.51.100.9:40002".parse().unwrap());
        let s2 = changed_state(&s1, true, Some(&moved), at(11), &t).unwrap();
        assert_eq!(s2.last_endpoint.as_deref(), Some("198.51.100.9:40002"));
        assert_eq!(changed_state(&s2, true, Some(&moved), at(16), &t), None);
        assert!(is_endpoint(
            Some("[2001:db8::1]:51820"),
            "[2001:db8::1]:51820".parse().unwrap()
        ));
        assert!(!is_endpoint(
            Some("198.51.100.9:4000"),
            "198.51.100.9:40002".parse().unwrap()
        ));
        assert!(!is_endpoint(
            Some("198.51.100.9:400021"),
            "198.51.100.9:40002".parse().unwrap()
        ));
        assert!(!is_endpoint(None, "198.51.100.9:40002".parse().unwrap()));
    }

    #[test]
    fn disabled_stays_disabled() {
        let t = Thresholds::default();
        let s = next_state(
            &LinkState::pending(),
            false,
            Some(&seen(Some(5), 1, 1)),
            at(6),
            &t,
        );
        assert_eq!(s.status, RouterStatus::Disabled);
        let unchanged = next_state(&s, false, None, at(7), &t);
        assert_eq!(unchanged, s, "nothing to write");
    }
}
