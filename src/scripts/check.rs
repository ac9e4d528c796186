//! Input checks shared by the generators. Names use the validators of `crate::model`, so the
//! generators refuse exactly what the command line and the console refuse. No message ever
//! contains a key.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::model::{Endpoint, HubName, InterfaceName, InvalidInput, RouterName, TenantName};

pub(crate) fn tenant(value: &str) -> Result<(), InvalidInput> {
    TenantName::parse(value).map(drop)
}

pub(crate) fn router(value: &str) -> Result<(), InvalidInput> {
    RouterName::parse(value).map(drop)
}

pub(crate) fn hub(value: &str) -> Result<(), InvalidInput> {
    HubName::parse(value).map(drop)
}

pub(crate) fn interface(value: &str) -> Result<(), InvalidInput> {
    InterfaceName::parse(value).map(drop)
}

/// A WireGuard key (private or preshared), by the one rule of `keys`: 32 bytes in canonical
/// padded base64, the only form `wg setconf` and RouterOS accept. The value itself never enters the message.
pub(crate) fn key(what: &str, value: &str) -> Result<(), InvalidInput> {
    if crate::keys::is_key(value) {
        Ok(())
    } else {
        Err(InvalidInput(format!(
            "{what} is not a WireGuard key (44 characters of base64 encoding 32 bytes)"
        )))
    }
}

/// `Endpoint` has public fields, so one built by hand skipped `Endpoint::parse`: parse again.
pub(crate) fn endpoint(value: &Endpoint) -> Result<(), InvalidInput> {
    let reparsed = Endpoint::parse(&value.to_string())?;
    if &reparsed == value {
        Ok(())
    } else {
        Err(InvalidInput(format!(
            "endpoint {value} is not in canonical HOST:PORT form"
        )))
    }
}

pub(crate) fn keepalive(seconds: u16) -> Result<(), InvalidInput> {
    if seconds == 0 {
        return Err(InvalidInput(
            "keepalive must be 1 to 65535 seconds (routers behind NAT need one; 25 is usual)"
                .into(),
        ));
    }
    Ok(())
}

pub(crate) fn port(what: &str, port: u16) -> Result<(), InvalidInput> {
    if port == 0 {
        return Err(InvalidInput(format!(
            "{what} must be a port from 1 to 65535"
        )));
    }
    Ok(())
}

/// The hub's address is inside the tenant subnet and a usable host of it.
pub(crate) fn hub_address(subnet: Ipv4Net, hub_ip: Ipv4Addr) -> Result<(), InvalidInput> {
    if subnet.prefix_len() > 30 || !is_host_of(subnet, hub_ip) {
        return Err(InvalidInput(format!(
            "hub address {hub_ip} is not a host address of the tenant subnet {subnet}"
        )));
    }
    Ok(())
}

/// The router's and the hub's tunnel addresses are distinct hosts of the tenant subnet.
pub(crate) fn tunnel_addresses(
    subnet: Ipv4Net,
    hub_ip: Ipv4Addr,
    router_ip: Ipv4Addr,
) -> Result<(), InvalidInput> {
    hub_address(subnet, hub_ip)?;
    if !is_host_of(subnet, router_ip) {
        return Err(InvalidInput(format!(
            "router address {router_ip} is not a host address of the tenant subnet {subnet}"
        )));
    }
    if router_ip == hub_ip {
        return Err(InvalidInput(format!(
            "router address {router_ip} is the hub's own address"
        )));
    }
    Ok(())
}

fn is_host_of(subnet: Ipv4Net, ip: Ipv4Addr) -> bool {
    subnet.contains(&ip) && ip != subnet.network() && ip != subnet.broadcast()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "YNqHbfBQKaGvzefSSuMbrrl4KeapwS1Rtn7/Ivf+dH0=";

    #[test]
    fn keys_must_be_canonical_32_byte_base64() {
        assert!(key("k", KEY).is_ok());
        // Same length, but the last character carries non-zero padding bits.
        assert!(key("k", "YNqHbfBQKaGvzefSSuMbrrl4KeapwS1Rtn7/Ivf+dH1=").is_err());
        assert!(key("k", &KEY[..43]).is_err());
        assert!(key("k", "").is_err());
        let err = key("router private key", "not\"a key$").unwrap_err();
        assert!(
            !err.0.contains("not\"a"),
            "the value must not be echoed: {err}"
        );
    }

    #[test]
    fn tunnel_addresses_stay_inside_the_subnet() {
        let net: Ipv4Net = "10.100.0.0/16".parse().unwrap();
        let hub: Ipv4Addr = "10.100.0.1".parse().unwrap();
        assert!(tunnel_addresses(net, hub, "10.100.1.1".parse().unwrap()).is_ok());
        for bad in ["10.101.1.1", "10.100.0.0", "10.100.255.255", "10.100.0.1"] {
            assert!(
                tunnel_addresses(net, hub, bad.parse().unwrap()).is_err(),
                "{bad}"
            );
        }
        assert!(hub_address(net, "10.99.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn hand_built_endpoints_are_rechecked() {
        let good = Endpoint::parse("vpn.example.com:51820").unwrap();
        assert!(endpoint(&good).is_ok());
        let bad = Endpoint {
            host: "vpn\"; /system reset".into(),
            port: 1,
        };
        assert!(endpoint(&bad).is_err());
        let zero = Endpoint {
            host: "vpn.example.com".into(),
            port: 0,
        };
        assert!(endpoint(&zero).is_err());
    }
}
