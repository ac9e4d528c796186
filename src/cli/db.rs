//! `tikwire db migrate|status|stop`.

use super::output::{self, fields};
use super::{Context, DbCommand};
use crate::Result;

pub async fn run(ctx: &Context, cmd: DbCommand) -> Result<()> {
    match cmd {
        DbCommand::Migrate => {
            let store = ctx.store().await?;
            let applied = store.applied_migrations().await?;
            output::print(&format!(
                "database schema is up to date ({applied} migrations applied)\n"
            ))
        }
        DbCommand::Status => {
            let (kind, location) = match &ctx.config.database_url {
                Some(_) => ("server", "DATABASE_URL / --database-url".to_owned()),
                None => ("private cluster", ctx.config.data_dir.display().to_string()),
            };
            let store = ctx.store().await?;
            let version = store.server_version().await?;
            let (tenants, routers) = store.fleet_counts().await?;
            output::print(&fields(&[
                ("database", kind.to_owned()),
                ("location", location),
                ("postgresql", version),
                ("tenants", tenants.to_string()),
                ("routers", routers.to_string()),
            ]))
        }
        DbCommand::Stop => {
            if ctx.config.database_url.is_some() {
                return output::print("DATABASE_URL is set: tikwire does not manage that server\n");
            }
            let data_dir = ctx.config.data_dir.clone();
            let stopped = tokio::task::spawn_blocking(move || crate::embedded_pg::stop(&data_dir))
                .await
                .map_err(|e| crate::Error::Other(format!("stopping PostgreSQL: {e}")))??;
            output::print(if stopped {
                "stopped the private PostgreSQL cluster\n"
            } else {
                "the private PostgreSQL cluster was not running\n"
            })
        }
    }
}
