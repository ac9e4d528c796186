//! Tenants and their /16 subnets.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use super::columns::V4;
use super::notify::publish;
use super::{Store, audit, on_unique_violation};
use crate::events::{AuditAction, Change, ChangeKind};
use crate::ipam::{self, IpamConfig};
use crate::model::{SubnetUsage, Tenant, TenantName};
use crate::{Error, Result};

/// Serializes subnet allocation across every tikwire process (pg_advisory_xact_lock key).
const SUBNET_LOCK: i64 = 0x7469_6b77_6972_6501;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedTenant {
    pub name: String,
    pub subnet_cidr: Ipv4Net,
    pub routers: i64,
}

/// Global pool: tenant subnets in use of those the plan holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PoolUsage {
    pub tenants_used: i64,
    pub tenants_capacity: i64,
    pub routers: i64,
    pub routers_capacity: i64,
}

const TENANT_SELECT: &str = "
    SELECT t.id, t.name, a.subnet_cidr, a.gateway_ip AS hub_ip, a.total_ips AS capacity,
           a.allocated_ips AS routers, t.created_at,
           -- Kept by triggers (migration 0010): the same cost at any fleet size, which the
           -- console pays on every change notification.
           (SELECT coalesce(sum(rc.routers), 0)::bigint FROM router_counts rc
            WHERE rc.tenant_id = t.id AND rc.status = 'online') AS online,
           (SELECT h.name FROM hubs h WHERE h.id = t.hub_id) AS hub,
           ARRAY(SELECT h.name FROM hubs h
                 WHERE h.id IS DISTINCT FROM t.hub_id
                   AND EXISTS (SELECT 1 FROM routers r WHERE r.tenant_id = t.id AND r.hub_id = h.id)
                 ORDER BY h.name) AS other_hubs
    FROM tenants t JOIN vpn_subnet_allocations a ON a.tenant_id = t.id";

impl Store {
    /// Creates a tenant, gives it the lowest free /16 and places it on its home hub (`hub`,
    /// or the one with the most room; none while no hub exists), in one transaction.
    pub async fn create_tenant(
        &self,
        name: &TenantName,
        plan: &IpamConfig,
        hub: Option<&str>,
    ) -> Result<Tenant> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SUBNET_LOCK)
            .execute(&mut *tx)
            .await?;
        let home = super::place_tenant(&mut tx, hub).await?;
        let (id, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
            "INSERT INTO tenants (name, hub_id) VALUES ($1, $2) RETURNING id, created_at",
        )
        .bind(name.as_str())
        .bind(home.as_ref().map(|h| h.id))
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| on_unique_violation(err, |_| format!("tenant {name} already exists")))?;
        let octet: Option<i32> = sqlx::query_scalar(
            "SELECT o FROM generate_series($1::int, $2::int) AS o
             WHERE NOT EXISTS (SELECT 1 FROM vpn_subnet_allocations a WHERE a.subnet_octet_2 = o)
             ORDER BY o LIMIT 1",
        )
        .bind(i32::from(plan.first_tenant_octet))
        .bind(i32::from(plan.last_tenant_octet))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(octet) = octet.map(|o| o as u8) else {
            return Err(Error::Exhausted(format!(
                "no tenant subnet left: all {} subnets 10.{}.0.0/16 to 10.{}.0.0/16 are in use; remove a tenant first",
                plan.tenant_capacity(),
                plan.first_tenant_octet,
                plan.last_tenant_octet
            )));
        };
        let subnet = ipam::tenant_subnet(octet);
        let (range_start, range_end) = ipam::router_range(octet, plan.routers_per_tenant);
        sqlx::query(
            "INSERT INTO vpn_subnet_allocations
               (tenant_id, subnet_cidr, subnet_octet_2, gateway_ip, range_start, range_end, total_ips)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(IpNet::V4(subnet))
        .bind(i16::from(octet))
        .bind(host(ipam::hub_address(octet)))
        .bind(host(range_start))
        .bind(host(range_end))
        .bind(plan.routers_per_tenant as i32)
        .execute(&mut *tx)
        .await
        .map_err(|err| on_unique_violation(err, |_| format!("subnet {subnet} is already allocated")))?;
        audit(
            &mut tx,
            AuditAction::TenantAdd,
            Some(name.as_str()),
            None,
            serde_json::json!({ "subnet": subnet, "hub": home.as_ref().map(|h| &h.name) }),
        )
        .await?;
        publish(
            &mut tx,
            &Change::new(ChangeKind::TenantCreated).tenant(id).id(id),
        )
        .await?;
        tx.commit().await?;
        Ok(Tenant {
            id,
            name: name.to_string(),
            subnet_cidr: subnet,
            hub_ip: ipam::hub_address(octet),
            routers: 0,
            online: 0,
            capacity: i64::from(plan.routers_per_tenant),
            created_at,
            hub: home.map(|h| h.name),
            other_hubs: Vec::new(),
        })
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{TENANT_SELECT} ORDER BY t.name"
        )))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn tenant(&self, name: &str) -> Result<Tenant> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{TENANT_SELECT} WHERE t.name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| no_such_tenant(name))
    }

    /// The tenants a hub serves: those whose home it is, those with a router still on it,
    /// and, when it is the only hub, those not placed yet (so its address in a new tenant is
    /// ready before the first router).
    pub async fn tenants_served_by(&self, hub_id: i64) -> Result<Vec<Tenant>> {
        let only_hub = self.hub_count().await? == 1;
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{TENANT_SELECT} WHERE t.hub_id = $1 OR ($2 AND t.hub_id IS NULL)
                OR EXISTS (SELECT 1 FROM routers r WHERE r.tenant_id = t.id AND r.hub_id = $1)
             ORDER BY a.subnet_octet_2"
        )))
        .bind(hub_id)
        .bind(only_hub)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes a tenant with all its routers and releases its subnet, in one transaction.
    pub async fn delete_tenant(&self, name: &str) -> Result<DeletedTenant> {
        let mut tx = self.begin().await?;
        let row: Option<(i64, V4, i32)> = sqlx::query_as(
            "SELECT t.id, a.subnet_cidr, a.allocated_ips FROM tenants t
             JOIN vpn_subnet_allocations a ON a.tenant_id = t.id
             WHERE t.name = $1 FOR UPDATE OF t, a",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, subnet, routers)) = row else {
            return Err(no_such_tenant(name));
        };
        sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = DeletedTenant {
            name: name.to_owned(),
            subnet_cidr: subnet.into(),
            routers: i64::from(routers),
        };
        audit(
            &mut tx,
            AuditAction::TenantRm,
            Some(name),
            None,
            serde_json::json!({ "subnet": deleted.subnet_cidr, "routers": routers }),
        )
        .await?;
        publish(
            &mut tx,
            &Change::new(ChangeKind::TenantDeleted).tenant(id).id(id),
        )
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Per-tenant address usage with the true figures.
    pub async fn subnet_usage(&self) -> Result<Vec<SubnetUsage>> {
        Ok(sqlx::query_as(
            "SELECT t.name AS tenant, a.subnet_cidr, a.gateway_ip AS hub_ip, a.range_start,
                    a.range_end, a.total_ips AS capacity, a.allocated_ips AS allocated,
                    a.available_ips AS available, a.status
             FROM vpn_subnet_allocations a JOIN tenants t ON t.id = a.tenant_id
             ORDER BY a.subnet_octet_2",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn pool_usage(&self, plan: &IpamConfig) -> Result<PoolUsage> {
        let (tenants_used, routers, routers_capacity): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), COALESCE(sum(allocated_ips), 0)::bigint, COALESCE(sum(total_ips), 0)::bigint
             FROM vpn_subnet_allocations",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(PoolUsage {
            tenants_used,
            tenants_capacity: i64::from(plan.tenant_capacity()),
            routers,
            routers_capacity,
        })
    }
}

pub(crate) fn host(address: Ipv4Addr) -> IpNet {
    IpNet::V4(Ipv4Net::from(address))
}

pub(crate) fn no_such_tenant(name: &str) -> Error {
    Error::NotFound(format!(
        "no tenant named {name:?} (see `tikwire tenant list`)"
    ))
}
