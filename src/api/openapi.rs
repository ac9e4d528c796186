//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{Envelope, ErrorEnvelope, Pagination};
use super::vpn;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tikwire API",
        description = "The hotspot platform's VPN API: tenant-scoped WireGuard configurations for MikroTik routers. Every JSON response is {success, message, data}."
    ),
    paths(
        vpn::list,
        vpn::create,
        vpn::show,
        vpn::delete,
        vpn::download_mikrotik,
        vpn::download_linux,
        vpn::rotate,
        vpn::abort_rotation,
        vpn::subnet_info,
        vpn::history,
        super::events::stream,
    ),
    components(schemas(
        vpn::VpnConfig,
        vpn::Traffic,
        vpn::CreateVpn,
        vpn::SubnetInfo,
        ErrorEnvelope,
        Pagination,
        Envelope<Vec<vpn::VpnConfig>>,
        Envelope<vpn::VpnConfig>,
        Envelope<vpn::SubnetInfo>,
        crate::history::Availability,
        crate::history::RouterHistory,
        crate::history::TrafficPoint,
        crate::history::StatusChange,
        crate::history::EndpointChange,
        Envelope<crate::history::RouterHistory>,
    )),
    modifiers(&BearerAuth),
    tags((name = "vpn", description = "VPN configurations"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("ID|tw_... from `tikwire token add`"))
                    .build(),
            ),
        );
    }
}

/// `GET /api/openapi.json`: no token needed.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
