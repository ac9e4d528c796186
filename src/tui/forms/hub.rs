//! The "add a hub" form: the WireGuard server routers dial.

use super::{Field, FormContext, Request};
use crate::model::{
    DEFAULT_HUB_INTERFACE, DEFAULT_LISTEN_PORT, Endpoint, HubName, InterfaceName, parse_port,
};
use crate::provision::NewHub;

const NAME: usize = 0;
const ENDPOINT: usize = 1;
const INTERFACE: usize = 2;
const PORT: usize = 3;

pub fn fields() -> Vec<Field> {
    vec![
        Field::new("Hub name", "e.g. main", ""),
        Field::new("Endpoint", "public HOST:PORT routers dial", ""),
        Field::new(
            "Interface",
            "WireGuard interface on the hub",
            DEFAULT_HUB_INTERFACE,
        ),
        Field::new(
            "Listen port",
            "UDP port on the hub",
            &DEFAULT_LISTEN_PORT.to_string(),
        ),
    ]
}

pub fn check(index: usize, values: &[&str], ctx: &FormContext) -> Result<(), String> {
    match index {
        NAME => {
            let name = HubName::parse(values[NAME]).map_err(|e| e.0)?;
            if ctx.hubs.iter().any(|h| h.name == name.as_str()) {
                return Err(format!("hub {name} already exists"));
            }
            Ok(())
        }
        ENDPOINT => Endpoint::parse(values[ENDPOINT]).map(drop).map_err(|e| e.0),
        INTERFACE => InterfaceName::parse(values[INTERFACE])
            .map(drop)
            .map_err(|e| e.0),
        PORT => parse_port("listen port", values[PORT])
            .map(drop)
            .map_err(|e| e.0),
        _ => Ok(()),
    }
}

pub fn request(values: &[&str]) -> Result<Request, String> {
    Ok(Request::AddHub(NewHub::new(
        HubName::parse(values[NAME]).map_err(|e| e.0)?,
        Endpoint::parse(values[ENDPOINT]).map_err(|e| e.0)?,
        InterfaceName::parse(values[INTERFACE]).map_err(|e| e.0)?,
        parse_port("listen port", values[PORT]).map_err(|e| e.0)?,
    )))
}
