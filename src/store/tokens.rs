//! API tokens: only the SHA-256 of each secret is stored.

use crate::events::AuditAction;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::{Store, audit, on_unique_violation};
use crate::{Error, Result};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRole {
    /// Tenant admin: list, show, create, delete, download in its tenant.
    Admin,
    /// Tenant user: list and show in its tenant.
    User,
    /// System admin: everything in every tenant.
    System,
}

impl TokenRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
            Self::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Admin, Self::User, Self::System]
            .into_iter()
            .find(|r| r.as_str() == value)
    }
}

impl std::fmt::Display for TokenRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// `None` for a system admin token.
    pub tenant: Option<String>,
    pub role: TokenRole,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token as authentication needs it.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub tenant_id: Option<i64>,
    pub role: TokenRole,
    pub secret_sha256: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

const TOKEN_SELECT: &str = "
    SELECT k.id, k.name, t.name AS tenant, k.role, k.created_at, k.expires_at, k.last_used_at
    FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id";

fn role_from(value: &str) -> Result<TokenRole> {
    TokenRole::parse(value).ok_or_else(|| Error::Database(format!("unknown token role {value:?}")))
}

fn info_from_row(row: &PgRow) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        tenant: row.try_get("tenant")?,
        role: role_from(row.try_get("role")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// Stores a new token. A tenant token names its tenant; a system token has none.
    pub async fn add_token(
        &self,
        name: &str,
        tenant: Option<&str>,
        role: TokenRole,
        secret_sha256: &[u8; 32],
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<TokenInfo> {
        let mut tx = self.begin().await?;
        let tenant_id = match tenant {
            Some(tenant) => Some(
                sqlx::query_scalar::<_, i64>("SELECT id FROM tenants WHERE name = $1")
                    .bind(tenant)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| super::tenants::no_such_tenant(tenant))?,
            ),
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (name, tenant_id, role, secret_sha256, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(tenant_id)
        .bind(role.as_str())
        .bind(&secret_sha256[..])
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| {
            on_unique_violation(err, |_| {
                format!("a token named {name:?} exists already (see `tikwire token list`)")
            })
        })?;
        audit(
            &mut tx,
            AuditAction::TokenAdd,
            tenant,
            None,
            serde_json::json!({ "token": name, "role": role }),
        )
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TOKEN_SELECT} WHERE k.id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let info = info_from_row(&row)?;
        tx.commit().await?;
        Ok(info)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TOKEN_SELECT} ORDER BY k.name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(info_from_row).collect()
    }

    /// Deletes a token: the next request that presents it gets 401.
    pub async fn remove_token(&self, name: &str) -> Result<TokenInfo> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TOKEN_SELECT} WHERE k.name = $1 FOR UPDATE OF k"
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no token named {name:?} (see `tikwire token list`)"
            ))
        })?;
        let info = info_from_row(&row)?;
        sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(info.id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            AuditAction::TokenRm,
            info.tenant.as_deref(),
            None,
            serde_json::json!({ "token": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(info)
    }

    /// The token with this id (or, without one, this hash), and notes that it was used (at
    /// most once a minute, so reads stay reads). Runs as the owner: authentication comes
    /// before any tenant is known, and the API's role has no access to tokens.
    pub async fn token_for_auth(
        &self,
        id: Option<i64>,
        secret_sha256: &[u8; 32],
    ) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(
            "WITH k AS (
                 SELECT id, name, tenant_id, role, secret_sha256, expires_at, last_used_at
                 FROM api_tokens
                 WHERE ($1::bigint IS NOT NULL AND id = $1) OR ($1::bigint IS NULL AND secret_sha256 = $2)
             ), touched AS (
                 UPDATE api_tokens SET last_used_at = now()
                 WHERE id = (SELECT id FROM k) AND (SELECT secret_sha256 FROM k) = $2
                   AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
             )
             SELECT id, name, tenant_id, role, secret_sha256, expires_at FROM k",
        )
        .bind(id)
        .bind(&secret_sha256[..])
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(TokenRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            tenant_id: row.try_get("tenant_id")?,
            role: role_from(row.try_get("role")?)?,
            secret_sha256: row.try_get("secret_sha256")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }
}
