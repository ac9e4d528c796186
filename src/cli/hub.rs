//! `tikwire hub add|list|show|config|firewall`.

use super::output::{self, fields};
use super::{Context, HubCommand};
use crate::Result;
use crate::model::{Endpoint, Hub, HubName, InterfaceName, parse_port};
use crate::provision::NewHub;

pub async fn run(ctx: &Context, cmd: HubCommand) -> Result<()> {
    match cmd {
        HubCommand::Add {
            name,
            endpoint,
            interface,
            listen_port,
            json,
        } => {
            let req = NewHub {
                name: HubName::parse(&name)?,
                endpoint: Endpoint::parse(&endpoint)?,
                interface: InterfaceName::parse(&interface)?,
                listen_port: parse_port("listen port", &listen_port)?,
            };
            let hub = ctx.provisioner().await?.add_hub(&req).await?;
            if json {
                return output::json(&hub);
            }
            output::print(&format!(
                "added hub {} at {} (interface {}, listening on UDP {}), public key {}\n",
                hub.name, hub.endpoint, hub.interface, hub.listen_port, hub.public_key
            ))
        }
        HubCommand::List { json } => {
            let hubs = ctx.store().await?.list_hubs().await?;
            output::listing(
                &hubs,
                json,
                "no hubs yet: add one with `tikwire hub add NAME --endpoint HOST:PORT`",
                &[
                    ("NAME", |h| h.name.clone()),
                    ("ENDPOINT", |h| h.endpoint.clone()),
                    ("INTERFACE", |h| h.interface.clone()),
                    ("LISTEN", |h| h.listen_port.to_string()),
                    ("ROUTERS", |h| h.routers.to_string()),
                    ("PUBLIC KEY", |h| h.public_key.to_string()),
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

fn describe(hub: &Hub) -> String {
    fields(&[
        ("name", hub.name.clone()),
        ("endpoint", hub.endpoint.clone()),
        ("interface", hub.interface.clone()),
        ("listen port", hub.listen_port.to_string()),
        ("public key", hub.public_key.to_string()),
        ("routers", hub.routers.to_string()),
        ("created", hub.created_at.to_rfc3339()),
    ])
}
