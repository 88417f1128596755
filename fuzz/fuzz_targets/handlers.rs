//! The JSON request handlers on arbitrary bodies: every answer is 200 or a problem with a
//! documented status and code, never a 5xx (a panic would be caught and answered 500, so
//! it fails here too).
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use nabla::config::Config;
use tower::ServiceExt;

const ROUTES: [&str; 5] = [
    "/v1/gradient",
    "/v1/jacobian",
    "/v1/hessian",
    "/v1/differentiate",
    "/v1/grade",
];

const CODES: [&str; 11] = [
    "malformed_json",
    "unsupported_media_type",
    "payload_too_large",
    "invalid_request",
    "parse_error",
    "unknown_function",
    "arity_mismatch",
    "unknown_variable",
    "missing_value",
    "shape_mismatch",
    "limit_exceeded",
];

fn service() -> &'static (tokio::runtime::Runtime, Router) {
    static SERVICE: OnceLock<(tokio::runtime::Runtime, Router)> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // Smaller limits than a server's, so one input stays milliseconds.
        let config = Config {
            request_timeout_ms: 2_000,
            max_nodes: 200_000,
            max_program_instructions: 200_000,
            max_points: 1_000,
            ..Config::default()
        };
        let router = nabla::http::app(nabla::http::state(config));
        (runtime, router)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    let path = ROUTES[route as usize % ROUTES.len()];
    let (runtime, router) = service();
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let (status, bytes) = runtime.block_on(async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, bytes)
    });
    assert!(
        status < 500,
        "{path} answered {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if status != 200 {
        let problem: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON problem");
        let code = problem["code"].as_str().unwrap_or("");
        assert!(
            CODES.contains(&code),
            "{path} answered {status} with code {code:?}"
        );
    } else {
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("a JSON answer");
    }
});
