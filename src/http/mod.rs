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
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::service::{ApiError, ProgramCache, Workers};

/// What every handler shares.
pub struct Shared {
    /// The configuration, limits included.
    pub config: Config,
    /// Compiled programs.
    pub cache: ProgramCache,
    /// Counters and histograms for `/metrics`.
    pub metrics: Metrics,
    /// Permits for compute requests in flight; none left means 503 `overloaded`. A
    /// tokio semaphore because a permit is held across awaits.
    pub in_flight: Arc<Semaphore>,
    /// The cores for CPU-heavy work (compiling, grading, large batches and answers).
    pub workers: Workers,
}

/// The handlers' state: cheap to clone.
pub type AppState = Arc<Shared>;

/// The state for `config`.
pub fn state(config: Config) -> AppState {
    Arc::new(Shared {
        cache: ProgramCache::new(config.cache_capacity),
        metrics: Metrics::default(),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
        workers: Workers::new(config.max_blocking, config.max_queued),
        config,
    })
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
