//! `GET /api/vpn/events`: the original's broadcasts as Server-Sent Events, fed by the NOTIFY
//! stream the console uses. One LISTEN connection serves every stream; each stream keeps only
//! events of its token's scope, and builds each payload in a transaction scoped like any other
//! request, so row-level security has the last word on what a stream can see.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::vpn::VpnConfig;
use crate::events::{Change, ChangeKind};
use crate::model::RouterStatus;
use crate::store::Store;
use crate::store::api::{self as queries, AccessScope, RequestOrigin};
use crate::store::notify::ChangeListener;

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events a slow stream may fall behind by before it skips ahead.
const BACKLOG: usize = 1024;

/// The original's event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    VpnConfigurationCreated,
    VpnConfigurationDeleted,
    VpnStatusChanged,
    /// The hub cut the router over to its staged keys.
    VpnKeysRotated,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::VpnConfigurationCreated => "VpnConfigurationCreated",
            Self::VpnConfigurationDeleted => "VpnConfigurationDeleted",
            Self::VpnStatusChanged => "VpnStatusChanged",
            Self::VpnKeysRotated => "VpnKeysRotated",
        }
    }
}

/// One change of one configuration, before it is shaped for a stream.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    /// Increasing per server process: the SSE event id.
    pub seq: u64,
    pub kind: EventKind,
    pub id: i64,
    pub tenant_id: i64,
    pub at: DateTime<Utc>,
}

/// The configuration part of an event payload, as in the original.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventVpnConfig {
    pub id: i64,
    pub tenant_id: i64,
    pub router_id: Option<i64>,
    pub vpn_type: String,
    pub client_ip: Option<String>,
    pub server_ip: Option<String>,
    pub subnet_cidr: Option<String>,
    /// The configuration's status; "deleted" after a deletion.
    pub status: String,
    pub interface_name: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventRouter {
    /// The platform's router id.
    pub id: Option<i64>,
    pub name: Option<String>,
    pub vpn_ip: Option<String>,
}

/// An event's data: `{vpn_config, router, message, timestamp}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPayload {
    pub vpn_config: EventVpnConfig,
    pub router: EventRouter,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// Fans the database's change announcements out to every open stream.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Arc<FeedEvent>>,
    /// True while the feed is listening (changes before that are not seen).
    listening: tokio::sync::watch::Receiver<bool>,
}

impl EventHub {
    pub fn start(store: Store) -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        let feed = sender.clone();
        let (listening_tx, listening) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut seq = 0u64;
            loop {
                if let Err(err) = follow(&store, &feed, &mut seq, &listening_tx).await {
                    tracing::warn!("event feed: {err}; reconnecting in 1 s");
                }
                listening_tx.send_replace(false);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Self { sender, listening }
    }

    /// Waits until the feed listens.
    pub async fn listening(&self) {
        let mut listening = self.listening.clone();
        let _ = listening.wait_for(|up| *up).await;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedEvent>> {
        self.sender.subscribe()
    }
}

const FEED_ORIGIN: RequestOrigin<'static> = RequestOrigin {
    token_name: "event-feed",
    client_addr: "",
    request_id: "",
};

/// Listens and turns each announcement into configuration events. The agent announces only
/// "statuses on hub H changed", so the feed keeps every configuration's last status (a few
/// bytes each) and compares.
async fn follow(
    store: &Store,
    feed: &broadcast::Sender<Arc<FeedEvent>>,
    seq: &mut u64,
    listening: &tokio::sync::watch::Sender<bool>,
) -> crate::Result<()> {
    let mut listener = ChangeListener::from_store(store).await?;
    let mut known: HashMap<i64, (i64, RouterStatus)> = HashMap::new();
    let mut since = Utc::now();
    {
        let mut tx = queries::begin_scoped(store, AccessScope::System, &FEED_ORIGIN).await?;
        for (id, tenant, status) in
            queries::statuses_since(&mut tx, None, DateTime::UNIX_EPOCH).await?
        {
            known.insert(id, (tenant, status));
        }
        tx.commit().await?;
    }
    listening.send_replace(true);
    loop {
        // An unreadable notification may be anything: look for changed statuses everywhere.
        let change = listener
            .recv()
            .await?
            .unwrap_or_else(|| Change::new(ChangeKind::StatusUpdated));
        let mut emit = |kind, id, tenant_id| {
            *seq += 1;
            let _ = feed.send(Arc::new(FeedEvent {
                seq: *seq,
                kind,
                id,
                tenant_id,
                at: Utc::now(),
            }));
        };
        match change.kind {
            ChangeKind::TenantCreated
            | ChangeKind::HubCreated
            | ChangeKind::HubUpdated
            | ChangeKind::RotationStaged
            | ChangeKind::RotationAborted => {}
            ChangeKind::RouterRotated => {
                if let (Some(id), Some(tenant)) = (change.id, change.tenant_id) {
                    emit(EventKind::VpnKeysRotated, id, tenant);
                }
            }
            ChangeKind::RouterDeleted => {
                if let (Some(id), Some(tenant)) = (change.id, change.tenant_id) {
                    known.remove(&id);
                    emit(EventKind::VpnConfigurationDeleted, id, tenant);
                }
            }
            ChangeKind::TenantDeleted => {
                if let Some(tenant) = change.tenant_id {
                    let gone: Vec<i64> = known
                        .iter()
                        .filter(|(_, (t, _))| *t == tenant)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in gone {
                        known.remove(&id);
                        emit(EventKind::VpnConfigurationDeleted, id, tenant);
                    }
                }
            }
            ChangeKind::RouterCreated
            | ChangeKind::RoutersImported
            | ChangeKind::RouterEnabled
            | ChangeKind::RouterDisabled
            | ChangeKind::StatusUpdated => {
                // New rows, and rows whose status moved, since the last look (with slack
                // for commits that were in flight then).
                let checked = Utc::now();
                let mut tx =
                    queries::begin_scoped(store, AccessScope::System, &FEED_ORIGIN).await?;
                let rows = queries::statuses_since(
                    &mut tx,
                    change.hub_id,
                    since - chrono::Duration::seconds(5),
                )
                .await?;
                tx.commit().await?;
                since = checked;
                for (id, tenant, status) in rows {
                    match known.insert(id, (tenant, status)) {
                        None => emit(EventKind::VpnConfigurationCreated, id, tenant),
                        Some((_, before)) if before != status => {
                            emit(EventKind::VpnStatusChanged, id, tenant)
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

#[utoipa::path(
    get, path = "/api/vpn/events", tag = "vpn",
    responses(
        (status = 200, description = "Server-Sent Events: VpnConfigurationCreated, VpnConfigurationDeleted, VpnStatusChanged, VpnKeysRotated; data is an EventPayload", content_type = "text/event-stream", body = String),
        (status = 401, description = "No or bad token", body = super::error::ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn stream(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let receiver = state.events.subscribe();
    let events = futures_util::stream::unfold(
        (receiver, state, caller),
        |(mut receiver, state, caller)| async move {
            loop {
                let feed = match receiver.recv().await {
                    Ok(feed) => feed,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let event = Event::default().comment(format!("missed {missed} events"));
                        return Some((Ok(event), (receiver, state, caller)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                if let AccessScope::Tenant(tenant) = caller.scope
                    && tenant != feed.tenant_id
                {
                    continue;
                }
                match shape(&state, &caller, &feed).await {
                    Ok(Some(payload)) => {
                        let event = Event::default()
                            .event(feed.kind.name())
                            .id(feed.seq.to_string())
                            .json_data(&payload)
                            .unwrap_or_else(|_| Event::default().comment("unserialisable event"));
                        return Some((Ok(event), (receiver, state, caller)));
                    }
                    Ok(None) => continue,
                    Err(err) => {
                        tracing::warn!("event stream: {}", err.message);
                        continue;
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The payload of one event, read in the caller's scope: `None` when the scope cannot see it.
async fn shape(
    state: &ApiState,
    caller: &Caller,
    feed: &FeedEvent,
) -> Result<Option<EventPayload>, ApiError> {
    let mut tx = state.begin(caller).await?;
    let payload = match feed.kind {
        EventKind::VpnConfigurationDeleted => {
            // The row is gone; the tenant must still be visible in the caller's scope.
            if queries::tenant_name(&mut tx, feed.tenant_id)
                .await?
                .is_none()
                && caller.scope != AccessScope::System
            {
                return Ok(None);
            }
            EventPayload {
                vpn_config: EventVpnConfig {
                    id: feed.id,
                    tenant_id: feed.tenant_id,
                    router_id: None,
                    vpn_type: "wireguard".into(),
                    client_ip: None,
                    server_ip: None,
                    subnet_cidr: None,
                    status: "deleted".into(),
                    interface_name: None,
                    created_at: None,
                },
                router: EventRouter {
                    id: None,
                    name: None,
                    vpn_ip: None,
                },
                message: format!("VPN configuration {} deleted", feed.id),
                timestamp: feed.at,
            }
        }
        kind => {
            let Some(row) = queries::vpn_by_id(&mut tx, feed.id).await? else {
                return Ok(None);
            };
            let tenant_id = row.router.tenant_id;
            let config = VpnConfig::of(&mut tx, row).await?;
            let message = match kind {
                EventKind::VpnConfigurationCreated => {
                    "VPN configuration created successfully".to_owned()
                }
                EventKind::VpnKeysRotated => {
                    "VPN keys rotated: the router uses its new keys".to_owned()
                }
                _ => format!("VPN status changed to {}", config.status),
            };
            EventPayload {
                vpn_config: EventVpnConfig {
                    id: config.id,
                    tenant_id,
                    router_id: config.router_id,
                    vpn_type: config.vpn_type,
                    client_ip: Some(config.client_ip.clone()),
                    server_ip: Some(config.server_ip),
                    subnet_cidr: Some(config.subnet_cidr),
                    status: config.status.to_string(),
                    interface_name: Some(config.interface_name),
                    created_at: Some(config.created_at),
                },
                router: EventRouter {
                    id: config.router_id,
                    name: Some(config.router_name),
                    vpn_ip: Some(config.client_ip),
                },
                message,
                timestamp: feed.at,
            }
        }
    };
    tx.commit().await.map_err(crate::Error::from)?;
    Ok(Some(payload))
}
