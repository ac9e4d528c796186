//! `tikwire webhook add|list|rm|test`: where alerts go. The secret is printed once.

use serde::Serialize;

use super::output;
use super::{Context, WebhookCommand};
use crate::alerts::AlertKind;
use crate::alerts::delivery::SendOutcome;
use crate::alerts::endpoints::{self, NewWebhook};
use crate::store::webhooks::EndpointSummary;
use crate::{Error, Result};

pub async fn run(ctx: &Context, cmd: WebhookCommand) -> Result<()> {
    match cmd {
        WebhookCommand::Add {
            url,
            name,
            tenant,
            events,
            json,
        } => {
            // Checked before anything is opened: bad input changes nothing.
            endpoints::check_url(&url)?;
            if let Some(name) = &name {
                endpoints::check_name(name)?;
            }
            let events = events.as_deref().map(AlertKind::parse_list).transpose()?;
            let provisioner = ctx.provisioner().await?;
            let (endpoint, key) = endpoints::add(
                &provisioner,
                &NewWebhook {
                    url,
                    name,
                    tenant,
                    events,
                },
            )
            .await?;
            let secret = key.to_secret_string();
            if json {
                #[derive(Serialize)]
                struct Created<'a> {
                    #[serde(flatten)]
                    endpoint: &'a EndpointSummary,
                    secret: &'a str,
                }
                return output::json(&Created {
                    endpoint: &endpoint,
                    secret: &secret,
                });
            }
            output::print(&format!(
                "{}\nwebhook {} created for {} ({}); the secret above is shown only this once: \
                 give it to the receiver to verify webhook-signature\n",
                secret.as_str(),
                endpoint.name,
                endpoint.url,
                scope_text(&endpoint),
            ))
        }
        WebhookCommand::List { json } => {
            let provisioner = ctx.provisioner().await?;
            let list = endpoints::list(&provisioner).await?;
            output::listing(
                &list,
                json,
                "no webhooks yet: add one with `tikwire webhook add URL`",
                &[
                    ("NAME", |e| e.name.clone()),
                    ("URL", |e| e.url.clone()),
                    ("SCOPE", scope_text),
                    ("STATE", |e| {
                        if e.enabled {
                            "enabled".into()
                        } else {
                            format!(
                                "disabled: {}",
                                e.disabled_reason.as_deref().unwrap_or("by an operator")
                            )
                        }
                    }),
                    ("DELIVERED", |e| e.delivered.to_string()),
                    ("PENDING", |e| e.pending.to_string()),
                    ("FAILED", |e| e.failed.to_string()),
                    ("LAST ATTEMPT", |e| {
                        match (&e.last_attempt_at, &e.last_error, e.last_status) {
                            (None, _, _) => "-".into(),
                            (Some(at), Some(error), _) => format!("{} {error}", at.format("%F %T")),
                            (Some(at), None, Some(status)) => {
                                format!("{} HTTP {status}", at.format("%F %T"))
                            }
                            (Some(at), None, None) => at.format("%F %T").to_string(),
                        }
                    }),
                ],
            )
        }
        WebhookCommand::Rm { name } => {
            let provisioner = ctx.provisioner().await?;
            endpoints::remove(&provisioner, &name).await?;
            output::print(&format!("webhook {name} removed\n"))
        }
        WebhookCommand::Test { target, json } => {
            let provisioner = ctx.provisioner().await?;
            let report = endpoints::test(&provisioner, &target).await?;
            let (accepted, answer) = match &report.outcome {
                SendOutcome::Delivered(status) => (true, format!("HTTP {status}")),
                SendOutcome::Gone => (false, "HTTP 410 Gone".to_owned()),
                SendOutcome::Failed { error, .. } => (false, error.clone()),
            };
            if !accepted {
                // A failure prints one line on stderr and nothing on stdout.
                return Err(Error::Other(format!(
                    "webhook {} ({}) did not accept the test event: {answer}",
                    report.name, report.url
                )));
            }
            if json {
                #[derive(Serialize)]
                struct Tested<'a> {
                    name: &'a str,
                    url: &'a str,
                    webhook_id: &'a str,
                    accepted: bool,
                    answer: &'a str,
                    elapsed_ms: u128,
                }
                output::json(&Tested {
                    name: &report.name,
                    url: &report.url,
                    webhook_id: &report.message_id,
                    accepted,
                    answer: &answer,
                    elapsed_ms: report.elapsed.as_millis(),
                })?;
            } else {
                output::print(&format!(
                    "webhook {} ({}): {} in {} ms, webhook-id {}\n",
                    report.name,
                    report.url,
                    answer,
                    report.elapsed.as_millis(),
                    report.message_id
                ))?;
            }
            Ok(())
        }
    }
}

fn scope_text(endpoint: &EndpointSummary) -> String {
    let tenant = endpoint
        .tenant
        .as_deref()
        .map_or_else(|| "all tenants".to_owned(), |t| format!("tenant {t}"));
    let events = endpoint
        .event_types
        .as_ref()
        .map_or_else(|| "all events".to_owned(), |e| e.join(","));
    format!("{tenant}, {events}")
}
