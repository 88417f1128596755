//! The JSON extractor of the compute routes: like `axum::Json`, but every rejection is
//! one of our problems (`unsupported_media_type`, `payload_too_large`, `malformed_json`,
//! `invalid_request`, `limit_exceeded`, `overloaded`), so no framework text reaches a
//! client; and it admits the request: the body is read whole under its deadline before a
//! permit is taken, so a slow client holds a connection, never a permit.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use axum::http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use tokio::sync::OwnedSemaphorePermit;

use super::AppState;
use crate::service::ApiError;

/// A JSON body deserialised into `T`, and the request's in-flight permit (keep it bound,
/// as `_permit`, until the answer is ready).
pub struct ApiJson<T>(pub T, pub OwnedSemaphorePermit);

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
        let config = &state.config;
        let limit = config.max_body_bytes;
        let mut read = std::pin::pin!(Limited::new(req.into_body(), limit).collect());
        // A body that has arrived already (nearly all of them) needs no timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
        let read = async {
            match first {
                Poll::Ready(r) => Ok(r),
                Poll::Pending => {
                    let deadline = Duration::from_millis(config.body_read_timeout_ms);
                    tokio::time::timeout(deadline, read).await
                }
            }
        };
        let bytes = match read.await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<LengthLimitError>() => {
                return Err(ApiError::payload_too_large(limit));
            }
            Ok(Err(e)) => {
                return Err(ApiError::malformed_json(format!(
                    "the body could not be read: {e}"
                )))
            }
            // The rest of the body is not waited for: the connection closes (error.rs).
            Err(_) => {
                return Err(ApiError::limit_exceeded(
                    "body_read_timeout_ms",
                    format!(
                        "the request body did not arrive within {} ms",
                        config.body_read_timeout_ms
                    ),
                ))
            }
        };
        let permit = state.in_flight.clone().try_acquire_owned().map_err(|_| {
            state.metrics.record_overloaded();
            ApiError::overloaded()
        })?;
        let value = serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
            Category::Data => ApiError::invalid_request(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::malformed_json(format!("the body is not valid JSON: {e}"))
            }
        })?;
        Ok(ApiJson(value, permit))
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
