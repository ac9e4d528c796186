//! `tikwire audit`: who did what, from the console, the command line and the API.

use futures_util::StreamExt as _;

use super::output::{self, StreamTable};
use super::{AuditArgs, Context};
use crate::Result;

pub async fn run(ctx: &Context, args: AuditArgs) -> Result<()> {
    let since = args
        .since
        .as_deref()
        .map(super::token::parse_age)
        .transpose()?
        .map(|age| chrono::Utc::now() - age);
    let store = ctx.store().await?;
    if let Some(tenant) = &args.tenant {
        store.tenant(tenant).await?;
    }
    let mut entries = store.audit_entries(args.tenant.as_deref(), since);
    if args.json {
        // One JSON document, streamed: the log may be long.
        let mut first = true;
        output::print("[")?;
        while let Some(entry) = entries.next().await {
            let item = serde_json::to_string(&entry?)
                .map_err(|e| crate::Error::Other(format!("JSON: {e}")))?;
            output::print(&format!("{}\n  {item}", if first { "" } else { "," }))?;
            first = false;
        }
        return output::print(if first { "]\n" } else { "\n]\n" });
    }
    let mut table = StreamTable::new(&[
        "TIME", "ACTOR", "FROM", "ACTION", "TENANT", "ROUTER", "REQUEST",
    ]);
    while let Some(entry) = entries.next().await {
        let e = entry?;
        table.row(vec![
            e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            e.actor,
            e.client_addr.unwrap_or_else(|| "-".into()),
            e.action,
            e.tenant.unwrap_or_else(|| "-".into()),
            e.router.unwrap_or_else(|| "-".into()),
            e.request_id.unwrap_or_else(|| "-".into()),
        ])?;
    }
    if !table.finish()? {
        output::print("nothing audited in that span\n")?;
    }
    Ok(())
}
