//! Delivering the outbox: workers claim due deliveries (FOR UPDATE SKIP LOCKED, leased so a
//! crash loses nothing), POST each event signed the Standard Webhooks way, and record the
//! outcome: delivered, retried with exponential backoff and jitter for about a day (a
//! receiver's `Retry-After` wins), or, on 410 Gone, the endpoint switched off.
//!
//! The same loop is the hub watchdog: it announces `hub.down` for any hub whose agent has not
//! polled for three of its intervals (claimed in the database, so one announcement however
//! many watchers run).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::event::{AlertKind, hub_event};
use super::hook::HookCommand;
use super::signature::SigningKey;
use crate::provision::Provisioner;
use crate::store::webhooks;
use crate::vault::aad;
use crate::{Error, Result};

/// How many of its poll intervals a hub's agent may stay silent before `hub.down`.
pub const SILENT_INTERVALS: i32 = 3;
/// How long one POST may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed delivery is retried after this if its worker vanished mid-send.
const LEASE_SECS: f64 = 60.0;
/// Deliveries claimed per round (sent concurrently).
const BATCH: i64 = 32;
/// Without a wake-up, the outbox and the hubs are looked at this often.
const SWEEP: Duration = Duration::from_millis(500);
/// Alerts (and their deliveries) are kept this long, for `webhook list` and the events view.
pub const KEEP_EVENTS_DAYS: i32 = 30;
/// How often old alerts are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The AAD that binds an endpoint's sealed secret to its row.
pub fn secret_aad(endpoint_id: i64) -> String {
    aad("webhook_endpoints", endpoint_id, "secret")
}

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub cap: Duration,
    /// Give up once the event is this old.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 s, 10 s, 20 s ... doubling to one hour, then hourly: about 30 attempts in a day.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(5),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` failed ones, or `None` to give up.
    /// `jitter` in [0, 1) spreads retries by ±20 % so receivers coming back are not hit by
    /// every sender at once. Pure.
    pub fn next_retry(
        &self,
        attempts: i32,
        retry_after: Option<Duration>,
        event_age: Duration,
        jitter: f64,
    ) -> Option<Duration> {
        let exponent = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let backoff = self
            .first
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.cap);
        let spread = backoff.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0));
        let wait = match retry_after {
            // The receiver knows best, within reason.
            Some(asked) => asked.clamp(Duration::from_secs(1), self.cap),
            None => spread,
        };
        (event_age + wait <= self.give_up_after).then_some(wait)
    }
}

/// How one POST ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// 2xx.
    Delivered(u16),
    /// 410: the receiver wants no more.
    Gone,
    /// Anything else: an HTTP status, or no answer at all.
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

impl SendOutcome {
    /// What an HTTP status means; `retry_after` as the header said it.
    pub fn from_status(status: u16, retry_after: Option<&str>) -> Self {
        match status {
            200..=299 => Self::Delivered(status),
            410 => Self::Gone,
            _ => Self::Failed {
                status: Some(status),
                error: format!("HTTP {status}"),
                retry_after: retry_after.and_then(parse_retry_after),
            },
        }
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// The HTTP client deliveries use: rustls on the ring provider, no redirects (a receiver
/// that moved must be re-registered, not followed silently).
pub fn http_client() -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(SEND_TIMEOUT)
        .user_agent(concat!("tikwire/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| Error::Other(format!("cannot build the HTTP client: {err}")))
}

/// POSTs one signed event. The signature covers the id, the time of this attempt and the body.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    key: &SigningKey,
    message_id: &str,
    body: &str,
) -> SendOutcome {
    let timestamp = Utc::now().timestamp();
    let signature = key.sign(message_id, timestamp, body.as_bytes());
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            SendOutcome::from_status(response.status().as_u16(), retry_after.as_deref())
        }
        Err(err) => SendOutcome::Failed {
            status: None,
            error: describe_send_error(&err),
            retry_after: None,
        },
    }
}

/// A send error in one line, without the URL (it may carry a token in its query).
fn describe_send_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(err);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    match last {
        Some(why) => format!("{kind}: {why}"),
        None => kind.to_owned(),
    }
}

/// The delivery loop (and hub watchdog) of one process.
pub struct DeliveryWorker {
    provisioner: Provisioner,
    client: reqwest::Client,
    policy: RetryPolicy,
    wake: Arc<Notify>,
    hook: Option<HookCommand>,
}

impl DeliveryWorker {
    pub fn new(
        provisioner: Provisioner,
        wake: Arc<Notify>,
        hook: Option<HookCommand>,
    ) -> Result<Self> {
        Ok(Self {
            provisioner,
            client: http_client()?,
            policy: RetryPolicy::default(),
            wake,
            hook,
        })
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Delivers until cancelled; woken at once by `wake`, else every half second.
    pub async fn run(self, cancel: CancellationToken) {
        let mut failing: Option<String> = None;
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            let prune = pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
            let round = async {
                if prune {
                    let store = self.provisioner.store();
                    let removed = webhooks::prune_events(store.pool(), KEEP_EVENTS_DAYS).await?;
                    if removed > 0 {
                        tracing::info!(
                            "pruned {removed} alerts older than {KEEP_EVENTS_DAYS} days"
                        );
                    }
                    pruned_at = Some(tokio::time::Instant::now());
                }
                self.watch_hubs().await?;
                while self.deliver_due().await? == BATCH as usize {}
                Ok::<_, Error>(())
            };
            match round.await {
                Ok(()) => {
                    if failing.take().is_some() {
                        tracing::info!("webhook delivery working again");
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    if failing.as_deref() != Some(message.as_str()) {
                        tracing::warn!("webhook delivery: {message} (retrying)");
                    }
                    failing = Some(message);
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(SWEEP) => {}
            }
        }
    }

    /// Claims one batch of due deliveries and sends them; returns how many were claimed.
    pub async fn deliver_due(&self) -> Result<usize> {
        let store = self.provisioner.store();
        let claimed = webhooks::claim_due(store.pool(), BATCH, LEASE_SECS).await?;
        let count = claimed.len();
        let sends = claimed.into_iter().map(|delivery| self.deliver(delivery));
        for result in futures_util::future::join_all(sends).await {
            result?;
        }
        Ok(count)
    }

    async fn deliver(&self, delivery: webhooks::ClaimedDelivery) -> Result<()> {
        let store = self.provisioner.store();
        let key = self
            .provisioner
            .vault()
            .open(&delivery.secret_sealed, &secret_aad(delivery.endpoint_id))?;
        let key = SigningKey::from_bytes(&key);
        let outcome = send(
            &self.client,
            &delivery.url,
            &key,
            &delivery.message_id,
            &delivery.body,
        )
        .await;
        match outcome {
            SendOutcome::Delivered(status) => {
                webhooks::record_delivered(store.pool(), delivery.id, status).await
            }
            SendOutcome::Gone => {
                tracing::warn!(
                    "webhook endpoint {} answered 410 Gone: disabled",
                    delivery.endpoint_id
                );
                let mut tx = store.begin().await?;
                webhooks::record_failure(&mut *tx, delivery.id, Some(410), "HTTP 410 Gone", None)
                    .await?;
                webhooks::disable_endpoint(
                    &mut *tx,
                    delivery.endpoint_id,
                    "receiver answered 410 Gone",
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }
            SendOutcome::Failed {
                status,
                error,
                retry_after,
            } => {
                let age = (Utc::now() - delivery.event_created_at)
                    .to_std()
                    .unwrap_or_default();
                let wait = self.policy.next_retry(
                    delivery.attempts,
                    retry_after,
                    age,
                    rand::random::<f64>(),
                );
                if wait.is_none() {
                    tracing::warn!(
                        "webhook delivery {} given up after {} attempts: {error}",
                        delivery.id,
                        delivery.attempts
                    );
                }
                webhooks::record_failure(
                    store.pool(),
                    delivery.id,
                    status,
                    &error,
                    wait.map(|w| w.as_secs_f64()),
                )
                .await
            }
        }
    }

    /// Announces `hub.down` for hubs whose agents went silent (one transaction per round).
    pub async fn watch_hubs(&self) -> Result<usize> {
        let store = self.provisioner.store();
        let mut tx = store.begin().await?;
        let silent = webhooks::claim_silent_hubs(&mut *tx, SILENT_INTERVALS).await?;
        if silent.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let mut bodies = Vec::new();
        for hub in &silent {
            let event = hub_event(AlertKind::HubDown, now, &hub.hub);
            webhooks::enqueue(&mut *tx, Some(hub.hub_id), std::slice::from_ref(&event)).await?;
            bodies.push(serde_json::to_string(&event.body).unwrap_or_default());
            tracing::warn!(
                "hub {}: its agent has not polled since {} (hub.down)",
                hub.hub,
                hub.last_poll_at
            );
        }
        tx.commit().await?;
        if let Some(hook) = &self.hook {
            hook.run_all(&bodies).await;
        }
        Ok(silent.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_gives_up_after_a_day() {
        let policy = RetryPolicy::default();
        let young = Duration::from_secs(1);
        let wait = |attempts, jitter| policy.next_retry(attempts, None, young, jitter).unwrap();
        assert_eq!(wait(1, 0.5), Duration::from_secs(5));
        assert_eq!(wait(2, 0.5), Duration::from_secs(10));
        assert_eq!(wait(3, 0.0), Duration::from_secs(16));
        assert_eq!(wait(3, 1.0), Duration::from_secs(24));
        assert_eq!(wait(20, 0.5), Duration::from_secs(3600));
        // The schedule spans about a day: walk it.
        let (mut age, mut attempts) = (Duration::ZERO, 0);
        while let Some(next) = policy.next_retry(attempts + 1, None, age, 0.5) {
            age += next;
            attempts += 1;
        }
        assert!(age > Duration::from_secs(23 * 3600), "{age:?}");
        assert!((25..40).contains(&attempts), "{attempts}");
    }

    #[test]
    fn retry_after_wins_within_reason() {
        let policy = RetryPolicy::default();
        let age = Duration::from_secs(1);
        let asked = Some(Duration::from_secs(120));
        assert_eq!(
            policy.next_retry(1, asked, age, 0.5),
            Some(Duration::from_secs(120))
        );
        let absurd = Some(Duration::from_secs(30 * 24 * 3600));
        assert_eq!(
            policy.next_retry(1, absurd, age, 0.5),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn statuses_mean_what_receivers_mean() {
        assert_eq!(
            SendOutcome::from_status(204, None),
            SendOutcome::Delivered(204)
        );
        assert_eq!(SendOutcome::from_status(410, None), SendOutcome::Gone);
        assert_eq!(
            SendOutcome::from_status(503, Some("7")),
            SendOutcome::Failed {
                status: Some(503),
                error: "HTTP 503".into(),
                retry_after: Some(Duration::from_secs(7)),
            }
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
