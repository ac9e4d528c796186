//! `tikwire demo`: realistic sample data for trying the console: a hub, several tenants,
//! hundreds of routers in every status.

use chrono::{Duration, Utc};
use rand::RngExt as _;

use super::{Context, DemoArgs};
use super::{demo_scale, output};
use crate::model::{Endpoint, Hub, HubName, InterfaceName, RouterName, RouterStatus, TenantName};
use crate::provision::{NewHub, Provisioner, RouterSpec};
use crate::store::{LinkUpdate, StoredLink};
use crate::{Error, Result};

const TENANTS: [&str; 12] = [
    "acme-isp",
    "metro-wifi",
    "harbor-net",
    "valley-fiber",
    "sunrise-hotspots",
    "northwind",
    "bluebird-wisp",
    "citylink",
    "riverside-net",
    "summit-air",
    "coastal-wifi",
    "prairie-isp",
];
const SITES: [&str; 10] = [
    "cafe", "hotel", "school", "clinic", "mall", "depot", "library", "campus", "tower", "market",
];

pub async fn run(ctx: &Context, args: DemoArgs) -> Result<()> {
    if let Some(routers) = args.scale {
        return demo_scale::run(ctx, routers).await;
    }
    if args.tenants == 0
        || args.tenants as usize > TENANTS.len()
        || args.routers == 0
        || args.routers > 5000
    {
        return Err(Error::Invalid(crate::model::InvalidInput(format!(
            "demo takes 1 to {} tenants and 1 to 5000 routers per tenant",
            TENANTS.len()
        ))));
    }
    let provisioner = ctx.provisioner().await?;
    let store = provisioner.store();
    let hub = demo_hub(&provisioner).await?;
    // Partitions for the sample traffic (what the agent does at its start).
    store
        .maintain_history(Utc::now(), ctx.config.history.retention())
        .await?;
    let existing: Vec<String> = store
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let mut created = Vec::new();
    let mut total = 0;
    for (i, name) in TENANTS.iter().take(args.tenants as usize).enumerate() {
        if existing.iter().any(|e| e == name) {
            continue;
        }
        let tenant = provisioner.add_tenant(&TenantName::parse(name)?).await?;
        // Fleets of different sizes, so the gauges differ.
        let count = (args.routers as usize * (4 + i % 5)) / 6;
        let specs: Vec<RouterSpec> = (1..=count.max(1))
            .map(|n| {
                RouterName::parse(&format!("{}-{n:03}", SITES[n % SITES.len()]))
                    .map(RouterSpec::named)
            })
            .collect::<std::result::Result<_, _>>()?;
        let hub_name = HubName::parse(&hub.name)?;
        provisioner
            .import_routers(&TenantName::parse(name)?, Some(&hub_name), &specs)
            .await?;
        fake_status(store, tenant.id).await?;
        store.write_demo_history(tenant.id, Utc::now()).await?;
        total += specs.len();
        created.push(name.to_string());
    }
    if created.is_empty() {
        return output::print("demo data is already there (all demo tenants exist)\n");
    }
    output::print(&format!(
        "demo: hub {}, tenants {}, {total} routers in every status; open the console with `tikwire`\n",
        hub.name,
        created.join(", ")
    ))
}

/// The first hub, or a new `hub-demo` when there is none.
pub(super) async fn demo_hub(provisioner: &Provisioner) -> Result<Hub> {
    if let Some(hub) = provisioner.store().list_hubs().await?.into_iter().next() {
        return Ok(hub);
    }
    provisioner
        .add_hub(&NewHub::new(
            HubName::parse("hub-demo")?,
            Endpoint::parse("vpn.example.net:51820")?,
            InterfaceName::parse("wg0")?,
            51820,
        ))
        .await
}

/// Gives routers plausible handshakes, endpoints and traffic, as if an agent had run.
async fn fake_status(store: &crate::store::Store, tenant_id: i64) -> Result<()> {
    let ids = store.tenant_router_ids(tenant_id).await?;
    let now = Utc::now();
    let mut rng = rand::rng();
    let mut updates = Vec::with_capacity(ids.len());
    for id in ids {
        let roll: u32 = rng.random_range(0..100);
        let (status, age) = match roll {
            0..=69 => (RouterStatus::Online, Some(rng.random_range(1..170))),
            70..=77 => (RouterStatus::Stale, Some(rng.random_range(200..590))),
            78..=87 => (RouterStatus::Offline, Some(rng.random_range(900..400_000))),
            88..=97 => (RouterStatus::Pending, None),
            _ => (RouterStatus::Disabled, None),
        };
        let last = age.map(|secs| now - Duration::seconds(secs));
        let first = last.map(|t| t - Duration::seconds(rng.random_range(60..2_000_000)));
        let endpoint = last.map(|_| {
            format!(
                "198.51.100.{}:{}",
                rng.random_range(1..255),
                rng.random_range(1024..65535)
            )
        });
        let rx = if last.is_some() {
            rng.random_range(10_000..8_000_000_000i64)
        } else {
            0
        };
        let tx = rx / rng.random_range(2..9);
        updates.push(LinkUpdate {
            id,
            link: StoredLink {
                status,
                first_handshake_at: first,
                last_handshake_at: last,
                last_seen_at: last,
                last_endpoint: endpoint,
                rx_bytes: rx,
                tx_bytes: tx,
                // As if the interface had just come up: no counters to carry over.
                last_rx_counter: 0,
                last_tx_counter: 0,
            },
        });
    }
    store.set_link_status(tenant_id, &updates).await
}
