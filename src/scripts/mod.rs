//! Generators for everything tikwire hands to a router or a hub: the RouterOS script (and its
//! undo), the wg-quick config (and its QR payload), the hub's WireGuard config and its
//! nftables rules.
//!
//! Every generator is a pure function from a borrowed input struct to a `String` (wrapped in
//! `Zeroizing` when it holds a key): no database, no IO. `material` maps what `provision`
//! hands out onto those inputs. Inputs hold plain `&str` so any caller can fill them; each generator validates every
//! value first (with the same validators as `crate::model`) and only then renders, quoting what
//! it prints. A value that could change what a script does is refused with one line naming
//! what is allowed, and nothing is rendered.

mod check;
pub mod hub;
pub mod material;
pub mod nft;
pub mod quote;
pub mod routeros;
pub mod routes;
pub mod wg_quick;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;

use crate::keys::PublicKey;
use crate::model::{Endpoint, InvalidInput};

pub use hub::{HubConfigFormat, HubConfigInput, HubPeerInput, HubTenantInput, hub_config};
pub use material::{
    RouterDocument, render_hub_config, render_hub_firewall, render_router, router_input,
};
pub use nft::{HubFirewallInput, hub_firewall};
pub use routeros::{MIN_ROUTEROS_VERSION, routeros_script, routeros_undo_script};
pub use routes::{MgmtRoute, RouteFormat, mgmt_routes};
pub use wg_quick::{wg_quick_compact, wg_quick_config};

/// What a router needs to join its hub: one router identity, as the script and the wg-quick
/// config both describe it.
#[derive(Clone, Copy)]
pub struct RouterScriptInput<'a> {
    pub tenant: &'a str,
    pub router: &'a str,
    pub hub: &'a str,
    /// The router's WireGuard interface, e.g. `wg-hotspot`.
    pub interface: &'a str,
    /// Base64, as `wg genkey` prints it. Secret.
    pub router_private_key: &'a str,
    pub hub_public_key: PublicKey,
    /// Base64, as `wg genpsk` prints it. Secret.
    pub preshared_key: &'a str,
    /// The router's tunnel address, e.g. 10.100.1.1.
    pub router_ip: Ipv4Addr,
    /// The hub's tunnel address in the router's tenant, e.g. 10.100.0.1.
    pub hub_ip: Ipv4Addr,
    /// The tenant's subnet, e.g. 10.100.0.0/16.
    pub subnet: Ipv4Net,
    /// Where the router reaches the hub.
    pub endpoint: &'a Endpoint,
    /// Persistent keepalive in seconds (the router is behind NAT).
    pub keepalive: u16,
    /// DNS servers for the wg-quick form only; usually empty (a management tunnel).
    pub dns: &'a [IpAddr],
}

/// Keys are never printed, not even in Debug output.
impl fmt::Debug for RouterScriptInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterScriptInput")
            .field("tenant", &self.tenant)
            .field("router", &self.router)
            .field("hub", &self.hub)
            .field("interface", &self.interface)
            .field("router_private_key", &"<redacted>")
            .field("hub_public_key", &self.hub_public_key)
            .field("preshared_key", &"<redacted>")
            .field("router_ip", &self.router_ip)
            .field("hub_ip", &self.hub_ip)
            .field("subnet", &self.subnet)
            .field("endpoint", &self.endpoint)
            .field("keepalive", &self.keepalive)
            .field("dns", &self.dns)
            .finish()
    }
}

impl RouterScriptInput<'_> {
    /// The names and addresses every format prints (the undo script needs no more).
    fn check_identity(&self) -> Result<(), InvalidInput> {
        check::tenant(self.tenant)?;
        check::router(self.router)?;
        check::hub(self.hub)?;
        check::interface(self.interface)?;
        check::tunnel_addresses(self.subnet, self.hub_ip, self.router_ip)
    }

    /// Everything, before rendering an install script or a wg-quick config.
    fn check(&self) -> Result<(), InvalidInput> {
        self.check_identity()?;
        check::key("router private key", self.router_private_key)?;
        check::key("preshared key", self.preshared_key)?;
        check::endpoint(self.endpoint)?;
        check::keepalive(self.keepalive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "YNqHbfBQKaGvzefSSuMbrrl4KeapwS1Rtn7/Ivf+dH0=";

    /// The texts holding keys are sized up front and never regrow (a regrowth would leave a
    /// copy of the key in freed memory that `Zeroizing` cannot wipe), even for the longest
    /// values the validators accept.
    #[test]
    fn secret_texts_never_outgrow_their_reserved_size() {
        let label = "a-".repeat(31) + "b";
        let long_host = format!("{label}.{label}.{label}.{}", &label[..61]);
        let endpoints = [
            Endpoint::parse(&format!("{long_host}:65535")).unwrap(),
            Endpoint::parse("[2001:db8:1234:5678:9abc:def0:1234:5678]:1").unwrap(),
            Endpoint::parse("v.io:1").unwrap(),
        ];
        let dns = [IpAddr::V6("2001:db8:1234:5678:9abc:def0:1234:5678".parse().unwrap()); 8];
        let long = "x".repeat(63);
        for endpoint in &endpoints {
            for (name, interface, dns) in [
                (&long[..], "wg.hot_spot-123", &dns[..]),
                ("a", "w", &[][..]),
            ] {
                let input = RouterScriptInput {
                    tenant: name,
                    router: name,
                    hub: name,
                    interface,
                    router_private_key: KEY,
                    hub_public_key: KEY.parse().unwrap(),
                    preshared_key: KEY,
                    router_ip: Ipv4Addr::new(10, 254, 255, 254),
                    hub_ip: Ipv4Addr::new(10, 254, 0, 1),
                    subnet: "10.254.0.0/16".parse().unwrap(),
                    endpoint,
                    keepalive: 65535,
                    dns,
                };
                let reserved = routeros::capacity_for(&input);
                assert_eq!(routeros_script(&input).unwrap().capacity(), reserved);
                let reserved = wg_quick::capacity_for(&input);
                assert_eq!(wg_quick_config(&input).unwrap().capacity(), reserved);
                assert_eq!(wg_quick_compact(&input).unwrap().capacity(), reserved);
            }
        }
    }
}
