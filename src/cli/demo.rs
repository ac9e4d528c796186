//! `tikwire demo`: realistic sample data for trying the console: a hub, several tenants,
//! hundreds of routers in every status.

use chrono::{Duration, Utc};
use rand::RngExt as _;

use super::output;
use super::{Context, DemoArgs};
use crate::model::{Endpoint, HubName, InterfaceName, RouterName, TenantName};
use crate::provision::{NewHub, RouterSpec};
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
    let store = &provisioner.store;
    let hubs = store.list_hubs().await?;
    let hub = match hubs.first() {
        Some(hub) => hub.clone(),
        None => {
            provisioner
                .add_hub(&NewHub {
                    name: HubName::parse("hub-demo")?,
                    endpoint: Endpoint::parse("vpn.example.net:51820")?,
                    interface: InterfaceName::parse("wg0")?,
                    listen_port: 51820,
                })
                .await?
        }
    };
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

/// Gives routers plausible handshakes, endpoints and traffic, as if an agent had run.
async fn fake_status(store: &crate::store::Store, tenant_id: i64) -> Result<()> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT router_id FROM vpn_configurations WHERE tenant_id = $1 ORDER BY router_id",
    )
    .bind(tenant_id)
    .fetch_all(&store.pool)
    .await?;
    let now = Utc::now();
    let mut rng = rand::rng();
    let (mut id_col, mut status, mut handshake, mut first, mut endpoint, mut rx, mut tx) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for id in ids {
        let roll: u32 = rng.random_range(0..100);
        let (state, age) = match roll {
            0..=69 => ("online", Some(rng.random_range(1..170))),
            70..=77 => ("stale", Some(rng.random_range(200..590))),
            78..=87 => ("offline", Some(rng.random_range(900..400_000))),
            88..=97 => ("pending", None),
            _ => ("disabled", None),
        };
        id_col.push(id);
        status.push(state);
        let last = age.map(|secs| now - Duration::seconds(secs));
        handshake.push(last);
        first.push(last.map(|t| t - Duration::seconds(rng.random_range(60..2_000_000))));
        endpoint.push(last.map(|_| {
            format!(
                "198.51.100.{}:{}",
                rng.random_range(1..255),
                rng.random_range(1024..65535)
            )
        }));
        let traffic = if last.is_some() {
            rng.random_range(10_000..8_000_000_000i64)
        } else {
            0
        };
        rx.push(traffic);
        tx.push(traffic / rng.random_range(2..9));
    }
    sqlx::query(
        "UPDATE vpn_configurations c SET status = u.status, last_handshake_at = u.hs, first_handshake_at = u.first,
                last_endpoint = u.ep, rx_bytes = u.rx, tx_bytes = u.tx, updated_at = now()
         FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::bigint[], $7::bigint[])
              AS u(id, status, hs, first, ep, rx, tx)
         WHERE c.router_id = u.id",
    )
    .bind(&id_col)
    .bind(&status)
    .bind(&handshake)
    .bind(&first)
    .bind(&endpoint)
    .bind(&rx)
    .bind(&tx)
    .execute(&store.pool)
    .await?;
    sqlx::query("UPDATE routers SET enabled = false WHERE id IN (SELECT router_id FROM vpn_configurations WHERE tenant_id = $1 AND status = 'disabled')")
        .bind(tenant_id)
        .execute(&store.pool)
        .await?;
    sqlx::query("SELECT pg_notify('tikwire', '{\"kind\":\"status\",\"op\":\"update\"}')")
        .execute(&store.pool)
        .await?;
    Ok(())
}
