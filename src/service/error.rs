//! The service's one error type: a problem with a code of the HTTP contract.
//!
//! Every error a request can cause is an [`ApiError`]; `http::error` turns it into an
//! `application/problem+json` response. The constructors' docs name the HTTP status.
//! The engine's errors are kinds of its own; this is the one place that maps them to the
//! contract's codes and limits.

use crate::config::Config;
use crate::engine::compile::CompileError;
use crate::engine::parse::Span;
use crate::engine::tape::BatchError;
use crate::engine::{Exhausted, ExprError, ExprErrorKind};

/// An error answered to the client. `code` is one of the contract's error codes (the
/// API reference, `docs/api.md`, lists them).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The contract's error code, e.g. `parse_error`.
    pub code: &'static str,
    /// A sentence for a person.
    pub detail: String,
    /// The bytes of the offending expression, when the error points into one.
    pub span: Option<Span>,
    /// Which expression of the request, when it has several.
    pub expression_index: Option<usize>,
    /// Which limit was exceeded (`limit_exceeded` only).
    pub limit: Option<&'static str>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            span: None,
            expression_index: None,
            limit: None,
        }
    }

    /// 400: the body is not JSON.
    pub fn malformed_json(detail: impl Into<String>) -> ApiError {
        ApiError::new(400, "malformed_json", detail)
    }

    /// 415: the body is not declared `application/json`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> ApiError {
        ApiError::new(415, "unsupported_media_type", detail)
    }

    /// 413: the body is over `NABLA_MAX_BODY_BYTES`.
    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the request body is over the limit of {limit} bytes"),
        )
    }

    /// 422: JSON of the wrong form.
    pub fn invalid_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(422, "invalid_request", detail)
    }

    /// 422: a point lacks a variable's value, or has a non-numeric one.
    pub fn missing_value(detail: impl Into<String>) -> ApiError {
        ApiError::new(422, "missing_value", detail)
    }

    /// 422: a limit was exceeded; `limit` names its configuration setting.
    pub fn limit_exceeded(limit: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            limit: Some(limit),
            ..ApiError::new(422, "limit_exceeded", detail)
        }
    }

    /// 404: no such route.
    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            404,
            "not_found",
            format!("there is no route {path}; see /openapi.json"),
        )
    }

    /// 405: the route exists, the method does not.
    pub fn method_not_allowed(method: &str, path: &str) -> ApiError {
        ApiError::new(
            405,
            "method_not_allowed",
            format!("{path} does not take {method}; see /openapi.json"),
        )
    }

    /// 503: too many requests in flight.
    pub fn overloaded() -> ApiError {
        ApiError::new(
            503,
            "overloaded",
            "too many requests are in flight; retry after a second",
        )
    }

    /// 500: a bug. No input should cause it.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(500, "internal", detail)
    }

    /// 422: the error of an expression that does not read, with the index of the
    /// expression when the request has several.
    pub fn expression(err: &ExprError, index: Option<usize>) -> ApiError {
        let (code, limit) = match err.kind() {
            ExprErrorKind::Syntax => ("parse_error", None),
            ExprErrorKind::UnknownFunction => ("unknown_function", None),
            ExprErrorKind::Arity => ("arity_mismatch", None),
            ExprErrorKind::TooDeep => ("limit_exceeded", Some("max_depth")),
            ExprErrorKind::TooLong => ("limit_exceeded", Some("max_expression_bytes")),
            ExprErrorKind::UnknownVariable => ("unknown_variable", None),
            ExprErrorKind::ShapeMismatch => ("shape_mismatch", None),
        };
        ApiError {
            span: Some(err.span()),
            expression_index: index,
            limit,
            ..ApiError::new(422, code, err.to_string())
        }
    }

    /// 422 `shape_mismatch`: operands of shapes that do not fit.
    pub fn shape_mismatch(detail: impl Into<String>) -> ApiError {
        ApiError::new(422, "shape_mismatch", detail)
    }

    /// 422 `unknown_variable`: a name that is neither a variable nor a parameter.
    pub fn unknown_variable(detail: impl Into<String>) -> ApiError {
        ApiError::new(422, "unknown_variable", detail)
    }

    /// 422 `limit_exceeded`: work that ran out of its budget, naming the setting.
    pub fn exhausted(e: Exhausted, config: &Config) -> ApiError {
        match e {
            Exhausted::Time => ApiError::limit_exceeded(
                "request_timeout_ms",
                format!(
                    "the request took longer than {} ms",
                    config.request_timeout_ms
                ),
            ),
            Exhausted::Nodes { limit } => ApiError::limit_exceeded(
                "max_nodes",
                format!("the derivatives grew past the limit of {limit} expression nodes"),
            ),
        }
    }

    /// A compilation that failed: out of budget (422), or a bug (500: every name was
    /// resolved before, and a compiled program keeps a tape's invariants).
    pub fn compile(e: CompileError, config: &Config) -> ApiError {
        match e {
            CompileError::Exhausted(e) => ApiError::exhausted(e, config),
            CompileError::Unbound(e) => ApiError::internal(e.to_string()),
            CompileError::Invalid(e) => ApiError::internal(e.to_string()),
        }
    }

    /// A batch evaluation that failed: out of time (422), or a bug (500: the service
    /// sizes the buffers from the program).
    pub fn batch(e: BatchError, config: &Config) -> ApiError {
        match e {
            BatchError::Exhausted(e) => ApiError::exhausted(e, config),
            BatchError::Length(e) => ApiError::internal(e.to_string()),
        }
    }

    /// The short title of the problem type.
    pub fn title(&self) -> &'static str {
        match self.code {
            "malformed_json" => "Body is not JSON",
            "unsupported_media_type" => "Body is not application/json",
            "payload_too_large" => "Body too large",
            "invalid_request" => "Request is not of the expected form",
            "parse_error" => "Expression could not be parsed",
            "unknown_function" => "Unknown function",
            "arity_mismatch" => "Wrong number of arguments",
            "unknown_variable" => "Unknown variable",
            "missing_value" => "Missing value",
            "shape_mismatch" => "Shapes do not match",
            "limit_exceeded" => "Limit exceeded",
            "not_found" => "Not found",
            "method_not_allowed" => "Method not allowed",
            "overloaded" => "Overloaded",
            _ => "Internal error",
        }
    }
}
