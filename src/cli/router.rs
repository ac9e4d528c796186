//! `tikwire router add|list|show|rm|disable|enable|import`.

use chrono::Utc;

use super::output::{self, StreamTable, fields};
use super::{Context, RouterCommand};
use crate::format;
use crate::model::{HubName, InterfaceName, Router, RouterName, TenantName, parse_keepalive};
use crate::provision::{NewRouter, RouterSpec};
use crate::store::RouterFilter;
use crate::store::rotation::RotationScope;
use crate::{Error, Result};

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
        RouterCommand::List {
            tenant,
            hub,
            due_rotation,
            json,
        } => {
            let max_age = ctx.config.rotation.max_age();
            if due_rotation && max_age.is_none() {
                return Err(Error::Usage(
                    "--due-rotation needs a rotation policy: [rotation] max_age_days is 0 (off) in the config file".into(),
                ));
            }
            let listing = Listing {
                max_age,
                due_only: due_rotation,
                json,
            };
            list(ctx, &RouterFilter { tenant, hub }, listing).await
        }
        RouterCommand::Show { name, tenant, json } => {
            let store = ctx.store().await?;
            let router = store.router(&tenant, &name).await?;
            let availability = store.availability(router.id, Utc::now()).await?;
            if json {
                return output::json(&Shown {
                    router: &router,
                    availability,
                });
            }
            let mut text = describe(&router, ctx.config.rotation.max_age());
            text.push_str(&fields(&[("availability", availability.describe())]));
            output::print(&text)
        }
        RouterCommand::History {
            name,
            tenant,
            since,
            json,
        } => super::history::router_history(ctx, &name, &tenant, &since, json).await,
        RouterCommand::Rotate {
            name,
            tenant,
            abort,
            all,
            due,
            json,
        } => rotate(ctx, &tenant, name.as_deref(), abort, all, due, json).await,
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

/// `router show --json`: the router and its availability.
#[derive(serde::Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    router: &'a Router,
    availability: crate::history::Availability,
}

/// How to print a router listing.
#[derive(Debug, Clone, Copy)]
struct Listing {
    max_age: Option<chrono::Duration>,
    /// Only routers due for rotation.
    due_only: bool,
    json: bool,
}

/// Streams the listing: a fleet of millions prints in flat memory.
async fn list(ctx: &Context, filter: &RouterFilter, listing: Listing) -> Result<()> {
    use futures_util::StreamExt as _;
    let store = ctx.store().await?;
    let now = Utc::now();
    let wanted = move |router: &Result<Router>| match router {
        Ok(r) => !listing.due_only || r.rotation_due(listing.max_age, now),
        Err(_) => true,
    };
    let mut routers = store
        .stream_routers(filter)
        .await?
        .filter(move |r| std::future::ready(wanted(r)));
    if listing.json {
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
    let mut table = StreamTable::new(&[
        "TENANT",
        "NAME",
        "VPN IP",
        "STATUS",
        "HANDSHAKE",
        "RX",
        "TX",
        "HUB",
        "KEYS",
    ]);
    while let Some(router) = routers.next().await {
        let r = router?;
        let keys = format::key_age(&r, listing.max_age, now);
        table.row(vec![
            r.tenant,
            r.name,
            r.vpn_ip.to_string(),
            r.status.to_string(),
            format::age(r.last_handshake_at, now),
            format::bytes(r.rx_bytes),
            format::bytes(r.tx_bytes),
            r.hub,
            keys,
        ])?;
    }
    if !table.finish()? {
        let empty = if listing.due_only {
            "no router is due for rotation\n"
        } else {
            "no routers yet: provision one with `tikwire router add NAME --tenant T`\n"
        };
        output::print(empty)?;
    }
    Ok(())
}

/// `router rotate`: stage one router's rotation, abort it, or stage many in one transaction.
async fn rotate(
    ctx: &Context,
    tenant: &str,
    name: Option<&str>,
    abort: bool,
    all: bool,
    due: bool,
    json: bool,
) -> Result<()> {
    let provisioner = ctx.provisioner().await?;
    let scope = match (name, all, due) {
        (Some(name), _, _) if abort => {
            let router = provisioner.abort_rotation(tenant, name).await?;
            if json {
                return output::json(&router);
            }
            return output::print(&format!(
                "dropped the staged rotation of router {name} in tenant {tenant}; it keeps its current keys (the hub removes the staged peer at the next agent run)\n"
            ));
        }
        (Some(name), _, _) => {
            let (router, report) = provisioner.stage_rotation(tenant, name).await?;
            if json {
                return output::json(&router);
            }
            let since = router
                .rotation_staged_at
                .map(|t| format::age(Some(t), Utc::now()))
                .unwrap_or_default();
            let head = if report.staged == 1 {
                format!("staged new keys for router {name} in tenant {tenant}")
            } else {
                format!("router {name} in tenant {tenant} has a rotation staged already ({since}); it is kept")
            };
            return output::print(&format!(
                "{head}\nnew public key: {}\nnext: paste `tikwire script {name} --tenant {tenant} --format routeros` on the router (it carries the new keys);\n      the hub's agent cuts over on the router's first handshake with them. Until then the router keeps working on its current keys.\n",
                router.pending_public_key.map(|k| k.to_string()).unwrap_or_default()
            ));
        }
        (None, true, _) => RotationScope::All,
        (None, _, true) => RotationScope::Due(ctx.config.rotation.max_age().ok_or_else(|| {
            Error::Usage(
                "--due needs a rotation policy: [rotation] max_age_days is 0 (off) in the config file".into(),
            )
        })?),
        (None, false, false) => {
            return Err(Error::Usage("name a router, or give --all or --due".into()));
        }
    };
    let report = provisioner.stage_rotations(tenant, scope).await?;
    if json {
        return output::json(&report);
    }
    output::print(&format!(
        "staged rotations for {} router{} in tenant {tenant} ({} had one staged already)\nnext: each router takes its new keys with its usual script; the hub cuts over on the first handshake\n",
        report.staged,
        if report.staged == 1 { "" } else { "s" },
        report.already_staged,
    ))
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

fn describe(r: &Router, max_age: Option<chrono::Duration>) -> String {
    let now = Utc::now();
    let staged = match (r.pending_public_key, r.rotation_staged_at) {
        (Some(key), Some(at)) => format!(
            "{key} (staged {}, {}; cut over on its first handshake)",
            at.to_rfc3339(),
            format::age(Some(at), now)
        ),
        _ => "none".into(),
    };
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
        (
            "keys created",
            format!(
                "{} ({})",
                r.keys_created_at.to_rfc3339(),
                format::key_age(r, max_age, now)
            ),
        ),
        ("staged rotation", staged),
        ("created", r.created_at.to_rfc3339()),
    ])
}
