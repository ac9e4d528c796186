//! `tikwire router add|list|show|rm|disable|enable|import`.

use chrono::Utc;

use super::output::{self, StreamTable, fields};
use super::{Context, RouterCommand};
use crate::Result;
use crate::format;
use crate::model::{HubName, InterfaceName, Router, RouterName, TenantName, parse_keepalive};
use crate::provision::{NewRouter, RouterSpec};
use crate::store::RouterFilter;

pub async fn run(ctx: &Context, cmd: RouterCommand) -> Result<()> {
    match cmd {
        RouterCommand::Add {
            name,
            tenant,
            hub,
            interface_name,
            keepalive,
            json,
        } => {
            let req = NewRouter {
                tenant: TenantName::parse(&tenant)?,
                hub: hub.as_deref().map(HubName::parse).transpose()?,
                spec: RouterSpec {
                    name: RouterName::parse(&name)?,
                    interface_name: InterfaceName::parse(&interface_name)?,
                    keepalive: parse_keepalive(&keepalive)?,
                },
            };
            let router = ctx.provisioner().await?.add_router(&req).await?;
            if json {
                return output::json(&router);
            }
            output::print(&format!(
                "provisioned router {} in tenant {}: {} via hub {} (status {})\nnext: tikwire script {} --tenant {} --format routeros\n",
                router.name,
                router.tenant,
                router.vpn_ip,
                router.hub,
                router.status,
                router.name,
                router.tenant
            ))
        }
        RouterCommand::List { tenant, hub, json } => {
            list(ctx, &RouterFilter { tenant, hub }, json).await
        }
        RouterCommand::Show { name, tenant, json } => {
            let router = ctx.store().await?.router(&tenant, &name).await?;
            if json {
                return output::json(&router);
            }
            output::print(&describe(&router))
        }
        RouterCommand::Rm { name, tenant } => {
            let deleted = ctx.store().await?.delete_router(&tenant, &name).await?;
            output::print(&format!(
                "removed router {} from tenant {}; {} is free again\n",
                deleted.router.name, deleted.router.tenant, deleted.router.vpn_ip
            ))
        }
        RouterCommand::Disable { name, tenant } => set_enabled(ctx, &tenant, &name, false).await,
        RouterCommand::Enable { name, tenant } => set_enabled(ctx, &tenant, &name, true).await,
        RouterCommand::Diagnose { name, tenant, json } => {
            super::doctor::diagnose_router(ctx, &name, &tenant, json).await
        }
        RouterCommand::Import {
            file,
            tenant,
            hub,
            json,
        } => super::import::run(ctx, &file, &tenant, hub.as_deref(), json).await,
    }
}

/// Streams the listing: a fleet of millions prints in flat memory.
async fn list(ctx: &Context, filter: &RouterFilter, json: bool) -> Result<()> {
    use futures_util::StreamExt as _;
    let store = ctx.store().await?;
    let mut routers = store.stream_routers(filter).await?;
    if json {
        let mut first = true;
        output::print("[")?;
        while let Some(router) = routers.next().await {
            let item = output::json_text(&router?)?;
            output::document(&format!(
                "{}\n  {}",
                if first { "" } else { "," },
                item.replace('\n', "\n  ")
            ))?;
            first = false;
        }
        return output::print(if first { "]\n" } else { "\n]\n" });
    }
    let now = Utc::now();
    let mut table = StreamTable::new(&[
        "TENANT",
        "NAME",
        "VPN IP",
        "STATUS",
        "HANDSHAKE",
        "RX",
        "TX",
        "HUB",
    ]);
    while let Some(router) = routers.next().await {
        let r = router?;
        table.row(vec![
            r.tenant,
            r.name,
            r.vpn_ip.to_string(),
            r.status.to_string(),
            format::age(r.last_handshake_at, now),
            format::bytes(r.rx_bytes),
            format::bytes(r.tx_bytes),
            r.hub,
        ])?;
    }
    if !table.finish()? {
        output::print("no routers yet: provision one with `tikwire router add NAME --tenant T`\n")?;
    }
    Ok(())
}

async fn set_enabled(ctx: &Context, tenant: &str, name: &str, enabled: bool) -> Result<()> {
    let router = ctx
        .store()
        .await?
        .set_router_enabled(tenant, name, enabled)
        .await?;
    let what = if enabled {
        "enabled"
    } else {
        "disabled (the hub drops its peer at the next agent run)"
    };
    output::print(&format!(
        "router {} in tenant {} {what}\n",
        router.name, router.tenant
    ))
}

fn describe(r: &Router) -> String {
    let now = Utc::now();
    fields(&[
        ("name", r.name.clone()),
        ("tenant", r.tenant.clone()),
        ("hub", r.hub.clone()),
        ("vpn ip", r.vpn_ip.to_string()),
        ("subnet", r.subnet_cidr.to_string()),
        ("hub ip", r.hub_ip.to_string()),
        ("status", r.status.to_string()),
        ("enabled", r.enabled.to_string()),
        (
            "last handshake",
            match r.last_handshake_at {
                Some(t) => format!("{} ({})", t.to_rfc3339(), format::age(Some(t), now)),
                None => "never".into(),
            },
        ),
        (
            "first handshake",
            match r.first_handshake_at {
                // How long the router took to come up after it was provisioned.
                Some(t) => format!(
                    "{} ({} after provisioning)",
                    t.to_rfc3339(),
                    format::duration(r.created_at, t)
                ),
                None => "never".into(),
            },
        ),
        (
            "last endpoint",
            r.last_endpoint.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "rx",
            format!("{} ({} bytes)", format::bytes(r.rx_bytes), r.rx_bytes),
        ),
        (
            "tx",
            format!("{} ({} bytes)", format::bytes(r.tx_bytes), r.tx_bytes),
        ),
        ("interface", r.interface_name.clone()),
        ("keepalive", format!("{} s", r.keepalive)),
        ("public key", r.public_key.to_string()),
        ("created", r.created_at.to_rfc3339()),
    ])
}
