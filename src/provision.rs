//! Provisioning: each operation is one transaction that allocates, generates keys, seals,
//! inserts and announces, so a crash at any point leaves nothing half-written.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::events::{Change, ChangeKind};
use crate::ipam::{self, IpamConfig};
use crate::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::model::ImportSummary;
use crate::model::{
    Endpoint, Hub, HubName, InterfaceName, InvalidInput, Router, RouterName, Tenant, TenantName,
};
use crate::rotation;
use crate::store::notify::publish;
use crate::store::{self, NewHubRow, NewRouterRow, PlatformIdentity, RouterSecretRow, Store};
use crate::vault::{Vault, aad};
use crate::{Error, Result};

/// A hub to create.
#[derive(Debug, Clone)]
pub struct NewHub {
    pub name: HubName,
    pub endpoint: Endpoint,
    pub interface: InterfaceName,
    pub listen_port: u16,
    /// How many routers its tenants may have together (default one tenant's range, 65,278).
    pub max_peers: u32,
    /// Its address on the management network. Default: the endpoint's when that is an IPv4
    /// address; a DNS name is not resolved (it names the public side, and may change), so
    /// such a hub has none until `hub set --mgmt-address`, and `hub routes` says so.
    pub mgmt_address: Option<Ipv4Addr>,
}

impl NewHub {
    /// A hub with the default capacity and management address.
    pub fn new(
        name: HubName,
        endpoint: Endpoint,
        interface: InterfaceName,
        listen_port: u16,
    ) -> Self {
        Self {
            name,
            endpoint,
            interface,
            listen_port,
            max_peers: crate::model::DEFAULT_MAX_PEERS,
            mgmt_address: None,
        }
    }

    /// The management address: the one given, or the endpoint's when it is IPv4.
    pub fn mgmt_address(&self) -> Option<Ipv4Addr> {
        self.mgmt_address
            .or_else(|| self.endpoint.host.parse::<Ipv4Addr>().ok())
    }
}

/// One router to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    pub name: RouterName,
    pub interface_name: InterfaceName,
    pub keepalive: u16,
}

impl RouterSpec {
    /// A router with the default interface name and keepalive.
    pub fn named(name: RouterName) -> Self {
        Self {
            name,
            interface_name: InterfaceName::parse(crate::model::DEFAULT_ROUTER_INTERFACE)
                .expect("the default interface name is valid"),
            keepalive: crate::model::DEFAULT_KEEPALIVE,
        }
    }
}

/// A router to provision into a tenant; it lives on the tenant's home hub (`hub`, when
/// given, must be that one).
#[derive(Debug, Clone)]
pub struct NewRouter {
    pub tenant: TenantName,
    pub hub: Option<HubName>,
    pub spec: RouterSpec,
}

/// Everything needed to render a router's script. Holds secrets: no `Debug`.
pub struct RouterMaterial {
    pub router: Router,
    pub hub: Hub,
    /// Base64, as WireGuard writes it. While a rotation is staged (`router.rotation_state`),
    /// these are the staged keys: the script is how the router takes them.
    pub private_key: Zeroizing<String>,
    pub preshared_key: Zeroizing<String>,
}

/// Everything needed to render a hub's interface config. Holds secrets: no `Debug`.
pub struct HubMaterial {
    pub hub: Hub,
    pub private_key: Zeroizing<String>,
    /// Tenants the hub serves (it takes `10.X.0.1/16` in each).
    pub tenants: Vec<Tenant>,
    pub peers: Vec<HubPeer>,
}

/// One router as the hub sees it.
pub struct HubPeer {
    pub router_id: i64,
    pub router: String,
    pub tenant: String,
    pub public_key: PublicKey,
    pub preshared_key: Zeroizing<String>,
    pub vpn_ip: Ipv4Addr,
    pub enabled: bool,
    /// The staged rotation's key, a second peer of the hub until the cut-over.
    pub staged: Option<StagedPeer>,
}

/// A router's staged key as the hub sees it.
pub struct StagedPeer {
    pub public_key: PublicKey,
    pub preshared_key: Zeroizing<String>,
}

/// The write side of tikwire: provisioning and the key material behind scripts.
#[derive(Clone)]
pub struct Provisioner {
    store: Store,
    vault: Arc<Vault>,
    pub ipam: IpamConfig,
}

impl Provisioner {
    /// The database this provisioner writes to, for reads and non-provisioning writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The master key, for the other write paths that seal (key rotation).
    pub(crate) fn vault(&self) -> &Vault {
        &self.vault
    }

    pub fn new(store: Store, vault: Vault, ipam: IpamConfig) -> Self {
        Self {
            store,
            vault: Arc::new(vault),
            ipam,
        }
    }

    /// Loads the master key and proves it is the one this database's secrets were sealed
    /// with. A database without secrets yet adopts the key (creating the key file if needed).
    pub async fn open(store: Store, config: &Config) -> Result<Self> {
        let key_file = config.master_key_file();
        let vault = match store.key_check().await? {
            Some(check) => {
                let vault = Vault::load(&key_file, false)?;
                vault.verify_key_check(&check)?;
                vault
            }
            None => {
                if store.holds_secrets().await? {
                    return Err(Error::Vault(
                        "the database holds sealed keys but no key check; refusing to guess the master key".into(),
                    ));
                }
                let vault = Vault::load(&key_file, true)?;
                // Another process may have won the race with its own key: verify what is stored.
                let stored = store.init_key_check(&vault.seal_key_check()).await?;
                vault.verify_key_check(&stored)?;
                vault
            }
        };
        Ok(Self::new(store, vault, config.ipam))
    }

    /// A tenant on the hub with the most room.
    pub async fn add_tenant(&self, name: &TenantName) -> Result<Tenant> {
        self.store.create_tenant(name, &self.ipam, None).await
    }

    /// A tenant on the named hub, or on the one with the most room.
    pub async fn add_tenant_on(&self, name: &TenantName, hub: Option<&HubName>) -> Result<Tenant> {
        self.store
            .create_tenant(name, &self.ipam, hub.map(HubName::as_str))
            .await
    }

    pub async fn add_hub(&self, req: &NewHub) -> Result<Hub> {
        let mgmt_address = req.mgmt_address();
        if req.max_peers == 0 {
            return Err(InvalidInput("--max-peers must be at least 1".into()).into());
        }
        let private = PrivateKey::generate();
        let public = private.public_key();
        let id = self.store.next_hub_id().await?;
        let sealed = self
            .vault
            .seal(private.as_bytes(), &aad("hubs", id, "private_key"));
        self.store
            .insert_hub(&NewHubRow {
                id,
                name: req.name.as_str(),
                endpoint_host: &req.endpoint.host,
                endpoint_port: req.endpoint.port,
                interface: req.interface.as_str(),
                listen_port: req.listen_port,
                public_key: public,
                private_key_sealed: &sealed,
                max_peers: req.max_peers,
                mgmt_address,
            })
            .await
    }

    /// Provisions one router and returns it as stored (status pending).
    pub async fn add_router(&self, req: &NewRouter) -> Result<Router> {
        let ids = self
            .provision(
                &req.tenant,
                req.hub.as_ref(),
                std::slice::from_ref(&req.spec),
            )
            .await?
            .1;
        self.store.router_by_id(ids[0]).await
    }

    /// Provisions many routers into one tenant: all of them or none.
    pub async fn import_routers(
        &self,
        tenant: &TenantName,
        hub: Option<&HubName>,
        specs: &[RouterSpec],
    ) -> Result<ImportSummary> {
        if specs.is_empty() {
            return Err(InvalidInput("nothing to import: the file lists no routers".into()).into());
        }
        let (summary, _) = self.provision(tenant, hub, specs).await?;
        Ok(summary)
    }

    async fn provision(
        &self,
        tenant: &TenantName,
        hub: Option<&HubName>,
        specs: &[RouterSpec],
    ) -> Result<(ImportSummary, Vec<i64>)> {
        // Key generation is the costly part: do it before opening the transaction.
        let keys = prepare_keys(specs).await?;
        let mut tx = self.store.begin().await?;
        let provisioned = self
            .provision_in(&mut tx, tenant, hub, specs, keys, None)
            .await?;
        tx.commit().await?;
        Ok(provisioned)
    }

    /// Provisions one router inside the caller's transaction (the API's, which runs as the
    /// tenant-scoped database role), with the platform's identity for it, and returns its id;
    /// the caller commits.
    pub(crate) async fn add_router_in(
        &self,
        tx: &mut store::Tx<'_>,
        tenant: &TenantName,
        spec: &RouterSpec,
        platform: PlatformIdentity,
    ) -> Result<i64> {
        let specs = std::slice::from_ref(spec);
        let keys = prepare_keys(specs).await?;
        let (_, ids) = self
            .provision_in(tx, tenant, None, specs, keys, Some(platform))
            .await?;
        Ok(ids[0])
    }

    /// Allocates, seals, inserts, audits and announces, inside `tx`. Everything that can be
    /// done before the tenant's lock is taken is: the lock is one tenant's throughput.
    async fn provision_in(
        &self,
        tx: &mut store::Tx<'_>,
        tenant: &TenantName,
        hub: Option<&HubName>,
        specs: &[RouterSpec],
        keys: Vec<(PrivateKey, PresharedKey)>,
        platform: Option<PlatformIdentity>,
    ) -> Result<(ImportSummary, Vec<i64>)> {
        let count = specs.len();
        let names: Vec<String> = specs.iter().map(|s| s.name.to_string()).collect();
        let (tenant_id, taken) = store::tenant_and_taken_names(tx, tenant.as_str(), &names).await?;
        if !taken.is_empty() {
            return Err(Error::AlreadyExists(format!(
                "tenant {tenant} already has router{} {}",
                if taken.len() == 1 { "" } else { "s" },
                taken.join(", ")
            )));
        }
        let ids = store::reserve_router_ids(tx, count).await?;
        let mut rows: Vec<NewRouterRow> = specs
            .iter()
            .zip(&keys)
            .zip(&ids)
            .map(|((spec, (private, psk)), &id)| NewRouterRow {
                id,
                name: spec.name.to_string(),
                host_index: 0, // allocated under the lock, below
                public_key: private.public_key(),
                private_key_sealed: self.vault.seal(
                    private.as_bytes(),
                    &aad("routers", id, rotation::CURRENT_PRIVATE),
                ),
                preshared_key_sealed: self.vault.seal(
                    psk.as_bytes(),
                    &aad("routers", id, rotation::CURRENT_PRESHARED),
                ),
                interface_name: spec.interface_name.to_string(),
                keepalive: spec.keepalive,
                platform: None,
            })
            .collect();
        drop(keys);
        if let (Some(platform), [row]) = (platform, &mut rows[..]) {
            row.platform = Some(platform);
        }
        let mut lock = store::lock_tenant(tx, tenant.as_str()).await?;
        // After the tenant's lock (always in this order): placement, capacity, hub lock.
        let hub = store::home_hub_for_routers(
            tx,
            lock.tenant_id,
            tenant.as_str(),
            hub.map(HubName::as_str),
            count,
        )
        .await?;
        // Sent at commit, whenever it is queued.
        let change = match &ids[..] {
            [id] => Change::new(ChangeKind::RouterCreated).id(*id),
            _ => Change::new(ChangeKind::RoutersImported),
        };
        publish(tx, &change.tenant(tenant_id).hub(hub.id)).await?;

        let indexes =
            store::allocate_host_indexes(tx, &mut lock, count as u32, tenant.as_str()).await?;
        for (row, &index) in rows.iter_mut().zip(&indexes) {
            row.host_index = index;
        }
        store::insert_routers(tx, &lock, &hub, &rows).await?;

        let address =
            |index: Option<&u32>| index.and_then(|&i| ipam::router_address(lock.octet, i));
        let summary = ImportSummary {
            tenant: tenant.to_string(),
            hub: hub.name.clone(),
            routers: count,
            first_vpn_ip: address(indexes.iter().min()),
            last_vpn_ip: address(indexes.iter().max()),
        };
        if count == 1 {
            store::audit_router_add(tx, tenant.as_str(), &specs[0].name, summary.first_vpn_ip)
                .await?;
        } else {
            store::audit_import(tx, &summary).await?;
        }
        Ok((summary, ids))
    }

    /// A router with its keys unsealed, for its script.
    pub async fn router_material(&self, tenant: &str, router: &str) -> Result<RouterMaterial> {
        let row = self.store.router_secret(tenant, router).await?;
        let hub = self.store.hub_by_id(row.router.hub_id).await?;
        self.unseal_router(row, hub)
    }

    /// Unseals a router's keys read by any caller (the API reads them as its scoped role):
    /// the staged ones while a rotation is staged.
    pub(crate) fn unseal_router(&self, row: RouterSecretRow, hub: Hub) -> Result<RouterMaterial> {
        let (private_sealed, psk_sealed, staged) = match (
            &row.pending_private_key_sealed,
            &row.pending_preshared_key_sealed,
        ) {
            (Some(private), Some(psk)) => (private, psk, true),
            _ => (&row.private_key_sealed, &row.preshared_key_sealed, false),
        };
        let (private_aad, psk_aad) = rotation::router_aads(row.router.id, staged);
        let private_key = self.open_base64(private_sealed, &private_aad)?;
        let preshared_key = self.open_base64(psk_sealed, &psk_aad)?;
        Ok(RouterMaterial {
            router: row.router,
            hub,
            private_key,
            preshared_key,
        })
    }

    /// A hub with its private key, the tenants it serves and every router peer.
    pub async fn hub_material(&self, hub: &str) -> Result<HubMaterial> {
        let row = self.store.hub_secret(hub).await?;
        let id = row.hub.id;
        let private_key =
            self.open_base64(&row.private_key_sealed, &aad("hubs", id, "private_key"))?;
        let routers = self.store.hub_routers_secret(id).await?;
        let tenants = self.store.tenants_served_by(id).await?;
        let peers = routers
            .into_iter()
            .map(|r| {
                let (_, psk_aad) = rotation::router_aads(r.router.id, false);
                let preshared_key = self.open_base64(&r.preshared_key_sealed, &psk_aad)?;
                let staged = match (r.router.pending_public_key, &r.pending_preshared_key_sealed) {
                    (Some(public_key), Some(sealed)) => {
                        let (_, psk_aad) = rotation::router_aads(r.router.id, true);
                        Some(StagedPeer {
                            public_key,
                            preshared_key: self.open_base64(sealed, &psk_aad)?,
                        })
                    }
                    _ => None,
                };
                Ok(HubPeer {
                    router_id: r.router.id,
                    router: r.router.name,
                    tenant: r.router.tenant,
                    public_key: r.router.public_key,
                    preshared_key,
                    vpn_ip: r.router.vpn_ip,
                    enabled: r.router.enabled,
                    staged,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HubMaterial {
            hub: row.hub,
            private_key,
            tenants,
            peers,
        })
    }

    fn open_base64(&self, sealed: &[u8], aad: &str) -> Result<Zeroizing<String>> {
        let key = self.vault.open_key(sealed, aad)?;
        Ok(Zeroizing::new(STANDARD.encode(key.as_ref())))
    }
}

/// Refuses a name listed twice, then generates the keys off the async threads.
async fn prepare_keys(specs: &[RouterSpec]) -> Result<Vec<(PrivateKey, PresharedKey)>> {
    let mut seen = HashSet::with_capacity(specs.len());
    if let Some(dup) = specs.iter().find(|s| !seen.insert(s.name.as_str())) {
        return Err(
            InvalidInput(format!("router name {} appears more than once", dup.name)).into(),
        );
    }
    let count = specs.len();
    tokio::task::spawn_blocking(move || generate_keys(count))
        .await
        .map_err(|err| Error::Other(format!("key generation failed: {err}")))
}

/// Generates `count` router keypairs and preshared keys on all cores.
fn generate_keys(count: usize) -> Vec<(PrivateKey, PresharedKey)> {
    let generate = |n: usize| {
        (0..n)
            .map(|_| (PrivateKey::generate(), PresharedKey::generate()))
            .collect::<Vec<_>>()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if count < 64 || threads == 1 {
        return generate(count);
    }
    let chunk = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let n = chunk.min(count.saturating_sub(i * chunk));
                scope.spawn(move || generate(n))
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("key generation thread panicked"))
            .collect()
    })
}
