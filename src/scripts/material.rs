//! From what `provision` hands out (rows and unsealed keys) to the generators' inputs, so the
//! command line and the console render exactly the same text.

use zeroize::Zeroizing;

use crate::model::{Endpoint, Hub, InvalidInput, Tenant};
use crate::provision::{HubMaterial, RouterMaterial};

use super::hub::{HubConfigFormat, HubConfigInput, HubPeerInput, HubTenantInput, hub_config};
use super::nft::{HubFirewallInput, hub_firewall};
use super::{
    RouterScriptInput, routeros_script, routeros_undo_script, wg_quick_compact, wg_quick_config,
};

/// What to render for one router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterDocument {
    /// The RouterOS v7 script that puts the router on its hub.
    RouterOs,
    /// The RouterOS v7 script that removes what `RouterOs` added (holds no key).
    RouterOsUndo,
    /// A wg-quick config of the same identity (Linux, phones, laptops).
    WgQuick,
    /// The wg-quick config without comments or blank lines: the QR payload.
    WgQuickCompact,
}

/// Renders one router document. The result may hold the router's private key: it is wiped
/// from memory when dropped.
pub fn render_router(
    material: &RouterMaterial,
    document: RouterDocument,
) -> Result<Zeroizing<String>, InvalidInput> {
    let endpoint = hub_endpoint(&material.hub);
    let input = router_input(material, &endpoint);
    match document {
        RouterDocument::RouterOs => routeros_script(&input),
        RouterDocument::RouterOsUndo => routeros_undo_script(&input).map(Zeroizing::new),
        RouterDocument::WgQuick => wg_quick_config(&input),
        RouterDocument::WgQuickCompact => wg_quick_compact(&input),
    }
}

/// The generators' view of a router's material.
pub fn router_input<'a>(
    material: &'a RouterMaterial,
    endpoint: &'a Endpoint,
) -> RouterScriptInput<'a> {
    let router = &material.router;
    RouterScriptInput {
        tenant: &router.tenant,
        router: &router.name,
        hub: &material.hub.name,
        interface: &router.interface_name,
        router_private_key: &material.private_key,
        hub_public_key: material.hub.public_key,
        preshared_key: &material.preshared_key,
        router_ip: router.vpn_ip,
        hub_ip: router.hub_ip,
        subnet: router.subnet_cidr,
        endpoint,
        keepalive: router.keepalive,
        dns: &[],
    }
}

/// Where routers reach `hub`.
pub fn hub_endpoint(hub: &Hub) -> Endpoint {
    Endpoint {
        host: hub.endpoint_host.clone(),
        port: hub.endpoint_port,
    }
}

/// The hub's interface config with one peer per enabled router. Holds secrets: wiped from
/// memory when dropped.
pub fn render_hub_config(
    material: &HubMaterial,
    format: HubConfigFormat,
) -> Result<Zeroizing<String>, InvalidInput> {
    let tenants = tenant_inputs(&material.tenants);
    let peers: Vec<HubPeerInput> = material
        .peers
        .iter()
        .map(|p| HubPeerInput {
            tenant: &p.tenant,
            router: &p.router,
            public_key: p.public_key,
            preshared_key: &p.preshared_key,
            vpn_ip: p.vpn_ip,
            enabled: p.enabled,
        })
        .collect();
    hub_config(
        &HubConfigInput {
            hub: &material.hub.name,
            interface: &material.hub.interface,
            private_key: &material.private_key,
            listen_port: material.hub.listen_port,
            tenants: &tenants,
            peers: &peers,
        },
        format,
    )
}

/// The hub's nftables ruleset. Needs no secret: `tenants` are the ones the hub serves (only
/// used when routers of one tenant may reach each other).
pub fn render_hub_firewall(
    hub: &Hub,
    tenants: &[Tenant],
    allow_same_tenant: bool,
) -> Result<String, InvalidInput> {
    let tenants = tenant_inputs(tenants);
    hub_firewall(&HubFirewallInput {
        hub: &hub.name,
        interface: &hub.interface,
        tenants: &tenants,
        allow_same_tenant,
    })
}

fn tenant_inputs(tenants: &[Tenant]) -> Vec<HubTenantInput<'_>> {
    tenants
        .iter()
        .map(|t| HubTenantInput {
            name: &t.name,
            subnet: t.subnet_cidr,
            hub_ip: t.hub_ip,
        })
        .collect()
}
