//! The `/metrics` listener: its own socket in the agent process, apart from the HTTP API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{AgentMetrics, Format, render};
use crate::{Error, Result};

/// Scrapes rendered at once: each holds one body (megabytes with per-router series), so
/// memory stays bounded however many scrapers call; the others wait their turn.
const CONCURRENT_SCRAPES: usize = 2;

#[derive(Clone)]
struct Scrapes {
    metrics: AgentMetrics,
    permits: Arc<Semaphore>,
}

/// Binds the metrics address now, so that a taken port or a bad address is one clear error
/// before the agent starts.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| Error::io(format!("cannot listen for metrics on {addr}"), err))
}

/// The routes, for the listener and for tests.
pub fn router(metrics: AgentMetrics) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrapes {
            metrics,
            permits: Arc::new(Semaphore::new(CONCURRENT_SCRAPES)),
        })
}

/// Serves `/metrics` on `listener` until `cancel`.
pub async fn serve(
    listener: TcpListener,
    metrics: AgentMetrics,
    cancel: CancellationToken,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    axum::serve(listener, router(metrics))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
        .map_err(|err| Error::io(format!("metrics listener {addr:?}"), err))
}

async fn scrape(State(scrapes): State<Scrapes>, headers: HeaderMap) -> Response {
    let format = Format::from_accept(
        headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok()),
    );
    let Ok(_permit) = scrapes.permits.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let snapshot = scrapes.metrics.snapshot();
    // Tens of milliseconds with per-router series at 65,278 routers: off the async workers.
    match tokio::task::spawn_blocking(move || render(&snapshot, format)).await {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(err) => {
            tracing::warn!("rendering metrics failed: {err}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
