//! `tikwire token add|list|rm`: API tokens. The secret is printed once and never stored.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::output;
use super::{Context, TokenCommand, TokenRoleArg};
use crate::api::token;
use crate::store::tokens::TokenRole;
use crate::{Error, Result};

pub async fn run(ctx: &Context, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Add {
            name,
            tenant,
            role,
            system,
            expires,
            json,
        } => {
            let (tenant, role) = match (tenant, role, system) {
                (None, None, true) => (None, TokenRole::System),
                (Some(tenant), Some(role), false) => (
                    Some(tenant),
                    match role {
                        TokenRoleArg::Admin => TokenRole::Admin,
                        TokenRoleArg::User => TokenRole::User,
                    },
                ),
                _ => {
                    return Err(Error::Usage(
                        "give either --tenant T --role admin|user, or --system".into(),
                    ));
                }
            };
            check_token_name(&name)?;
            let expires_at = expires
                .as_deref()
                .map(|e| parse_age(e).map(|age| Utc::now() + age))
                .transpose()?;
            let (secret, hash) = token::generate();
            let info = ctx
                .store()
                .await?
                .add_token(&name, tenant.as_deref(), role, &hash, expires_at)
                .await?;
            let presented = token::presented(info.id, &secret);
            if json {
                #[derive(Serialize)]
                struct Created<'a> {
                    #[serde(flatten)]
                    info: &'a crate::store::tokens::TokenInfo,
                    token: &'a str,
                }
                return output::json(&Created {
                    info: &info,
                    token: &presented,
                });
            }
            output::print(&format!(
                "{}\ntoken {} created ({}); it is shown only this once: send it as \
                 Authorization: Bearer <token>\n",
                presented.as_str(),
                info.name,
                scope_text(info.tenant.as_deref(), info.role),
            ))
        }
        TokenCommand::List { json } => {
            let tokens = ctx.store().await?.list_tokens().await?;
            output::listing(
                &tokens,
                json,
                "no tokens yet: create one with `tikwire token add NAME --tenant T --role admin`",
                &[
                    ("NAME", |t| t.name.clone()),
                    ("SCOPE", |t| {
                        t.tenant.clone().unwrap_or_else(|| "(all tenants)".into())
                    }),
                    ("ROLE", |t| t.role.to_string()),
                    ("CREATED", |t| when(Some(t.created_at), "-")),
                    ("EXPIRES", |t| when(t.expires_at, "never")),
                    ("LAST USED", |t| when(t.last_used_at, "never")),
                ],
            )
        }
        TokenCommand::Rm { name } => {
            let info = ctx.store().await?.remove_token(&name).await?;
            output::print(&format!(
                "token {} revoked; requests with it now get 401\n",
                info.name
            ))
        }
    }
}

/// A time as the token list shows it, or `none`.
fn when(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map_or_else(
        || none.to_owned(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

fn scope_text(tenant: Option<&str>, role: TokenRole) -> String {
    match tenant {
        Some(tenant) => format!("{role} of tenant {tenant}"),
        None => "system admin".into(),
    }
}

fn check_token_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(crate::model::InvalidInput(format!(
            "token name {:?} must be 1 to 63 letters, digits, '-', '_' or '.'",
            name.escape_debug().to_string()
        ))
        .into())
    }
}

/// `90d`, `24h`, `30m`, `2w`, `45s`: a span of time ([`crate::format::parse_span`]).
pub(super) fn parse_age(value: &str) -> Result<chrono::Duration> {
    crate::format::parse_span(value).ok_or_else(|| {
        Error::Usage(format!(
            "{value:?} is not a span of time: a number and s, m, h, d or w (e.g. 90d, 24h)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_age("24h").unwrap(), chrono::Duration::hours(24));
        for bad in ["", "d", "0d", "5y", "-1d", "1.5h", "99999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
