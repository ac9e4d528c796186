//! `tikwire script`, `hub config`, `hub firewall`: generated text on stdout. Scripts and hub
//! configs hold keys: they go to stdout only, never to the log.

use super::output;
use super::{Context, HubConfigFormat, ScriptArgs, ScriptFormat};
use crate::Result;
use crate::scripts::{self, RouterDocument};

pub async fn run(ctx: &Context, args: ScriptArgs) -> Result<()> {
    let document = match (args.format, args.undo) {
        (ScriptFormat::Routeros, false) => RouterDocument::RouterOs,
        (ScriptFormat::Routeros, true) => RouterDocument::RouterOsUndo,
        (ScriptFormat::WgQuick, false) => RouterDocument::WgQuick,
        (ScriptFormat::WgQuick, true) => {
            return Err(crate::Error::Usage(
                "--undo applies to --format routeros; for wg-quick run `wg-quick down` and delete the file".into(),
            ));
        }
    };
    let material = ctx
        .provisioner()
        .await?
        .router_material(&args.tenant, &args.name)
        .await?;
    let text = scripts::render_router(&material, document)?;
    if document != RouterDocument::RouterOsUndo
        && material.router.rotation_state == crate::model::RotationState::Staged
    {
        // On stderr: stdout is the document itself.
        eprintln!(
            "note: router {} has a staged rotation: this carries its new keys; the hub cuts over on their first handshake",
            material.router.name
        );
    }
    output::document(&text)
}

pub async fn hub_config(ctx: &Context, hub: &str, format: HubConfigFormat) -> Result<()> {
    let format = match format {
        HubConfigFormat::WgQuick => scripts::HubConfigFormat::WgQuick,
        HubConfigFormat::Setconf => scripts::HubConfigFormat::SetConf,
    };
    let material = ctx.provisioner().await?.hub_material(hub).await?;
    let text = scripts::render_hub_config(&material, format)?;
    output::document(&text)
}

pub async fn hub_firewall(ctx: &Context, hub: &str, allow_same_tenant: bool) -> Result<()> {
    let store = ctx.store().await?;
    let hub = store.hub(hub).await?;
    let tenants = store.tenants_served_by(hub.id).await?;
    output::document(&scripts::render_hub_firewall(
        &hub,
        &tenants,
        allow_same_tenant,
    )?)
}
