//! Fixed inputs for the script generator tests: throwaway keys made with `wg genkey`, so the
//! golden files never change.
#![allow(dead_code)]

pub mod rsc;

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use tikwire::model::Endpoint;
use tikwire::scripts::{HubPeerInput, HubTenantInput, RouterScriptInput};

pub const HUB_PRIVATE: &str = "wBuBlL6iMBuKig1pzgOnqnsu/aIQlqQPnhcInZpDBl4=";
pub const HUB_PUBLIC: &str = "pGg7S0L4+Dxwl7Lyzphbnw5B8dHZsBxiSBtMGcM0dUU=";
pub const R1_PRIVATE: &str = "oMwQsGeaaLGaKyz8FL0frjTf3cYuTqh9UqEds+XK8Xk=";
pub const R1_PUBLIC: &str = "ZBN9FflNqhA/SvIYMgFQftG2SA7NZbXhOeIER76+ixg=";
pub const R2_PUBLIC: &str = "vUrmO8CRiqJzUJav/bahGy3tKl2qcOH5QJ89JzE9ZBo=";
pub const R3_PUBLIC: &str = "kRW4IrmAvj6BGucs8RD38VzTecqyjMxBGGcU4cnENxc=";
pub const PSK1: &str = "MIMSAKzoP2rRanJBPDTO3ZG+jBQJ81xMMaGEIz0skkA=";
pub const PSK2: &str = "dyZyExoaWAEfMd1R9pKaD75xYcb84OiHYnsGNxLsTqE=";
pub const PSK3: &str = "+y+KUkrgrvFRk4hj2WS5RNVm+0cW3IuRH25BwyvhSQM=";

pub fn endpoint() -> Endpoint {
    Endpoint::parse("vpn.example.com:51820").unwrap()
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

/// Router `branch-01` of tenant `acme`, the first address of tenant subnet 10.100.0.0/16.
pub fn router_input(endpoint: &Endpoint) -> RouterScriptInput<'_> {
    RouterScriptInput {
        tenant: "acme",
        router: "branch-01",
        hub: "hub1",
        interface: "wg-hotspot",
        router_private_key: R1_PRIVATE,
        hub_public_key: HUB_PUBLIC.parse().unwrap(),
        preshared_key: PSK1,
        router_ip: ip("10.100.1.1"),
        hub_ip: ip("10.100.0.1"),
        subnet: net("10.100.0.0/16"),
        endpoint,
        keepalive: 25,
        dns: &[],
    }
}

pub const DNS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(10, 100, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
];

/// The longest names and host the validators accept, with every punctuation they allow.
pub const LONG_TENANT: &str = "T.e_n-a.n_t-012345678901234567890123456789012345678901234567890";
pub const LONG_ROUTER: &str = "9_r.o-u.t_e-r01234567890123456789012345678901234567890123456789";
pub const LONG_HUB: &str = "h.u_b-012345678901234567890123456789012345678901234567890123456";
pub const LONG_INTERFACE: &str = "wg.hot_spot-123";

pub fn long_host() -> String {
    // 4 labels of 63 + dots = 255 > 253, so 3 of 63 and one of 61: 253 characters.
    let label = "a-".repeat(31) + "b";
    format!("{label}.{label}.{label}.{}", &label[..61])
}

pub fn two_tenants() -> Vec<HubTenantInput<'static>> {
    vec![
        HubTenantInput {
            name: "acme",
            subnet: net("10.100.0.0/16"),
            hub_ip: ip("10.100.0.1"),
        },
        HubTenantInput {
            name: "globex",
            subnet: net("10.101.0.0/16"),
            hub_ip: ip("10.101.0.1"),
        },
    ]
}

/// Two acme routers (one disabled) and one globex router.
pub fn three_peers() -> Vec<HubPeerInput<'static>> {
    vec![
        HubPeerInput {
            tenant: "acme",
            router: "branch-01",
            public_key: R1_PUBLIC.parse().unwrap(),
            preshared_key: PSK1,
            vpn_ip: ip("10.100.1.1"),
            enabled: true,
        },
        HubPeerInput {
            tenant: "acme",
            router: "branch-02",
            public_key: R2_PUBLIC.parse().unwrap(),
            preshared_key: PSK2,
            vpn_ip: ip("10.100.1.2"),
            enabled: false,
        },
        HubPeerInput {
            tenant: "globex",
            router: "hq",
            public_key: R3_PUBLIC.parse().unwrap(),
            preshared_key: PSK3,
            vpn_ip: ip("10.101.1.1"),
            enabled: true,
        },
    ]
}
