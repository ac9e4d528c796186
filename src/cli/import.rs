//! `tikwire router import`: a CSV of routers provisioned in one transaction.
//!
//! Columns: `name[,interface_name[,keepalive]]`; an optional header line naming them (any
//! letter case); blank lines and lines starting with `#` are skipped. Spreadsheet exports
//! are welcome: a UTF-8 byte-order mark and CRLF line ends are accepted.
//!
//! The input is read in bounded memory: a regular file or `-` (stdin) only, lines of at most
//! [`MAX_LINE_BYTES`], and no more rows than the tenant has free addresses, each checked as
//! it is read, so `/dev/zero` or a runaway file fails at once.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use super::Context;
use super::output;
use crate::format::counted;
use crate::model::{
    DEFAULT_KEEPALIVE, DEFAULT_ROUTER_INTERFACE, HubName, InterfaceName, InvalidInput,
    MAX_NAME_LEN, RouterName, TenantName, parse_keepalive,
};
use crate::provision::RouterSpec;
use crate::{Error, Result};

/// The longest line read. A valid record is far shorter (name 63, interface 15, keepalive 5,
/// separators, quotes, a little padding); the rest allows long comments.
pub const MAX_LINE_BYTES: usize = 1024;

const UTF8_BOM: &str = "\u{feff}";

pub async fn run(
    ctx: &Context,
    file: &Path,
    tenant: &str,
    hub: Option<&str>,
    json: bool,
) -> Result<()> {
    let tenant = TenantName::parse(tenant)?;
    let hub = hub.map(HubName::parse).transpose()?;
    // Refuse a device, FIFO or directory before anything else.
    let (label, input) = open_input(file)?;
    let provisioner = ctx.provisioner().await?;
    let free = provisioner
        .store()
        .subnet_usage()
        .await?
        .into_iter()
        .find(|usage| usage.tenant == tenant.as_str())
        .map(|usage| usage.available)
        .ok_or_else(|| Error::NotFound(format!("no tenant named {tenant}")))?;
    let limit = RowLimit {
        rows: usize::try_from(free.max(0)).unwrap_or(usize::MAX),
        tenant: &tenant,
    };
    let specs = tokio::task::block_in_place(|| read_csv(input, &limit))
        .map_err(|e| InvalidInput(format!("{label}: {}", e.0)))?;
    let summary = provisioner
        .import_routers(&tenant, hub.as_ref(), &specs)
        .await?;
    if json {
        return output::json(&summary);
    }
    let range = match (summary.first_vpn_ip, summary.last_vpn_ip) {
        (Some(first), Some(last)) if first != last => format!("{first} to {last}"),
        (Some(first), _) => first.to_string(),
        _ => "-".into(),
    };
    let routers = i64::try_from(summary.routers).unwrap_or(i64::MAX);
    output::print(&format!(
        "imported {} into tenant {} on hub {} (address{} {range})\n",
        counted(routers, "router"),
        summary.tenant,
        summary.hub,
        if routers == 1 { "" } else { "es" }
    ))
}

/// The file, or stdin for `-`; anything but a regular file (or stdin) is refused.
fn open_input(path: &Path) -> Result<(String, Box<dyn Read + Send>)> {
    if path == Path::new("-") {
        return Ok(("stdin".into(), Box::new(std::io::stdin())));
    }
    let label = path.display().to_string();
    let cannot = |err| Error::io(format!("cannot read {label}"), err);
    // O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let kind = file.metadata().map_err(cannot)?.file_type();
    if !kind.is_file() {
        return Err(InvalidInput(format!(
            "{label} is not a regular file ({}); give a CSV file, or - for stdin",
            describe_file_type(kind)
        ))
        .into());
    }
    Ok((label, Box::new(file) as Box<dyn Read + Send>))
}

fn describe_file_type(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// How many rows the tenant can take.
pub struct RowLimit<'a> {
    pub rows: usize,
    pub tenant: &'a TenantName,
}

/// Reads and checks the rows; the error names the line. Memory stays bounded by the limits.
pub fn read_csv(input: impl Read, limit: &RowLimit<'_>) -> Result<Vec<RouterSpec>, InvalidInput> {
    let default_interface = InterfaceName::parse(DEFAULT_ROUTER_INTERFACE)
        .map_err(|e| InvalidInput(format!("default interface name: {}", e.0)))?;
    let mut reader = BufReader::new(input);
    let mut specs = Vec::new();
    let mut raw = Vec::with_capacity(128);
    let mut number = 0usize;
    loop {
        number += 1;
        raw.clear();
        let read = reader
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut raw)
            .map_err(|err| InvalidInput(format!("line {number}: cannot read: {err}")))?;
        if read == 0 {
            break;
        }
        if raw.len() > MAX_LINE_BYTES && raw.last() != Some(&b'\n') {
            return Err(InvalidInput(format!(
                "line {number} is longer than {MAX_LINE_BYTES} bytes; a record is name[,interface_name[,keepalive]] (a name has at most {MAX_NAME_LEN} characters)"
            )));
        }
        let at = |e: InvalidInput| InvalidInput(format!("line {number}: {}", e.0));
        let mut line =
            std::str::from_utf8(&raw).map_err(|_| at(InvalidInput("is not UTF-8 text".into())))?;
        if number == 1 {
            line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        if specs.is_empty() && cells[0].eq_ignore_ascii_case("name") {
            check_header(&cells).map_err(at)?;
            continue;
        }
        if cells.len() > 3 {
            return Err(at(InvalidInput(format!(
                "{} columns; expected name[,interface_name[,keepalive]]",
                cells.len()
            ))));
        }
        if specs.len() == limit.rows {
            return Err(InvalidInput(format!(
                "more routers than tenant {} has free addresses ({}); nothing was imported",
                limit.tenant,
                crate::format::count(i64::try_from(limit.rows).unwrap_or(i64::MAX))
            )));
        }
        let name = RouterName::parse(cells[0]).map_err(at)?;
        let interface_name = match cells.get(1).filter(|c| !c.is_empty()) {
            Some(name) => InterfaceName::parse(name).map_err(at)?,
            None => default_interface.clone(),
        };
        let keepalive = match cells.get(2).filter(|c| !c.is_empty()) {
            Some(value) => parse_keepalive(value).map_err(at)?,
            None => DEFAULT_KEEPALIVE,
        };
        specs.push(RouterSpec {
            name,
            interface_name,
            keepalive,
        });
    }
    Ok(specs)
}

/// A header names the columns in order, in any letter case.
fn check_header(cells: &[&str]) -> Result<(), InvalidInput> {
    const COLUMNS: [&str; 3] = ["name", "interface_name", "keepalive"];
    if cells.len() > COLUMNS.len() {
        return Err(InvalidInput(format!(
            "the header has {} columns; expected name[,interface_name[,keepalive]]",
            cells.len()
        )));
    }
    match cells
        .iter()
        .zip(COLUMNS)
        .position(|(cell, column)| !cell.eq_ignore_ascii_case(column))
    {
        Some(i) => Err(InvalidInput(format!(
            "header column {} is \"{}\"; expected {}",
            i + 1,
            crate::format::escape_control(cells[i]),
            COLUMNS[i]
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_csv(text: &str) -> Result<Vec<RouterSpec>, InvalidInput> {
        let tenant = TenantName::parse("acme").unwrap();
        read_csv(
            text.as_bytes(),
            &RowLimit {
                rows: 65_278,
                tenant: &tenant,
            },
        )
    }

    #[test]
    fn parses_header_defaults_and_comments() {
        let specs =
            parse_csv("name,interface_name,keepalive\n# a comment\n\nr1\nr2,wg-mgmt\nr3,,15\n")
                .unwrap();
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[0].interface_name.as_str(), "wg-hotspot");
        assert_eq!(specs[1].interface_name.as_str(), "wg-mgmt");
        assert_eq!(specs[2].keepalive, 15);
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse_csv("r1\nbad name\n").unwrap_err();
        assert!(err.0.starts_with("line 2: "), "{err}");
        let err = parse_csv("r1,wg0,0\n").unwrap_err();
        assert!(err.0.starts_with("line 1: keepalive"), "{err}");
        assert!(parse_csv("a,b,1,extra\n").is_err());
    }

    #[test]
    fn spreadsheet_exports_bom_crlf_and_header_case() {
        let specs =
            parse_csv("\u{feff}Name,Interface_Name,KEEPALIVE\r\nr1,wg-mgmt,15\r\nr2\r\n").unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name.as_str(), "r1");
        assert_eq!(specs[0].keepalive, 15);
        assert_eq!(specs[1].name.as_str(), "r2");
        // A BOM before a plain first row is not part of the name.
        let specs = parse_csv("\u{feff}r1\r\n").unwrap();
        assert_eq!(specs[0].name.as_str(), "r1");
        // A bad row in a BOM file is blamed for what is wrong with it, on its own line.
        let err = parse_csv("\u{feff}NAME,interface_name,keepalive\r\nr 1,wg0,25\r\n").unwrap_err();
        assert!(err.0.starts_with("line 2: router name"), "{err}");
        let err = parse_csv("Name,iface\nr1\n").unwrap_err();
        assert!(
            err.0.starts_with("line 1: header column 2 is \"iface\""),
            "{err}"
        );
    }

    #[test]
    fn long_lines_and_too_many_rows_fail_early() {
        let err = read_csv(
            std::io::repeat(b'a'),
            &RowLimit {
                rows: 10,
                tenant: &TenantName::parse("t").unwrap(),
            },
        )
        .unwrap_err();
        assert!(
            err.0.starts_with("line 1 is longer than 1024 bytes"),
            "{err}"
        );
        // An endless stream of rows stops at the limit.
        struct Rows;
        impl Read for Rows {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                for pair in buf.chunks_mut(2) {
                    pair.copy_from_slice(&b"r\n"[..pair.len()]);
                }
                Ok(buf.len() - buf.len() % 2)
            }
        }
        let err = read_csv(
            Rows,
            &RowLimit {
                rows: 1000,
                tenant: &TenantName::parse("t").unwrap(),
            },
        )
        .unwrap_err();
        assert!(err.0.contains("free addresses (1,000)"), "{err}");
        let tenant = TenantName::parse("t").unwrap();
        let rows: String = (0..20).map(|i| format!("r{i}\n")).collect();
        let err = read_csv(
            rows.as_bytes(),
            &RowLimit {
                rows: 5,
                tenant: &tenant,
            },
        )
        .unwrap_err();
        assert!(
            err.0
                .contains("more routers than tenant t has free addresses (5)"),
            "{err}"
        );
        assert_eq!(
            read_csv(
                rows.as_bytes(),
                &RowLimit {
                    rows: 20,
                    tenant: &tenant
                }
            )
            .unwrap()
            .len(),
            20
        );
    }
}
