//! Deterministic in-memory rows for tests, snapshots and benchmarks: the console can be
//! exercised without a database. Script texts are rendered by `tikwire::scripts` from fixture
//! key material.
//!
//! Not part of the shipping crate: the console tests get it through `common_tui`, the bench
//! and the library's own unit tests through `#[path]` (the library names itself `tikwire`
//! under `cfg(test)` so the same paths resolve there).
#![allow(dead_code)]

use std::net::Ipv4Addr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ipnet::Ipv4Net;
use zeroize::Zeroizing;

use std::collections::HashMap;
use std::sync::Arc;
use tikwire::doctor::Check;
use tikwire::doctor::diagnose::{MANAGEMENT_PORTS, RouterFacts, router_checks};
use tikwire::keys::PublicKey;
use tikwire::model::{Hub, RotationState, Router, RouterStatus, SubnetUsage, Tenant};
use tikwire::provision::RouterMaterial;
use tikwire::store::console_history::{EventId, FeedEvent};

use tikwire::tui::app::Msg;
use tikwire::tui::data::ScriptBundle;
use tikwire::tui::peerview::LiveState;
use tikwire::wg::Snapshot;
use tikwire::wg::poller::PeerStats;

pub const TENANTS: [&str; 5] = ["acme", "globex", "initech", "umbrella", "hooli"];
const SITES: [&str; 4] = ["hq", "branch", "shop", "kiosk"];
pub const CAPACITY: i64 = 65_278;

/// The injected clock every fixture is relative to.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

pub fn hubs() -> Vec<Hub> {
    vec![Hub {
        id: 1,
        name: "main".into(),
        endpoint: "vpn.example.net:51820".into(),
        endpoint_host: "vpn.example.net".into(),
        endpoint_port: 51820,
        interface: "wg0".into(),
        listen_port: 51820,
        public_key: hub_public_key(),
        routers: 0,
        created_at: now() - Duration::days(30),
        max_peers: 65278,
        mgmt_address: None,
    }]
}

fn subnet(t: usize) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(10, 100 + t as u8, 0, 0), 16).unwrap_or_default()
}

/// The `host`-th router address of tenant `t` (10.X.1.1 is host 0).
pub fn vpn_ip(t: usize, host: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        100 + t as u8,
        1 + (host / 254) as u8,
        1 + (host % 254) as u8,
    )
}

/// The fixture router with a rotation staged (globex/branch-001).
pub const STAGED_ROUTER: usize = 6;
/// Fixture routers whose keys are past the default maximum age (acme/ and globex/branch-005).
pub const DUE_ROUTERS: [usize; 2] = [25, 26];

/// `n` routers spread over the tenants, in every status.
pub fn routers(now: DateTime<Utc>, n: usize) -> Vec<Router> {
    (0..n)
        .map(|i| {
            let t = i % TENANTS.len();
            let host = i / TENANTS.len();
            let status = RouterStatus::ALL[(i / TENANTS.len()) % RouterStatus::ALL.len()];
            let handshake = match status {
                RouterStatus::Pending => None,
                RouterStatus::Online => Some(now - Duration::seconds(5 + (i % 170) as i64)),
                RouterStatus::Stale => Some(now - Duration::seconds(200 + (i % 390) as i64)),
                RouterStatus::Offline => Some(now - Duration::minutes(15 + (i % 5000) as i64)),
                RouterStatus::Disabled => Some(now - Duration::days(3)),
            };
            // A few routers past the default maximum key age (90 days), one with a rotation
            // staged: the console's markers show on the first screen of the routers pane.
            let staged = i == STAGED_ROUTER;
            let keys_age_days = if staged || DUE_ROUTERS.contains(&i) {
                120
            } else {
                10
            };
            let traffic = if handshake.is_some() {
                (i as i64 * 7919) % 900_000_000
            } else {
                0
            };
            Router {
                id: i as i64 + 1,
                name: format!("{}-{:03}", SITES[host % SITES.len()], host),
                tenant: TENANTS[t].into(),
                tenant_id: t as i64 + 1,
                hub: "main".into(),
                hub_id: 1,
                vpn_ip: vpn_ip(t, host),
                subnet_cidr: subnet(t),
                hub_ip: Ipv4Addr::new(10, 100 + t as u8, 0, 1),
                public_key: router_key(i),
                interface_name: "wg-hotspot".into(),
                keepalive: 25,
                enabled: status != RouterStatus::Disabled,
                status,
                last_handshake_at: handshake,
                first_handshake_at: handshake.map(|h| h - Duration::days(1)),
                last_endpoint: handshake
                    .map(|_| format!("203.0.113.{}:{}", 1 + i % 250, 40000 + i % 20000)),
                rx_bytes: traffic,
                tx_bytes: traffic / 3,
                created_at: now - Duration::days(10),
                updated_at: now - Duration::hours(1),
                keys_created_at: now - Duration::days(keys_age_days),
                rotation_state: if staged {
                    RotationState::Staged
                } else {
                    RotationState::None
                },
                pending_public_key: staged.then(|| router_key(10_000 + i)),
                rotation_staged_at: staged.then(|| now - Duration::hours(2)),
            }
        })
        .collect()
}

pub fn tenants(routers: &[Router]) -> Vec<Tenant> {
    TENANTS
        .iter()
        .enumerate()
        .map(|(t, name)| {
            let mine = routers.iter().filter(|r| r.tenant == *name);
            let (count, online) = mine.fold((0, 0), |(c, o), r| {
                (c + 1, o + i64::from(r.status == RouterStatus::Online))
            });
            Tenant {
                id: t as i64 + 1,
                name: (*name).into(),
                subnet_cidr: subnet(t),
                hub_ip: Ipv4Addr::new(10, 100 + t as u8, 0, 1),
                routers: count,
                online,
                capacity: CAPACITY,
                created_at: now() - Duration::days(30),
                hub: Some("main".into()),
                other_hubs: Vec::new(),
            }
        })
        .collect()
}

pub fn subnets(tenants: &[Tenant]) -> Vec<SubnetUsage> {
    tenants
        .iter()
        .enumerate()
        .map(|(t, tenant)| SubnetUsage {
            tenant: tenant.name.clone(),
            subnet_cidr: tenant.subnet_cidr,
            hub_ip: tenant.hub_ip,
            range_start: vpn_ip(t, 0),
            range_end: Ipv4Addr::new(10, 100 + t as u8, 255, 254),
            capacity: CAPACITY,
            allocated: tenant.routers,
            available: CAPACITY - tenant.routers,
            status: "active".into(),
        })
        .collect()
}

/// A key for fixture router `i` (valid base64 of 32 bytes, unique per router).
pub fn router_key(i: usize) -> PublicKey {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&(i as u64).to_be_bytes());
    key[31] = 0x5a;
    PublicKey::from_bytes(key)
}

pub const UNKNOWN_KEY: &str = "VU5LTk9XTnBlZXJVTktOT1dOcGVlclVOS05PV05wZWU=";

/// [`UNKNOWN_KEY`], the peer of the live snapshot that no router owns.
pub fn unknown_key() -> PublicKey {
    parse_fixture_key(UNKNOWN_KEY)
}

/// [`HUB_PUBLIC_KEY`], the fixture hub's key.
pub fn hub_public_key() -> PublicKey {
    parse_fixture_key(HUB_PUBLIC_KEY)
}

fn parse_fixture_key(text: &str) -> PublicKey {
    text.parse()
        .unwrap_or_else(|_| PublicKey::from_bytes([0x5a; 32]))
}

/// A live snapshot of interface wg0 taken 3 s before `now`: every enabled router as stored,
/// plus one peer tikwire has no record of.
pub fn live_snapshot(routers: &[Router], now: DateTime<Utc>) -> Snapshot {
    let mut peers: HashMap<PublicKey, PeerStats> = routers
        .iter()
        .filter(|r| r.enabled)
        .map(|r| {
            let stats = PeerStats {
                endpoint: r.last_endpoint.as_deref().and_then(|e| e.parse().ok()),
                last_handshake: r.last_handshake_at,
                rx_bytes: r.rx_bytes as u64,
                tx_bytes: r.tx_bytes as u64,
                persistent_keepalive: Some(25),
                allowed_ips: vec![ipnet::IpNet::V4(
                    Ipv4Net::new(r.vpn_ip, 32).unwrap_or_default(),
                )],
                has_preshared_key: true,
            };
            (r.public_key, stats)
        })
        .collect();
    peers.insert(
        unknown_key(),
        PeerStats {
            endpoint: "198.51.100.7:51999".parse().ok(),
            last_handshake: Some(now - Duration::seconds(40)),
            rx_bytes: 1234,
            tx_bytes: 987,
            persistent_keepalive: None,
            allowed_ips: vec![
                "10.250.0.9/32"
                    .parse()
                    .unwrap_or_else(|_| ipnet::IpNet::V4(Ipv4Net::default())),
            ],
            has_preshared_key: false,
        },
    );
    Snapshot {
        interface: "wg0".into(),
        taken_at: now - Duration::seconds(3),
        public_key: Some(hubs()[0].public_key),
        listen_port: 51820,
        peers,
    }
}

/// The message the runtime sends for a live snapshot.
pub fn live_msg(snapshot: Snapshot) -> Msg {
    Msg::Live {
        interface: snapshot.interface.clone(),
        state: LiveState::Ready(Arc::new(snapshot)),
    }
}

pub const PRIVATE_KEY: &str = "cFJpdmF0ZUtleVByaXZhdGVLZXlQcml2YXRlS2V5MDA=";
pub const PRESHARED_KEY: &str = "UHJlc2hhcmVkS2V5UHJlc2hhcmVkS2V5UHJlc2hhcmU=";

/// The key material of the first fixture router (acme/hq-000), keys included.
pub fn material() -> RouterMaterial {
    material_for(&routers(now(), 1)[0])
}

/// Key material for `router` (the fixture keys).
pub fn material_for(router: &Router) -> RouterMaterial {
    let hub = hubs().remove(0);
    RouterMaterial {
        router: router.clone(),
        hub,
        private_key: Zeroizing::new(PRIVATE_KEY.into()),
        preshared_key: Zeroizing::new(PRESHARED_KEY.into()),
    }
}

pub const HUB_PUBLIC_KEY: &str = "SFVCcHVibGljS0VZaHViUFVCTElDa2V5SFVCcHVibGk=";

/// The texts the script view shows for [`material`], from the real generators.
pub fn bundle() -> ScriptBundle {
    bundle_for(&routers(now(), 1)[0])
}

/// The texts the script view shows for `router`.
pub fn bundle_for(router: &Router) -> ScriptBundle {
    match tikwire::tui::scripts_bridge::bundle(&material_for(router)) {
        Ok(bundle) => bundle,
        Err(e) => panic!("fixture material renders: {e}"),
    }
}

/// What `tikwire router diagnose` finds for fixture router `tenant/name` (one of the first
/// 60) when it never connected and the hub's interface cannot be read here: the real
/// judgement over fixed facts, provisioned three minutes before [`now`].
pub fn never_connected_checks(tenant: &str, name: &str) -> Vec<Check> {
    let mut router = routers(now(), 60)
        .into_iter()
        .find(|r| r.tenant == tenant && r.name == name)
        .unwrap_or_else(|| panic!("no fixture router {tenant}/{name}"));
    router.status = RouterStatus::Pending;
    router.last_handshake_at = None;
    router.first_handshake_at = None;
    router.created_at = now() - Duration::minutes(3);
    router_checks(&RouterFacts {
        router,
        hub_interface: "wg0".into(),
        peer: Err("wg show wg0 dump: Unable to access interface: No such device".into()),
        online_secs: 180,
        now: now(),
        ping: None,
        ports: MANAGEMENT_PORTS.iter().map(|(p, _)| (*p, None)).collect(),
    })
}

/// A router's detail as its view shows it at `now`: online with one 40-minute outage 6 hours
/// ago and a stale spell 3 days ago, a NAT endpoint that moved once, traffic with a daily
/// rhythm over 24 hours (5-minute buckets) and 30 days (hourly).
pub fn router_detail(now: DateTime<Utc>) -> tikwire::tui::monitor::RouterDetail {
    use tikwire::history::{
        Availability, EndpointChange, RouterHistory, StatusChange, Timeline, TrafficPoint,
    };
    use tikwire::store::console_history::RouterNow;
    let change = |ago: Duration, from, to| StatusChange {
        at: now - ago,
        from,
        to,
    };
    let transitions = vec![
        change(
            Duration::days(12),
            RouterStatus::Pending,
            RouterStatus::Online,
        ),
        change(Duration::days(3), RouterStatus::Online, RouterStatus::Stale),
        change(
            Duration::days(3) - Duration::minutes(20),
            RouterStatus::Stale,
            RouterStatus::Online,
        ),
        change(
            Duration::hours(6),
            RouterStatus::Online,
            RouterStatus::Offline,
        ),
        change(
            Duration::hours(6) - Duration::minutes(40),
            RouterStatus::Offline,
            RouterStatus::Online,
        ),
    ];
    let endpoints = vec![
        EndpointChange {
            at: now - Duration::days(12),
            endpoint: "198.51.100.20:40112".into(),
        },
        EndpointChange {
            at: now - Duration::hours(6) + Duration::minutes(40),
            endpoint: "203.0.113.7:51820".into(),
        },
    ];
    // A daily rhythm: busy in the afternoon, quiet at night, nothing during the outage.
    let rhythm = |at: DateTime<Utc>| -> i64 {
        let hour = i64::from(chrono::Timelike::hour(&at));
        let outage =
            at >= now - Duration::hours(6) && at < now - Duration::hours(6) + Duration::minutes(40);
        if outage {
            0
        } else {
            20_000 + 4_000 * (12 - (hour - 14).abs()).max(0) * (hour % 3 + 1)
        }
    };
    let five_minute: Vec<TrafficPoint> = (1..=288)
        .rev()
        .map(|i| {
            let at = tikwire::history::bucket_start(now - Duration::minutes(5 * i));
            TrafficPoint {
                at,
                rx_bytes: rhythm(at) * 10,
                tx_bytes: rhythm(at) * 3,
            }
        })
        .collect();
    let hourly: Vec<TrafficPoint> = (1..=720)
        .rev()
        .map(|i| {
            let at = tikwire::history::hour_start(now - Duration::hours(i));
            TrafficPoint {
                at,
                rx_bytes: rhythm(at) * 120,
                tx_bytes: rhythm(at) * 36,
            }
        })
        .collect();
    // As the store reads it: the last change before the span, then those inside.
    let timeline = Timeline {
        before: None,
        changes: transitions[2..].iter().map(|t| (t.at, t.to)).collect(),
    };
    tikwire::tui::monitor::RouterDetail {
        now: RouterNow {
            hub_id: 1,
            hub: "main".into(),
            status: RouterStatus::Online,
            last_handshake_at: Some(now - Duration::seconds(42)),
            last_endpoint: Some("203.0.113.7:51820".into()),
            created_at: now - Duration::days(90),
        },
        day: RouterHistory {
            traffic: five_minute,
            transitions: Vec::new(),
            endpoints: Vec::new(),
        },
        month: RouterHistory {
            traffic: hourly,
            transitions,
            endpoints,
        },
        timeline,
        availability: Availability {
            day: Some(1.0 - 40.0 / 1440.0),
            week: Some(1.0 - 60.0 / 10080.0),
            month: Some(0.9985),
        },
        as_of: now,
    }
}

/// A status change on hub `main`, as the events feed reads it.
pub fn status_event(
    at: DateTime<Utc>,
    tenant: &str,
    router: &str,
    from: RouterStatus,
    to: RouterStatus,
) -> tikwire::history::FleetEvent {
    tikwire::history::FleetEvent::Status {
        at,
        tenant: tenant.into(),
        router: router.into(),
        hub: "main".into(),
        from,
        to,
    }
}

/// A transition as the console's feed holds it: row `id` of `router_transitions`.
pub fn transition(id: i64, event: tikwire::history::FleetEvent) -> FeedEvent {
    FeedEvent {
        id: EventId::Transition(id),
        event,
        routers: None,
    }
}

/// An alert on hub `main` as the console's feed holds it: row `id` of `alert_events`. A hub
/// alert names no tenant or router and may fold `routers` routers' alerts.
pub fn alert(
    at: DateTime<Utc>,
    id: i64,
    kind: tikwire::alerts::AlertKind,
    tenant: &str,
    router: &str,
    routers: Option<i64>,
) -> FeedEvent {
    FeedEvent {
        id: EventId::Alert(id),
        event: tikwire::history::FleetEvent::Alert {
            at,
            alert: kind,
            tenant: tenant.into(),
            router: router.into(),
            hub: "main".into(),
        },
        routers,
    }
}
