//! `tikwire router history NAME --tenant T [--since 24h] [--json]` and
//! `tikwire events [--tenant T] [--since 1h] [--follow] [--json]`: routers' past.

use chrono::{DateTime, Utc};

use super::output::{self, StreamTable};
use super::{Context, EventsArgs};
use crate::Result;
use crate::format;
use crate::history::{EVENTS_MAX, FleetEvent, RouterHistory};
use crate::store::notify::ChangeListener;

/// The default span of `router history`.
pub const HISTORY_SINCE: &str = "24h";
/// The default span of `tikwire events`.
pub const EVENTS_SINCE: &str = "1h";

/// The start of a span given as `--since` (e.g. 24h, 7d).
fn since(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    Ok(now - super::token::parse_age(value)?)
}

pub async fn router_history(
    ctx: &Context,
    name: &str,
    tenant: &str,
    since_arg: &str,
    json: bool,
) -> Result<()> {
    let now = Utc::now();
    let from = since(since_arg, now)?;
    let store = ctx.store().await?;
    let router = store.router(tenant, name).await?;
    let history = store.router_history(router.id, from, now).await?;
    if json {
        return output::json(&history);
    }
    output::print(&describe(&history, &format!("{tenant}/{name}"), since_arg))
}

fn describe(history: &RouterHistory, label: &str, since: &str) -> String {
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    let mut text = format!("history of {label} over the last {since}\n\ntraffic:\n");
    if history.traffic.is_empty() {
        text.push_str("  none recorded\n");
    }
    for point in &history.traffic {
        text.push_str(&format!(
            "  {}  rx {:>10}  tx {:>10}\n",
            time(point.at),
            format::bytes(point.rx_bytes),
            format::bytes(point.tx_bytes)
        ));
    }
    text.push_str("\ntransitions:\n");
    if history.transitions.is_empty() {
        text.push_str("  none\n");
    }
    for change in &history.transitions {
        text.push_str(&format!(
            "  {}  {} -> {}\n",
            time(change.at),
            change.from,
            change.to
        ));
    }
    text.push_str("\nendpoints:\n");
    if history.endpoints.is_empty() {
        text.push_str("  none\n");
    }
    for seen in &history.endpoints {
        text.push_str(&format!("  {}  {}\n", time(seen.at), seen.endpoint));
    }
    text
}

pub async fn events(ctx: &Context, args: EventsArgs) -> Result<()> {
    let now = Utc::now();
    let from = since(args.since.as_deref().unwrap_or(EVENTS_SINCE), now)?;
    let store = ctx.store().await?;
    if let Some(tenant) = &args.tenant {
        store.tenant(tenant).await?;
    }
    let tenant = args.tenant.as_deref();
    if !args.follow {
        let events = fleet_events(&store, tenant, from, &mut (0, 0)).await?;
        if args.json {
            return output::json(&events);
        }
        let mut table = StreamTable::new(&["TIME", "TENANT", "ROUTER", "HUB", "EVENT"]);
        for event in &events {
            table.row(row(event))?;
        }
        if !table.finish()? {
            output::print("no events in that span\n")?;
        }
        return Ok(());
    }
    // Following: one line per event as it comes (with --json, one JSON object per line).
    // Listen before reading, so nothing committed in between is missed.
    let mut listener = ChangeListener::from_store(&store).await?;
    let mut cursors = (0, 0);
    loop {
        for event in fleet_events(&store, tenant, from, &mut cursors).await? {
            let line = if args.json {
                output::json_text(&event)?.replace('\n', "")
            } else {
                row(&event).join("  ")
            };
            output::print(&format!("{line}\n"))?;
        }
        // Any change may carry transitions; what is new is read by id.
        listener.recv().await?;
    }
}

fn row(event: &FleetEvent) -> Vec<String> {
    let at = event.at().format("%Y-%m-%d %H:%M:%S").to_string();
    match event {
        FleetEvent::Status {
            tenant,
            router,
            hub,
            from,
            to,
            ..
        } => vec![
            at,
            tenant.clone(),
            router.clone(),
            hub.clone(),
            format!("{from} -> {to}"),
        ],
        FleetEvent::FirstHandshake {
            tenant,
            router,
            hub,
            ..
        } => vec![
            at,
            tenant.clone(),
            router.clone(),
            hub.clone(),
            "first handshake".into(),
        ],
        FleetEvent::Alert {
            alert,
            tenant,
            router,
            hub,
            ..
        } => vec![
            at,
            dash(tenant),
            dash(router),
            dash(hub),
            format!("alert {}", alert.as_str()),
        ],
    }
}

/// A hub alert names no tenant or router.
fn dash(name: &str) -> String {
    if name.is_empty() {
        "-".into()
    } else {
        name.to_owned()
    }
}

/// Transitions and alerts since `from` after the two cursors, merged by time, the newest
/// `EVENTS_MAX` of them; the cursors move past what was read.
async fn fleet_events(
    store: &crate::store::Store,
    tenant: Option<&str>,
    from: chrono::DateTime<Utc>,
    cursors: &mut (i64, i64),
) -> Result<Vec<FleetEvent>> {
    let transitions = store.events(tenant, from, cursors.0, EVENTS_MAX).await?;
    let alerts = store.alerts(tenant, from, cursors.1, EVENTS_MAX).await?;
    if let Some((id, _)) = transitions.last() {
        cursors.0 = *id;
    }
    if let Some((id, _)) = alerts.last() {
        cursors.1 = *id;
    }
    let mut events: Vec<FleetEvent> = transitions
        .into_iter()
        .chain(alerts)
        .map(|(_, event)| event)
        .collect();
    // Stable: a transition and the alert it raised keep that order at the same instant.
    events.sort_by_key(FleetEvent::at);
    let skip = events.len().saturating_sub(EVENTS_MAX as usize);
    Ok(events.split_off(skip))
}
