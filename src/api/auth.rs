//! Who is calling: the bearer token, checked against its stored hash, and what its role may do.

use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;

use super::ApiState;
use super::error::ApiError;
use super::token;
use crate::store::api::{AccessScope, RequestOrigin};
use crate::store::tokens::TokenRole;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_name: String,
    pub role: TokenRole,
    pub scope: AccessScope,
    pub client_addr: String,
    pub request_id: String,
}

impl Caller {
    /// Tenant admins and system admins create, delete and download; tenant users only read.
    pub fn require_admin(&self, action: &str) -> Result<(), ApiError> {
        match self.role {
            TokenRole::Admin | TokenRole::System => Ok(()),
            TokenRole::User => Err(ApiError::forbidden(format!(
                "token {:?} has role user, which may list and show; {action} needs a tenant admin or system token",
                self.token_name
            ))),
        }
    }

    pub fn origin(&self) -> RequestOrigin<'_> {
        RequestOrigin {
            token_name: &self.token_name,
            client_addr: &self.client_addr,
            request_id: &self.request_id,
        }
    }
}

/// Set by the access-log middleware for each request; filled in by authentication.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub request_id: String,
    pub client_addr: String,
    /// The token's name once it is known, for the access log.
    pub token_name: Arc<OnceLock<String>>,
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let info = parts
            .extensions
            .get::<RequestInfo>()
            .cloned()
            .ok_or_else(|| ApiError::from(crate::Error::Other("request info missing".into())))?;
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "no token: send Authorization: Bearer <token> (an operator creates one with `tikwire token add`)",
                )
            })?
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, rest) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be: Bearer <token>")
            })?;
        let refused = || ApiError::unauthorized("the token is not valid (unknown or revoked)");
        let (id, presented) = token::parse(bearer).ok_or_else(refused)?;
        let record = state
            .store()
            .token_for_auth(id, &presented)
            .await?
            .ok_or_else(refused)?;
        if !token::matches(&presented, &record.secret_sha256) {
            return Err(refused());
        }
        if let Some(expired) = record.expires_at.filter(|at| *at <= Utc::now()) {
            return Err(ApiError::unauthorized(format!(
                "the token expired at {}; ask an operator for a new one",
                expired.to_rfc3339()
            )));
        }
        let scope = match (record.role, record.tenant_id) {
            (TokenRole::System, _) => AccessScope::System,
            (_, Some(tenant)) => AccessScope::Tenant(tenant),
            (_, None) => return Err(refused()),
        };
        let _ = info.token_name.set(record.name.clone());
        Ok(Caller {
            token_name: record.name,
            role: record.role,
            scope,
            client_addr: info.client_addr,
            request_id: info.request_id,
        })
    }
}
