//! Provisioning material maps onto the generators field by field: rendering from
//! `RouterMaterial`/`HubMaterial` gives exactly what the same values give directly.

mod scripts_support;

use chrono::Utc;
use scripts_support::*;
use tikwire::model::{Hub, Router, RouterStatus, Tenant};
use tikwire::provision::{HubMaterial, HubPeer, RouterMaterial};
use tikwire::scripts::{
    HubConfigFormat, HubConfigInput, HubFirewallInput, RouterDocument, hub_config, hub_firewall,
    render_hub_config, render_hub_firewall, render_router, routeros_script, routeros_undo_script,
    wg_quick_compact, wg_quick_config,
};
use zeroize::Zeroizing;

fn hub_row() -> Hub {
    Hub {
        id: 7,
        name: "hub1".into(),
        endpoint: "vpn.example.com:51820".into(),
        endpoint_host: "vpn.example.com".into(),
        endpoint_port: 51820,
        interface: "wg0".into(),
        listen_port: 51820,
        public_key: HUB_PUBLIC.parse().unwrap(),
        routers: 3,
        created_at: Utc::now(),
        max_peers: 65278,
        mgmt_address: None,
    }
}

fn router_row() -> Router {
    Router {
        id: 42,
        name: "branch-01".into(),
        tenant: "acme".into(),
        tenant_id: 1,
        hub: "hub1".into(),
        hub_id: 7,
        vpn_ip: ip("10.100.1.1"),
        subnet_cidr: net("10.100.0.0/16"),
        hub_ip: ip("10.100.0.1"),
        public_key: R1_PUBLIC.parse().unwrap(),
        interface_name: "wg-hotspot".into(),
        keepalive: 25,
        enabled: true,
        status: RouterStatus::Pending,
        last_handshake_at: None,
        first_handshake_at: None,
        last_endpoint: None,
        rx_bytes: 0,
        tx_bytes: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        keys_created_at: Utc::now(),
        rotation_state: tikwire::model::RotationState::None,
        pending_public_key: None,
        rotation_staged_at: None,
    }
}

fn tenant_rows() -> Vec<Tenant> {
    two_tenants()
        .iter()
        .enumerate()
        .map(|(i, t)| Tenant {
            id: i as i64 + 1,
            name: t.name.into(),
            subnet_cidr: t.subnet,
            hub_ip: t.hub_ip,
            routers: 1,
            online: 0,
            capacity: 65278,
            created_at: Utc::now(),
            hub: Some("hub1".into()),
            other_hubs: Vec::new(),
        })
        .collect()
}

#[test]
fn router_material_renders_like_the_direct_input() {
    let material = RouterMaterial {
        router: router_row(),
        hub: hub_row(),
        private_key: Zeroizing::new(R1_PRIVATE.into()),
        preshared_key: Zeroizing::new(PSK1.into()),
    };
    let endpoint = endpoint();
    let direct = router_input(&endpoint);
    let cases = [
        (RouterDocument::RouterOs, routeros_script(&direct).unwrap()),
        (
            RouterDocument::RouterOsUndo,
            Zeroizing::new(routeros_undo_script(&direct).unwrap()),
        ),
        (RouterDocument::WgQuick, wg_quick_config(&direct).unwrap()),
        (
            RouterDocument::WgQuickCompact,
            wg_quick_compact(&direct).unwrap(),
        ),
    ];
    for (document, expected) in cases {
        assert_eq!(
            *render_router(&material, document).unwrap(),
            *expected,
            "{document:?}"
        );
    }
}

#[test]
fn hub_material_renders_like_the_direct_input() {
    let material = HubMaterial {
        hub: hub_row(),
        private_key: Zeroizing::new(HUB_PRIVATE.into()),
        tenants: tenant_rows(),
        peers: three_peers()
            .iter()
            .enumerate()
            .map(|(i, p)| HubPeer {
                router_id: i as i64,
                router: p.router.into(),
                tenant: p.tenant.into(),
                public_key: p.public_key,
                preshared_key: Zeroizing::new(p.preshared_key.into()),
                vpn_ip: p.vpn_ip,
                enabled: p.enabled,
                staged: None,
            })
            .collect(),
    };
    let (tenants, peers) = (two_tenants(), three_peers());
    let direct = HubConfigInput {
        hub: "hub1",
        interface: "wg0",
        private_key: HUB_PRIVATE,
        listen_port: 51820,
        tenants: &tenants,
        peers: &peers,
    };
    for format in [HubConfigFormat::WgQuick, HubConfigFormat::SetConf] {
        assert_eq!(
            *render_hub_config(&material, format).unwrap(),
            *hub_config(&direct, format).unwrap()
        );
    }
    for allow_same_tenant in [false, true] {
        let expected = hub_firewall(&HubFirewallInput {
            hub: "hub1",
            interface: "wg0",
            tenants: &tenants,
            allow_same_tenant,
        })
        .unwrap();
        assert_eq!(
            render_hub_firewall(&material.hub, &material.tenants, allow_same_tenant).unwrap(),
            expected
        );
    }
}

/// Rows from the database are checked again before rendering: a name that got in some other
/// way is refused, not printed.
#[test]
fn bad_rows_are_refused() {
    let mut router = router_row();
    router.name = "x\"; /system reset-configuration".into();
    let material = RouterMaterial {
        router,
        hub: hub_row(),
        private_key: Zeroizing::new(R1_PRIVATE.into()),
        preshared_key: Zeroizing::new(PSK1.into()),
    };
    for document in [
        RouterDocument::RouterOs,
        RouterDocument::RouterOsUndo,
        RouterDocument::WgQuick,
    ] {
        assert!(render_router(&material, document).is_err());
    }
}
