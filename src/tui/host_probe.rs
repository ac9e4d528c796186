//! Probing this host: may this process read WireGuard interfaces, and which hub's interface
//! is here. The console polls that interface itself when it can.

use std::path::Path;

use crate::model::Hub;

/// Whether this process may read WireGuard interfaces: root, or CAP_NET_ADMIN in effect.
pub fn may_read_interfaces() -> bool {
    if crate::config::is_root() {
        return true;
    }
    const CAP_NET_ADMIN: u32 = 12;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// The hub whose interface this host has: `wg show IFACE dump` succeeds and, where the
/// interface has a key, it is the hub's (two hubs may share an interface name).
pub async fn local_hub(wg: &Path, hubs: &[Hub]) -> Option<Hub> {
    let mut tried = std::collections::HashSet::new();
    for hub in hubs {
        if !tried.insert(hub.interface.as_str()) {
            continue;
        }
        match crate::wg::poller::poll_once(wg, &hub.interface).await {
            Ok(snap) => {
                let owner = hubs.iter().find(|h| {
                    h.interface == hub.interface
                        && snap.public_key.is_none_or(|k| k == h.public_key)
                });
                if let Some(h) = owner {
                    return Some(h.clone());
                }
            }
            Err(e) => tracing::debug!("not polling {} here: {e}", hub.interface),
        }
    }
    None
}
