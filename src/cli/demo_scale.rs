//! `tikwire demo --scale N`: a sample fleet at the design size for benchmarks, written in bulk
//! (see `store::sample`): tenants `sample-001`, `sample-002`, ... of 65,278 routers each, every
//! one on a hub of its own (`sample-001`, ...: one hub holds one whole tenant, as at the design
//! size of 155 tenants on 155 hubs). Run again with a larger N to grow the fleet.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::Context;
use super::output;
use crate::model::{Endpoint, Hub, HubName, InterfaceName, InvalidInput, TenantName};
use crate::provision::{NewHub, Provisioner};
use crate::{Error, Result};

/// Routers per sample tenant: a whole tenant, the design size.
const PER_TENANT: u64 = 65_278;
/// Tenants at most: the address plan's /16s.
const TENANTS_MAX: u64 = 155;

pub async fn run(ctx: &Context, routers: u64) -> Result<()> {
    let tenants_needed = routers.div_ceil(PER_TENANT);
    if routers == 0 || tenants_needed > TENANTS_MAX {
        return Err(Error::Invalid(InvalidInput(format!(
            "--scale takes 1 to {} routers ({TENANTS_MAX} tenants of {PER_TENANT})",
            TENANTS_MAX * PER_TENANT
        ))));
    }
    let provisioner = ctx.provisioner().await?;
    let store = provisioner.store();
    let existing = store.subnet_usage().await?;
    let hubs = store.list_hubs().await?;
    let started = Instant::now();
    let mut left = routers;
    let mut added_total = 0u64;
    for n in 1..=tenants_needed {
        let name = TenantName::parse(&format!("sample-{n:03}"))?;
        let hub = sample_hub(&provisioner, &hubs, n).await?;
        let have = match existing.iter().find(|u| u.tenant == name.as_str()) {
            Some(usage) => usage.allocated.max(0) as u64,
            None => {
                let hub_name = HubName::parse(&hub.name)?;
                provisioner.add_tenant_on(&name, Some(&hub_name)).await?;
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
            "{name} on hub {}: {} routers ({added} added in {:.1} s)",
            hub.name,
            have + u64::from(added),
            tenant_started.elapsed().as_secs_f64()
        );
    }
    // Fresh statistics, so the console's and the agents' queries plan for the fleet as it is.
    store.analyze_fleet().await?;
    output::print(&format!(
        "sample fleet: {routers} routers in {tenants_needed} tenant{} on as many hubs ({added_total} added in {:.1} s)\n",
        if tenants_needed == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    ))
}

/// Hub `sample-NNN` (endpoint 192.0.2.N, a documentation address): one of `hubs`, or made.
async fn sample_hub(provisioner: &Provisioner, hubs: &[Hub], n: u64) -> Result<Hub> {
    let name = format!("sample-{n:03}");
    if let Some(hub) = hubs.iter().find(|h| h.name == name) {
        return Ok(hub.clone());
    }
    let address = Ipv4Addr::new(192, 0, 2, n as u8);
    provisioner
        .add_hub(&NewHub::new(
            HubName::parse(&name)?,
            Endpoint::parse(&format!("{address}:51820"))?,
            InterfaceName::parse("wg0")?,
            51820,
        ))
        .await
}
