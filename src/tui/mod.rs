//! TEMPORARY placeholder until the console lands (replaced by branch `tui`).
use crate::{Error, Result, config::Config, provision::Provisioner};
pub async fn run(_config: Config, _provisioner: Provisioner, _database_url: String) -> Result<()> {
    Err(Error::Other("the console is not built yet".into()))
}
