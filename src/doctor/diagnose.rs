//! `tikwire router diagnose`: one router, from the database to a TCP connect through the
//! tunnel, so "online" (handshakes) and "manageable" (its services answer) are told apart.
//! Pure judgement over [`RouterFacts`]; the gathering is in [`super::gather::router_facts`].

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use super::Check;
use super::facts::Probe;
use crate::model::Router;

/// RouterOS management services, probed through the tunnel: Winbox, SSH, API, API-SSL.
pub const MANAGEMENT_PORTS: [(u16, &str); 4] = [
    (8291, "winbox"),
    (22, "ssh"),
    (8728, "api"),
    (8729, "api-ssl"),
];

/// The router's peer on the hub interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerFacts {
    pub allowed_ips: Vec<IpNet>,
    /// Compared in memory with the database's; never shown.
    pub preshared_key_matches: bool,
    pub latest_handshake: Option<DateTime<Utc>>,
    pub endpoint: Option<SocketAddr>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// How a TCP connect through the tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortProbe {
    Open,
    Refused,
    TimedOut,
    Error(String),
}

/// Everything the router checks look at.
#[derive(Debug, Clone)]
pub struct RouterFacts {
    pub router: Router,
    /// The hub's interface name.
    pub hub_interface: String,
    /// `Ok(None)`: no peer with the router's key on the interface.
    pub peer: Probe<Option<PeerFacts>>,
    /// A handshake younger than this counts as online.
    pub online_secs: i64,
    pub now: DateTime<Utc>,
    /// `None` when not attempted (no handshake yet).
    pub ping: Option<Probe<bool>>,
    pub ports: Vec<(u16, Option<PortProbe>)>,
}

fn ago(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// What to paste on the router to see its side, and what the answers mean.
pub fn routeros_commands(router: &Router) -> String {
    let iface = &router.interface_name;
    format!(
        "on the router (Winbox terminal or SSH):\n\
         /interface wireguard peers print detail where interface=\"{iface}\"\n\
         \x20 last-handshake empty: the hub never answered; check endpoint-address and endpoint-port, and that the router reaches the internet\n\
         /interface wireguard print detail where name=\"{iface}\"\n\
         \x20 public-key must be {key}; another key: the script was not applied or was applied twice with edits\n\
         /ping {hub_ip} count=3\n\
         \x20 timeouts with a recent last-handshake: allowed-address or routing on the router is wrong\n\
         /system clock print\n\
         \x20 a date far off makes handshakes fail: set it, or enable /system ntp client",
        key = router.public_key,
        hub_ip = router.hub_ip,
    )
}

/// The router checks, in order: state, peer, handshake, ping, tcp/<port>.
pub fn router_checks(facts: &RouterFacts) -> Vec<Check> {
    let r = &facts.router;
    let agent = format!("tikwire agent --hub {} --once", r.hub);
    let mut checks = Vec::new();
    checks.push(if r.enabled {
        Check::ok(
            "state",
            format!(
                "{} in tenant {}, {} via hub {}, status {}",
                r.name, r.tenant, r.vpn_ip, r.hub, r.status
            ),
        )
    } else {
        Check::warn(
            "state",
            format!("{} is disabled: the hub drops its peer", r.name),
            format!("tikwire router enable {} --tenant {}", r.name, r.tenant),
        )
    });
    let expected_ip = IpNet::from(std::net::IpAddr::V4(r.vpn_ip));
    let peer = match &facts.peer {
        Ok(Some(peer)) => {
            let ips_ok = peer.allowed_ips == [expected_ip];
            checks.push(match (ips_ok, peer.preshared_key_matches) {
                (true, true) => Check::ok(
                    "peer",
                    format!(
                        "on {} with allowed IPs {expected_ip} and the right preshared key",
                        facts.hub_interface
                    ),
                ),
                (false, _) => Check::fail(
                    "peer",
                    format!(
                        "allowed IPs are {}, not {expected_ip}",
                        peer.allowed_ips
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    agent.clone(),
                ),
                (true, false) => Check::fail(
                    "peer",
                    "the preshared key differs from the database's",
                    agent.clone(),
                ),
            });
            Some(peer)
        }
        Ok(None) => {
            checks.push(if r.enabled {
                Check::fail(
                    "peer",
                    format!("no peer with the router's key on {}", facts.hub_interface),
                    agent.clone(),
                )
            } else {
                Check::warn(
                    "peer",
                    "no peer (the router is disabled)",
                    format!("tikwire router enable {} --tenant {}", r.name, r.tenant),
                )
            });
            None
        }
        Err(why) => {
            checks.push(Check::warn(
                "peer",
                format!("cannot tell: {why}"),
                format!("run as root on the hub: wg show {}", facts.hub_interface),
            ));
            None
        }
    };
    let handshake = peer.and_then(|p| p.latest_handshake);
    checks.push(match handshake {
        Some(at) => {
            let age = (facts.now - at).num_seconds().max(0);
            let from = peer
                .and_then(|p| p.endpoint)
                .map_or("an unknown endpoint".to_owned(), |e| {
                    format!("{e} (the router's NAT address)")
                });
            if age <= facts.online_secs {
                Check::ok("handshake", format!("{} ago from {from}", ago(age)))
            } else {
                Check::fail(
                    "handshake",
                    format!(
                        "last {} ago from {from}: the router stopped dialling",
                        ago(age)
                    ),
                    routeros_commands(r),
                )
            }
        }
        None => {
            let issued = (facts.now - r.created_at).num_seconds().max(0);
            Check::fail(
                "handshake",
                format!(
                    "never connected; provisioned {} ago (its script was available since)",
                    ago(issued)
                ),
                format!(
                    "paste the script: tikwire script {} --tenant {} --format routeros; then {}",
                    r.name,
                    r.tenant,
                    routeros_commands(r)
                ),
            )
        }
    });
    checks.push(match &facts.ping {
        Some(Ok(true)) => Check::ok("ping", format!("{} answers through the tunnel", r.vpn_ip)),
        Some(Ok(false)) => Check::fail(
            "ping",
            format!("{} does not answer ping through the tunnel", r.vpn_ip),
            format!(
                "on the router: /ip firewall filter print where chain=input (the script's accept for {} must come before the drops)",
                r.hub_ip
            ),
        ),
        Some(Err(why)) => Check::warn("ping", format!("cannot tell: {why}"), format!("ping -c 3 {}", r.vpn_ip)),
        None => Check::fail("ping", "not tried: no tunnel yet", "see handshake"),
    });
    for (port, probe) in &facts.ports {
        let name = format!("tcp/{port}");
        let service = MANAGEMENT_PORTS
            .iter()
            .find(|(p, _)| p == port)
            .map_or("the service", |(_, s)| s);
        let enable = format!(
            "on the router: /ip service enable {service}; /ip service print (its address= must include {})",
            r.hub_ip
        );
        checks.push(match probe {
            Some(PortProbe::Open) => Check::ok(name, format!("{service} accepts connections")),
            Some(PortProbe::Refused) => Check::warn(
                name,
                format!("{service} refused: not running on the router"),
                enable,
            ),
            Some(PortProbe::TimedOut) => Check::warn(
                name,
                format!("{service}: no answer (filtered or the tunnel is down)"),
                enable,
            ),
            Some(PortProbe::Error(why)) => Check::warn(name, format!("{service}: {why}"), enable),
            None => Check::fail(name, "not tried: no tunnel yet", "see handshake"),
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::model::RouterStatus;

    fn router() -> Router {
        Router {
            id: 1,
            name: "r1".into(),
            tenant: "acme".into(),
            tenant_id: 1,
            hub: "hub1".into(),
            hub_id: 1,
            vpn_ip: "10.100.1.1".parse().unwrap(),
            subnet_cidr: "10.100.0.0/16".parse().unwrap(),
            hub_ip: "10.100.0.1".parse().unwrap(),
            public_key: crate::keys::PublicKey::from_bytes([7; 32]),
            interface_name: "wg-hotspot".into(),
            keepalive: 25,
            enabled: true,
            status: RouterStatus::Pending,
            last_handshake_at: None,
            first_handshake_at: None,
            last_endpoint: None,
            rx_bytes: 0,
            tx_bytes: 0,
            created_at: Utc::now() - chrono::Duration::minutes(30),
            updated_at: Utc::now(),
            keys_created_at: Utc::now(),
            rotation_state: crate::model::RotationState::None,
            pending_public_key: None,
            rotation_staged_at: None,
        }
    }

    fn statuses(checks: &[Check]) -> Vec<(&str, Status)> {
        checks.iter().map(|c| (c.name.as_str(), c.status)).collect()
    }

    #[test]
    fn a_router_that_never_connected_gets_the_routeros_commands() {
        let facts = RouterFacts {
            router: router(),
            hub_interface: "wg0".into(),
            peer: Ok(Some(PeerFacts {
                allowed_ips: vec!["10.100.1.1/32".parse().unwrap()],
                preshared_key_matches: true,
                latest_handshake: None,
                endpoint: None,
                rx_bytes: 0,
                tx_bytes: 0,
            })),
            online_secs: 180,
            now: Utc::now(),
            ping: None,
            ports: MANAGEMENT_PORTS.iter().map(|(p, _)| (*p, None)).collect(),
        };
        let checks = router_checks(&facts);
        let handshake = checks.iter().find(|c| c.name == "handshake").unwrap();
        assert_eq!(handshake.status, Status::Fail);
        assert!(handshake.detail.contains("30m ago"), "{}", handshake.detail);
        let fix = handshake.fix.as_deref().unwrap();
        assert!(
            fix.contains("/interface wireguard peers print detail where interface=\"wg-hotspot\"")
        );
        assert!(fix.contains("/ping 10.100.0.1 count=3"));
        assert!(fix.contains("/system clock print"));
        assert_eq!(
            statuses(&checks)[..2],
            [("state", Status::Ok), ("peer", Status::Ok)]
        );
    }

    #[test]
    fn online_but_only_one_service_open() {
        let mut facts = RouterFacts {
            router: router(),
            hub_interface: "wg0".into(),
            peer: Ok(Some(PeerFacts {
                allowed_ips: vec!["10.100.1.1/32".parse().unwrap()],
                preshared_key_matches: true,
                latest_handshake: Some(Utc::now() - chrono::Duration::seconds(5)),
                endpoint: Some("192.0.2.2:4500".parse().unwrap()),
                rx_bytes: 1,
                tx_bytes: 1,
            })),
            online_secs: 180,
            now: Utc::now(),
            ping: Some(Ok(true)),
            ports: vec![
                (8291, Some(PortProbe::Refused)),
                (22, Some(PortProbe::Open)),
            ],
        };
        assert_eq!(
            statuses(&router_checks(&facts)),
            [
                ("state", Status::Ok),
                ("peer", Status::Ok),
                ("handshake", Status::Ok),
                ("ping", Status::Ok),
                ("tcp/8291", Status::Warn),
                ("tcp/22", Status::Ok)
            ]
        );
        facts.peer = Ok(Some(PeerFacts {
            preshared_key_matches: false,
            ..facts.peer.clone().unwrap().unwrap()
        }));
        assert_eq!(router_checks(&facts)[1].status, Status::Fail);
    }
}
