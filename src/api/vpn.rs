//! The original system's endpoints under `/api/vpn`.

use crate::events::AuditAction;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiQuery, Envelope, ErrorEnvelope, Pagination};
use crate::format;
use crate::history::{Availability, RouterHistory};
use crate::model::{
    InterfaceName, RotationState, RouterName, RouterStatus, SubnetUsage, TenantName,
    parse_keepalive,
};
use crate::provision::RouterSpec;
use crate::scripts::{self, RouterDocument};
use crate::store::api::{self as queries, AccessScope, Page, VpnRow};
use crate::store::history;
use crate::store::rotation::RotationScope;
use crate::store::{PlatformIdentity, Tx};

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 500;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;

/// Traffic in the original's human-readable form.
#[derive(Debug, Serialize, ToSchema)]
pub struct Traffic {
    /// e.g. "1.5 MB"
    pub rx: String,
    pub tx: String,
    pub total: String,
}

/// A router's VPN configuration. Never a private or preshared key, never a script.
#[derive(Debug, Serialize, ToSchema)]
pub struct VpnConfig {
    /// This configuration's id (one per router).
    pub id: i64,
    /// The platform's own router id; null for routers provisioned from the console or CLI.
    pub router_id: Option<i64>,
    /// Display name: the platform's `router_name`, or the identifier.
    pub router_name: String,
    /// Script-safe identifier of the router (`tikwire router` commands take this name).
    pub router_identifier: String,
    pub tenant: String,
    /// The hub the router's tunnel ends on (its tenant's home hub).
    #[schema(example = "hub1")]
    pub hub: String,
    /// Always "wireguard".
    pub vpn_type: String,
    pub server_public_key: String,
    pub client_public_key: String,
    pub client_ip: String,
    pub server_ip: String,
    pub subnet_cidr: String,
    pub server_endpoint: String,
    pub listen_port: u16,
    /// pending (never connected), online, stale, offline, disabled.
    #[schema(value_type = String, example = "pending")]
    pub status: RouterStatus,
    pub is_connected: bool,
    pub last_handshake_at: Option<DateTime<Utc>>,
    pub traffic: Traffic,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub interface_name: String,
    pub keepalive_interval: u16,
    pub allowed_ips: Vec<String>,
    pub dns_servers: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the router's current keys were generated (provisioning or the last cut-over).
    pub keys_created_at: DateTime<Utc>,
    /// "none", or "staged": new keys wait for the router's first handshake with them (its
    /// downloads carry them meanwhile).
    #[schema(value_type = String, example = "none")]
    pub rotation_state: RotationState,
    /// The staged public key; null unless a rotation is staged.
    pub pending_public_key: Option<String>,
    pub rotation_staged_at: Option<DateTime<Utc>>,
    /// Fraction of the last 24 hours, 7 days and 30 days the router was online (0 to 1),
    /// counted from its first known status; null without data.
    pub availability: Availability,
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl VpnConfig {
    fn new(row: VpnRow, availability: Availability) -> Self {
        let r = row.router;
        Self {
            id: r.id,
            router_id: row.platform_router_id,
            router_name: row.display_name.unwrap_or_else(|| r.name.clone()),
            router_identifier: r.name,
            tenant: r.tenant,
            hub: r.hub,
            vpn_type: "wireguard".into(),
            server_public_key: row.server_public_key,
            client_public_key: r.public_key.to_string(),
            client_ip: r.vpn_ip.to_string(),
            server_ip: r.hub_ip.to_string(),
            subnet_cidr: r.subnet_cidr.to_string(),
            server_endpoint: row.server_endpoint,
            listen_port: row.listen_port,
            status: r.status,
            is_connected: r.status == RouterStatus::Online,
            last_handshake_at: r.last_handshake_at,
            traffic: Traffic {
                rx: format::bytes(r.rx_bytes),
                tx: format::bytes(r.tx_bytes),
                total: format::bytes(r.rx_bytes.saturating_add(r.tx_bytes)),
            },
            rx_bytes: r.rx_bytes,
            tx_bytes: r.tx_bytes,
            interface_name: r.interface_name,
            keepalive_interval: r.keepalive,
            allowed_ips: strings(&row.allowed_ips),
            dns_servers: strings(&row.dns_servers),
            created_at: r.created_at,
            updated_at: r.updated_at,
            keys_created_at: r.keys_created_at,
            rotation_state: r.rotation_state,
            pending_public_key: r.pending_public_key.map(|k| k.to_string()),
            rotation_staged_at: r.rotation_staged_at,
            availability,
        }
    }

    /// One configuration with its availability, read in the request's transaction.
    pub(super) async fn of(tx: &mut Tx<'_>, row: VpnRow) -> Result<Self, ApiError> {
        let availability = history::availability(&mut **tx, row.router.id, Utc::now()).await?;
        Ok(Self::new(row, availability))
    }
}

/// `GET /api/vpn` filters and page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// From 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Default 50, at most 500.
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<u32>,
    /// pending, online, stale, offline or disabled.
    pub status: Option<String>,
    /// System admins only: one tenant's configurations.
    pub tenant: Option<String>,
}

/// `POST /api/vpn`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVpn {
    /// The platform's router id, unique per tenant.
    #[schema(minimum = 1)]
    pub router_id: i64,
    /// Only "wireguard" (the default).
    pub vpn_type: Option<String>,
    /// The router's WireGuard interface (default wg-hotspot).
    pub interface_name: Option<String>,
    /// Persistent keepalive in seconds, 1 to 65535 (default 25).
    pub keepalive_interval: Option<i64>,
    /// Display name: any printable text up to 200 characters.
    pub router_name: Option<String>,
    /// System admins only: the tenant to provision into.
    pub tenant: Option<String>,
}

/// A tenant's address allocation, with the true figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubnetInfo {
    pub tenant: String,
    pub subnet_cidr: String,
    pub gateway_ip: String,
    pub range_start: String,
    pub range_end: String,
    pub total_ips: i64,
    pub allocated_ips: i64,
    pub available_ips: i64,
    /// active, exhausted or reserved.
    pub status: String,
}

impl From<SubnetUsage> for SubnetInfo {
    fn from(u: SubnetUsage) -> Self {
        Self {
            tenant: u.tenant,
            subnet_cidr: u.subnet_cidr.to_string(),
            gateway_ip: u.hub_ip.to_string(),
            range_start: u.range_start.to_string(),
            range_end: u.range_end.to_string(),
            total_ips: u.capacity,
            allocated_ips: u.allocated,
            available_ips: u.available,
            status: u.status,
        }
    }
}

/// `?tenant=` / `"tenant"`: only a system admin chooses a tenant.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// System admins: the tenant to show (required for them).
    pub tenant: Option<String>,
}

/// A path id: a whole number from 1.
fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "id {:?} is not a configuration id (a whole number from 1 to {})",
            raw.chars().take(40).collect::<String>(),
            i64::MAX
        ))
    })
}

/// The tenant a request acts on: the token's, or for a system admin the one named.
async fn acting_tenant(
    tx: &mut Tx<'_>,
    caller: &Caller,
    named: Option<&str>,
    field: &'static str,
) -> Result<TenantName, ApiError> {
    match (caller.scope, named) {
        (AccessScope::Tenant(id), None) => {
            let name = queries::tenant_name(tx, id)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the token's tenant no longer exists"))?;
            Ok(TenantName::parse(&name).map_err(crate::Error::from)?)
        }
        (AccessScope::Tenant(_), Some(_)) => Err(ApiError::forbidden(format!(
            "{field} is for system admin tokens; this token acts on its own tenant only"
        ))),
        (AccessScope::System, None) => Err(ApiError::invalid(
            field,
            format!("a system admin token must name the tenant ({field})"),
        )),
        (AccessScope::System, Some(name)) => {
            let name = TenantName::parse(name).map_err(|e| ApiError::invalid(field, e.0))?;
            if !queries::tenant_exists(tx, name.as_str()).await? {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no tenant named {:?}", name.as_str()),
                ));
            }
            Ok(name)
        }
    }
}

#[utoipa::path(
    get, path = "/api/vpn", tag = "vpn",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of the caller's configurations", body = Envelope<Vec<VpnConfig>>),
        (status = 400, description = "Bad query", body = ErrorEnvelope),
        (status = 401, description = "No or bad token", body = ErrorEnvelope),
        (status = 403, description = "Role forbids", body = ErrorEnvelope),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
        (status = 422, description = "Invalid filter", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Envelope<Vec<VpnConfig>>>, ApiError> {
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("page", "page counts from 1"));
    }
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid(
            "per_page",
            format!("per_page must be from 1 to {MAX_PER_PAGE}"),
        ));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(RouterStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "status must be one of pending, online, stale, offline, disabled",
            )
        })?),
    };
    let mut tx = state.begin(&caller).await?;
    let tenant = match (caller.scope, query.tenant.as_deref()) {
        (AccessScope::System, Some(_)) => {
            Some(acting_tenant(&mut tx, &caller, query.tenant.as_deref(), "tenant").await?)
        }
        (AccessScope::Tenant(_), Some(_)) => {
            return Err(ApiError::forbidden(
                "tenant is for system admin tokens; this token lists its own tenant",
            ));
        }
        (_, None) => None,
    };
    let (rows, total) = queries::list_vpn(
        &mut tx,
        caller.scope,
        tenant.as_ref().map(TenantName::as_str),
        status,
        Page {
            number: page,
            size: per_page,
        },
    )
    .await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.router.id).collect();
    let mut availability = history::availabilities(&mut *tx, &ids, Utc::now()).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    let data: Vec<VpnConfig> = rows
        .into_iter()
        .map(|row| {
            let known = availability.remove(&row.router.id);
            VpnConfig::new(
                row,
                known.unwrap_or_else(|| Availability::over(&Default::default(), Utc::now())),
            )
        })
        .collect();
    let last_page = ((total + i64::from(per_page) - 1) / i64::from(per_page)).max(1);
    Ok(Json(Envelope {
        success: true,
        message: format!(
            "{} of {} VPN configuration{}",
            data.len(),
            total,
            if total == 1 { "" } else { "s" }
        ),
        data,
        meta: Some(Pagination {
            page,
            per_page,
            total,
            last_page,
        }),
    }))
}

#[utoipa::path(
    post, path = "/api/vpn", tag = "vpn",
    request_body = CreateVpn,
    responses(
        (status = 201, description = "Provisioned", body = Envelope<VpnConfig>),
        (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
        (status = 401, description = "No or bad token", body = ErrorEnvelope),
        (status = 403, description = "Role forbids", body = ErrorEnvelope),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
        (status = 409, description = "router_id already configured, or no address left", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 415, description = "Not JSON", body = ErrorEnvelope),
        (status = 422, description = "Invalid field", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateVpn>,
) -> Result<(StatusCode, Json<Envelope<VpnConfig>>), ApiError> {
    caller.require_admin("creating a VPN configuration")?;
    let spec = validate_create(&body)?;
    let display_name = body.router_name.as_deref().map(str::trim);
    let mut tx = state.begin(&caller).await?;
    let tenant = acting_tenant(&mut tx, &caller, body.tenant.as_deref(), "tenant").await?;
    let platform = PlatformIdentity {
        router_id: body.router_id,
        display_name: display_name.map(str::to_owned),
    };
    let id = state
        .provisioner
        .add_router_in(&mut tx, &tenant, &spec, platform)
        .await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::from(crate::Error::Other("provisioned row vanished".into())))?;
    let config = VpnConfig::of(&mut tx, row).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    let message = format!(
        "VPN configuration created: {} gets {}; download its script from /api/vpn/{}/download/mikrotik",
        config.router_name, config.client_ip, config.id
    );
    Ok((StatusCode::CREATED, Json(Envelope::ok(message, config))))
}

/// Checks every field and derives the router's script-safe identifier.
fn validate_create(body: &CreateVpn) -> Result<RouterSpec, ApiError> {
    if body.router_id < 1 {
        return Err(ApiError::invalid(
            "router_id",
            "router_id must be a whole number from 1",
        ));
    }
    if let Some(kind) = body.vpn_type.as_deref()
        && kind != "wireguard"
    {
        return Err(ApiError::invalid(
            "vpn_type",
            format!(
                "vpn_type {:?} is not supported: only WireGuard is (\"wireguard\")",
                kind.chars().take(40).collect::<String>()
            ),
        ));
    }
    let interface_name = InterfaceName::parse(
        body.interface_name
            .as_deref()
            .unwrap_or(crate::model::DEFAULT_ROUTER_INTERFACE),
    )
    .map_err(|e| ApiError::invalid("interface_name", e.0))?;
    let keepalive = match body.keepalive_interval {
        None => crate::model::DEFAULT_KEEPALIVE,
        Some(k) => parse_keepalive(&k.to_string())
            .map_err(|e| ApiError::invalid("keepalive_interval", e.0))?,
    };
    if let Some(name) = &body.router_name {
        check_display_name(name).map_err(|why| ApiError::invalid("router_name", why))?;
    }
    Ok(RouterSpec {
        name: router_identifier(body.router_id, body.router_name.as_deref()),
        interface_name,
        keepalive,
    })
}

/// A display name is any printable text: no control characters, no bidirectional overrides
/// (which make text read differently from what it is), not blank, at most 200 characters.
fn check_display_name(name: &str) -> Result<(), String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("router_name must not be blank".into());
    }
    let count = trimmed.chars().count();
    if count > MAX_DISPLAY_NAME {
        return Err(format!(
            "router_name is {count} characters long; at most {MAX_DISPLAY_NAME} are allowed"
        ));
    }
    if let Some(bad) = trimmed.chars().find(|c| {
        c.is_control()
            || matches!(*c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
    }) {
        return Err(format!(
            "router_name contains U+{:04X}, which is not printable text",
            bad as u32
        ));
    }
    Ok(())
}

/// The router's identifier: the display name folded to script-safe ASCII, then the platform's
/// id, so it is unique in the tenant whatever the display name (`branch-office-router-5`,
/// `cafe-unter-7`, `router-9`).
fn router_identifier(router_id: i64, display_name: Option<&str>) -> RouterName {
    let suffix = format!("-{router_id}");
    let mut slug = String::new();
    for c in display_name.unwrap_or("").chars().flat_map(fold_to_ascii) {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= crate::model::MAX_NAME_LEN - suffix.len() {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "router" } else { slug };
    RouterName::parse(&format!("{slug}{suffix}"))
        .or_else(|_| RouterName::parse(&format!("router{suffix}")))
        .expect("letters, digits and '-' always make a valid router name")
}

/// Latin letters with accents to their base letter; anything else unchanged.
fn fold_to_ascii(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à'..='å' | 'À'..='Å' | 'ā' | 'Ā' | 'ą' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' | 'ć' | 'Ć' | 'č' | 'Č' => "c",
        'è'..='ë' | 'È'..='Ë' | 'ē' | 'ę' | 'ě' | 'Ē' | 'Ę' | 'Ě' => "e",
        'ì'..='ï' | 'Ì'..='Ï' => "i",
        'ñ' | 'Ñ' | 'ń' | 'ň' => "n",
        'ò'..='ö' | 'ø' | 'Ò'..='Ö' | 'Ø' | 'ő' | 'Ő' => "o",
        'ù'..='ü' | 'Ù'..='Ü' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        'ś' | 'š' | 'Ś' | 'Š' => "s",
        'ž' | 'ź' | 'ż' | 'Ž' | 'Ź' | 'Ż' => "z",
        'ł' | 'Ł' => "l",
        'ř' | 'Ř' => "r",
        'ť' | 'Ť' => "t",
        'ď' | 'Ď' => "d",
        _ => "",
    };
    let own = folded.is_empty().then_some(c);
    folded.chars().chain(own)
}

#[utoipa::path(
    get, path = "/api/vpn/{id}", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id")),
    responses(
        (status = 200, description = "The configuration", body = Envelope<VpnConfig>),
        (status = 400, description = "Bad id", body = ErrorEnvelope),
        (status = 401, description = "No or bad token", body = ErrorEnvelope),
        (status = 404, description = "No such configuration in the caller's scope", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Envelope<VpnConfig>>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.begin(&caller).await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let config = VpnConfig::of(&mut tx, row).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    Ok(Json(Envelope::ok("VPN configuration", config)))
}

/// The refusals of a tenant admin's request that names one configuration by id (delete,
/// downloads), listed once for the OpenAPI document. Never built: `ApiError` answers them.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum AdminByIdErrors {
    #[response(status = 400, description = "Bad id")]
    BadId(ErrorEnvelope),
    #[response(status = 401, description = "No or bad token")]
    Unauthorized(ErrorEnvelope),
    #[response(status = 403, description = "Role forbids")]
    Forbidden(ErrorEnvelope),
    #[response(
        status = 404,
        description = "No such configuration in the caller's scope"
    )]
    NotFound(ErrorEnvelope),
}

#[utoipa::path(
    delete, path = "/api/vpn/{id}", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id")),
    responses(
        (status = 200, description = "Deleted; the address is free again", body = Envelope<VpnConfig>),
        AdminByIdErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Envelope<VpnConfig>>, ApiError> {
    let id = parse_id(&id)?;
    caller.require_admin("deleting a VPN configuration")?;
    let mut tx = state.begin(&caller).await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let config = VpnConfig::of(&mut tx, row).await?;
    queries::delete_vpn(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    tx.commit().await.map_err(crate::Error::from)?;
    let message = format!(
        "VPN configuration {} deleted; {} is free again",
        config.id, config.client_ip
    );
    Ok(Json(Envelope::ok(message, config)))
}

#[utoipa::path(
    get, path = "/api/vpn/{id}/download/mikrotik", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id")),
    responses(
        (status = 200, description = "The RouterOS script (holds the router's private key)", content_type = "text/plain", body = String),
        AdminByIdErrors,
    ),
    security(("bearer" = []))
)]
pub async fn download_mikrotik(
    state: State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    download(state, caller, &id, Download::Mikrotik).await
}

#[utoipa::path(
    get, path = "/api/vpn/{id}/download/linux", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id")),
    responses(
        (status = 200, description = "The wg-quick config (holds the router's private key)", content_type = "text/plain", body = String),
        AdminByIdErrors,
    ),
    security(("bearer" = []))
)]
pub async fn download_linux(
    state: State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    download(state, caller, &id, Download::Linux).await
}

#[derive(Debug, Clone, Copy)]
enum Download {
    Mikrotik,
    Linux,
}

async fn download(
    State(state): State<ApiState>,
    caller: Caller,
    id: &str,
    kind: Download,
) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    caller.require_admin("downloading a script")?;
    let mut tx = state.begin(&caller).await?;
    let (secret, hub) = queries::vpn_secret_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let material = state.provisioner.unseal_router(secret, hub)?;
    let (document, filename, action) = match kind {
        Download::Mikrotik => (
            RouterDocument::RouterOs,
            format!("mikrotik-vpn-{id}.rsc"),
            AuditAction::VpnDownloadMikrotik,
        ),
        Download::Linux => (
            RouterDocument::WgQuick,
            format!("wg-vpn-{id}.conf"),
            AuditAction::VpnDownloadLinux,
        ),
    };
    let text = scripts::render_router(&material, document).map_err(crate::Error::from)?;
    queries::audit(
        &mut tx,
        action,
        &material.router,
        serde_json::json!({ "id": id, "file": filename }),
    )
    .await?;
    tx.commit().await.map_err(crate::Error::from)?;
    // The body owns the text and wipes it when the response is done with it.
    let body = axum::body::Bytes::from_owner(ZeroizingText(text));
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// A script as a response body owner: zeroized when the body is dropped.
struct ZeroizingText(zeroize::Zeroizing<String>);

impl AsRef<[u8]> for ZeroizingText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

#[utoipa::path(
    post, path = "/api/vpn/{id}/rotate", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id")),
    responses(
        (status = 200, description = "New keys staged beside the current ones (or a rotation was staged already and is kept); the downloads carry them, and the hub cuts over on their first handshake", body = Envelope<VpnConfig>),
        AdminByIdErrors,
    ),
    security(("bearer" = []))
)]
pub async fn rotate(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Envelope<VpnConfig>>, ApiError> {
    let id = parse_id(&id)?;
    caller.require_admin("rotating a router's keys")?;
    let mut tx = state.begin(&caller).await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let router = &row.router;
    let report = state
        .provisioner
        .stage_in(
            &mut tx,
            router.tenant_id,
            &router.tenant,
            RotationScope::Router(id),
        )
        .await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let config = VpnConfig::of(&mut tx, row).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    let message = if report.staged == 1 {
        format!(
            "new keys staged for VPN configuration {id}: download its script again and run it on the router; the hub cuts over on the router's first handshake with them"
        )
    } else {
        format!(
            "VPN configuration {id} has a rotation staged already; it is kept (its keys may be on the router)"
        )
    };
    Ok(Json(Envelope::ok(message, config)))
}

#[utoipa::path(
    delete, path = "/api/vpn/{id}/rotate", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id")),
    responses(
        (status = 200, description = "The staged rotation dropped; the router keeps its current keys", body = Envelope<VpnConfig>),
        (status = 409, description = "No rotation is staged", body = ErrorEnvelope),
        AdminByIdErrors,
    ),
    security(("bearer" = []))
)]
pub async fn abort_rotation(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Envelope<VpnConfig>>, ApiError> {
    let id = parse_id(&id)?;
    caller.require_admin("aborting a key rotation")?;
    let mut tx = state.begin(&caller).await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    if row.router.rotation_state == RotationState::None {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("VPN configuration {id} has no staged rotation"),
        ));
    }
    crate::rotation::abort_in(&mut tx, &row.router).await?;
    let row = queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let config = VpnConfig::of(&mut tx, row).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    Ok(Json(Envelope::ok(
        format!(
            "staged rotation of VPN configuration {id} dropped; the router keeps its current keys"
        ),
        config,
    )))
}

/// `GET /api/vpn/{id}/history?since=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How far back: a number and s, m, h, d or w (default 24h), up to 400 days. 5-minute
    /// traffic buckets up to 2 days, hourly beyond.
    #[param(pattern = r"^[0-9]{1,6}[smhdw]$", example = "24h")]
    pub since: Option<String>,
}

/// The longest history one request reads (the hourly roll-ups' default retention).
const HISTORY_MAX_DAYS: i64 = 400;

/// A span like 24h or 7d, from 1 second to [`HISTORY_MAX_DAYS`].
fn parse_since(raw: &str) -> Result<chrono::TimeDelta, ApiError> {
    let bad = || {
        ApiError::invalid(
            "since",
            format!(
                "since must be a number and s, m, h, d or w, up to {HISTORY_MAX_DAYS}d (e.g. 24h, 7d)"
            ),
        )
    };
    crate::format::parse_span(raw)
        .filter(|span| *span <= chrono::TimeDelta::days(HISTORY_MAX_DAYS))
        .ok_or_else(bad)
}

#[utoipa::path(
    get, path = "/api/vpn/{id}/history", tag = "vpn",
    params(("id" = i64, Path, minimum = 1, description = "Configuration id"), HistoryQuery),
    responses(
        (status = 200, description = "The router's traffic, status transitions and NAT endpoints over the span, oldest first", body = Envelope<RouterHistory>),
        (status = 400, description = "Bad id", body = ErrorEnvelope),
        (status = 401, description = "No or bad token", body = ErrorEnvelope),
        (status = 404, description = "No such configuration in the caller's scope", body = ErrorEnvelope),
        (status = 422, description = "Bad since", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn history(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Envelope<RouterHistory>>, ApiError> {
    let id = parse_id(&id)?;
    let span = parse_since(query.since.as_deref().unwrap_or("24h"))?;
    let now = Utc::now();
    let mut tx = state.begin(&caller).await?;
    // Row-level security: another tenant's router is not found, like everywhere else.
    queries::vpn_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::vpn_not_found(id))?;
    let past = history::router_history(&mut tx, id, now - span, now).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    Ok(Json(Envelope::ok(
        format!(
            "history of VPN configuration {id}: {} traffic points, {} transitions, {} endpoints",
            past.traffic.len(),
            past.transitions.len(),
            past.endpoints.len()
        ),
        past,
    )))
}

#[utoipa::path(
    get, path = "/api/vpn/subnet/info", tag = "vpn",
    params(TenantQuery),
    responses(
        (status = 200, description = "The tenant's allocation", body = Envelope<SubnetInfo>),
        (status = 400, description = "Bad query", body = ErrorEnvelope),
        (status = 401, description = "No or bad token", body = ErrorEnvelope),
        (status = 403, description = "Role forbids", body = ErrorEnvelope),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
        (status = 422, description = "System admin without a tenant", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn subnet_info(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TenantQuery>,
) -> Result<Json<Envelope<SubnetInfo>>, ApiError> {
    let mut tx = state.begin(&caller).await?;
    let tenant = acting_tenant(&mut tx, &caller, query.tenant.as_deref(), "tenant").await?;
    let usage = queries::subnet_info(&mut tx, tenant.as_str())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "the tenant has no subnet"))?;
    tx.commit().await.map_err(crate::Error::from)?;
    let info = SubnetInfo::from(usage);
    let message = format!(
        "{} of {} addresses in use",
        info.allocated_ips, info.total_ips
    );
    Ok(Json(Envelope::ok(message, info)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_script_safe_and_carry_the_platform_id() {
        let id = |name: Option<&str>, n| router_identifier(n, name).to_string();
        assert_eq!(
            id(Some("Branch Office Router"), 5),
            "branch-office-router-5"
        );
        assert_eq!(id(Some("Café Ünter"), 7), "cafe-unter-7");
        assert_eq!(id(None, 9), "router-9");
        assert_eq!(id(Some("日本語"), 3), "router-3");
        assert_eq!(id(Some("\"; /system reset ;"), 4), "system-reset-4");
        let long = id(Some(&"x".repeat(300)), i64::MAX);
        assert!(long.len() <= crate::model::MAX_NAME_LEN, "{long}");
        assert!(long.ends_with(&i64::MAX.to_string()));
    }

    #[test]
    fn display_names_are_printable_text() {
        assert!(check_display_name("Café Ünter").is_ok());
        assert!(check_display_name("Branch Office Router").is_ok());
        for bad in ["", "  ", "a\nb", "a\u{202E}b", "a\u{0}b", "a\u{7}"] {
            assert!(check_display_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_display_name(&"é".repeat(201)).is_err());
    }
}
