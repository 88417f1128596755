//! Errors as `application/problem+json` (RFC 9457) responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::service::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title(),
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        });
        if let Value::Object(map) = &mut body {
            if let Some(span) = self.span {
                map.insert("span".into(), json!({"start": span.start, "end": span.end}));
            }
            if let Some(i) = self.expression_index {
                map.insert("expression_index".into(), json!(i));
            }
            if let Some(limit) = self.limit {
                map.insert("limit".into(), json!(limit));
            }
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.code == "overloaded" {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.limit == Some("body_read_timeout_ms") {
            // The rest of a body that did not arrive in time is not waited for.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
