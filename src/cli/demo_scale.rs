//! `tikwire demo --scale N`: a sample fleet at the design size for benchmarks, written in bulk
//! (see `store::sample`): tenants `sample-001`, `sample-002`, ... filled to 65,278 routers
//! each, on the first hub. Run again with a larger N to grow the fleet.

use std::time::Instant;

use super::Context;
use super::demo::demo_hub;
use super::output;
use crate::model::{InvalidInput, TenantName};
use crate::{Error, Result};

/// Routers per sample tenant: a whole tenant, the design size.
const PER_TENANT: u64 = 65_278;

pub async fn run(ctx: &Context, routers: u64) -> Result<()> {
    let tenants_needed = routers.div_ceil(PER_TENANT);
    if routers == 0 || tenants_needed > 155 {
        return Err(Error::Invalid(InvalidInput(format!(
            "--scale takes 1 to {} routers (155 tenants of {PER_TENANT})",
            155 * PER_TENANT
        ))));
    }
    let provisioner = ctx.provisioner().await?;
    let store = provisioner.store();
    let hub = demo_hub(&provisioner).await?;
    let existing = store.subnet_usage().await?;
    let started = Instant::now();
    let mut left = routers;
    let mut added_total = 0u64;
    for n in 1..=tenants_needed {
        let name = TenantName::parse(&format!("sample-{n:03}"))?;
        let have = match existing.iter().find(|u| u.tenant == name.as_str()) {
            Some(usage) => usage.allocated.max(0) as u64,
            None => {
                provisioner.add_tenant(&name).await?;
                0
            }
        };
        let want = left.min(PER_TENANT);
        left -= want;
        let add = want.saturating_sub(have) as u32;
        let tenant_started = Instant::now();
        let added = store
            .fill_sample_routers(name.as_str(), &hub, add, "s")
            .await?;
        added_total += u64::from(added);
        eprintln!(
            "{name}: {} routers ({added} added in {:.1} s)",
            have + u64::from(added),
            tenant_started.elapsed().as_secs_f64()
        );
    }
    output::print(&format!(
        "sample fleet: {routers} routers in {tenants_needed} tenant{} on hub {} ({added_total} added in {:.1} s)\n",
        if tenants_needed == 1 { "" } else { "s" },
        hub.name,
        started.elapsed().as_secs_f64()
    ))
}
