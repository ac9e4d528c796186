//! Sample fleets at the design size, for benchmarks: routers written by SQL in bulk, as many
//! as a tenant holds in one statement, without generating keys (which is not what is being
//! measured). Their public keys are unique 32-byte values (hashes of the row id) and their
//! sealed private and preshared keys are empty, so their scripts cannot be rendered: `tikwire`
//! says the key does not open. Everything else (addresses, statuses, handshakes, endpoints,
//! counters) looks like a fleet an agent has polled.

use super::notify::publish;
use super::routers::lock_tenant;
use super::{Store, Tx};
use crate::events::{Change, ChangeKind};
use crate::model::Hub;
use crate::{Error, Result};

/// `count` routers named `{prefix}-{n}` from the tenant's next free host index, with their
/// configuration rows, statuses spread like a live fleet's (mostly online), and the
/// allocation counters moved on. $1 tenant id, $2 hub id, $3 the tenant's network address,
/// $4 first host index, $5 last host index, $6 name prefix.
const FILL_ROUTERS: &str = "
    WITH r AS (
        INSERT INTO routers (tenant_id, hub_id, name, host_index, vpn_ip)
        SELECT $1, $2, $6 || '-' || lpad((i + 1)::text, 5, '0'), i, $3::inet + 257 + i
        FROM generate_series($4::int, $5::int) AS i
        RETURNING id, host_index, vpn_ip
    ), shaped AS (
        SELECT r.*, CASE WHEN r.host_index % 50 < 40 THEN 'online'
                         WHEN r.host_index % 50 < 43 THEN 'stale'
                         WHEN r.host_index % 50 < 47 THEN 'offline'
                         ELSE 'pending' END AS status
        FROM r
    )
    INSERT INTO vpn_configurations
       (tenant_id, router_id, hub_id, server_public_key, client_public_key,
        client_private_key_sealed, preshared_key_sealed, server_ip, client_ip, subnet_cidr,
        listen_port, server_endpoint, status, first_handshake_at, last_handshake_at,
        last_endpoint, rx_bytes, tx_bytes, allowed_ips)
    SELECT $1, s.id, $2, h.public_key, encode(sha256(int8send(s.id)), 'base64'), '', '',
           $3::inet + 1, s.vpn_ip, set_masklen($3::cidr, 16), h.listen_port,
           h.endpoint_host || ':' || h.endpoint_port, s.status,
           CASE WHEN s.status <> 'pending' THEN now() - interval '20 days' END,
           CASE s.status WHEN 'online' THEN now() - (s.id % 170) * interval '1 second'
                         WHEN 'stale' THEN now() - (200 + s.id % 390) * interval '1 second'
                         WHEN 'offline' THEN now() - (900 + s.id % 400000) * interval '1 second'
           END,
           CASE WHEN s.status <> 'pending'
                THEN '198.51.100.' || (1 + s.id % 254) || ':' || (1024 + s.id % 60000) END,
           CASE WHEN s.status <> 'pending' THEN (s.id * 7919) % 8000000000 ELSE 0 END,
           CASE WHEN s.status <> 'pending' THEN (s.id * 104729) % 2000000000 ELSE 0 END,
           jsonb_build_array(host($3::inet + 1) || '/32')
    FROM shaped s CROSS JOIN hubs h WHERE h.id = $2";

const MOVE_COUNTERS: &str = "
    UPDATE vpn_subnet_allocations
    SET next_host_index = $2, allocated_ips = allocated_ips + $3, updated_at = now(),
        status = CASE WHEN allocated_ips + $3 >= total_ips THEN 'exhausted' ELSE 'active' END
    WHERE tenant_id = $1";

/// Adds `count` sample routers to a tenant on `hub`, in the caller's transaction; returns how
/// many were added (`count`, or an error saying how many fresh addresses there are).
pub async fn fill_tenant(
    tx: &mut Tx<'_>,
    tenant: &str,
    hub: &Hub,
    count: u32,
    prefix: &str,
) -> Result<u32> {
    let lock = lock_tenant(tx, tenant).await?;
    let fresh = lock.capacity - lock.next_host_index;
    if count > fresh {
        return Err(Error::Exhausted(format!(
            "tenant {tenant} has {fresh} fresh addresses and {count} sample routers were asked for"
        )));
    }
    if count == 0 {
        return Ok(0);
    }
    let first = lock.next_host_index;
    let last = first + count - 1;
    sqlx::query(FILL_ROUTERS)
        .bind(lock.tenant_id)
        .bind(hub.id)
        .bind(super::tenants::host(std::net::Ipv4Addr::new(
            10, lock.octet, 0, 0,
        )))
        .bind(first as i32)
        .bind(last as i32)
        .bind(prefix)
        .execute(&mut **tx)
        .await
        .map_err(|err| {
            super::on_unique_violation(err, |c| {
                format!("sample routers collide with existing ones ({c}): use another prefix")
            })
        })?;
    sqlx::query(MOVE_COUNTERS)
        .bind(lock.tenant_id)
        .bind((last + 1) as i32)
        .bind(count as i32)
        .execute(&mut **tx)
        .await?;
    let change = Change::new(ChangeKind::RoutersImported)
        .tenant(lock.tenant_id)
        .hub(hub.id);
    publish(tx, &change).await?;
    Ok(count)
}

impl Store {
    /// `ANALYZE` of the fleet's tables after a bulk fill (autovacuum would, later).
    pub async fn analyze_fleet(&self) -> Result<()> {
        sqlx::query("ANALYZE routers, vpn_configurations, vpn_subnet_allocations, tenants, hubs")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// [`fill_tenant`] in a transaction of its own.
    pub async fn fill_sample_routers(
        &self,
        tenant: &str,
        hub: &Hub,
        count: u32,
        prefix: &str,
    ) -> Result<u32> {
        let mut tx = self.begin().await?;
        let added = fill_tenant(&mut tx, tenant, hub, count, prefix).await?;
        tx.commit().await?;
        Ok(added)
    }
}
