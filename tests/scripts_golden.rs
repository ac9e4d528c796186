//! Golden files for every format the generators print, with fixed keys.
//! Review changes with `cargo insta review` (or INSTA_UPDATE=always and `git diff`).

mod scripts_support;

use scripts_support::*;
use tikwire::scripts::{
    HubConfigFormat, HubConfigInput, HubFirewallInput, hub_config, hub_firewall, routeros_script,
    routeros_undo_script, wg_quick_compact, wg_quick_config,
};

#[test]
fn routeros_install() {
    let endpoint = endpoint();
    insta::assert_snapshot!(routeros_script(&router_input(&endpoint)).unwrap().as_str());
}

#[test]
fn routeros_undo() {
    let endpoint = endpoint();
    insta::assert_snapshot!(routeros_undo_script(&router_input(&endpoint)).unwrap());
}

/// Longest names, every punctuation allowed, a 253-character host and an IPv6 endpoint:
/// wrapped header lines and a host split over `:set` lines.
#[test]
fn routeros_install_long_values() {
    let endpoint = tikwire::model::Endpoint::parse(&format!("{}:443", long_host())).unwrap();
    let input = tikwire::scripts::RouterScriptInput {
        tenant: LONG_TENANT,
        router: LONG_ROUTER,
        hub: LONG_HUB,
        interface: LONG_INTERFACE,
        router_ip: ip("10.254.255.254"),
        hub_ip: ip("10.254.0.1"),
        subnet: net("10.254.0.0/16"),
        keepalive: 65535,
        ..router_input(&endpoint)
    };
    insta::assert_snapshot!(routeros_script(&input).unwrap().as_str());
}

#[test]
fn routeros_install_ipv6_endpoint() {
    let endpoint = tikwire::model::Endpoint::parse("[2001:db8::1]:51820").unwrap();
    insta::assert_snapshot!(routeros_script(&router_input(&endpoint)).unwrap().as_str());
}

#[test]
fn wg_quick_full() {
    let endpoint = endpoint();
    insta::assert_snapshot!(wg_quick_config(&router_input(&endpoint)).unwrap().as_str());
}

#[test]
fn wg_quick_with_dns_and_ipv6_endpoint() {
    let endpoint = tikwire::model::Endpoint::parse("[2001:db8::1]:51820").unwrap();
    let input = tikwire::scripts::RouterScriptInput {
        dns: &DNS,
        ..router_input(&endpoint)
    };
    insta::assert_snapshot!(wg_quick_config(&input).unwrap().as_str());
}

#[test]
fn wg_quick_qr_payload() {
    let endpoint = endpoint();
    let compact = wg_quick_compact(&router_input(&endpoint)).unwrap();
    assert!(!compact.contains('#') && !compact.contains("\n\n"));
    insta::assert_snapshot!(compact.as_str());
}

fn hub_input<'a>(
    tenants: &'a [tikwire::scripts::HubTenantInput<'a>],
    peers: &'a [tikwire::scripts::HubPeerInput<'a>],
) -> HubConfigInput<'a> {
    HubConfigInput {
        hub: "hub1",
        interface: "wg0",
        private_key: HUB_PRIVATE,
        listen_port: 51820,
        tenants,
        peers,
    }
}

#[test]
fn hub_wg_quick() {
    let (tenants, peers) = (two_tenants(), three_peers());
    insta::assert_snapshot!(
        hub_config(&hub_input(&tenants, &peers), HubConfigFormat::WgQuick)
            .unwrap()
            .as_str()
    );
}

#[test]
fn hub_setconf() {
    let (tenants, peers) = (two_tenants(), three_peers());
    insta::assert_snapshot!(
        hub_config(&hub_input(&tenants, &peers), HubConfigFormat::SetConf)
            .unwrap()
            .as_str()
    );
}

#[test]
fn hub_firewall_default() {
    let tenants = two_tenants();
    let input = HubFirewallInput {
        hub: "hub1",
        interface: "wg0",
        tenants: &tenants,
        allow_same_tenant: false,
    };
    insta::assert_snapshot!(hub_firewall(&input).unwrap());
}

#[test]
fn hub_firewall_same_tenant_allowed() {
    let tenants = two_tenants();
    let input = HubFirewallInput {
        hub: "hub1",
        interface: "wg0",
        tenants: &tenants,
        allow_same_tenant: true,
    };
    insta::assert_snapshot!(hub_firewall(&input).unwrap());
}
