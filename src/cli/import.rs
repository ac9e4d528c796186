//! `tikwire router import`: a CSV of routers provisioned in one transaction.
//!
//! Columns: `name[,interface_name[,keepalive]]`; an optional header line naming them;
//! blank lines and lines starting with `#` are skipped.

use std::path::Path;

use super::Context;
use super::output;
use crate::model::{
    DEFAULT_KEEPALIVE, DEFAULT_ROUTER_INTERFACE, HubName, InterfaceName, InvalidInput, RouterName,
    TenantName, parse_keepalive,
};
use crate::provision::RouterSpec;
use crate::{Error, Result};

pub async fn run(
    ctx: &Context,
    file: &Path,
    tenant: &str,
    hub: Option<&str>,
    json: bool,
) -> Result<()> {
    let tenant = TenantName::parse(tenant)?;
    let hub = hub.map(HubName::parse).transpose()?;
    let text = std::fs::read_to_string(file)
        .map_err(|err| Error::io(format!("cannot read {}", file.display()), err))?;
    let specs =
        parse_csv(&text).map_err(|e| InvalidInput(format!("{}: {}", file.display(), e.0)))?;
    let summary = ctx
        .provisioner()
        .await?
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
    output::print(&format!(
        "imported {} routers into tenant {} on hub {} (addresses {range})\n",
        summary.routers, summary.tenant, summary.hub
    ))
}

/// Parses the import file; the error names the line.
pub fn parse_csv(text: &str) -> Result<Vec<RouterSpec>, InvalidInput> {
    let default_interface =
        InterfaceName::parse(DEFAULT_ROUTER_INTERFACE).expect("default is valid");
    let mut specs = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        if specs.is_empty() && is_header(&cells) {
            continue;
        }
        let at = |e: InvalidInput| InvalidInput(format!("line {number}: {}", e.0));
        if cells.len() > 3 {
            return Err(at(InvalidInput(format!(
                "{} columns; expected name[,interface_name[,keepalive]]",
                cells.len()
            ))));
        }
        let interface_name = match cells.get(1).filter(|c| !c.is_empty()) {
            Some(name) => InterfaceName::parse(name).map_err(at)?,
            None => default_interface.clone(),
        };
        let keepalive = match cells.get(2).filter(|c| !c.is_empty()) {
            Some(value) => parse_keepalive(value).map_err(at)?,
            None => DEFAULT_KEEPALIVE,
        };
        specs.push(RouterSpec {
            name: RouterName::parse(cells[0]).map_err(at)?,
            interface_name,
            keepalive,
        });
    }
    Ok(specs)
}

fn is_header(cells: &[&str]) -> bool {
    cells
        .first()
        .is_some_and(|c| c.eq_ignore_ascii_case("name"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
