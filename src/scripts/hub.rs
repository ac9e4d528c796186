//! The hub's WireGuard interface with one peer per enabled router.
//!
//! wg-quick form: private key, listen port, one `Address` per tenant the hub serves
//! (10.X.0.1/16, which also gives the hub its route to every router of that tenant).
//! setconf form: what `wg setconf` / `wg syncconf` take, so no `Address`.
//! Peers have no `Endpoint`: routers sit behind NAT and dial in; AllowedIPs is the router's /32.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use zeroize::Zeroizing;

use crate::keys::PublicKey;
use crate::model::InvalidInput;

use super::check;
use super::quote::push_comment;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubConfigFormat {
    /// For `wg-quick up`: with `Address` lines.
    WgQuick,
    /// For `wg setconf` / `wg syncconf`: keys, port and peers only.
    SetConf,
}

impl FromStr for HubConfigFormat {
    type Err = InvalidInput;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "wg-quick" => Ok(Self::WgQuick),
            "setconf" => Ok(Self::SetConf),
            other => Err(InvalidInput(format!(
                "hub config format {:?} is unknown; use wg-quick or setconf",
                other.escape_debug().to_string()
            ))),
        }
    }
}

/// A tenant the hub serves.
#[derive(Debug, Clone, Copy)]
pub struct HubTenantInput<'a> {
    pub name: &'a str,
    /// e.g. 10.100.0.0/16
    pub subnet: Ipv4Net,
    /// e.g. 10.100.0.1
    pub hub_ip: Ipv4Addr,
}

/// One router as the hub sees it.
#[derive(Clone, Copy)]
pub struct HubPeerInput<'a> {
    pub tenant: &'a str,
    pub router: &'a str,
    pub public_key: PublicKey,
    /// Secret.
    pub preshared_key: &'a str,
    pub vpn_ip: Ipv4Addr,
    /// Disabled routers are left out of the config.
    pub enabled: bool,
}

impl fmt::Debug for HubPeerInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubPeerInput")
            .field("tenant", &self.tenant)
            .field("router", &self.router)
            .field("public_key", &self.public_key)
            .field("preshared_key", &"<redacted>")
            .field("vpn_ip", &self.vpn_ip)
            .field("enabled", &self.enabled)
            .finish()
    }
}

#[derive(Clone, Copy)]
pub struct HubConfigInput<'a> {
    pub hub: &'a str,
    pub interface: &'a str,
    /// Secret.
    pub private_key: &'a str,
    pub listen_port: u16,
    pub tenants: &'a [HubTenantInput<'a>],
    pub peers: &'a [HubPeerInput<'a>],
}

impl fmt::Debug for HubConfigInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfigInput")
            .field("hub", &self.hub)
            .field("interface", &self.interface)
            .field("private_key", &"<redacted>")
            .field("listen_port", &self.listen_port)
            .field("tenants", &self.tenants)
            .field("peers", &self.peers.len())
            .finish()
    }
}

impl HubConfigInput<'_> {
    /// Every value is checked, and the peers against each other: one key or address twice
    /// would make WireGuard silently merge peers or steal a route.
    fn check(&self) -> Result<(), InvalidInput> {
        check::hub(self.hub)?;
        check::interface(self.interface)?;
        check::key("hub private key", self.private_key)?;
        check::port("listen port", self.listen_port)?;
        let subnets = check_tenants(self.tenants)?;
        let mut keys = HashSet::with_capacity(self.peers.len());
        let mut addresses = HashSet::with_capacity(self.peers.len());
        for peer in self.peers.iter().filter(|p| p.enabled) {
            check_peer(peer, &subnets)?;
            if !keys.insert(peer.public_key) {
                return Err(InvalidInput(format!(
                    "router {}/{} has the same public key as another router",
                    peer.tenant, peer.router
                )));
            }
            if !addresses.insert(peer.vpn_ip) {
                return Err(InvalidInput(format!(
                    "router {}/{} has the address {} of another router",
                    peer.tenant, peer.router, peer.vpn_ip
                )));
            }
        }
        Ok(())
    }
}

/// Tenant name -> subnet, after checking names, hub addresses and that no subnets overlap.
fn check_tenants<'a>(
    tenants: &[HubTenantInput<'a>],
) -> Result<HashMap<&'a str, Ipv4Net>, InvalidInput> {
    let mut subnets: HashMap<&str, Ipv4Net> = HashMap::with_capacity(tenants.len());
    for tenant in tenants {
        check::tenant(tenant.name)?;
        check::hub_address(tenant.subnet, tenant.hub_ip)?;
        if let Some(other) = subnets
            .iter()
            .find(|(_, net)| net.contains(&tenant.subnet) || tenant.subnet.contains(*net))
        {
            return Err(InvalidInput(format!(
                "tenant {} has subnet {} overlapping tenant {}'s {}",
                tenant.name, tenant.subnet, other.0, other.1
            )));
        }
        subnets.insert(tenant.name, tenant.subnet);
    }
    Ok(subnets)
}

fn check_peer(peer: &HubPeerInput, subnets: &HashMap<&str, Ipv4Net>) -> Result<(), InvalidInput> {
    check::tenant(peer.tenant)?;
    check::router(peer.router)?;
    let what = format!("router {}/{}", peer.tenant, peer.router);
    check::key(&format!("{what}: preshared key"), peer.preshared_key)?;
    let subnet = subnets.get(peer.tenant).ok_or_else(|| {
        InvalidInput(format!(
            "{what}: tenant {} is not among the hub's tenants",
            peer.tenant
        ))
    })?;
    if !subnet.contains(&peer.vpn_ip) {
        return Err(InvalidInput(format!(
            "{what}: address {} is outside the tenant subnet {subnet}",
            peer.vpn_ip
        )));
    }
    Ok(())
}

/// An upper bound of the config's size, so the text never regrows (regrowth would leave
/// copies of keys behind): per peer the fixed text and keys (about 140 bytes with a blank line,
/// `[Peer]` and the comment's `# ` and `/`), names that may wrap onto a second comment line,
/// and an address of at most 18.
fn capacity_for(input: &HubConfigInput) -> usize {
    let peers: usize = input
        .peers
        .iter()
        .filter(|p| p.enabled)
        .map(|p| 180 + p.tenant.len() + p.router.len())
        .sum();
    512 + input.hub.len() + input.interface.len() + 32 * input.tenants.len() + peers
}

/// The hub's config in the chosen form. Holds the hub's private key and every preshared key,
/// so it is wiped from memory when dropped.
pub fn hub_config(
    input: &HubConfigInput,
    format: HubConfigFormat,
) -> Result<Zeroizing<String>, InvalidInput> {
    input.check()?;
    let enabled = input.peers.iter().filter(|p| p.enabled).count();
    let mut out = Zeroizing::new(String::with_capacity(capacity_for(input)));
    push_comment(
        &mut out,
        &format!(
            "tikwire: hub {} interface {}, {}, {}",
            input.hub,
            input.interface,
            crate::format::counted(input.tenants.len() as i64, "tenant"),
            crate::format::counted(enabled as i64, "enabled router")
        ),
    );
    out.push_str("[Interface]\n");
    let _ = writeln!(out, "PrivateKey = {}", input.private_key);
    let _ = writeln!(out, "ListenPort = {}", input.listen_port);
    if format == HubConfigFormat::WgQuick {
        for tenant in input.tenants {
            let _ = writeln!(
                out,
                "Address = {}/{}",
                tenant.hub_ip,
                tenant.subnet.prefix_len()
            );
        }
    }
    for peer in input.peers.iter().filter(|p| p.enabled) {
        out.push('\n');
        push_comment(&mut out, &format!("{}/{}", peer.tenant, peer.router));
        out.push_str("[Peer]\n");
        let _ = writeln!(out, "PublicKey = {}", peer.public_key);
        let _ = writeln!(out, "PresharedKey = {}", peer.preshared_key);
        let _ = writeln!(out, "AllowedIPs = {}/32", peer.vpn_ip);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// The longest names everywhere: the config still fits the size reserved up front.
    #[test]
    fn config_never_outgrows_its_reserved_size() {
        let (tenant, hub) = ("t".repeat(63), "h".repeat(63));
        let routers: Vec<String> = (0..200).map(|i| format!("{i:0>63}")).collect();
        let keys: Vec<String> = (0..200u8).map(|i| STANDARD.encode([i; 32])).collect();
        let public: Vec<PublicKey> = (0..200u8).map(|i| PublicKey::from_bytes([i; 32])).collect();
        let peers: Vec<HubPeerInput> = (0..200)
            .map(|i| HubPeerInput {
                tenant: &tenant,
                router: &routers[i],
                public_key: public[i],
                preshared_key: &keys[0],
                vpn_ip: Ipv4Addr::new(10, 254, 255, i as u8 + 1),
                enabled: true,
            })
            .collect();
        let tenants = [HubTenantInput {
            name: &tenant,
            subnet: "10.254.0.0/16".parse().unwrap(),
            hub_ip: Ipv4Addr::new(10, 254, 0, 1),
        }];
        let input = HubConfigInput {
            hub: &hub,
            interface: "wg.hot_spot-123",
            private_key: &keys[1],
            listen_port: 65535,
            tenants: &tenants,
            peers: &peers,
        };
        for format in [HubConfigFormat::WgQuick, HubConfigFormat::SetConf] {
            let config = hub_config(&input, format).unwrap();
            assert_eq!(config.capacity(), capacity_for(&input));
        }
    }
}
