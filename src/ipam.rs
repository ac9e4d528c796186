//! Address plan (pure logic): each tenant owns `10.X.0.0/16` with X from 100 to 254; the hub
//! is `10.X.0.1`; routers get `10.X.1.1` to `10.X.255.254`, identified by a host index
//! (0 = 10.X.1.1) so that allocation is integer arithmetic on an indexed column.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::model::InvalidInput;

pub const FIRST_TENANT_OCTET: u8 = 100;
pub const LAST_TENANT_OCTET: u8 = 254;
/// Tenants the default plan can hold (10.100 to 10.254).
pub const TENANT_CAPACITY: u32 = (LAST_TENANT_OCTET - FIRST_TENANT_OCTET) as u32 + 1;
/// Offset of 10.X.1.1 within the /16.
const FIRST_HOST_OFFSET: u32 = 256 + 1;
/// Offset of 10.X.255.254 within the /16.
const LAST_HOST_OFFSET: u32 = 255 * 256 + 254;
/// Router addresses per tenant: 10.X.1.1 to 10.X.255.254 (the seed's 65,534 counted the whole /16).
pub const ROUTERS_PER_TENANT: u32 = LAST_HOST_OFFSET - FIRST_HOST_OFFSET + 1;

/// Pool sizes; the defaults are the design's, smaller values exist for tests and staging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpamConfig {
    pub first_tenant_octet: u8,
    pub last_tenant_octet: u8,
    pub routers_per_tenant: u32,
}

impl Default for IpamConfig {
    fn default() -> Self {
        Self {
            first_tenant_octet: FIRST_TENANT_OCTET,
            last_tenant_octet: LAST_TENANT_OCTET,
            routers_per_tenant: ROUTERS_PER_TENANT,
        }
    }
}

impl IpamConfig {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.first_tenant_octet > self.last_tenant_octet {
            return Err(InvalidInput(format!(
                "ipam: first_tenant_octet {} is above last_tenant_octet {}",
                self.first_tenant_octet, self.last_tenant_octet
            )));
        }
        if !(1..=ROUTERS_PER_TENANT).contains(&self.routers_per_tenant) {
            return Err(InvalidInput(format!(
                "ipam: routers_per_tenant must be from 1 to {ROUTERS_PER_TENANT}"
            )));
        }
        Ok(())
    }

    pub fn tenant_capacity(&self) -> u32 {
        u32::from(self.last_tenant_octet - self.first_tenant_octet) + 1
    }
}

/// `10.X.0.0/16`.
pub fn tenant_subnet(octet: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(10, octet, 0, 0), 16).expect("16 is a valid prefix length")
}

/// The hub's address inside a tenant: `10.X.0.1`.
pub fn hub_address(octet: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, octet, 0, 1)
}

/// The router address for a host index (0 = `10.X.1.1`).
pub fn router_address(octet: u8, host_index: u32) -> Option<Ipv4Addr> {
    if host_index >= ROUTERS_PER_TENANT {
        return None;
    }
    let offset = FIRST_HOST_OFFSET + host_index;
    Some(Ipv4Addr::new(
        10,
        octet,
        (offset >> 8) as u8,
        (offset & 0xff) as u8,
    ))
}

/// The host index of a router address, if it lies in a tenant's router range.
pub fn host_index(address: Ipv4Addr) -> Option<(u8, u32)> {
    let [ten, octet, high, low] = address.octets();
    let offset = u32::from(high) << 8 | u32::from(low);
    (ten == 10 && (FIRST_HOST_OFFSET..=LAST_HOST_OFFSET).contains(&offset))
        .then(|| (octet, offset - FIRST_HOST_OFFSET))
}

/// First and last router address of a tenant with `capacity` addresses.
pub fn router_range(octet: u8, capacity: u32) -> (Ipv4Addr, Ipv4Addr) {
    let last = capacity.clamp(1, ROUTERS_PER_TENANT) - 1;
    (
        router_address(octet, 0).expect("index 0 is in range"),
        router_address(octet, last).expect("clamped into range"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn true_capacity_figures() {
        assert_eq!(ROUTERS_PER_TENANT, 65_278);
        assert_eq!(TENANT_CAPACITY, 155);
        assert_eq!(IpamConfig::default().tenant_capacity(), 155);
    }

    #[test]
    fn addresses_map_both_ways() {
        assert_eq!(router_address(100, 0), Some(Ipv4Addr::new(10, 100, 1, 1)));
        assert_eq!(
            router_address(100, 254),
            Some(Ipv4Addr::new(10, 100, 1, 255))
        );
        assert_eq!(router_address(100, 255), Some(Ipv4Addr::new(10, 100, 2, 0)));
        assert_eq!(
            router_address(254, 65_277),
            Some(Ipv4Addr::new(10, 254, 255, 254))
        );
        assert_eq!(router_address(254, 65_278), None);
        for index in [0, 1, 254, 255, 1000, 65_277] {
            let address = router_address(123, index).unwrap();
            assert_eq!(host_index(address), Some((123, index)));
        }
        assert_eq!(host_index(Ipv4Addr::new(10, 100, 0, 1)), None);
        assert_eq!(host_index(Ipv4Addr::new(10, 100, 255, 255)), None);
        assert_eq!(hub_address(100), Ipv4Addr::new(10, 100, 0, 1));
        assert_eq!(tenant_subnet(101).to_string(), "10.101.0.0/16");
        assert_eq!(router_range(100, 10).1, Ipv4Addr::new(10, 100, 1, 10));
    }

    #[test]
    fn config_validation() {
        assert!(IpamConfig::default().validate().is_ok());
        let bad = IpamConfig {
            routers_per_tenant: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = IpamConfig {
            first_tenant_octet: 200,
            last_tenant_octet: 100,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
