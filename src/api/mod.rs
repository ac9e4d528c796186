//! `tikwire serve`: the original system's HTTP API on axum. Handlers are thin: they check the
//! caller's role, open a transaction scoped to the caller's tenant in PostgreSQL (role
//! `tikwire_api`, row-level security), and call the same core as the command line.

pub mod auth;
pub mod error;
pub mod events;
pub mod listen;
pub mod openapi;
pub mod token;
pub mod vpn;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::provision::Provisioner;
use crate::store::{Store, Tx};
use auth::{Caller, RequestInfo};
use error::ApiError;

/// Largest request body: a create request is a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Longest a request may take (the event stream is exempt).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    provisioner: Provisioner,
    events: events::EventHub,
}

impl ApiState {
    /// Starts the event feed (one LISTEN connection for all streams) as well.
    pub fn new(provisioner: Provisioner) -> Self {
        let events = events::EventHub::start(provisioner.store().clone());
        Self {
            provisioner,
            events,
        }
    }

    /// Waits until the event feed listens to the database.
    pub async fn events_listening(&self) {
        self.events.listening().await;
    }

    pub fn store(&self) -> &Store {
        self.provisioner.store()
    }

    /// The caller's transaction: role tikwire_api, the caller's tenant, the audit context.
    pub async fn begin(&self, caller: &Caller) -> Result<Tx<'static>, ApiError> {
        Ok(crate::store::api::begin_scoped(self.store(), caller.scope, &caller.origin()).await?)
    }
}

/// The whole API with its layers.
pub fn app(state: ApiState) -> axum::Router {
    let timed = axum::Router::new()
        .route("/api/vpn", get(vpn::list).post(vpn::create))
        .route("/api/vpn/subnet/info", get(vpn::subnet_info))
        .route("/api/vpn/{id}", get(vpn::show).delete(vpn::delete))
        .route(
            "/api/vpn/{id}/download/mikrotik",
            get(vpn::download_mikrotik),
        )
        .route("/api/vpn/{id}/download/linux", get(vpn::download_linux))
        .route("/api/vpn/{id}/history", get(vpn::history))
        .route(
            "/api/vpn/{id}/rotate",
            axum::routing::post(vpn::rotate).delete(vpn::abort_rotation),
        )
        .route("/api/openapi.json", get(openapi::document))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ));
    // Registered before `/api/vpn/{id}` would be, but axum prefers static segments anyway.
    let streaming = axum::Router::new().route("/api/vpn/events", get(events::stream));
    timed
        .merge(streaming)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(access_log))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint (see /api/openapi.json)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint (see /api/openapi.json)",
    )
}

static NEXT_REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Gives each request an id (kept from `x-request-id` when it is short and plain), and writes
/// one access-log line per request: never a header value, a token or a body.
async fn access_log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "{:x}-{}",
                std::process::id(),
                NEXT_REQUEST.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )
        });
    let client_addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default();
    let token_name = Arc::new(OnceLock::new());
    req.extensions_mut().insert(RequestInfo {
        request_id: request_id.clone(),
        client_addr: client_addr.clone(),
        token_name: token_name.clone(),
    });
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(200).collect();
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    tracing::info!(
        target: "tikwire::api::access",
        "{client_addr} {method} {path} {} {:.1}ms request={request_id} token={}",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
        token_name.get().map_or("-", String::as_str),
    );
    response
}
