//! The "add a tenant" form: one field, the name; the subnet is allocated by the core.

use super::{Field, FormContext, Request};
use crate::model::TenantName;

pub fn fields() -> Vec<Field> {
    vec![Field::new(
        "Tenant name",
        "gets the next free 10.X.0.0/16",
        "",
    )]
}

pub fn check(_index: usize, values: &[&str], ctx: &FormContext) -> Result<(), String> {
    let name = TenantName::parse(values[0]).map_err(|e| e.0)?;
    if ctx.tenants.iter().any(|t| t.name == name.as_str()) {
        return Err(format!("tenant {name} already exists"));
    }
    Ok(())
}

pub fn request(values: &[&str]) -> Result<Request, String> {
    TenantName::parse(values[0])
        .map(Request::AddTenant)
        .map_err(|e| e.0)
}
