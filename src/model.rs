//! Domain types shared by every client of the core: validated names, endpoints and the
//! rows the store hands out. Validation lives here so the command line, the console and the
//! script generators all refuse exactly the same input.

use std::fmt;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use ipnet::Ipv4Net;
use serde::Serialize;

use crate::keys::PublicKey;

/// A value an operator typed that tikwire refuses; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// Longest tenant or router name. RouterOS accepts longer comments, but names end up in
/// interface comments, file names and 80-column panes.
pub const MAX_NAME_LEN: usize = 63;
/// Linux (and so wg-quick) limits interface names to 15 bytes.
pub const MAX_INTERFACE_LEN: usize = 15;

const NAME_RULE: &str = "ASCII letters, digits, '-', '_' and '.', starting with a letter or digit";

fn check_name(kind: &str, value: &str, max: usize) -> Result<(), InvalidInput> {
    if value.is_empty() {
        return Err(InvalidInput(format!("{kind} must not be empty")));
    }
    if value.len() > max {
        return Err(InvalidInput(format!(
            "{kind} is {} characters long; at most {max} are allowed",
            value.chars().count()
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(InvalidInput(format!(
            "{kind} {} contains {}; allowed are {NAME_RULE}",
            quoted(value),
            describe_char(bad)
        )));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(InvalidInput(format!(
            "{kind} {} must start with a letter or digit",
            quoted(value)
        )));
    }
    Ok(())
}

/// A refused value in double quotes, escaped once: control characters as `\x1b`, nothing
/// else touched (`a'b` stays `"a'b"`).
fn quoted(value: &str) -> String {
    format!("\"{}\"", crate::format::escape_control(value))
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\n' | '\r' => "a line break".into(),
        '\t' => "a tab".into(),
        '\'' => "a quote (')".into(),
        c if c.is_ascii_graphic() => format!("'{c}'"),
        c if c.is_control() => format!("a control character (U+{:04X})", c as u32),
        c => format!("U+{:04X} ({c}), which is not an ASCII letter", c as u32),
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, InvalidInput> {
                check_name($kind, value, $max)?;
                Ok(Self(value.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A tenant's name: safe to put in a RouterOS script, a file name and a terminal.
    TenantName, "tenant name", MAX_NAME_LEN
);
name_type!(
    /// A router's name, unique within its tenant.
    RouterName, "router name", MAX_NAME_LEN
);
name_type!(
    /// A hub's name.
    HubName, "hub name", MAX_NAME_LEN
);
name_type!(
    /// A WireGuard interface name (router side or hub side); wg-quick's 15-byte limit applies.
    InterfaceName, "interface name", MAX_INTERFACE_LEN
);

/// Default name of the router's WireGuard interface.
pub const DEFAULT_ROUTER_INTERFACE: &str = "wg-hotspot";
/// Default persistent keepalive: routers sit behind NAT and must keep the mapping open.
pub const DEFAULT_KEEPALIVE: u16 = 25;
pub const DEFAULT_HUB_INTERFACE: &str = "wg0";
pub const DEFAULT_LISTEN_PORT: u16 = 51820;
/// A hub's capacity unless set: one tenant's full range of router addresses.
pub const DEFAULT_MAX_PEERS: u32 = 65_278;

/// Persistent keepalive in seconds; never zero, because the router is behind NAT.
pub fn parse_keepalive(value: &str) -> Result<u16, InvalidInput> {
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(InvalidInput(format!(
            "keepalive {value:?} is not a number of seconds from 1 to 65535 (routers behind NAT need one; 25 is usual)"
        ))),
    }
}

/// A UDP port from 1 to 65535, written plainly: digits only, no sign, blank or leading zero
/// (`+5`, ` 51820` and `051820` are typos or tricks, not ports).
pub fn parse_port(what: &str, value: &str) -> Result<u16, InvalidInput> {
    let plain = !value.is_empty()
        && value.len() <= 5
        && value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0');
    match value.parse::<u32>() {
        Ok(n) if plain && (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(InvalidInput(format!(
            "{what} {} is not a port from 1 to 65535 (digits only, no leading zero)",
            quoted(value)
        ))),
    }
}

/// Where routers reach the hub: a DNS name or IP address, and a UDP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `HOST:PORT` or `[IPv6]:PORT`. Host names follow RFC 1123 (letters, digits,
    /// '-' and '.'), which also keeps them safe inside a RouterOS script.
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        let bad = |why: &str| {
            InvalidInput(format!(
                "endpoint {} {why}; expected HOST:PORT, e.g. vpn.example.com:51820",
                quoted(value)
            ))
        };
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or_else(|| bad("has no port"))?;
            let ip = host
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("has an invalid IPv6 address"))?;
            check_dialable_ipv6(ip).map_err(|why| bad(&why))?;
            (host, port)
        } else {
            let (host, port) = value.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
            if host.contains(':') {
                return Err(bad("must put an IPv6 address in brackets"));
            }
            check_host(host).map_err(|why| bad(&why))?;
            (host, port)
        };
        let port = parse_port("endpoint port", port).map_err(|_| {
            bad(&format!(
                "has port {}, which is not a port number from 1 to 65535 (digits only, no leading zero)",
                quoted(port)
            ))
        })?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    pub fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ipv6() {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("has an empty host".into());
    }
    if host.len() > 253 {
        return Err("has a host name longer than 253 characters".into());
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return check_dialable_ipv4(ip);
    }
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Err("names this machine (localhost), which a router cannot dial".into());
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("has an empty or over-long label in its host name".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "contains {} in its host name (allowed: letters, digits, '-' and '.')",
                describe_char(c)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("has a host name label that starts or ends with '-'".into());
        }
    }
    // A name whose last label is numeric (`10.1.300`, `0x7f.1`) is no DNS name (top-level
    // labels are never numeric), and resolvers may read it as a shorthand IPv4 address.
    let last = host.rsplit('.').next().unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|digits| digits.chars().all(|c| c.is_ascii_hexdigit()));
    if last.chars().all(|c| c.is_ascii_digit()) || hex {
        return Err(
            "has an invalid IPv4 address (write it as four decimal numbers, e.g. 203.0.113.7)"
                .into(),
        );
    }
    Ok(())
}

/// An address a router out on the internet can send packets to.
fn check_dialable_ipv4(ip: Ipv4Addr) -> Result<(), String> {
    let why = if ip.is_unspecified() || ip.octets()[0] == 0 {
        "is an unspecified address (0.x.x.x)"
    } else if ip.is_broadcast() {
        "is the broadcast address"
    } else if ip.is_loopback() {
        "is a loopback address (the router would dial itself)"
    } else if ip.is_multicast() {
        "is a multicast address"
    } else if ip.octets()[0] >= 240 {
        "is a reserved address (240.0.0.0/4)"
    } else {
        return Ok(());
    };
    Err(format!("{why}, which a router cannot dial"))
}

fn check_dialable_ipv6(ip: std::net::Ipv6Addr) -> Result<(), String> {
    let why = if ip.is_unspecified() {
        "is the unspecified address (::)"
    } else if ip.is_loopback() {
        "is the loopback address (the router would dial itself)"
    } else if ip.is_multicast() {
        "is a multicast address"
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        return check_dialable_ipv4(v4);
    } else {
        return Ok(());
    };
    Err(format!("{why}, which a router cannot dial"))
}

/// Where a router stands, derived from the hub's latest handshake with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterStatus {
    /// Provisioned, never shook hands.
    Pending,
    /// Handshake within the online threshold (180 s by default).
    Online,
    /// Handshake within the stale threshold (10 min by default).
    Stale,
    /// Older handshake.
    Offline,
    /// Switched off by an operator; the hub drops its peer.
    Disabled,
}

impl RouterStatus {
    pub const ALL: [RouterStatus; 5] = [
        Self::Pending,
        Self::Online,
        Self::Stale,
        Self::Offline,
        Self::Disabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Online => "online",
            Self::Stale => "stale",
            Self::Offline => "offline",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl fmt::Display for RouterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored as TEXT; a value tikwire does not know is a decoding error, not a default.
impl sqlx::Type<sqlx::Postgres> for RouterStatus {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for RouterStatus {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Self::parse(text).ok_or_else(|| format!("unknown router status {text:?}").into())
    }
}

/// What a bulk import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    pub tenant: String,
    pub hub: String,
    pub routers: usize,
    pub first_vpn_ip: Option<Ipv4Addr>,
    pub last_vpn_ip: Option<Ipv4Addr>,
}

/// Who runs an agent: stored in its heartbeat row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub host: String,
    pub pid: i32,
    pub started_at: DateTime<Utc>,
}

impl AgentIdentity {
    /// This process on this host, starting now.
    pub fn current() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        Self {
            host,
            pid: std::process::id() as i32,
            started_at: Utc::now(),
        }
    }
}

/// A hub as listed (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Hub {
    pub id: i64,
    pub name: String,
    /// HOST:PORT, written from the two fields below when the row is read.
    #[sqlx(skip)]
    pub endpoint: String,
    pub endpoint_host: String,
    #[sqlx(try_from = "i32")]
    pub endpoint_port: u16,
    #[sqlx(rename = "interface_name")]
    pub interface: String,
    #[sqlx(try_from = "i32")]
    pub listen_port: u16,
    pub public_key: PublicKey,
    /// Counted only in listings (0 elsewhere).
    pub routers: i64,
    pub created_at: DateTime<Utc>,
    /// How many routers the hub may carry: its tenants' routers together.
    #[sqlx(try_from = "i32")]
    pub max_peers: i64,
    /// The hub's address on the management network, the next hop of its tenants' routes;
    /// none when its endpoint is not an IPv4 address and nobody set one.
    #[sqlx(skip)]
    pub mgmt_address: Option<Ipv4Addr>,
}

impl Hub {
    /// Fills `endpoint` from host and port, as an operator writes it (IPv6 in brackets).
    pub(crate) fn with_endpoint(mut self) -> Self {
        self.endpoint = Endpoint {
            host: self.endpoint_host.clone(),
            port: self.endpoint_port,
        }
        .to_string();
        self
    }
}

/// A tenant with its subnet and fleet counts.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub subnet_cidr: Ipv4Net,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub hub_ip: Ipv4Addr,
    #[sqlx(try_from = "i32")]
    pub routers: i64,
    pub online: i64,
    #[sqlx(try_from = "i32")]
    pub capacity: i64,
    pub created_at: DateTime<Utc>,
    /// The home hub, where its routers live; none until a hub exists (it is placed when its
    /// first router is provisioned).
    pub hub: Option<String>,
    /// Other hubs still holding some of its routers (left there by the migration to home
    /// hubs); empty normally.
    pub other_hubs: Vec<String>,
}

/// A router as listed and shown: everything an operator may see, never a private or
/// preshared key.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Router {
    pub id: i64,
    pub name: String,
    pub tenant: String,
    pub tenant_id: i64,
    pub hub: String,
    pub hub_id: i64,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub vpn_ip: Ipv4Addr,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub subnet_cidr: Ipv4Net,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub hub_ip: Ipv4Addr,
    pub public_key: PublicKey,
    pub interface_name: String,
    #[sqlx(try_from = "i32")]
    pub keepalive: u16,
    pub enabled: bool,
    pub status: RouterStatus,
    pub last_handshake_at: Option<DateTime<Utc>>,
    pub first_handshake_at: Option<DateTime<Utc>>,
    pub last_endpoint: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the current keys were generated (provisioning or the last cut-over).
    pub keys_created_at: DateTime<Utc>,
    pub rotation_state: RotationState,
    /// The staged public key, while a rotation is staged.
    pub pending_public_key: Option<PublicKey>,
    pub rotation_staged_at: Option<DateTime<Utc>>,
}

impl Router {
    /// Are this router's keys older than `max_age` (`None`: no policy) with no rotation staged?
    pub fn rotation_due(&self, max_age: Option<chrono::Duration>, now: DateTime<Utc>) -> bool {
        self.key_standing(max_age, now) == KeyStanding::Due
    }

    pub fn key_standing(
        &self,
        max_age: Option<chrono::Duration>,
        now: DateTime<Utc>,
    ) -> KeyStanding {
        KeyStanding::of(self.rotation_state, self.keys_created_at, max_age, now)
    }
}

/// Where a router's keys stand against the rotation policy: what `router list` and the
/// console mark beside the key age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStanding {
    /// Younger than the maximum age (or no policy), nothing staged.
    Current,
    /// Older than the maximum age, nothing staged.
    Due,
    /// New keys staged, waiting for the router's first handshake with them.
    Staged,
}

impl KeyStanding {
    /// Computed from the parts, so rows that do not hold a whole [`Router`] (the console's)
    /// get the same answer.
    pub fn of(
        state: RotationState,
        keys_created_at: DateTime<Utc>,
        max_age: Option<chrono::Duration>,
        now: DateTime<Utc>,
    ) -> Self {
        match state {
            RotationState::Staged => Self::Staged,
            RotationState::None if max_age.is_some_and(|age| now - keys_created_at >= age) => {
                Self::Due
            }
            RotationState::None => Self::Current,
        }
    }

    /// The word shown after the key age, if any.
    pub fn marker(self) -> Option<&'static str> {
        match self {
            Self::Current => None,
            Self::Due => Some("due"),
            Self::Staged => Some("staged"),
        }
    }
}

/// Whether a router has new keys staged beside its current ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationState {
    None,
    /// New keys wait for the router's first handshake with them.
    Staged,
}

impl RotationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Staged => "staged",
        }
    }
}

impl fmt::Display for RotationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read from a `CASE` over the staged columns.
impl sqlx::Type<sqlx::Postgres> for RotationState {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for RotationState {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)? {
            "none" => Ok(Self::None),
            "staged" => Ok(Self::Staged),
            other => Err(format!("unknown rotation state {other:?}").into()),
        }
    }
}

/// Per-tenant subnet usage, with the true capacity figures.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SubnetUsage {
    pub tenant: String,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub subnet_cidr: Ipv4Net,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub hub_ip: Ipv4Addr,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub range_start: Ipv4Addr,
    #[sqlx(try_from = "crate::store::columns::V4")]
    pub range_end: Ipv4Addr,
    #[sqlx(try_from = "i32")]
    pub capacity: i64,
    #[sqlx(try_from = "i32")]
    pub allocated: i64,
    #[sqlx(try_from = "i32")]
    pub available: i64,
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_routeros_safe_values() {
        for ok in ["acme", "Branch-01", "site_7.lan", "9lives"] {
            assert!(RouterName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn names_reject_script_breaking_values() {
        for bad in [
            "",
            "a b",
            "a\"b",
            "a\\b",
            "a$b",
            "a[b",
            "a]b",
            "a{b",
            "a}b",
            "a;b",
            "a\nb",
            "a?b",
            "a#b",
            "caf\u{e9}",
            "-lead",
            ".lead",
            "a\tb",
        ] {
            let err = RouterName::parse(bad).unwrap_err();
            assert!(!err.0.contains('\n'), "one line: {err}");
        }
        assert!(RouterName::parse(&"x".repeat(64)).is_err());
        assert!(InterfaceName::parse("wg-hotspot-long1").is_err());
    }

    #[test]
    fn endpoints_parse_and_reject() {
        assert_eq!(
            Endpoint::parse("vpn.example.com:51820").unwrap(),
            Endpoint {
                host: "vpn.example.com".into(),
                port: 51820
            }
        );
        assert_eq!(
            Endpoint::parse("[2001:db8::1]:443").unwrap().to_string(),
            "[2001:db8::1]:443"
        );
        for bad in [
            "vpn.example.com",
            "vpn.example.com:0",
            "vpn.example.com:70000",
            ":51820",
            "2001:db8::1:51820",
            "a b:1",
            "vpn$(x):1",
            "300.1.1.1:1",
            "-x.com:1",
            "x..com:1",
            "host:+5",
            "host:051820",
            "host: 51820",
            "host:51820 ",
            "host:",
            "0.0.0.0:51820",
            "0.1.2.3:51820",
            "255.255.255.255:51820",
            "127.0.0.1:51820",
            "224.0.0.1:51820",
            "240.0.0.1:51820",
            "[::]:51820",
            "[::1]:51820",
            "[ff02::1]:51820",
            "[::ffff:0.0.0.0]:51820",
            "0x7f.1:51820",
            "0x7f000001:51820",
            "10.1.300:51820",
            "localhost:51820",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "203.0.113.7:51820",
            "vpn.example.com:1",
            "vpn.example.com:65535",
            "[2001:db8::1]:51820",
            "1.example:51820",
            "x1.example.net:51820",
        ] {
            assert!(Endpoint::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn refusals_quote_the_value_once_and_name_ascii() {
        let err = RouterName::parse("a'b").unwrap_err().0;
        assert!(
            err.starts_with("router name \"a'b\" contains a quote"),
            "{err}"
        );
        let err = RouterName::parse("ca\u{f1}on").unwrap_err().0;
        assert!(err.contains("U+00F1"), "{err}");
        assert!(err.contains("not an ASCII letter"), "{err}");
        assert!(err.contains("allowed are ASCII letters"), "{err}");
        let err = TenantName::parse("r1\x1b]0;PWNED\x07").unwrap_err().0;
        assert!(!err.chars().any(char::is_control), "{err:?}");
        assert!(err.contains("\"r1\\x1b]0;PWNED\\x07\""), "{err}");
    }

    #[test]
    fn keepalive_and_ports() {
        assert_eq!(parse_keepalive("25").unwrap(), 25);
        assert!(parse_keepalive("0").is_err());
        assert!(parse_keepalive("65536").is_err());
        assert!(parse_port("listen port", "70000").is_err());
        for bad in [
            "+5", "051820", " 51820", "51820 ", "", "0", "0x10", "-1", "1e3",
        ] {
            assert!(parse_port("listen port", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_port("listen port", "51820").unwrap(), 51820);
    }
}
