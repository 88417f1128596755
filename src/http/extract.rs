//! The JSON extractor: like `axum::Json`, but every rejection is one of our problems
//! (`unsupported_media_type`, `payload_too_large`, `malformed_json`, `invalid_request`),
//! so no framework text reaches a client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::AppState;
use crate::service::ApiError;

/// A JSON body deserialised into `T`.
pub struct ApiJson<T>(pub T);

fn is_json(content_type: &str) -> bool {
    // Compared without copying: this runs on every request.
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let n = mime.len();
    let starts = mime
        .get(..12)
        .is_some_and(|h| h.eq_ignore_ascii_case("application/"));
    let ends = n >= 5
        && mime
            .get(n - 5..)
            .is_some_and(|t| t.eq_ignore_ascii_case("+json"));
    mime.eq_ignore_ascii_case("application/json") || (starts && ends)
}

/// 415 `unsupported_media_type` unless the headers say the body is JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if is_json(content_type) {
        return Ok(());
    }
    let got = if content_type.is_empty() {
        "no Content-Type"
    } else {
        content_type
    };
    Err(ApiError::unsupported_media_type(format!(
        "the body must be JSON with 'Content-Type: application/json', not {got}"
    )))
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(state.config.max_body_bytes)
            } else {
                ApiError::malformed_json(format!("the body could not be read: {e}"))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| match e.classify() {
                Category::Data => ApiError::invalid_request(e.to_string()),
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::malformed_json(format!("the body is not valid JSON: {e}"))
                }
            })
    }
}

/// For an optional field: present means a value, never `null` (`#[serde(default,
/// deserialize_with = "present")]`). serde takes `null` for `None`, which the contract
/// and the OpenAPI document refuse: a field is given, or left out.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// [`present`] for a field of any JSON type: `null` is refused by name.
pub fn present_value<'de, D>(d: D) -> Result<Option<serde_json::Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match <serde_json::Value as serde::Deserialize>::deserialize(d)? {
        serde_json::Value::Null => Err(serde::de::Error::custom(
            "null is not a value here: give the field, or leave it out",
        )),
        v => Ok(Some(v)),
    }
}
