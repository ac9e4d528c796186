//! `tikwire subnet list`: per-tenant address usage with the true figures.

use serde::Serialize;

use super::output::{self, Table, thousands};
use super::{Context, SubnetCommand};
use crate::Result;
use crate::model::SubnetUsage;
use crate::store::PoolUsage;

#[derive(Serialize)]
struct SubnetReport {
    pool: PoolUsage,
    tenants: Vec<SubnetUsage>,
}

pub async fn run(ctx: &Context, cmd: SubnetCommand) -> Result<()> {
    let SubnetCommand::List { json } = cmd;
    let store = ctx.store().await?;
    let tenants = store.subnet_usage().await?;
    let pool = store.pool_usage(&ctx.config.ipam).await?;
    if json {
        return output::json(&SubnetReport { pool, tenants });
    }
    let table = Table::of(
        &tenants,
        &[
            ("TENANT", |s| s.tenant.clone()),
            ("SUBNET", |s| s.subnet_cidr.to_string()),
            ("ROUTER RANGE", |s| {
                format!("{}-{}", s.range_start, s.range_end)
            }),
            ("ALLOCATED", |s| thousands(s.allocated)),
            ("CAPACITY", |s| thousands(s.capacity)),
            ("FREE", |s| thousands(s.available)),
            ("USED", |s| {
                format!("{:.1}%", percent(s.allocated, s.capacity))
            }),
            ("STATUS", |s| s.status.clone()),
        ],
    );
    let mut text = if table.is_empty() {
        String::new()
    } else {
        table.render()
    };
    text.push_str(&format!(
        "tenant subnets: {} of {} in use; routers: {} of {} addresses allocated\n",
        pool.tenants_used,
        pool.tenants_capacity,
        thousands(pool.routers),
        thousands(pool.routers_capacity)
    ));
    output::print(&text)
}

fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
