//! The hub's nftables ruleset: the seed's "no cross-tenant routing", made real.
//!
//! Policy, on the hub's WireGuard interface:
//! - the hub (and management hosts routed through it) reach every router: nothing is dropped
//!   towards the tunnel, and replies come back as established traffic;
//! - traffic from a router to another router is dropped, across tenants always, within a tenant
//!   unless `allow_same_tenant` (the tunnel is for management);
//! - routers open nothing through the hub nor to the hub itself, except ping: a compromised
//!   field router cannot reach the hub's database or the networks behind it.
//!
//! - traffic forwarded into the tunnel from outside a tenant's /16 (the management network,
//!   routed here by `hub routes`) leaves with the tenant's hub address `10.X.0.1` as its
//!   source: routers answer only their hub's tunnel address (their AllowedIPs and firewall
//!   know nothing of the management network). The NAT runs at postrouting, after the filter
//!   rules above, so it never lets through what they drop; replies are un-NATed by conntrack
//!   and pass as established traffic.
//!
//! WireGuard already ties each router to its /32 (AllowedIPs), so source addresses are trusted.
//! The rules live in their own table, `inet tikwire_<interface>`, one per hub interface, so two
//! hubs on one host do not overwrite each other. Loading is idempotent and atomic: the file
//! creates the table if missing, deletes it and defines it again in one `nft -f` transaction.

use std::fmt::{self, Write as _};

use crate::model::InvalidInput;

use super::check;
use super::hub::HubTenantInput;
use super::quote::{comment_text, push_comment};

#[derive(Clone, Copy)]
pub struct HubFirewallInput<'a> {
    pub hub: &'a str,
    /// The hub's WireGuard interface, e.g. `wg0`.
    pub interface: &'a str,
    /// Tenants served by the hub: their /16s are source-NATed to their hub address, and
    /// allowed to themselves when `allow_same_tenant` is set.
    pub tenants: &'a [HubTenantInput<'a>],
    /// Let routers of one tenant reach each other through the hub. Off by default.
    pub allow_same_tenant: bool,
}

impl fmt::Debug for HubFirewallInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubFirewallInput")
            .field("hub", &self.hub)
            .field("interface", &self.interface)
            .field("tenants", &self.tenants.len())
            .field("allow_same_tenant", &self.allow_same_tenant)
            .finish()
    }
}

/// The name of the nftables table for a hub interface.
pub fn table_name(interface: &str) -> String {
    format!("tikwire_{interface}")
}

/// The ruleset, to load with `nft -f FILE` (check with `nft -c -f FILE`).
pub fn hub_firewall(input: &HubFirewallInput) -> Result<String, InvalidInput> {
    check::hub(input.hub)?;
    check::interface(input.interface)?;
    for tenant in input.tenants {
        check::tenant(tenant.name)?;
        check::hub_address(tenant.subnet, tenant.hub_ip)?;
    }
    let table = format!("inet {}", table_name(input.interface));
    let wg = format!("iifname \"{}\"", input.interface);
    let to_wg = format!("oifname \"{}\"", input.interface);
    let mut out = String::with_capacity(1024 + 320 * input.tenants.len());

    let isolation = if input.allow_same_tenant {
        "Routers cannot reach routers of other tenants (routers of one tenant may reach each other)."
    } else {
        "Routers cannot reach other routers, of other tenants or of their own."
    };
    for line in [
        format!(
            "tikwire: nftables rules for hub {} on interface {}",
            input.hub, input.interface
        ),
        format!("The hub reaches every router. {isolation}"),
        "Routers answer the hub and may ping it, and open nothing else through the hub or on it."
            .into(),
        "Traffic into the tunnel from outside a tenant subnet leaves with the tenant hub address (10.X.0.1)."
            .into(),
        format!("Load with nft -f FILE: idempotent, replaces only the table {table}."),
    ] {
        push_comment(&mut out, &line);
    }
    let _ = writeln!(out, "table {table}");
    let _ = writeln!(out, "delete table {table}");
    let _ = writeln!(out, "table {table} {{");

    out.push_str("\tchain forward {\n");
    out.push_str("\t\ttype filter hook forward priority filter; policy accept;\n");
    if input.allow_same_tenant {
        for tenant in input.tenants {
            let _ = writeln!(
                out,
                "\t\t{wg} {to_wg} ip saddr {net} ip daddr {net} accept comment \"{name}: same tenant\"",
                net = tenant.subnet.trunc(),
                name = comment_text(tenant.name)
            );
        }
    }
    let _ = writeln!(
        out,
        "\t\t{wg} {to_wg} counter drop comment \"router to router\""
    );
    let _ = writeln!(out, "\t\t{wg} ct state established,related accept");
    let _ = writeln!(
        out,
        "\t\t{wg} counter drop comment \"routers open nothing through the hub\""
    );
    out.push_str("\t}\n");

    out.push_str("\tchain input {\n");
    out.push_str("\t\ttype filter hook input priority filter; policy accept;\n");
    let _ = writeln!(out, "\t\t{wg} ct state established,related accept");
    let _ = writeln!(out, "\t\t{wg} meta l4proto icmp accept");
    let _ = writeln!(
        out,
        "\t\t{wg} counter drop comment \"routers open nothing on the hub\""
    );
    out.push_str("\t}\n");

    // Postrouting runs after the forward filter: only what the isolation rules let through
    // is rewritten, and a router's own /16 (the hub itself, same-tenant traffic) is not.
    out.push_str("\tchain postrouting {\n");
    out.push_str("\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    for tenant in input.tenants {
        let _ = writeln!(
            out,
            "\t\t{to_wg} ip daddr {net} ip saddr != {net} counter snat ip to {hub_ip} comment \"{name}: management via the hub address\"",
            net = tenant.subnet.trunc(),
            hub_ip = tenant.hub_ip,
            name = comment_text(tenant.name)
        );
    }
    out.push_str("\t}\n");
    out.push_str("}\n");
    Ok(out)
}
