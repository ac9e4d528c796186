//! TEMPORARY placeholder until the embedded cluster lands (replaced by branch `pg`).
use std::path::Path;
use crate::{Error, Result};
pub struct EmbeddedPostgres;
impl EmbeddedPostgres { pub fn url(&self) -> String { String::new() } }
pub fn ensure_running(_data_dir: &Path) -> Result<EmbeddedPostgres> { Err(Error::EmbeddedPg("not built yet; set DATABASE_URL".into())) }
pub fn stop(_data_dir: &Path) -> Result<bool> { Ok(false) }
