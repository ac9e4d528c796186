//! The planners: what must change so the interface matches the database. Pure: desired
//! state in, a plan out; nothing here runs a command.

use std::collections::{HashMap, HashSet};
use std::fmt;

use ipnet::{IpNet, Ipv4Net};

use super::desired::DesiredInterface;
use super::dump::{Dump, PeerLine};
use super::link::LinkInfo;
use crate::keys::PublicKey;
use crate::store::rotation::StagedRotation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Remove peers the database does not know (deleted or disabled routers, strangers).
    /// Off: they stay and are reported as unknown.
    pub remove_unknown: bool,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        Self {
            remove_unknown: true,
        }
    }
}

/// What differs on an existing peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fix {
    pub preshared_key: bool,
    pub allowed_ips: bool,
}

/// The changes that make the interface match. Holds no secret: peers are indexes into
/// [`DesiredInterface::peers`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub set_private_key: bool,
    pub set_listen_port: Option<u16>,
    pub add: Vec<usize>,
    pub update: Vec<(usize, Fix)>,
    /// Public keys of peers to remove.
    pub remove: Vec<PublicKey>,
    /// Public keys of peers neither desired nor removed (with `remove_unknown` off).
    pub unknown_kept: Vec<PublicKey>,
}

impl Plan {
    /// True when the interface already matches: no `wg` command is needed.
    pub fn is_empty(&self) -> bool {
        !self.set_private_key
            && self.set_listen_port.is_none()
            && self.add.is_empty()
            && self.update.is_empty()
            && self.remove.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let psk = self
            .update
            .iter()
            .filter(|(_, fix)| fix.preshared_key)
            .count();
        let ips = self
            .update
            .iter()
            .filter(|(_, fix)| fix.allowed_ips)
            .count();
        write!(
            f,
            "add {} peers, update {} (preshared key {psk}, allowed IPs {ips}), remove {}",
            self.add.len(),
            self.update.len(),
            self.remove.len()
        )?;
        if self.set_private_key {
            f.write_str(", set the interface key")?;
        }
        if let Some(port) = self.set_listen_port {
            write!(f, ", set listen port {port}")?;
        }
        Ok(())
    }
}

/// Compares the desired interface with what `wg show IFACE dump` reported.
pub fn plan(desired: &DesiredInterface, actual: &Dump<'_>, options: ReconcileOptions) -> Plan {
    let actual_peers: HashMap<PublicKey, &PeerLine<'_>> =
        actual.peers.iter().map(|p| (p.public_key, p)).collect();
    let mut plan = Plan {
        set_private_key: actual.interface.public_key != Some(desired.public_key),
        set_listen_port: (actual.interface.listen_port != desired.listen_port)
            .then_some(desired.listen_port),
        ..Plan::default()
    };
    let mut wanted = HashSet::with_capacity(desired.peers.len());
    for (index, peer) in desired.peers.iter().enumerate() {
        wanted.insert(peer.public_key);
        match actual_peers.get(&peer.public_key) {
            None => plan.add.push(index),
            Some(present) => {
                let fix = Fix {
                    preshared_key: present.preshared_key.map(|k| k.expose())
                        != Some(peer.preshared_key.as_str()),
                    allowed_ips: !same_set(&present.allowed_ips, &peer.allowed_ips),
                };
                if fix.preshared_key || fix.allowed_ips {
                    plan.update.push((index, fix));
                }
            }
        }
    }
    let strangers = actual
        .peers
        .iter()
        .filter(|p| !wanted.contains(&p.public_key))
        .map(|p| p.public_key);
    if options.remove_unknown {
        plan.remove.extend(strangers);
    } else {
        plan.unknown_kept.extend(strangers);
    }
    plan
}

fn same_set(actual: &[IpNet], desired: &[IpNet]) -> bool {
    actual.len() == desired.len() && desired.iter().all(|net| actual.contains(&net.trunc()))
}

/// Changes to the interface's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPlan {
    pub add: Vec<Ipv4Net>,
    /// Only addresses shaped like a tenant hub address (10.X.0.1/16) are ever removed:
    /// anything else on the interface was put there by someone else.
    pub remove: Vec<Ipv4Net>,
    pub bring_up: bool,
}

impl AddressPlan {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && !self.bring_up
    }
}

pub fn plan_addresses(desired: &[Ipv4Net], link: &LinkInfo) -> AddressPlan {
    AddressPlan {
        add: desired
            .iter()
            .filter(|a| !link.addresses.contains(a))
            .copied()
            .collect(),
        remove: link
            .addresses
            .iter()
            .filter(|a| is_tenant_hub_address(a) && !desired.contains(a))
            .copied()
            .collect(),
        bring_up: !link.up,
    }
}

fn is_tenant_hub_address(net: &Ipv4Net) -> bool {
    let [a, _, c, d] = net.addr().octets();
    net.prefix_len() == 16 && a == 10 && c == 0 && d == 1
}

/// The staged rotations whose staged key has shaken hands with the hub: the router has
/// taken its new keys, so the hub may move its address to them. A disabled router's peers are
/// not on the interface, so it is never cut over.
pub fn plan_cut_overs<'a>(
    staged: &'a [StagedRotation],
    handshakes: &[(PublicKey, Option<u64>)],
) -> Vec<&'a StagedRotation> {
    if staged.is_empty() {
        return Vec::new();
    }
    let shaken: HashSet<PublicKey> = handshakes
        .iter()
        .filter(|(_, at)| at.is_some())
        .map(|(key, _)| *key)
        .collect();
    staged
        .iter()
        .filter(|s| s.enabled && shaken.contains(&s.pending_key))
        .collect()
}

/// The arguments of the one `wg set` that cuts `routers` over: for each, the staged peer
/// takes the router's /32 (the kernel moves an allowed IP from one peer to another at once)
/// and the old peer is removed.
pub fn cut_over_args(interface: &str, routers: &[&StagedRotation]) -> Vec<String> {
    let mut args = vec!["set".to_owned(), interface.to_owned()];
    for router in routers {
        args.extend([
            "peer".to_owned(),
            router.pending_key.to_string(),
            "allowed-ips".to_owned(),
            format!("{}/32", router.vpn_ip),
            "peer".to_owned(),
            router.current_key.to_string(),
            "remove".to_owned(),
        ]);
    }
    args
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;
    use crate::wg::apply::peer_config;
    use crate::wg::desired::DesiredPeer;
    use crate::wg::dump;

    const HUB_PUB: &str = "4jv0ZnrFq3rs3bbY4eDG/nWYaJuwim+i+02U2c33fW0=";
    const K1: &str = "zepa9jNGsf2KNmiXVLjaYz+t0FehrMMvxF5o6XrIg20=";
    const K2: &str = "ZAFhZci3x+Ff80U+lvElZerQTHdh6jCd+aAGjec5Q2E=";
    const K3: &str = "SyxdE02qLsBnYKe7XzaY1+phhDOZHXHuRrPAjJovjDg=";
    const PSK1: &str = "SIkcB8M6dyXOPC8apVruEDfaU6MhFW3uynJjsVp3Ghs=";
    const PSK2: &str = "ugaRX/jj6RKyArOby6We4Brx+zi9N8tpgm7HTlOtOtM=";

    fn desired(peers: Vec<DesiredPeer>) -> DesiredInterface {
        DesiredInterface {
            private_key: Zeroizing::new("aEorlU3xn87mvKcKCHan7HudpDZ/Dve9JZwGHebEaWQ=".into()),
            public_key: HUB_PUB.parse().unwrap(),
            listen_port: 51820,
            addresses: vec!["10.100.0.1/16".parse().unwrap()],
            peers,
        }
    }

    fn peer(key: &str, psk: &str, ip: &str) -> DesiredPeer {
        DesiredPeer::new(
            format!("t/{}", &key[..4]),
            key.parse().unwrap(),
            Zeroizing::new(psk.into()),
            ip.parse().unwrap(),
        )
    }

    fn dump_text(lines: &[String]) -> String {
        let mut text = format!("(none)\t{HUB_PUB}\t51820\toff\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        text
    }

    fn line(key: &str, psk: &str, ips: &str) -> String {
        format!("{key}\t{psk}\t192.0.2.2:4000\t{ips}\t1795538675\t10\t20\toff")
    }

    #[test]
    fn matching_interface_needs_nothing() {
        let want = desired(vec![
            peer(K1, PSK1, "10.100.1.1"),
            peer(K2, PSK2, "10.100.1.2"),
        ]);
        let text = dump_text(&[
            line(K2, PSK2, "10.100.1.2/32"),
            line(K1, PSK1, "10.100.1.1/32"),
        ]);
        let p = plan(
            &want,
            &dump::parse_dump(&text).unwrap(),
            ReconcileOptions::default(),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn adds_fixes_and_removes() {
        let want = desired(vec![
            peer(K1, PSK1, "10.100.1.1"),
            peer(K2, PSK2, "10.100.1.2"),
            peer(K3, PSK2, "10.100.1.3"),
        ]);
        let stranger = "cGNGHGTQjJQCrV2Kp8cKzxDkNLZrri1nj+3S3VumoVg=";
        let text = dump_text(&[
            line(K1, "(none)", "10.100.1.1/32"),
            line(K2, PSK2, "10.100.1.9/32,10.100.1.2/32"),
            line(stranger, "(none)", "10.100.1.4/32"),
        ]);
        let parsed = dump::parse_dump(&text).unwrap();
        let p = plan(&want, &parsed, ReconcileOptions::default());
        assert_eq!(p.add, vec![2]);
        assert_eq!(
            p.update,
            vec![
                (
                    0,
                    Fix {
                        preshared_key: true,
                        allowed_ips: false
                    }
                ),
                (
                    1,
                    Fix {
                        preshared_key: false,
                        allowed_ips: true
                    }
                )
            ]
        );
        assert_eq!(p.remove, vec![stranger.parse().unwrap()]);
        assert!(!p.set_private_key && p.set_listen_port.is_none());
        let summary = p.to_string();
        assert!(
            summary.contains("add 1 peers, update 2 (preshared key 1, allowed IPs 1), remove 1"),
            "{summary}"
        );

        let keep = plan(
            &want,
            &parsed,
            ReconcileOptions {
                remove_unknown: false,
            },
        );
        assert!(keep.remove.is_empty());
        assert_eq!(keep.unknown_kept, vec![stranger.parse().unwrap()]);
    }

    #[test]
    fn fresh_interface_gets_key_and_port() {
        let want = desired(vec![]);
        let parsed = dump::parse_dump("(none)\t(none)\t43099\toff\n").unwrap();
        let p = plan(&want, &parsed, ReconcileOptions::default());
        assert!(p.set_private_key);
        assert_eq!(p.set_listen_port, Some(51820));
    }

    #[test]
    fn plans_and_config_never_show_secrets() {
        let want = desired(vec![peer(K1, PSK1, "10.100.1.1")]);
        let parsed = dump::parse_dump("(none)\t(none)\t43099\toff\n").unwrap();
        let p = plan(&want, &parsed, ReconcileOptions::default());
        let shown = format!("{p:?} {p} {want:?}");
        assert!(
            !shown.contains(PSK1) && !shown.contains(want.private_key.as_str()),
            "{shown}"
        );
        let config = peer_config(&want, &p.add);
        assert_eq!(
            config.as_str(),
            format!(
                "[Peer]\nPublicKey = {K1}\nPresharedKey = {PSK1}\nAllowedIPs = 10.100.1.1/32\n\n"
            )
        );
    }

    #[test]
    fn addresses_added_and_only_ours_removed() {
        let link = LinkInfo {
            up: false,
            addresses: vec![
                "10.101.0.1/16".parse().unwrap(),
                "192.168.7.1/24".parse().unwrap(),
                "10.102.0.5/16".parse().unwrap(),
            ],
        };
        let want: Vec<Ipv4Net> = vec!["10.100.0.1/16".parse().unwrap()];
        let p = plan_addresses(&want, &link);
        assert_eq!(p.add, want);
        assert_eq!(p.remove, vec!["10.101.0.1/16".parse::<Ipv4Net>().unwrap()]);
        assert!(p.bring_up);
        let done = plan_addresses(
            &want,
            &LinkInfo {
                up: true,
                addresses: want.clone(),
            },
        );
        assert!(done.is_empty());
    }

    fn staged(current: &str, pending: &str, ip: &str, enabled: bool) -> StagedRotation {
        StagedRotation {
            router_id: 1,
            label: "t/r1".into(),
            vpn_ip: ip.parse().unwrap(),
            current_key: current.parse().unwrap(),
            pending_key: pending.parse().unwrap(),
            enabled,
            staged_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_staged_key_is_added_without_allowed_ips() {
        let want = desired(vec![
            DesiredPeer::staged(
                "t/r1 (staged key)".into(),
                K2.parse().unwrap(),
                Zeroizing::new(PSK2.into()),
            ),
            peer(K1, PSK1, "10.100.1.1"),
        ]);
        let before = dump::parse_dump(&dump_text(&[line(K1, PSK1, "10.100.1.1/32")]))
            .unwrap()
            .peers
            .len();
        assert_eq!(before, 1);
        let text = dump_text(&[line(K1, PSK1, "10.100.1.1/32")]);
        let p = plan(
            &want,
            &dump::parse_dump(&text).unwrap(),
            ReconcileOptions::default(),
        );
        assert_eq!(p.add, vec![0]);
        assert!(p.update.is_empty() && p.remove.is_empty(), "{p:?}");
        assert_eq!(
            peer_config(&want, &p.add).as_str(),
            format!("[Peer]\nPublicKey = {K2}\nPresharedKey = {PSK2}\n\n")
        );
        // Once there, with no allowed IPs, both peers are right.
        let both = dump_text(&[line(K1, PSK1, "10.100.1.1/32"), line(K2, PSK2, "(none)")]);
        let p = plan(
            &want,
            &dump::parse_dump(&both).unwrap(),
            ReconcileOptions::default(),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn no_cut_over_without_a_handshake_from_the_staged_key() {
        let rotations = [staged(K1, K2, "10.100.1.1", true)];
        let old_only = [
            (K1.parse().unwrap(), Some(1_795_538_675)),
            (K2.parse().unwrap(), None),
        ];
        assert!(plan_cut_overs(&rotations, &old_only).is_empty());
        assert!(plan_cut_overs(&rotations, &[]).is_empty());
        assert!(plan_cut_overs(&[], &old_only).is_empty());
    }

    #[test]
    fn a_handshake_from_the_staged_key_moves_the_address_in_one_set() {
        let rotations = [
            staged(K1, K2, "10.100.1.1", true),
            staged(
                K3,
                "cGNGHGTQjJQCrV2Kp8cKzxDkNLZrri1nj+3S3VumoVg=",
                "10.100.1.3",
                true,
            ),
        ];
        let shaken = [
            (K2.parse().unwrap(), Some(1_795_538_675)),
            (K1.parse().unwrap(), Some(1)),
        ];
        let cut = plan_cut_overs(&rotations, &shaken);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].pending_key, K2.parse().unwrap());
        assert_eq!(
            cut_over_args("wg0", &cut),
            [
                "set",
                "wg0",
                "peer",
                K2,
                "allowed-ips",
                "10.100.1.1/32",
                "peer",
                K1,
                "remove"
            ]
        );
        // A disabled router has no peers on the interface: never cut over.
        let disabled = [staged(K1, K2, "10.100.1.1", false)];
        assert!(plan_cut_overs(&disabled, &shaken).is_empty());
    }

    #[test]
    fn after_an_abort_the_staged_peer_goes() {
        let want = desired(vec![peer(K1, PSK1, "10.100.1.1")]);
        let text = dump_text(&[line(K1, PSK1, "10.100.1.1/32"), line(K2, PSK2, "(none)")]);
        let p = plan(
            &want,
            &dump::parse_dump(&text).unwrap(),
            ReconcileOptions::default(),
        );
        assert_eq!(p.remove, vec![K2.parse().unwrap()]);
        assert!(p.add.is_empty() && p.update.is_empty());
    }
}
