//! `tikwire script`, `hub config`, `hub firewall`: generated text on stdout.
//! (Wired to src/scripts/ by the scripts work.)

use super::{Context, HubConfigFormat, ScriptArgs};
use crate::{Error, Result};

pub async fn run(_ctx: &Context, _args: ScriptArgs) -> Result<()> {
    Err(Error::Other("script generation is not built yet".into()))
}

pub async fn hub_config(_ctx: &Context, _hub: &str, _format: HubConfigFormat) -> Result<()> {
    Err(Error::Other(
        "hub config generation is not built yet".into(),
    ))
}

pub async fn hub_firewall(_ctx: &Context, _hub: &str) -> Result<()> {
    Err(Error::Other(
        "hub firewall generation is not built yet".into(),
    ))
}
