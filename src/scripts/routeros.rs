//! The RouterOS v7 script that puts a router on its hub, and the script that takes it off.
//!
//! Shape, and why:
//! - One `{ ... }` block after the header comments. Pasted into a terminal, each top-level line
//!   would run on its own and a failed check could not stop the lines after it; inside one block
//!   `:error` stops everything, and `:local` variables live for the whole script.
//! - Every command spells its full menu path (`/interface/wireguard/peers/set`), so nothing
//!   depends on the menu a line happens to run in, and the schema test can check each command.
//! - Items are found, never assumed: the interface by its name, everything else by the comment
//!   tag `tikwire:<interface>`. Missing items are added, then every property is set, so a second
//!   paste (or one after new keys or a new endpoint) converges instead of failing or duplicating.
//! - User values appear once, as quoted `:local` strings; commands refer to the variables.
//! - No line continuation (`\`): a blank a mail client adds after one breaks the paste.
//!
//! Syntax used is present in every RouterOS from 7.9 to 7.24 (see `tests/scripts_schema.rs`);
//! peer `name=` (7.15+) is not used: peers are found by comment.

use std::fmt::Write as _;

use zeroize::Zeroizing;

use crate::model::InvalidInput;

use super::RouterScriptInput;
use super::quote::{push_comment, routeros_string, routeros_string_chunks};

/// The oldest RouterOS the scripts are written for (and checked against).
pub const MIN_ROUTEROS_VERSION: &str = "7.9";

const INDENT: &str = "  ";

/// The comment that tags every item the script creates on the router.
fn tag(interface: &str) -> String {
    format!("tikwire:{interface}")
}

/// The provisioning script: paste into a RouterOS v7 terminal (or `/import` it). It holds the
/// router's private key, so it is wiped from memory when dropped.
pub fn routeros_script(input: &RouterScriptInput) -> Result<Zeroizing<String>, InvalidInput> {
    input.check()?;
    let mut out = Zeroizing::new(String::with_capacity(capacity_for(input)));
    install_header(&mut out, input);
    out.push_str("{\n");
    identity_locals(&mut out, input);
    local_string(&mut out, "privateKey", input.router_private_key);
    local_string(&mut out, "hubKey", &input.hub_public_key.to_string());
    local_string(&mut out, "psk", input.preshared_key);
    local_string(&mut out, "hubHost", &input.endpoint.host);
    interface_commands(&mut out, input);
    peer_commands(&mut out, input);
    address_commands(&mut out, input);
    firewall_commands(&mut out, input);
    let done = format!(
        "tikwire: {} is set up, this router is {} on the tunnel, the hub is {}",
        input.interface, input.router_ip, input.hub_ip
    );
    let _ = writeln!(out, "{INDENT}:put {}", routeros_string(&done));
    out.push_str("}\n");
    Ok(out)
}

/// An upper bound of the script's size, so the text never regrows (regrowth would leave
/// copies of the key behind): the fixed text (about 3 KB) and each name and the host as often
/// as the script mentions them, with room for wrapped comment lines and escapes.
pub(crate) fn capacity_for(input: &RouterScriptInput) -> usize {
    let i = input;
    4096 + 4 * (i.tenant.len() + i.router.len() + i.hub.len())
        + 12 * i.interface.len()
        + 6 * i.endpoint.host.len()
}

/// The script that removes exactly what [`routeros_script`] added: the items tagged
/// `tikwire:<interface>`, and the interface only if it carries that tag (so an interface of the
/// same name that tikwire did not create survives). It contains no key.
pub fn routeros_undo_script(input: &RouterScriptInput) -> Result<String, InvalidInput> {
    input.check_identity()?;
    let mut out = String::with_capacity(2048);
    undo_header(&mut out, input);
    out.push_str("{\n");
    identity_locals(&mut out, input);
    for menu in [
        "/ip/firewall/filter",
        "/ip/address",
        "/interface/wireguard/peers",
    ] {
        let _ = writeln!(
            out,
            "{INDENT}{menu}/remove [{menu}/find where comment=$tag]"
        );
    }
    let _ = writeln!(
        out,
        "{INDENT}/interface/wireguard/remove [/interface/wireguard/find where name=$ifName and comment=$tag]"
    );
    let done = format!("tikwire: removed the {} tunnel", input.interface);
    let _ = writeln!(out, "{INDENT}:put {}", routeros_string(&done));
    out.push_str("}\n");
    Ok(out)
}

fn install_header(out: &mut String, input: &RouterScriptInput) {
    let i = input;
    let tag = tag(i.interface);
    let lines = [
        format!("tikwire: WireGuard management tunnel for router {} of tenant {}", i.router, i.tenant),
        format!("Needs RouterOS {MIN_ROUTEROS_VERSION} or later (checked against the 7.9 to 7.24 command tree)."),
        format!(
            "Router VPN address: {}   Hub: {} at {} port {}, tunnel address {}",
            i.router_ip, i.hub, i.endpoint.host, i.endpoint.port, i.hub_ip
        ),
        String::new(),
        format!("What it does, on the WireGuard interface {}:", i.interface),
        "- creates or updates the interface with the private key of this router (it dials out: no firewall port opened)".into(),
        format!(
            "- adds the hub as its peer: endpoint {} port {}, keepalive {}s, preshared key, allowed address {}/32",
            i.endpoint.host, i.endpoint.port, i.keepalive, i.hub_ip
        ),
        format!("- gives the router the address {}/32, point-to-point to the hub {}", i.router_ip, i.hub_ip),
        format!(
            "- accepts input from {} on {} (Winbox, SSH, API from the hub), placed before the drop rules",
            i.hub_ip, i.interface
        ),
        "No inbound WAN rule is needed: the router dials the hub and keeps its NAT mapping open.".into(),
        format!("Safe to paste again: it finds its items by name and by the comment {tag} and updates them."),
        format!("To remove it: tikwire script {} --tenant {} --format routeros --undo", i.router, i.tenant),
        String::new(),
        "Verify: /interface/wireguard/peers print".into(),
        "  the hub peer should show a recent last-handshake within a minute.".into(),
    ];
    for line in lines {
        push_comment(out, &line);
    }
}

fn undo_header(out: &mut String, input: &RouterScriptInput) {
    let i = input;
    let lines = [
        format!(
            "tikwire: removes the WireGuard management tunnel of router {} of tenant {}",
            i.router, i.tenant
        ),
        format!("Needs RouterOS {MIN_ROUTEROS_VERSION} or later."),
        format!(
            "Removes only what the tikwire script added: the firewall rule, address and hub peer tagged {},",
            tag(i.interface)
        ),
        format!(
            "and the interface {} if tikwire created it. Nothing else is touched.",
            i.interface
        ),
        format!(
            "Run it from a session that does not come through the tunnel: it cuts the hub off from {}.",
            i.router_ip
        ),
        format!(
            "Verify: /interface/wireguard print   ({} is gone)",
            i.interface
        ),
    ];
    for line in lines {
        push_comment(out, &line);
    }
}

/// `ifName` and `tag`, the two values every command refers to.
fn identity_locals(out: &mut String, input: &RouterScriptInput) {
    local_string(out, "ifName", input.interface);
    local_string(out, "tag", &tag(input.interface));
}

/// `:local name "value"`, split over `:set` lines when the quoted value would make the line
/// too long (a 253-character endpoint host), so no line needs a continuation backslash.
fn local_string(out: &mut String, name: &str, value: &str) {
    // The value may be a key: wipe the quoted pieces too.
    let chunks = Zeroizing::new(routeros_string_chunks(value, 72));
    for (n, chunk) in chunks.iter().enumerate() {
        if n == 0 {
            let _ = writeln!(out, "{INDENT}:local {name} {chunk}");
        } else {
            let _ = writeln!(out, "{INDENT}:set {name} (${name} . {chunk})");
        }
    }
}

/// Find-or-add one item by `find_where`, with `add_args` when missing.
fn ensure(out: &mut String, menu: &str, find_where: &str, add_args: &str) {
    let _ = writeln!(
        out,
        "{INDENT}:if ([:len [{menu}/find where {find_where}]] = 0) do={{"
    );
    let _ = writeln!(out, "{INDENT}{INDENT}{menu}/add {add_args}");
    let _ = writeln!(out, "{INDENT}}}");
}

fn interface_commands(out: &mut String, input: &RouterScriptInput) {
    let menu = "/interface/wireguard";
    ensure(out, menu, "name=$ifName", "name=$ifName comment=$tag");
    // An interface of this name that tikwire did not make is the operator's: stop, touch nothing.
    let refusal = format!(
        "tikwire: interface {} was not created by tikwire. Rename it, then paste again",
        input.interface
    );
    let _ = writeln!(
        out,
        "{INDENT}:if ([:len [{menu}/find where name=$ifName and comment=$tag]] = 0) do={{"
    );
    let _ = writeln!(out, "{INDENT}{INDENT}:error {}", routeros_string(&refusal));
    let _ = writeln!(out, "{INDENT}}}");
    let _ = writeln!(
        out,
        "{INDENT}:local wgIf [{menu}/find where name=$ifName and comment=$tag]"
    );
    let _ = writeln!(
        out,
        "{INDENT}{menu}/set $wgIf private-key=$privateKey disabled=no"
    );
}

fn peer_commands(out: &mut String, input: &RouterScriptInput) {
    let menu = "/interface/wireguard/peers";
    let allowed = format!("{}/32", input.hub_ip);
    ensure(
        out,
        menu,
        "comment=$tag",
        &format!("interface=$ifName public-key=$hubKey allowed-address={allowed} comment=$tag"),
    );
    let _ = writeln!(out, "{INDENT}:local peer [{menu}/find where comment=$tag]");
    let _ = writeln!(
        out,
        "{INDENT}{menu}/set $peer interface=$ifName public-key=$hubKey preshared-key=$psk"
    );
    let _ = writeln!(
        out,
        "{INDENT}{menu}/set $peer endpoint-address=$hubHost endpoint-port={}",
        input.endpoint.port
    );
    let _ = writeln!(
        out,
        "{INDENT}{menu}/set $peer allowed-address={allowed} persistent-keepalive={}s disabled=no",
        input.keepalive
    );
}

/// The router's address is a /32 with the hub as its point-to-point peer (`network=`): the only
/// route it adds is to the hub, so a site LAN that happens to use the tenant's 10.X range keeps
/// its own routes.
fn address_commands(out: &mut String, input: &RouterScriptInput) {
    let menu = "/ip/address";
    let values = format!(
        "address={}/32 network={} interface=$ifName",
        input.router_ip, input.hub_ip
    );
    ensure(out, menu, "comment=$tag", &format!("{values} comment=$tag"));
    let _ = writeln!(out, "{INDENT}:local addr [{menu}/find where comment=$tag]");
    let _ = writeln!(out, "{INDENT}{menu}/set $addr {values} disabled=no");
}

/// One input accept for the hub's tunnel address on the tunnel interface, moved before the
/// first static input rule (so before the default firewall's drops). It is added disabled and
/// enabled only once its matchers and place are set, so it never accepts more than it should.
/// An empty filter table needs no special case: after the add, our rule is an input rule itself.
fn firewall_commands(out: &mut String, input: &RouterScriptInput) {
    let menu = "/ip/firewall/filter";
    let matchers = format!(
        "chain=input action=accept in-interface=$ifName src-address={}",
        input.hub_ip
    );
    // `action` defaults to accept; leaving it out keeps the line short.
    let add = format!(
        "chain=input in-interface=$ifName src-address={} disabled=yes comment=$tag",
        input.hub_ip
    );
    ensure(out, menu, "comment=$tag", &add);
    let _ = writeln!(out, "{INDENT}:local rules [{menu}/find where comment=$tag]");
    let _ = writeln!(out, "{INDENT}{menu}/set $rules {matchers}");
    let _ = writeln!(
        out,
        "{INDENT}:local first [:pick [{menu}/find where chain=input and dynamic=no] 0]"
    );
    let _ = writeln!(out, "{INDENT}:if ($first != [:pick $rules 0]) do={{");
    let _ = writeln!(out, "{INDENT}{INDENT}{menu}/move $rules destination=$first");
    let _ = writeln!(out, "{INDENT}}}");
    let _ = writeln!(out, "{INDENT}{menu}/set $rules disabled=no");
}
