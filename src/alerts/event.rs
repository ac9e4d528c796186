//! What an alert says: its type and the one JSON body every receiver gets (webhooks and the
//! hook command alike). Serialised here and nowhere else; never a key.

use std::fmt;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::engine::{Alert, AlertSubject, RouterId};
use crate::model::{InvalidInput, RouterStatus};

/// The event types, as `type` in the body and in endpoints' filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum AlertKind {
    #[serde(rename = "router.offline")]
    RouterOffline,
    #[serde(rename = "router.stale")]
    RouterStale,
    #[serde(rename = "router.online")]
    RouterOnline,
    #[serde(rename = "router.flapping")]
    RouterFlapping,
    #[serde(rename = "router.first_handshake")]
    RouterFirstHandshake,
    #[serde(rename = "hub.storm")]
    HubStorm,
    #[serde(rename = "hub.recovered")]
    HubRecovered,
    #[serde(rename = "hub.down")]
    HubDown,
    #[serde(rename = "hub.up")]
    HubUp,
    /// `tikwire webhook test`: sent to one endpoint, never stored.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl AlertKind {
    pub const ALL: [AlertKind; 10] = [
        Self::RouterOffline,
        Self::RouterStale,
        Self::RouterOnline,
        Self::RouterFlapping,
        Self::RouterFirstHandshake,
        Self::HubStorm,
        Self::HubRecovered,
        Self::HubDown,
        Self::HubUp,
        Self::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RouterOffline => "router.offline",
            Self::RouterStale => "router.stale",
            Self::RouterOnline => "router.online",
            Self::RouterFlapping => "router.flapping",
            Self::RouterFirstHandshake => "router.first_handshake",
            Self::HubStorm => "hub.storm",
            Self::HubRecovered => "hub.recovered",
            Self::HubDown => "hub.down",
            Self::HubUp => "hub.up",
            Self::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                InvalidInput(format!(
                    "unknown event type {value:?}; known: {}",
                    known.join(", ")
                ))
            })
    }

    /// A comma-separated filter (`router.offline,hub.down`), deduplicated and sorted.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, InvalidInput> {
        let mut kinds = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if kinds.is_empty() {
            return Err(InvalidInput("--events names no event type".into()));
        }
        kinds.sort_unstable();
        kinds.dedup();
        Ok(kinds)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alert body says about a router: looked up by the caller, who holds the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterFacts {
    pub tenant_id: i64,
    pub tenant: String,
    pub name: String,
    pub vpn_ip: Ipv4Addr,
    pub last_handshake_at: Option<DateTime<Utc>>,
}

/// The body of one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventBody {
    #[serde(rename = "type")]
    pub kind: AlertKind,
    pub timestamp: DateTime<Utc>,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EventData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn_ip: Option<Ipv4Addr>,
    pub hub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<RouterStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<RouterStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_handshake_at: Option<DateTime<Utc>>,
    /// The state a flapping router settled in.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_flapping: bool,
    /// Hub alerts: how many router alerts this one stands for...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routers: Option<usize>,
    /// ...and some of them ("tenant/router").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample: Vec<String>,
}

/// How many routers a hub alert names.
pub const HUB_SAMPLE: usize = 10;

/// An event ready for the outbox: the body and the columns it is filtered by.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub kind: AlertKind,
    pub at: DateTime<Utc>,
    pub tenant_id: Option<i64>,
    pub router_id: Option<RouterId>,
    /// A hub alert's copy for one tenant's scoped endpoints (only that tenant's routers);
    /// endpoints without a tenant get the hub-wide original instead.
    pub tenant_copy: bool,
    pub body: EventBody,
}

impl EventBody {
    /// A hub-wide event without routers (hub.down, hub.up, a test).
    pub fn hub(kind: AlertKind, at: DateTime<Utc>, hub: &str) -> Self {
        Self {
            kind,
            timestamp: at,
            data: EventData {
                hub: hub.to_owned(),
                ..EventData::default()
            },
        }
    }
}

/// A hub event without routers (hub.down, hub.up), ready for the outbox.
pub fn hub_event(kind: AlertKind, at: DateTime<Utc>, hub: &str) -> OutboxEvent {
    OutboxEvent {
        kind,
        at,
        tenant_id: None,
        router_id: None,
        tenant_copy: false,
        body: EventBody::hub(kind, at, hub),
    }
}

/// The outbox events of an engine alert. `facts` finds a router's row; a router gone since
/// (deleted during the poll) leaves its name out rather than the alert. A hub alert is one
/// hub-wide event plus one copy per tenant it touches, naming only that tenant's routers, so a
/// tenant's endpoint hears of the storm that took its routers and nothing of other tenants.
pub fn outbox_events(
    alert: &Alert,
    hub: &str,
    facts: impl Fn(RouterId) -> Option<RouterFacts>,
) -> Vec<OutboxEvent> {
    let mut body = EventBody::hub(alert.kind, alert.at, hub);
    match &alert.subject {
        AlertSubject::Router {
            router,
            from,
            to,
            after_flapping,
        } => {
            body.data.from = Some(*from);
            body.data.to = Some(*to);
            body.data.after_flapping = *after_flapping;
            let found = facts(*router);
            let tenant_id = found.as_ref().map(|f| f.tenant_id);
            if let Some(f) = found {
                body.data.tenant = Some(f.tenant);
                body.data.router = Some(f.name);
                body.data.vpn_ip = Some(f.vpn_ip);
                body.data.last_handshake_at = f.last_handshake_at;
            }
            vec![OutboxEvent {
                kind: alert.kind,
                at: alert.at,
                tenant_id,
                router_id: Some(*router),
                tenant_copy: false,
                body,
            }]
        }
        AlertSubject::Hub { routers } => {
            let known: Vec<RouterFacts> = routers.iter().filter_map(|id| facts(*id)).collect();
            let sample = |of: &mut dyn Iterator<Item = &RouterFacts>| -> Vec<String> {
                of.take(HUB_SAMPLE)
                    .map(|f| format!("{}/{}", f.tenant, f.name))
                    .collect()
            };
            body.data.routers = Some(routers.len());
            body.data.sample = sample(&mut known.iter());
            let mut events = vec![OutboxEvent {
                kind: alert.kind,
                at: alert.at,
                tenant_id: None,
                router_id: None,
                tenant_copy: false,
                body: body.clone(),
            }];
            let mut tenants: Vec<(i64, &str)> = known
                .iter()
                .map(|f| (f.tenant_id, f.tenant.as_str()))
                .collect();
            tenants.sort_unstable();
            tenants.dedup();
            for (tenant_id, tenant) in tenants {
                let mut mine = known.iter().filter(|f| f.tenant_id == tenant_id);
                let mut copy = body.clone();
                copy.data.tenant = Some(tenant.to_owned());
                copy.data.routers = Some(known.iter().filter(|f| f.tenant_id == tenant_id).count());
                copy.data.sample = sample(&mut mine);
                events.push(OutboxEvent {
                    kind: alert.kind,
                    at: alert.at,
                    tenant_id: Some(tenant_id),
                    router_id: None,
                    tenant_copy: true,
                    body: copy,
                });
            }
            events
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_bad_filters_are_refused() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(
            AlertKind::parse_list("hub.down, router.offline,hub.down").unwrap(),
            vec![AlertKind::RouterOffline, AlertKind::HubDown]
        );
        assert!(AlertKind::parse_list("router.gone").is_err());
        assert!(AlertKind::parse_list(" , ").is_err());
    }
}

#[cfg(test)]
mod hub_copies {
    use super::*;
    use crate::alerts::engine::AlertSubject;

    fn facts(id: RouterId) -> Option<RouterFacts> {
        let tenant_id = if id <= 3 { 1 } else { 2 };
        Some(RouterFacts {
            tenant_id,
            tenant: format!("t{tenant_id}"),
            name: format!("r{id}"),
            vpn_ip: std::net::Ipv4Addr::new(10, 100, 1, id as u8),
            last_handshake_at: None,
        })
    }

    #[test]
    fn a_storm_is_one_hub_wide_event_and_one_copy_per_tenant_naming_only_its_routers() {
        let alert = Alert {
            kind: AlertKind::HubStorm,
            at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            subject: AlertSubject::Hub {
                routers: (1..=15).collect(),
            },
        };
        let events = outbox_events(&alert, "hub1", facts);
        assert_eq!(events.len(), 3);
        let all = &events[0];
        assert_eq!((all.tenant_id, all.tenant_copy), (None, false));
        assert_eq!(all.body.data.routers, Some(15));
        assert_eq!(all.body.data.sample.len(), HUB_SAMPLE);
        let t1 = &events[1];
        assert_eq!((t1.tenant_id, t1.tenant_copy), (Some(1), true));
        assert_eq!(t1.body.data.routers, Some(3));
        assert_eq!(t1.body.data.sample, ["t1/r1", "t1/r2", "t1/r3"]);
        let t2 = &events[2];
        assert_eq!(t2.body.data.routers, Some(12));
        assert!(t2.body.data.sample.iter().all(|s| s.starts_with("t2/")));
    }
}
