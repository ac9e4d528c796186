//! The interface's link state and addresses, read from `ip -j addr show dev IFACE`.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Deserialize;

/// The interface's link state and IPv4 addresses, as `ip -j addr show dev IFACE` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkInfo {
    pub up: bool,
    pub addresses: Vec<Ipv4Net>,
}

/// Parses `ip -j addr show dev IFACE`.
pub fn parse_link_info(json: &[u8]) -> Result<LinkInfo, String> {
    #[derive(Deserialize)]
    struct Link {
        #[serde(default)]
        flags: Vec<String>,
        #[serde(default)]
        addr_info: Vec<Addr>,
    }
    #[derive(Deserialize)]
    struct Addr {
        family: String,
        local: Option<String>,
        prefixlen: Option<u8>,
    }
    let bad = |why: String| format!("cannot read `ip -j addr` output: {why}");
    let links: Vec<Link> = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let link = links
        .into_iter()
        .next()
        .ok_or_else(|| bad("no interface listed".into()))?;
    let mut addresses = Vec::new();
    for addr in link.addr_info.iter().filter(|a| a.family == "inet") {
        let (Some(local), Some(len)) = (&addr.local, addr.prefixlen) else {
            continue;
        };
        let ip: Ipv4Addr = local
            .parse()
            .map_err(|_| bad(format!("address {local:?}")))?;
        addresses.push(Ipv4Net::new(ip, len).map_err(|_| bad(format!("prefix /{len}")))?);
    }
    Ok(LinkInfo {
        up: link.flags.iter().any(|f| f == "UP"),
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_json() {
        let json =
            br#"[{"ifindex":7,"ifname":"wg0","flags":["POINTOPOINT","NOARP","UP","LOWER_UP"],
            "addr_info":[{"family":"inet","local":"10.100.0.1","prefixlen":16},
                         {"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
        let info = parse_link_info(json).unwrap();
        assert!(info.up);
        assert_eq!(
            info.addresses,
            vec!["10.100.0.1/16".parse::<Ipv4Net>().unwrap()]
        );
        let down = parse_link_info(
            br#"[{"ifname":"wg0","flags":["POINTOPOINT","NOARP"],"addr_info":[]}]"#,
        )
        .unwrap();
        assert!(!down.up && down.addresses.is_empty());
        assert!(parse_link_info(b"[]").is_err());
        assert!(parse_link_info(b"not json").is_err());
    }
}
