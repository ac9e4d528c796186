//! The "provision a router" form: name, tenant, interface name, keepalive (and the hub when
//! there is more than one).

use super::{Field, FormContext, Request};
use crate::model::{
    DEFAULT_KEEPALIVE, DEFAULT_ROUTER_INTERFACE, HubName, InterfaceName, RouterName, TenantName,
    parse_keepalive,
};
use crate::provision::{NewRouter, RouterSpec};

const NAME: usize = 0;
const TENANT: usize = 1;
const INTERFACE: usize = 2;
const KEEPALIVE: usize = 3;
const HUB: usize = 4;

pub fn fields(tenant: Option<&str>) -> Vec<Field> {
    vec![
        Field::new("Router name", "unique within the tenant", ""),
        Field::new("Tenant", "an existing tenant", tenant.unwrap_or("")),
        Field::new(
            "Interface name",
            "WireGuard interface on the router",
            DEFAULT_ROUTER_INTERFACE,
        ),
        Field::new(
            "Keepalive (s)",
            "router is behind NAT: 25 is usual",
            &DEFAULT_KEEPALIVE.to_string(),
        ),
        Field::new("Hub", "empty: the tenant's home hub", ""),
    ]
}

pub fn check(index: usize, values: &[&str], ctx: &FormContext) -> Result<(), String> {
    match index {
        NAME => {
            let name = RouterName::parse(values[NAME]).map_err(|e| e.0)?;
            let tenant = values[TENANT];
            if ctx
                .routers
                .all()
                .iter()
                .any(|r| &*r.tenant == tenant && &*r.name == name.as_str())
            {
                return Err(format!("{tenant} already has a router named {name}"));
            }
            Ok(())
        }
        TENANT => {
            let tenant = TenantName::parse(values[TENANT]).map_err(|e| e.0)?;
            if !ctx.tenants.is_empty() && !ctx.tenants.iter().any(|t| t.name == tenant.as_str()) {
                return Err(format!("no tenant named {tenant} (add it first)"));
            }
            Ok(())
        }
        INTERFACE => InterfaceName::parse(values[INTERFACE])
            .map(drop)
            .map_err(|e| e.0),
        KEEPALIVE => parse_keepalive(values[KEEPALIVE])
            .map(drop)
            .map_err(|e| e.0),
        HUB if values[HUB].is_empty() => match ctx.hubs.len() {
            0 => Err("no hub yet: add one first (H)".into()),
            _ => Ok(()),
        },
        HUB => {
            let hub = HubName::parse(values[HUB]).map_err(|e| e.0)?;
            if !ctx.hubs.iter().any(|h| h.name == hub.as_str()) {
                return Err(format!("no hub named {hub}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub fn request(values: &[&str]) -> Result<Request, String> {
    let hub = match values[HUB] {
        "" => None,
        h => Some(HubName::parse(h).map_err(|e| e.0)?),
    };
    Ok(Request::Provision(NewRouter {
        tenant: TenantName::parse(values[TENANT]).map_err(|e| e.0)?,
        // None: the only (or default) hub.
        hub,
        spec: RouterSpec {
            name: RouterName::parse(values[NAME]).map_err(|e| e.0)?,
            interface_name: InterfaceName::parse(values[INTERFACE]).map_err(|e| e.0)?,
            keepalive: parse_keepalive(values[KEEPALIVE]).map_err(|e| e.0)?,
        },
    }))
}
