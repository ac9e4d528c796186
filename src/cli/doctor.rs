//! `tikwire doctor [--hub H] [--json]` and `tikwire router diagnose NAME --tenant T [--json]`.
//! Exit status 1 when a check failed.

use super::output;
use super::{Context, DoctorArgs};
use crate::doctor::gather::{self, HostTools};
use crate::doctor::{Report, judge};
use crate::store::Store;
use crate::{Error, Result};

pub async fn run(ctx: &Context, args: DoctorArgs) -> Result<()> {
    let tools = HostTools::new(ctx.config.poll.wg_command.clone());
    // Without migrating: whether migrations are current is one of the checks.
    let store = match ctx.database_url().await {
        Ok(url) => Store::connect_without_migrating(&url)
            .await
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    let facts = gather::hub_facts(store, &ctx.config, args.hub.as_deref(), &tools).await;
    finish(
        Report {
            checks: judge::hub_checks(&facts),
        },
        args.json,
    )
}

pub async fn diagnose_router(ctx: &Context, name: &str, tenant: &str, json: bool) -> Result<()> {
    let tools = HostTools::new(ctx.config.poll.wg_command.clone());
    let provisioner = ctx.provisioner().await?;
    let online_secs = i64::try_from(ctx.config.status.online_secs).unwrap_or(i64::MAX);
    let report =
        crate::doctor::diagnose_router(&provisioner, tenant, name, online_secs, &tools).await?;
    finish(report, json)
}

fn finish(report: Report, json: bool) -> Result<()> {
    if json {
        output::json(&report)?;
    } else {
        output::print(&report.render())?;
    }
    if report.failed() {
        let failed = report
            .checks
            .iter()
            .filter(|c| c.status == crate::doctor::Status::Fail)
            .count();
        return Err(Error::Other(format!("{failed} check(s) failed")));
    }
    Ok(())
}
