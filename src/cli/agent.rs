//! `tikwire agent`: reconcile the hub interface with the database and poll its status.
//! (Built by the wg work.)

use super::{AgentArgs, Context};
use crate::{Error, Result};

pub async fn run(_ctx: &Context, _args: AgentArgs) -> Result<()> {
    Err(Error::Other("the agent is not built yet".into()))
}
