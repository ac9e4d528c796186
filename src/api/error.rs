//! The response envelope `{success, message, data}` of the original API, and errors in it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every JSON response: `success`, a message for people, and the payload.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub message: String,
    pub data: T,
    /// Listings only: where this page sits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Pagination>,
}

impl<T: Serialize> Envelope<T> {
    pub fn ok(message: impl Into<String>, data: T) -> Self {
        Self {
            success: true,
            message: message.into(),
            data,
            meta: None,
        }
    }
}

/// Where a page of a listing sits.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
    pub last_page: i64,
}

/// An error response: `success: false`, a message an integrator can act on, `data: null`, and
/// for invalid fields which field was wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
    /// Invalid fields (422 only), each with what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// Also for another tenant's configuration: its existence is never revealed.
    pub fn vpn_not_found(id: i64) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("no VPN configuration with id {id}"),
        )
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            field: Some(field),
        }
    }
}

impl From<crate::Error> for ApiError {
    fn from(err: crate::Error) -> Self {
        use crate::Error as E;
        let status = match &err {
            E::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::Usage(_) => StatusCode::BAD_REQUEST,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::AlreadyExists(_) | E::Exhausted(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The library's errors never carry a key; the client gets no internals.
            tracing::error!("request failed: {err}");
            return Self::new(
                status,
                "internal error; the server log has the details (look for this request's x-request-id)",
            );
        }
        Self::new(status, err.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let message = match &rejection {
            JsonRejection::JsonSyntaxError(_) => format!(
                "the body is not valid JSON: {}",
                rejection
                    .body_text()
                    .replace("Failed to parse the request body as JSON: ", "")
            ),
            JsonRejection::MissingJsonContentType(_) => {
                "send the body as JSON with Content-Type: application/json".into()
            }
            JsonRejection::JsonDataError(_) => rejection.body_text().replace(
                "Failed to deserialize the JSON body into the target type: ",
                "",
            ),
            _ => rejection.body_text(),
        };
        Self::new(status, message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(
            rejection
                .body_text()
                .replace("Failed to deserialize query string: ", "query string: "),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors = self
            .field
            .map(|field| BTreeMap::from([(field.to_owned(), vec![self.message.clone()])]));
        let body = ErrorEnvelope {
            success: false,
            message: self.message,
            data: None,
            errors,
        };
        (self.status, Json(body)).into_response()
    }
}

/// A JSON object body (like `axum::Json`, whose parser it uses, so errors name the field),
/// with every rejection answered in the envelope.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(Self::Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Self::Rejection::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the body is too large (at most {} KiB)",
                        super::BODY_LIMIT / 1024
                    ),
                ),
                status => Self::Rejection::new(status, rejection.body_text()),
            })?;
        // Serde would also take an array for a struct; a request body is an object.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() => {
                return Err(Self::Rejection::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the body must be a JSON object, e.g. {\"router_id\": 5}",
                ));
            }
            _ => {}
        }
        let Json(value) = Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

/// `axum::extract::Query` whose rejections are answered in the envelope.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}
