//! Webhook endpoints: add (the secret generated, sealed, shown once), list, remove, and a
//! signed test send. The command line and any other client call these.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::delivery::{SendOutcome, http_client, secret_aad, send};
use super::event::{AlertKind, EventBody};
use super::signature::SigningKey;
use crate::events::AuditAction;
use crate::model::InvalidInput;
use crate::provision::Provisioner;
use crate::store::webhooks::{self, EndpointSummary, NewEndpoint};
use crate::{Error, Result};

/// What `webhook add` asks for.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub name: Option<String>,
    pub tenant: Option<String>,
    /// `None`: every event type.
    pub events: Option<Vec<AlertKind>>,
}

/// A URL a webhook may be sent to: http or https, with a host.
pub fn check_url(url: &str) -> Result<reqwest::Url, InvalidInput> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|err| InvalidInput(format!("webhook URL {url:?} is not valid: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(InvalidInput(format!(
            "webhook URL {url:?}: need http:// or https:// and a host"
        )));
    }
    if url.len() > 2000 {
        return Err(InvalidInput(
            "webhook URL longer than 2000 characters".into(),
        ));
    }
    Ok(parsed)
}

/// A webhook name: lowercase letters, digits, `.`, `_`, `-`, up to 63, starting alphanumeric.
pub fn check_name(name: &str) -> Result<(), InvalidInput> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !first_ok || !rest_ok || name.len() > 63 {
        return Err(InvalidInput(format!(
            "webhook name {name:?}: use 1 to 63 of a-z 0-9 . _ - (starting with a letter or digit)"
        )));
    }
    Ok(())
}

/// The name a webhook gets without `--name`: its URL's host.
fn default_name(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("webhook").to_ascii_lowercase();
    let name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    name.trim_start_matches(['.', '_', '-']).to_owned()
}

/// Registers an endpoint; returns it and its signing key (to show once).
pub async fn add(
    provisioner: &Provisioner,
    request: &NewWebhook,
) -> Result<(EndpointSummary, SigningKey)> {
    let url = check_url(&request.url)?;
    let name = match &request.name {
        Some(name) => name.clone(),
        None => default_name(&url),
    };
    check_name(&name)?;
    let store = provisioner.store();
    let tenant_id = match &request.tenant {
        Some(tenant) => Some(store.tenant(tenant).await?.id),
        None => None,
    };
    let key = SigningKey::generate();
    let mut tx = store.begin().await?;
    let id = webhooks::next_endpoint_id(&mut *tx).await?;
    let sealed = provisioner.vault().seal(key.as_bytes(), &secret_aad(id));
    webhooks::insert_endpoint(
        &mut *tx,
        &NewEndpoint {
            id,
            name: &name,
            url: url.as_str(),
            tenant_id,
            event_types: request.events.as_deref(),
            secret_sealed: &sealed,
        },
    )
    .await?;
    // The host only: a URL's path or query may carry the receiver's own token.
    crate::store::audit(
        &mut tx,
        AuditAction::WebhookAdd,
        request.tenant.as_deref(),
        None,
        serde_json::json!({ "webhook": name, "host": url.host_str() }),
    )
    .await?;
    tx.commit().await?;
    let summary = list(provisioner)
        .await?
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| Error::Other(format!("webhook {name} vanished right after its creation")))?;
    Ok((summary, key))
}

pub async fn list(provisioner: &Provisioner) -> Result<Vec<EndpointSummary>> {
    webhooks::list_endpoints(provisioner.store().pool()).await
}

pub async fn remove(provisioner: &Provisioner, name: &str) -> Result<()> {
    let mut tx = provisioner.store().begin().await?;
    if !webhooks::remove_endpoint(&mut *tx, name).await? {
        return Err(Error::NotFound(format!(
            "no webhook named {name:?} (see `tikwire webhook list`)"
        )));
    }
    crate::store::audit(
        &mut tx,
        AuditAction::WebhookRm,
        None,
        None,
        serde_json::json!({ "webhook": name }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a test send got.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub name: String,
    pub url: String,
    pub message_id: String,
    pub outcome: SendOutcome,
    pub elapsed: Duration,
}

/// Sends a signed `webhook.test` event to the endpoint named `target` (or registered with
/// that URL), now, and says what the receiver answered. Nothing is stored.
pub async fn test(provisioner: &Provisioner, target: &str) -> Result<TestReport> {
    let store = provisioner.store();
    let endpoint = match webhooks::endpoint_by_name(store.pool(), target).await? {
        Some(endpoint) => endpoint,
        None => {
            let by_url = match check_url(target) {
                Ok(url) => webhooks::endpoint_by_url(store.pool(), url.as_str()).await?,
                Err(_) => None,
            };
            by_url.ok_or_else(|| {
                Error::NotFound(format!(
                    "no webhook named or registered at {target:?} (see `tikwire webhook list`; add it with `tikwire webhook add URL`)"
                ))
            })?
        }
    };
    let key = provisioner
        .vault()
        .open(&endpoint.secret_sealed, &secret_aad(endpoint.id))?;
    let key = SigningKey::from_bytes(&key);
    let message_id = format!("msg_test_{:032x}", rand::random::<u128>());
    let body = EventBody::hub(AlertKind::WebhookTest, Utc::now(), "test");
    let body = serde_json::to_string(&body)
        .map_err(|err| Error::Other(format!("cannot encode the test event: {err}")))?;
    let client = http_client()?;
    let started = Instant::now();
    let outcome = send(&client, &endpoint.url, &key, &message_id, &body).await;
    Ok(TestReport {
        name: endpoint.name,
        url: endpoint.url,
        message_id,
        outcome,
        elapsed: started.elapsed(),
    })
}
