//! `tikwire hub add|set|list|show|config|firewall|routes`.

use std::net::Ipv4Addr;

use super::output::{self, fields, thousands};
use super::{Context, HubCommand, RoutesFormat};
use crate::model::{Endpoint, Hub, HubName, InterfaceName, InvalidInput, parse_port};
use crate::provision::NewHub;
use crate::scripts::{MgmtRoute, RouteFormat, mgmt_routes};
use crate::store::{HubChanges, HubLoad};
use crate::{Result, format};

pub async fn run(ctx: &Context, cmd: HubCommand) -> Result<()> {
    match cmd {
        HubCommand::Add {
            name,
            endpoint,
            interface,
            listen_port,
            max_peers,
            mgmt_address,
            json,
        } => {
            let req = NewHub {
                max_peers: parse_max_peers(&max_peers)?,
                mgmt_address: mgmt_address
                    .as_deref()
                    .map(parse_mgmt_address)
                    .transpose()?,
                ..NewHub::new(
                    HubName::parse(&name)?,
                    Endpoint::parse(&endpoint)?,
                    InterfaceName::parse(&interface)?,
                    parse_port("listen port", &listen_port)?,
                )
            };
            let hub = ctx.provisioner().await?.add_hub(&req).await?;
            if json {
                return output::json(&hub);
            }
            let mgmt = match hub.mgmt_address {
                Some(address) => format!("management address {address}"),
                None => format!(
                    "no management address (the endpoint is not an IPv4 address): set one with `tikwire hub set {} --mgmt-address ADDR` before `tikwire hub routes`",
                    hub.name
                ),
            };
            output::print(&format!(
                "added hub {} at {} (interface {}, listening on UDP {}, up to {} routers), public key {}\n{mgmt}\n",
                hub.name,
                hub.endpoint,
                hub.interface,
                hub.listen_port,
                thousands(hub.max_peers),
                hub.public_key
            ))
        }
        HubCommand::Set {
            name,
            max_peers,
            mgmt_address,
        } => {
            let changes = HubChanges {
                max_peers: max_peers.as_deref().map(parse_max_peers).transpose()?,
                mgmt_address: mgmt_address
                    .as_deref()
                    .map(parse_mgmt_address)
                    .transpose()?,
            };
            if changes.max_peers.is_none() && changes.mgmt_address.is_none() {
                return Err(InvalidInput(
                    "nothing to change: give --max-peers N or --mgmt-address ADDR".into(),
                )
                .into());
            }
            let store = ctx.store().await?;
            store.set_hub(&name, &changes).await?;
            output::print(&describe(&store.hub(&name).await?))
        }
        HubCommand::Routes { format } => routes(ctx, format).await,
        HubCommand::List { json } => {
            let hubs = ctx.store().await?.hub_loads().await?;
            output::listing(
                &hubs,
                json,
                "no hubs yet: add one with `tikwire hub add NAME --endpoint HOST:PORT`",
                &[
                    ("NAME", |h| h.hub.name.clone()),
                    ("ENDPOINT", |h| h.hub.endpoint.clone()),
                    ("MGMT", |h| {
                        h.hub
                            .mgmt_address
                            .map_or_else(|| "-".into(), |a| a.to_string())
                    }),
                    ("INTERFACE", |h| h.hub.interface.clone()),
                    ("TENANTS", |h| thousands(h.tenants)),
                    ("LOAD", load),
                    ("ROUTERS", |h| thousands(h.hub.routers)),
                    ("AGENT", agent),
                ],
            )
        }
        HubCommand::Show { name, json } => {
            let hub = ctx.store().await?.hub(&name).await?;
            if json {
                return output::json(&hub);
            }
            output::print(&describe(&hub))
        }
        HubCommand::Config { name, format } => super::script::hub_config(ctx, &name, format).await,
        HubCommand::Firewall {
            name,
            allow_same_tenant,
        } => super::script::hub_firewall(ctx, &name, allow_same_tenant).await,
    }
}

/// Routers of the hub's tenants against its capacity, e.g. `1,204/65,278 (2%)`.
fn load(h: &HubLoad) -> String {
    let percent = if h.hub.max_peers > 0 {
        h.load * 100 / h.hub.max_peers
    } else {
        0
    };
    format!(
        "{}/{} ({percent}%)",
        thousands(h.load),
        thousands(h.hub.max_peers)
    )
}

/// The agent's heartbeat: how long ago it last wrote, and its error while polls fail.
fn agent(h: &HubLoad) -> String {
    match (&h.agent_seen_at, &h.agent_error) {
        (None, _) => "never ran".into(),
        (Some(seen), None) => format!("seen {} ago", format::age(Some(*seen), h.now)),
        (Some(seen), Some(error)) => format!(
            "seen {} ago, failing: {}",
            format::age(Some(*seen), h.now),
            error.chars().take(60).collect::<String>()
        ),
    }
}

async fn routes(ctx: &Context, format: RoutesFormat) -> Result<()> {
    let rows = ctx.store().await?.mgmt_route_rows().await?;
    let routes: Vec<MgmtRoute> = rows
        .iter()
        .map(|r| MgmtRoute {
            destination: r.destination,
            tenant: &r.tenant,
            router: r.router.as_deref(),
            hub: &r.hub,
            via: r.via,
        })
        .collect();
    let format = match format {
        RoutesFormat::Ip => RouteFormat::Ip,
        RoutesFormat::Frr => RouteFormat::Frr,
        RoutesFormat::Bird => RouteFormat::Bird,
    };
    output::document(&mgmt_routes(&routes, format)?)
}

fn parse_max_peers(value: &str) -> Result<u32> {
    match value.parse::<u32>() {
        Ok(n) if (1..=10_000_000).contains(&n) && !value.starts_with('0') => Ok(n),
        _ => Err(InvalidInput(format!(
            "--max-peers {:?} is not a number of routers from 1 to 10,000,000",
            value.escape_debug().to_string()
        ))
        .into()),
    }
}

fn parse_mgmt_address(value: &str) -> Result<Ipv4Addr> {
    value.parse::<Ipv4Addr>().map_err(|_| {
        InvalidInput(format!(
            "--mgmt-address {:?} is not an IPv4 address (the hub's address on the management network, e.g. 192.0.2.10)",
            value.escape_debug().to_string()
        ))
        .into()
    })
}

fn describe(hub: &Hub) -> String {
    fields(&[
        ("name", hub.name.clone()),
        ("endpoint", hub.endpoint.clone()),
        ("interface", hub.interface.clone()),
        ("listen port", hub.listen_port.to_string()),
        ("public key", hub.public_key.to_string()),
        ("routers", hub.routers.to_string()),
        ("max peers", thousands(hub.max_peers)),
        (
            "mgmt address",
            hub.mgmt_address
                .map_or_else(|| "none (hub set --mgmt-address)".into(), |a| a.to_string()),
        ),
        ("created", hub.created_at.to_rfc3339()),
    ])
}
