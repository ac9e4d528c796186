//! `tikwire tenant add|list|rm`.

use super::output::{self, thousands};
use super::{Context, TenantCommand};
use crate::Result;
use crate::model::{HubName, TenantName};

pub async fn run(ctx: &Context, cmd: TenantCommand) -> Result<()> {
    match cmd {
        TenantCommand::Add { name, hub, json } => add(ctx, &name, hub.as_deref(), json).await,
        TenantCommand::List { json } => list(ctx, json).await,
        TenantCommand::Rm { name } => rm(ctx, &name).await,
    }
}

async fn add(ctx: &Context, name: &str, hub: Option<&str>, json: bool) -> Result<()> {
    let name = TenantName::parse(name)?;
    let hub = hub.map(HubName::parse).transpose()?;
    let store = ctx.store().await?;
    let tenant = store
        .create_tenant(&name, &ctx.config.ipam, hub.as_ref().map(HubName::as_str))
        .await?;
    if json {
        return output::json(&tenant);
    }
    let home = match &tenant.hub {
        Some(hub) => format!("on hub {hub}"),
        None => "no hub yet: it goes to the hub with the most room with its first router".into(),
    };
    output::print(&format!(
        "created tenant {} with subnet {} (hub address {}, {} router addresses), {home}\n",
        tenant.name,
        tenant.subnet_cidr,
        tenant.hub_ip,
        thousands(tenant.capacity)
    ))
}

async fn list(ctx: &Context, json: bool) -> Result<()> {
    let tenants = ctx.store().await?.list_tenants().await?;
    output::listing(
        &tenants,
        json,
        "no tenants yet: add one with `tikwire tenant add NAME`",
        &[
            ("NAME", |t| t.name.clone()),
            ("SUBNET", |t| t.subnet_cidr.to_string()),
            ("HUB IP", |t| t.hub_ip.to_string()),
            ("ROUTERS", |t| thousands(t.routers)),
            ("ONLINE", |t| thousands(t.online)),
            ("CAPACITY", |t| thousands(t.capacity)),
            ("HUB", |t| t.hub.clone().unwrap_or_else(|| "-".into())),
            // Hubs still holding some of its routers (from before home hubs): they keep
            // working there, with a /32 route each in `hub routes`.
            ("ALSO ON", |t| {
                if t.other_hubs.is_empty() {
                    "-".into()
                } else {
                    t.other_hubs.join(",")
                }
            }),
        ],
    )
}

async fn rm(ctx: &Context, name: &str) -> Result<()> {
    let deleted = ctx.store().await?.delete_tenant(name).await?;
    output::print(&format!(
        "removed tenant {} and its {} router{}; subnet {} is free again\n",
        deleted.name,
        thousands(deleted.routers),
        if deleted.routers == 1 { "" } else { "s" },
        deleted.subnet_cidr
    ))
}
