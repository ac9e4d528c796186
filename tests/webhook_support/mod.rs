//! A real HTTP receiver for webhook tests (axum on loopback) and the Standard Webhooks check
//! a receiver makes.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tikwire::alerts::signature::SigningKey;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub answered: u16,
}

/// An answer: HTTP status and Retry-After.
pub type Answer = (u16, Option<&'static str>);

#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answers for the next requests (status, Retry-After); 204 once empty.
    script: Arc<Mutex<VecDeque<Answer>>>,
}

async fn receive(State(rx): State<Receiver>, headers: HeaderMap, body: String) -> Response {
    let (status, retry_after) = rx.script.lock().unwrap().pop_front().unwrap_or((204, None));
    rx.got.lock().unwrap().push(Received {
        headers,
        body,
        answered: status,
    });
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some(after) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}

impl Receiver {
    /// Serves on `listener` until the returned token is cancelled.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> CancellationToken {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(self.clone());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await
                .unwrap();
        });
        stop
    }

    pub fn answer(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

pub async fn start_receiver() -> (Receiver, String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    let stop = receiver.serve(listener);
    (receiver, url, stop)
}

/// Checks a request the Standard Webhooks way and returns its body as JSON.
pub fn verified(received: &Received, key: &SigningKey) -> serde_json::Value {
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    assert!(
        (Utc::now().timestamp() - timestamp).abs() < 300,
        "a fresh timestamp"
    );
    assert!(
        key.verify(
            &id,
            timestamp,
            received.body.as_bytes(),
            &header("webhook-signature")
        ),
        "signature of {id} does not verify"
    );
    assert_eq!(header("content-type"), "application/json");
    serde_json::from_str(&received.body).unwrap()
}
