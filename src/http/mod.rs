//! The HTTP layer: routes, extractors, errors and middleware. Handlers are thin: they
//! read the request, call the service layer, and shape the answer.

pub mod compute;
pub mod differentiate;
pub mod error;
pub mod extract;
pub mod grade;
pub mod meta;
pub mod record;
pub mod write;

use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::service::{ApiError, Service};

/// The handlers' state: the service, cheap to clone.
pub type AppState = Arc<Service>;

/// The state for `config`.
pub fn state(config: Config) -> AppState {
    Service::new(config)
}

/// Every route of the service, as `(method, path)`: the OpenAPI test checks the document
/// against this list and the list against the router.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/gradient"),
    ("POST", "/v1/jacobian"),
    ("POST", "/v1/hessian"),
    ("POST", "/v1/differentiate"),
    ("POST", "/v1/grade"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The service's router: the test seam.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/gradient", post(compute::gradient))
        .route("/v1/jacobian", post(compute::jacobian))
        .route("/v1/hessian", post(compute::hessian))
        .route("/v1/differentiate", post(differentiate::differentiate))
        .route("/v1/grade", post(grade::grade))
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("the server hit a bug; it has been logged").into_response()
            },
        ))
        .layer(record::RecordLayer(state.clone()))
        .with_state(state)
}
