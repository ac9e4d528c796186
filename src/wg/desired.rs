//! The hub interface as the database wants it: the input of the planners.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};
use zeroize::Zeroizing;

use crate::keys::PublicKey;

/// The hub interface as the database wants it.
pub struct DesiredInterface {
    pub private_key: Zeroizing<String>,
    /// Public key of `private_key`, to notice a wrong key without handling the secret.
    pub public_key: PublicKey,
    pub listen_port: u16,
    /// The hub's address in each tenant with routers on this hub (10.X.0.1/16).
    pub addresses: Vec<Ipv4Net>,
    pub peers: Vec<DesiredPeer>,
}

/// One router as a peer of the hub.
pub struct DesiredPeer {
    /// "tenant/router", for logs.
    pub label: String,
    pub public_key: PublicKey,
    pub preshared_key: Zeroizing<String>,
    /// The router's tunnel address (/32), normalised.
    pub allowed_ips: Vec<IpNet>,
}

impl fmt::Debug for DesiredInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesiredInterface")
            .field("public_key", &self.public_key)
            .field("listen_port", &self.listen_port)
            .field("addresses", &self.addresses)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DesiredPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesiredPeer")
            .field("label", &self.label)
            .field("public_key", &self.public_key)
            .field("allowed_ips", &self.allowed_ips)
            .finish_non_exhaustive()
    }
}

impl DesiredInterface {
    /// The hub as the database describes it: enabled routers only (disabled ones lose
    /// their peer), and the hub's address in each tenant it serves. A router with a staged
    /// rotation has a second peer, its staged key, without allowed IPs: a handshake needs
    /// none, and the router's address stays with the key it uses now until the cut-over.
    pub fn from_material(material: &crate::provision::HubMaterial) -> Self {
        let mut peers = Vec::with_capacity(material.peers.len());
        for p in material.peers.iter().filter(|p| p.enabled) {
            let label = format!("{}/{}", p.tenant, p.router);
            if let Some(staged) = &p.staged {
                peers.push(DesiredPeer::staged(
                    format!("{label} (staged key)"),
                    staged.public_key,
                    staged.preshared_key.clone(),
                ));
            }
            peers.push(DesiredPeer::new(
                label,
                p.public_key,
                p.preshared_key.clone(),
                p.vpn_ip,
            ));
        }
        let mut addresses: Vec<Ipv4Net> = material
            .tenants
            .iter()
            .filter_map(|t| Ipv4Net::new(t.hub_ip, t.subnet_cidr.prefix_len()).ok())
            .collect();
        addresses.sort();
        addresses.dedup();
        Self {
            private_key: material.private_key.clone(),
            public_key: material.hub.public_key,
            listen_port: material.hub.listen_port,
            addresses,
            peers,
        }
    }
}

impl DesiredPeer {
    pub fn new(
        label: String,
        public_key: PublicKey,
        preshared_key: Zeroizing<String>,
        vpn_ip: Ipv4Addr,
    ) -> Self {
        Self {
            label,
            public_key,
            preshared_key,
            allowed_ips: vec![IpNet::V4(Ipv4Net::from(vpn_ip))],
        }
    }

    /// A router's staged key: a peer that may shake hands but routes nothing yet.
    pub fn staged(label: String, public_key: PublicKey, preshared_key: Zeroizing<String>) -> Self {
        Self {
            label,
            public_key,
            preshared_key,
            allowed_ips: Vec::new(),
        }
    }
}
