//! Parser for `wg show IFACE dump`.
//!
//! The format (wireguard-tools): the first line describes the interface (private key, public
//! key, listen port, fwmark); every further line is one peer, tab-separated: public key,
//! preshared key, endpoint, allowed IPs, latest handshake (unix seconds, 0 = never), rx bytes,
//! tx bytes, persistent keepalive. Absent values print as "(none)" or "off".
//!
//! The parser borrows from the text (secret keys stay `&str` slices; public keys are parsed
//! into [`PublicKey`] here, once) and allocates only the list of allowed IPs per peer. The output carries secrets (the interface's private key, each peer's
//! preshared key): the private key is only checked for shape and then forgotten, preshared
//! keys are kept as [`SecretStr`], whose `Debug` never shows them, and no error message ever
//! quotes a key field.

use std::fmt;
use std::net::SocketAddr;

use ipnet::IpNet;

use crate::keys::{PublicKey, is_key};

/// What `wg` prints for an absent key, endpoint or allowed-IP list.
const NONE: &str = "(none)";
/// What `wg` prints for an unset keepalive or fwmark.
const OFF: &str = "off";

/// One parsed dump: the interface and its peers, in the order `wg` printed them.
#[derive(Debug)]
pub struct Dump<'a> {
    pub interface: InterfaceLine,
    pub peers: Vec<PeerLine<'a>>,
}

/// The interface line. The private key is checked but never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceLine {
    pub has_private_key: bool,
    /// `None` when the interface has no private key yet.
    pub public_key: Option<PublicKey>,
    pub listen_port: u16,
    pub fwmark: Option<u32>,
}

/// One peer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLine<'a> {
    /// 1-based line number in the dump, for error messages further on.
    pub line: usize,
    pub public_key: PublicKey,
    pub preshared_key: Option<SecretStr<'a>>,
    pub endpoint: Option<SocketAddr>,
    pub allowed_ips: Vec<IpNet>,
    /// Unix seconds of the latest handshake; `None` = never.
    pub latest_handshake: Option<u64>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Seconds; `None` = off.
    pub persistent_keepalive: Option<u16>,
}

/// A borrowed secret (a preshared key) whose `Debug` and `Display` never show it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretStr<'a>(&'a str);

impl<'a> SecretStr<'a> {
    /// The secret itself; for comparing in memory or handing to `wg`, never for printing.
    pub fn expose(&self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for SecretStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretStr(redacted)")
    }
}

/// A line of the dump that is not what `wg` prints. Never quotes a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wg dump line {line}: {problem}")]
pub struct DumpError {
    /// 1-based line number.
    pub line: usize,
    pub problem: Problem,
}

/// What is wrong with a dump line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the output is empty (no interface line)")]
    Empty,
    #[error("the output is not UTF-8 text")]
    NotUtf8,
    #[error("the line is empty")]
    EmptyLine,
    #[error("the output ends in the middle of this line (truncated)")]
    Truncated,
    #[error("{what} line has {found} tab-separated fields, expected {expected}")]
    FieldCount {
        what: &'static str,
        found: usize,
        expected: usize,
    },
    #[error(
        "the line has {found} fields: this looks like `wg show all dump`; read one interface with `wg show IFACE dump`"
    )]
    AllInterfaces { found: usize },
    /// The field is not a base64 WireGuard key. The value is deliberately not quoted.
    #[error("the {0} is not a WireGuard key (44 characters of base64)")]
    BadKey(&'static str),
    #[error("the {field} {value:?} is not {expected}")]
    BadValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Parses the whole output of `wg show IFACE dump`. Stops at the first bad line.
pub fn parse_dump(text: &str) -> Result<Dump<'_>, DumpError> {
    if text.is_empty() {
        return Err(DumpError {
            line: 1,
            problem: Problem::Empty,
        });
    }
    if !text.ends_with('\n') {
        // `wg` ends every line with '\n': a missing one means the output was cut, and the
        // last number on the line may be cut short with it.
        let line = 1 + text.bytes().filter(|&b| b == b'\n').count();
        return Err(DumpError {
            line,
            problem: Problem::Truncated,
        });
    }
    let mut lines = text
        .split_terminator('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let (_, first) = lines.next().ok_or(DumpError {
        line: 1,
        problem: Problem::Empty,
    })?;
    let interface = parse_interface(first).map_err(|problem| DumpError { line: 1, problem })?;
    // A peer line is about 150 bytes.
    let mut peers = Vec::with_capacity(text.len() / 140);
    for (line, text) in lines {
        peers.push(parse_peer(line, text).map_err(|problem| DumpError { line, problem })?);
    }
    Ok(Dump { interface, peers })
}

/// Parses raw bytes (as read from the `wg` process); non-UTF-8 is reported with its line.
pub fn parse_dump_bytes(bytes: &[u8]) -> Result<Dump<'_>, DumpError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_dump(text),
        Err(err) => {
            let line = 1 + bytes[..err.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Err(DumpError {
                line,
                problem: Problem::NotUtf8,
            })
        }
    }
}

/// Splits a line on tabs into exactly `N` fields, or reports how many there were.
/// Parses `wg show IFACE latest-handshakes`: per peer, its public key and the unix seconds of
/// its latest handshake (`None` = never). It holds no secret, so the cut-over watch can read it
/// several times a second without handling preshared keys.
pub fn parse_latest_handshakes(text: &str) -> Result<Vec<(PublicKey, Option<u64>)>, DumpError> {
    if !text.is_empty() && !text.ends_with('\n') {
        let line = 1 + text.bytes().filter(|&b| b == b'\n').count();
        return Err(DumpError {
            line,
            problem: Problem::Truncated,
        });
    }
    text.split_terminator('\n')
        .enumerate()
        .map(|(i, line)| {
            let at = |problem| DumpError {
                line: i + 1,
                problem,
            };
            let [key, handshake] = fields::<2>(line).map_err(|found| {
                at(Problem::FieldCount {
                    what: "latest-handshakes",
                    found,
                    expected: 2,
                })
            })?;
            let key = public_key_field(key, "peer public key").map_err(at)?;
            let seconds: u64 = number(handshake, "latest handshake", "unix seconds").map_err(at)?;
            Ok((key, (seconds > 0).then_some(seconds)))
        })
        .collect()
}

fn fields<const N: usize>(line: &str) -> Result<[&str; N], usize> {
    let mut out = [""; N];
    let mut count = 0;
    for field in line.split('\t') {
        if count < N {
            out[count] = field;
        }
        count += 1;
    }
    if count == N { Ok(out) } else { Err(count) }
}

fn parse_interface(line: &str) -> Result<InterfaceLine, Problem> {
    if line.is_empty() {
        return Err(Problem::EmptyLine);
    }
    let [private_key, public_key, port, fwmark] = fields::<4>(line).map_err(|found| {
        if found == 5 || found == 9 {
            Problem::AllInterfaces { found }
        } else {
            Problem::FieldCount {
                what: "interface",
                found,
                expected: 4,
            }
        }
    })?;
    Ok(InterfaceLine {
        has_private_key: optional_key(private_key, "interface private key")?.is_some(),
        public_key: match public_key {
            NONE => None,
            key => Some(public_key_field(key, "interface public key")?),
        },
        listen_port: number(port, "listen port", "a port number")?,
        fwmark: parse_fwmark(fwmark)?,
    })
}

fn parse_peer(line_no: usize, line: &str) -> Result<PeerLine<'_>, Problem> {
    if line.is_empty() {
        return Err(Problem::EmptyLine);
    }
    let [
        public_key,
        psk,
        endpoint,
        allowed,
        handshake,
        rx,
        tx,
        keepalive,
    ] = fields::<8>(line).map_err(|found| {
        if found == 9 {
            Problem::AllInterfaces { found }
        } else {
            Problem::FieldCount {
                what: "peer",
                found,
                expected: 8,
            }
        }
    })?;
    let public_key = public_key_field(public_key, "peer public key")?;
    let handshake: u64 = number(handshake, "latest handshake", "unix seconds")?;
    Ok(PeerLine {
        line: line_no,
        public_key,
        preshared_key: optional_key(psk, "preshared key")?.map(SecretStr),
        endpoint: parse_endpoint(endpoint)?,
        allowed_ips: parse_allowed_ips(allowed)?,
        latest_handshake: (handshake != 0).then_some(handshake),
        rx_bytes: number(rx, "rx byte count", "a whole number")?,
        tx_bytes: number(tx, "tx byte count", "a whole number")?,
        persistent_keepalive: match keepalive {
            OFF => None,
            value => Some(number(value, "persistent keepalive", "seconds or \"off\"")?),
        },
    })
}

/// A key field that may be "(none)".
fn optional_key<'a>(value: &'a str, what: &'static str) -> Result<Option<&'a str>, Problem> {
    match value {
        NONE => Ok(None),
        key if is_key(key) => Ok(Some(key)),
        _ => Err(Problem::BadKey(what)),
    }
}

/// A public key field, parsed by the one rule for keys.
fn public_key_field(value: &str, what: &'static str) -> Result<PublicKey, Problem> {
    value.parse().map_err(|_| Problem::BadKey(what))
}

fn number<T: std::str::FromStr>(
    value: &str,
    field: &'static str,
    expected: &'static str,
) -> Result<T, Problem> {
    // `str::parse` accepts a leading '+', which `wg` never prints.
    if value.starts_with('+') {
        return Err(bad_value(field, value, expected));
    }
    value.parse().map_err(|_| bad_value(field, value, expected))
}

fn bad_value(field: &'static str, value: &str, expected: &'static str) -> Problem {
    // Not a key field, but a damaged line can shift a key into any column: never show
    // anything that could be (part of) one, and only a short prefix of the rest.
    let shown = if looks_like_key_material(value) {
        "(not shown: looks like key material)".to_owned()
    } else {
        value.chars().take(48).collect()
    };
    Problem::BadValue {
        field,
        value: shown,
        expected,
    }
}

/// True when `value` holds a run of 20 or more base64 characters (15+ bytes of a key)
/// other than a plain decimal number.
fn looks_like_key_material(value: &str) -> bool {
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
        .any(|run| run.len() >= 20 && !run.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_fwmark(value: &str) -> Result<Option<u32>, Problem> {
    let expected = "a number or \"off\"";
    match value {
        OFF => Ok(None),
        hex if hex.starts_with("0x") => u32::from_str_radix(&hex[2..], 16)
            .map(Some)
            .map_err(|_| bad_value("fwmark", value, expected)),
        decimal => number(decimal, "fwmark", expected).map(Some),
    }
}

fn parse_endpoint(value: &str) -> Result<Option<SocketAddr>, Problem> {
    if value == NONE {
        return Ok(None);
    }
    let expected = "ADDRESS:PORT or [IPv6]:PORT";
    if let Ok(addr) = value.parse() {
        return Ok(Some(addr));
    }
    // A link-local IPv6 endpoint prints with its zone ("[fe80::1%eth0]:51820"), which
    // std does not parse: keep the address and port, drop the zone.
    match (value.starts_with('['), value.find('%'), value.rfind("]:")) {
        (true, Some(zone), Some(close)) if zone < close => {
            let without_zone = format!("{}{}", &value[..zone], &value[close..]);
            without_zone
                .parse()
                .map(Some)
                .map_err(|_| bad_value("endpoint", value, expected))
        }
        _ => Err(bad_value("endpoint", value, expected)),
    }
}

fn parse_allowed_ips(value: &str) -> Result<Vec<IpNet>, Problem> {
    if value == NONE {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|net| {
            net.parse()
                .map_err(|_| bad_value("allowed IP", net, "an address/prefix"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "zepa9jNGsf2KNmiXVLjaYz+t0FehrMMvxF5o6XrIg20=";
    const K2: &str = "SIkcB8M6dyXOPC8apVruEDfaU6MhFW3uynJjsVp3Ghs=";

    fn iface() -> String {
        format!("{K1}\t{K2}\t51820\toff\n")
    }

    fn one_peer(line: &str) -> Result<PeerLine<'_>, DumpError> {
        parse_peer(2, line).map_err(|problem| DumpError { line: 2, problem })
    }

    #[test]
    fn peer_with_every_field() {
        let line =
            format!("{K1}\t{K2}\t203.0.113.7:13231\t10.100.1.1/32\t1795538675\t564\t476\t25");
        let peer = one_peer(&line).unwrap();
        assert_eq!(peer.public_key.to_string(), K1);
        assert_eq!(peer.preshared_key.unwrap().expose(), K2);
        assert_eq!(peer.endpoint, Some("203.0.113.7:13231".parse().unwrap()));
        assert_eq!(
            peer.allowed_ips,
            vec!["10.100.1.1/32".parse::<IpNet>().unwrap()]
        );
        assert_eq!(peer.latest_handshake, Some(1_795_538_675));
        assert_eq!((peer.rx_bytes, peer.tx_bytes), (564, 476));
        assert_eq!(peer.persistent_keepalive, Some(25));
    }

    #[test]
    fn absent_values() {
        let line = format!("{K1}\t(none)\t(none)\t(none)\t0\t0\t0\toff");
        let peer = one_peer(&line).unwrap();
        assert_eq!(peer.preshared_key, None);
        assert_eq!(peer.endpoint, None);
        assert!(peer.allowed_ips.is_empty());
        assert_eq!(peer.latest_handshake, None);
        assert_eq!(peer.persistent_keepalive, None);
    }

    #[test]
    fn ipv6_endpoints_and_several_allowed_ips() {
        let line = format!(
            "{K1}\t(none)\t[2001:db8::7]:51820\t10.1.1.1/32,10.2.0.0/16,fd00::/64\t1\t2\t3\toff"
        );
        let peer = one_peer(&line).unwrap();
        assert_eq!(peer.endpoint, Some("[2001:db8::7]:51820".parse().unwrap()));
        assert_eq!(peer.allowed_ips.len(), 3);
        let zoned = format!("{K1}\t(none)\t[fe80::1%eth0]:51820\t(none)\t1\t2\t3\toff");
        assert_eq!(
            one_peer(&zoned).unwrap().endpoint,
            Some("[fe80::1]:51820".parse().unwrap())
        );
    }

    #[test]
    fn interface_line_variants() {
        let dump = "(none)\t(none)\t45647\toff\n".to_owned();
        let parsed = parse_dump(&dump).unwrap();
        assert!(!parsed.interface.has_private_key);
        assert_eq!(parsed.interface.public_key, None);
        assert_eq!(parsed.interface.listen_port, 45647);
        let marked = format!("{K1}\t{K2}\t51820\t0x1234\n");
        let parsed = parse_dump(&marked).unwrap();
        assert!(parsed.interface.has_private_key);
        assert_eq!(parsed.interface.fwmark, Some(0x1234));
        assert!(parsed.peers.is_empty());
    }

    /// Every malformed case: a clear error naming the line, never a key, never a panic.
    #[test]
    fn malformed_lines() {
        let good_peer = format!("{K1}\t{K2}\t192.0.2.1:1\t10.0.0.1/32\t1\t2\t3\toff");
        let cases: Vec<(String, usize, &str)> = vec![
            (String::new(), 1, "empty"),
            ("\n".into(), 1, "line is empty"),
            (
                format!("{K1}\t{K2}\t51820\n"),
                1,
                "3 tab-separated fields, expected 4",
            ),
            (
                format!("wg0\t{K1}\t{K2}\t51820\toff\n"),
                1,
                "wg show all dump",
            ),
            (format!("{}{}", iface(), good_peer), 2, "truncated"),
            (format!("{}{}\n\n", iface(), good_peer), 3, "line is empty"),
            (
                format!("{}{K1}\t{K2}\t(none)\n", iface()),
                2,
                "3 tab-separated fields, expected 8",
            ),
            (
                format!("{}{good_peer}\textra\n", iface()),
                2,
                "wg show all dump",
            ),
            (
                format!("{}{good_peer}\textra\tmore\n", iface()),
                2,
                "10 tab-separated",
            ),
            (
                format!("{}nokey\t(none)\t(none)\t(none)\t0\t0\t0\toff\n", iface()),
                2,
                "peer public key is not",
            ),
            (
                format!("{}(none)\t(none)\t(none)\t(none)\t0\t0\t0\toff\n", iface()),
                2,
                "peer public key is not",
            ),
            (
                format!(
                    "{}{K1}\t{}\t(none)\t(none)\t0\t0\t0\toff\n",
                    iface(),
                    &K2[..40]
                ),
                2,
                "preshared key is not",
            ),
            (
                format!("{}{K1}\t(none)\t192.0.2.1\t(none)\t0\t0\t0\toff\n", iface()),
                2,
                "endpoint",
            ),
            (
                format!(
                    "{}{K1}\t(none)\t(none)\t10.0.0.1/33\t0\t0\t0\toff\n",
                    iface()
                ),
                2,
                "allowed IP",
            ),
            (
                format!(
                    "{}{K1}\t(none)\t(none)\t10.0.0.1/32,\t0\t0\t0\toff\n",
                    iface()
                ),
                2,
                "allowed IP",
            ),
            (
                format!("{}{K1}\t(none)\t(none)\t(none)\t-1\t0\t0\toff\n", iface()),
                2,
                "latest handshake",
            ),
            (
                format!(
                    "{}{K1}\t(none)\t(none)\t(none)\t0\t18446744073709551616\t0\toff\n",
                    iface()
                ),
                2,
                "rx byte count",
            ),
            (
                format!("{}{K1}\t(none)\t(none)\t(none)\t0\t0\t+5\toff\n", iface()),
                2,
                "tx byte count",
            ),
            (
                format!("{}{K1}\t(none)\t(none)\t(none)\t0\t0\t0\t70000\n", iface()),
                2,
                "persistent keepalive",
            ),
            (format!("{K1}\t{K2}\t70000\toff\n"), 1, "listen port"),
            (format!("{K1}\t{K2}\t51820\t0xzz\n"), 1, "fwmark"),
            (
                format!("{K1}\r\t{K2}\t51820\toff\n"),
                1,
                "interface private key",
            ),
        ];
        for (text, line, needle) in cases {
            let err = parse_dump(&text).expect_err(&text);
            let message = err.to_string();
            assert_eq!(err.line, line, "{message}");
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            );
            assert!(
                !message.contains(K1) && !message.contains(K2),
                "leaks a key: {message}"
            );
            assert!(
                !message.contains(&K2[..40]),
                "leaks part of a key: {message}"
            );
            assert!(!message.contains('\n'), "one line: {message:?}");
        }
    }

    #[test]
    fn non_utf8_is_reported_with_its_line() {
        let mut bytes = iface().into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        let err = parse_dump_bytes(&bytes).unwrap_err();
        assert_eq!((err.line, err.problem), (2, Problem::NotUtf8));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let psk = "ugaRX/jj6RKyArOby6We4Brx+zi9N8tpgm7HTlOtOtM=";
        let text = format!("{}{K1}\t{psk}\t(none)\t(none)\t0\t0\t0\toff\n", iface());
        let debug = format!("{:?}", parse_dump(&text).unwrap());
        assert!(!debug.contains(psk), "{debug}");
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn shifted_key_in_a_shown_column_is_not_quoted() {
        // The tab between endpoint and allowed IPs lost: the key lands in the endpoint column.
        let text = format!("{}{K1}\t(none)\t{K2}\t(none)\t0\t0\t0\toff\n", iface());
        let message = parse_dump(&text).unwrap_err().to_string();
        assert!(
            message.contains("endpoint") && message.contains("not shown"),
            "{message}"
        );
        assert!(!message.contains(&K2[..20]), "{message}");
        // A long number is not key material and is shown.
        let text = format!(
            "{}{K1}\t(none)\t(none)\t(none)\t0\t123456789012345678901234\t0\toff\n",
            iface()
        );
        assert!(
            parse_dump(&text)
                .unwrap_err()
                .to_string()
                .contains("123456789012345678901234")
        );
    }

    #[test]
    fn keys_must_be_canonical() {
        assert!(is_key(K1));
        // Same length and alphabet but non-zero spare bits: `wg` never prints this.
        assert!(!is_key("zepa9jNGsf2KNmiXVLjaYz+t0FehrMMvxF5o6XrIg21="));
        assert!(!is_key(&K1[..43]));
        assert!(!is_key("zepa9jNGsf2KNmiXVLjaYz+t0FehrMMvxF5o6XrIg2-="));
    }
}
