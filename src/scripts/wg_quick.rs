//! The router identity as a wg-quick config (Linux, phones, laptops), and its compact form for
//! a QR code.
//!
//! Address is the router's /32 and AllowedIPs the hub's /32: wg-quick routes exactly the hub
//! into the tunnel, the same footprint as the RouterOS script, and nothing else on the client
//! changes. `wg-quick strip` and `wg setconf` accept the result as is (tested for real).

use std::fmt::Write as _;

use zeroize::Zeroizing;

use crate::model::InvalidInput;

use super::RouterScriptInput;
use super::quote::push_comment;

/// The full config, with a comment header. Save it as `<interface>.conf`. Holds the private
/// key, so it is wiped from memory when dropped.
pub fn wg_quick_config(input: &RouterScriptInput) -> Result<Zeroizing<String>, InvalidInput> {
    input.check()?;
    let mut out = Zeroizing::new(String::with_capacity(capacity_for(input)));
    let i = input;
    push_comment(
        &mut out,
        &format!(
            "tikwire: router {} of tenant {}, hub {}",
            i.router, i.tenant, i.hub
        ),
    );
    push_comment(
        &mut out,
        &format!(
            "VPN address {}, hub tunnel address {} at {} port {}",
            i.router_ip, i.hub_ip, i.endpoint.host, i.endpoint.port
        ),
    );
    push_comment(
        &mut out,
        &format!(
            "Save as {}.conf, then: wg-quick up ./{}.conf",
            i.interface, i.interface
        ),
    );
    render(&mut out, input, true);
    Ok(out)
}

/// The same config without comments or blank lines: the QR code payload.
pub fn wg_quick_compact(input: &RouterScriptInput) -> Result<Zeroizing<String>, InvalidInput> {
    input.check()?;
    let mut out = Zeroizing::new(String::with_capacity(capacity_for(input)));
    render(&mut out, input, false);
    Ok(out)
}

/// An upper bound of the config's size, so the text never regrows (regrowth would leave
/// copies of the key behind): fixed text and keys, the names and host in the comments (which
/// may wrap), the host again in `Endpoint`, and at most 41 bytes per DNS server.
pub(crate) fn capacity_for(input: &RouterScriptInput) -> usize {
    let i = input;
    let names = i.tenant.len() + i.router.len() + i.hub.len() + 2 * i.interface.len();
    640 + names + 2 * i.endpoint.host.len() + 41 * i.dns.len()
}

fn render(out: &mut String, input: &RouterScriptInput, spaced: bool) {
    let i = input;
    out.push_str("[Interface]\n");
    let _ = writeln!(out, "PrivateKey = {}", i.router_private_key);
    let _ = writeln!(out, "Address = {}/32", i.router_ip);
    if !i.dns.is_empty() {
        let servers: Vec<String> = i.dns.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "DNS = {}", servers.join(", "));
    }
    if spaced {
        out.push('\n');
    }
    out.push_str("[Peer]\n");
    let _ = writeln!(out, "PublicKey = {}", i.hub_public_key);
    let _ = writeln!(out, "PresharedKey = {}", i.preshared_key);
    let _ = writeln!(out, "Endpoint = {}", i.endpoint);
    let _ = writeln!(out, "AllowedIPs = {}/32", i.hub_ip);
    let _ = writeln!(out, "PersistentKeepalive = {}", i.keepalive);
}
