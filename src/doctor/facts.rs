//! What the gathering found on the hub, in plain values: no secrets, no I/O. A fact that could
//! not be read is an `Err` with the reason, and its check says "cannot tell".

use std::net::IpAddr;

use ipnet::IpNet;

/// Gathered, or why not.
pub type Probe<T> = Result<T, String>;

/// The hub as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRef {
    pub name: String,
    pub interface: String,
    pub listen_port: u16,
    pub public_key: String,
    /// The host routers dial (from `--endpoint`).
    pub endpoint_host: String,
}

/// Where the master key comes from and how its file is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File {
        path: String,
        mode: u32,
        owner: u32,
        me: u32,
    },
    Missing {
        path: String,
    },
}

/// Schema versions: applied in the database against those built into this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    pub applied: Vec<i64>,
    /// Applied but not successful (`success = false`).
    pub failed: Vec<i64>,
    pub known: Vec<i64>,
}

/// The database side of the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFacts {
    pub migrations: Probe<Migrations>,
    /// The master key opens this database's vault (its key check).
    pub vault: Probe<()>,
    pub key_source: KeySource,
}

/// The interface as `ip -j link` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Administratively up (`UP` flag).
    pub up: bool,
    pub mtu: u32,
}

/// One peer of the database that the interface gets wrong, named "tenant/router".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerDiff {
    pub missing: Vec<String>,
    /// Public keys of peers no enabled router owns.
    pub unknown: Vec<String>,
    pub wrong_allowed_ips: Vec<String>,
    pub wrong_preshared_key: Vec<String>,
    /// Enabled routers in the database.
    pub expected: usize,
    /// Peers on the interface.
    pub present: usize,
}

/// What `wg show IFACE dump` said, compared with the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgFacts {
    /// Public key of the interface's private key; `None` when it has none.
    pub public_key: Option<String>,
    pub listen_port: u16,
    /// Needs the master key (preshared keys are compared in memory).
    pub peers: Probe<PeerDiff>,
    /// (peer key, peer key, overlapping network): one allowed IP on two peers.
    pub overlaps: Vec<(String, String, IpNet)>,
}

/// The agent's heartbeat row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub host: String,
    pub pid: i32,
    pub age_secs: i64,
    pub last_error: Option<String>,
    /// `Some(false)` when the agent's host is this one and its pid is gone.
    pub pid_alive: Option<bool>,
}

/// The tenant isolation table: what is loaded against what `hub firewall` prints now, both
/// as nftables lists them (handles removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFacts {
    pub name: String,
    pub loaded: Option<Vec<serde_json::Value>>,
    /// One listing per way `hub firewall` can print it (with and without
    /// `--allow-same-tenant`).
    pub expected: Probe<Vec<Vec<serde_json::Value>>>,
}

/// Everything the hub checks look at.
#[derive(Debug, Clone, PartialEq)]
pub struct HubFacts {
    /// `Err` when the database cannot be reached: only host checks follow.
    pub database: Probe<DatabaseFacts>,
    pub hub: Probe<HubRef>,
    pub link: Probe<Option<Link>>,
    pub wg: Probe<WgFacts>,
    /// UDP ports something listens on (IPv4 and IPv6).
    pub udp_ports: Probe<Vec<u16>>,
    /// `nft -j list ruleset`.
    pub ruleset: Probe<serde_json::Value>,
    pub table: Probe<TableFacts>,
    pub ip_forward: Probe<bool>,
    /// (`all`, the interface's) rp_filter values.
    pub rp_filter: Probe<(u8, u8)>,
    /// The device of the default route and its MTU.
    pub underlay: Probe<Option<(String, u32)>>,
    /// The kernel clock is synchronised (adjtimex).
    pub clock_synced: Probe<bool>,
    pub heartbeat: Probe<Option<Heartbeat>>,
    /// Seconds after which a heartbeat is stale.
    pub heartbeat_stale_secs: i64,
    /// Addresses the endpoint host resolves to.
    pub endpoint_addresses: Probe<Vec<IpAddr>>,
    /// Addresses of this host.
    pub local_addresses: Probe<Vec<IpAddr>>,
}
