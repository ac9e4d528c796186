//! `tikwire serve`: the HTTP API.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::Notify;

use super::{Context, ServeArgs};
use crate::alerts::delivery::DeliveryWorker;
use crate::api::listen::{ListenOptions, serve};
use crate::api::{ApiState, app};
use crate::provision::Provisioner;
use crate::store::Store;
use crate::{Error, Result};

/// Database connections for the API: requests run one short transaction each.
const POOL_SIZE: u32 = 16;

pub async fn run(ctx: &Context, args: ServeArgs) -> Result<()> {
    let addr = args.listen.parse().map_err(|_| {
        Error::Usage(format!(
            "--listen {:?} is not an address and port, e.g. 127.0.0.1:8080",
            args.listen
        ))
    })?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => {
            return Err(Error::Usage("--tls-cert and --tls-key go together".into()));
        }
    };
    let options = ListenOptions {
        addr,
        tls,
        insecure_listen: args.insecure_listen,
    };
    // Refuse a bad listen address before touching the database.
    options.check()?;
    // Migrates (and checks the master key) through the usual path, then serves from a pool
    // sized for concurrent requests.
    let migrated = ctx.provisioner().await?;
    let url = ctx.database_url().await?;
    let connect: PgConnectOptions = url
        .parse()
        .map_err(|err| Error::Config(format!("database URL is not valid: {err}")))?;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(connect.application_name("tikwire-serve"))
        .await?;
    migrated.store().close().await;
    let provisioner = Provisioner::open(Store::from_pool(pool), &ctx.config).await?;
    // The API host watches the hubs' agents too (hub.down when one falls silent, which that
    // agent cannot say itself) and delivers webhooks while agents are down.
    let cancel = tokio_util::sync::CancellationToken::new();
    let hook = super::agent::hook_command(ctx);
    let worker = DeliveryWorker::new(provisioner.clone(), Arc::new(Notify::new()), hook)?;
    tokio::spawn(worker.run(cancel.clone()));
    let served = serve(app(ApiState::new(provisioner)), &options).await;
    cancel.cancel();
    served
}
