//! `tikwire tenant add|list|rm`.

use super::output::{self, thousands};
use super::{Context, TenantCommand};
use crate::Result;
use crate::model::TenantName;

pub async fn run(ctx: &Context, cmd: TenantCommand) -> Result<()> {
    match cmd {
        TenantCommand::Add { name, json } => add(ctx, &name, json).await,
        TenantCommand::List { json } => list(ctx, json).await,
        TenantCommand::Rm { name } => rm(ctx, &name).await,
    }
}

async fn add(ctx: &Context, name: &str, json: bool) -> Result<()> {
    let name = TenantName::parse(name)?;
    let store = ctx.store().await?;
    let tenant = store.create_tenant(&name, &ctx.config.ipam).await?;
    if json {
        return output::json(&tenant);
    }
    output::print(&format!(
        "created tenant {} with subnet {} (hub address {}, {} router addresses)\n",
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
