//! The HTTP contract through the router (tower `oneshot`): every endpoint, every error
//! code, the cache. Expected numbers are computed here by hand, not by the engine.

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use nabla::config::Config;
use nabla::http::{app, state};
use serde_json::{json, Value};
use tower::ServiceExt;

/// A response: status, `x-cache` and `retry-after` headers, content type, JSON body
/// (or the text as a JSON string when it is not JSON).
pub struct Reply {
    pub status: u16,
    pub cache: Option<String>,
    pub retry_after: Option<String>,
    pub content_type: String,
    pub body: Value,
}

pub fn router(config: Config) -> Router {
    app(state(config))
}

pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<String>,
) -> Reply {
    let body: String = body.into();
    let mut req = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (status, cache, retry_after) = (
        parts.status.as_u16(),
        header("x-cache"),
        header("retry-after"),
    );
    let content_type = header("content-type").unwrap_or_default();
    let bytes = body.collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply {
        status,
        cache,
        retry_after,
        content_type,
        body,
    }
}

pub async fn post(app: &Router, path: &str, body: Value) -> Reply {
    send(
        app,
        "POST",
        path,
        Some("application/json"),
        body.to_string(),
    )
    .await
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        _ => v.as_f64().unwrap_or_else(|| panic!("{v} is not a number")),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

const SHEET_4A: &str = "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))";

/// 4a's value and gradient by hand.
fn sheet_4a(x: f64, y: f64, z: f64) -> [f64; 4] {
    let u = x * x * y.powi(3) * z;
    let s = 1.0 / (1.0 + (-u).exp());
    [
        0.5 * x * x + y * z - (1.0 + u.exp()).ln(),
        x - 2.0 * x * y.powi(3) * z * s,
        z - 3.0 * x * x * y * y * z * s,
        y - x * x * y.powi(3) * s,
    ]
}

#[tokio::test]
async fn gradient_object_point() {
    let app = router(Config::default());
    let r = post(&app, "/v1/gradient", json!({"expression": SHEET_4A, "variables": ["x", "y", "z"], "point": {"z": 0.4, "x": 0.7, "y": -1.3}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.cache.as_deref(), Some("miss"));
    assert_eq!(r.body["variables"], json!(["x", "y", "z"]));
    let want = sheet_4a(0.7, -1.3, 0.4);
    assert!(close(num(&r.body["value"]), want[0]));
    let g = r.body["gradient"].as_object().unwrap();
    assert_eq!(
        g.keys().collect::<Vec<_>>(),
        ["x", "y", "z"],
        "keys in the order of variables"
    );
    for (k, v) in ["x", "y", "z"].iter().enumerate() {
        assert!(close(num(&g[*v]), want[k + 1]), "d/d{v}");
    }
}

#[tokio::test]
async fn gradient_array_point_batch_and_variable_order() {
    let app = router(Config::default());
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x^2*y", "variables": ["y", "x"], "points": [[3, 2], [1, 0.5]]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["values"], json!([12.0, 0.25]));
    assert_eq!(r.body["gradients"], json!([[4.0, 12.0], [0.25, 1.0]]));
    // Variables omitted: the free symbols, sorted; pi and e are constants.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "b*pi + a*e", "point": {"a": 1, "b": 1}}),
    )
    .await;
    assert_eq!(r.body["variables"], json!(["a", "b"]));
    assert!(close(num(&r.body["gradient"]["a"]), std::f64::consts::E));
    // ...unless listed.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "e^2", "variables": ["e"], "point": {"e": 3}}),
    )
    .await;
    assert_eq!(r.body["gradient"]["e"], json!(6.0));
}

#[tokio::test]
async fn parameters_non_finite_numbers_and_symbolic() {
    let app = router(Config::default());
    let r = post(&app, "/v1/gradient", json!({"expression": "a*x^2", "variables": ["x"], "parameters": {"a": 3}, "point": {"x": 2}, "symbolic": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!(12.0));
    assert_eq!(r.body["gradient"], json!({"x": 12.0}));
    assert_eq!(
        r.body["symbolic"],
        json!({"value": "a*x^2", "gradient": {"x": "2*a*x"}})
    );
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "ln(x) + 1/y", "point": {"x": -1, "y": 0}}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"], json!("NaN"));
    assert_eq!(r.body["gradient"]["y"], json!("-Infinity"));
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x*y", "point": {"x": "Infinity", "y": "NaN"}}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["gradient"], json!({"x": "NaN", "y": "Infinity"}));
    // Stable where the naive formula overflows (u = 800).
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": SHEET_4A, "point": {"x": 2, "y": 1, "z": 200}}),
    )
    .await;
    assert_eq!(
        r.body["gradient"],
        json!({"x": -798.0, "y": -2200.0, "z": -3.0})
    );
}

#[tokio::test]
async fn jacobian_hessian_differentiate() {
    let app = router(Config::default());
    let r = post(
        &app,
        "/v1/jacobian",
        json!({"expressions": ["x*y", "sin(x) + z"], "point": {"x": 0, "y": 2, "z": 3}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!([0.0, 3.0]));
    assert_eq!(
        r.body["jacobian"],
        json!([{"x": 2.0, "y": 0.0, "z": 0.0}, {"x": 1.0, "y": 0.0, "z": 1.0}])
    );
    let r = post(
        &app,
        "/v1/jacobian",
        json!({"expressions": ["x*y", "x + y"], "variables": ["x", "y"], "points": [[1, 2]]}),
    )
    .await;
    assert_eq!(r.body["jacobians"], json!([[[2.0, 1.0], [1.0, 1.0]]]));

    let r = post(
        &app,
        "/v1/hessian",
        json!({"expression": "x^2*y", "point": {"x": 1, "y": 2}}),
    )
    .await;
    assert_eq!(r.body["value"], json!(2.0));
    assert_eq!(r.body["gradient"], json!({"x": 4.0, "y": 1.0}));
    assert_eq!(
        r.body["hessian"],
        json!({"x": {"x": 4.0, "y": 2.0}, "y": {"x": 2.0, "y": 0.0}})
    );
    let r = post(
        &app,
        "/v1/hessian",
        json!({"expression": "x^2*y", "variables": ["x", "y"], "point": [1, 2]}),
    )
    .await;
    assert_eq!(r.body["hessian"], json!([[4.0, 2.0], [2.0, 0.0]]));

    let r = post(
        &app,
        "/v1/differentiate",
        json!({"expression": "a*x^2 + sin(x*y)", "variables": ["x", "y"], "order": 2}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["gradient"],
        json!({"x": "2*a*x + y*cos(x*y)", "y": "x*cos(x*y)"})
    );
    assert_eq!(r.body["hessian"]["y"]["y"], json!("-x^2*sin(x*y)"));
    assert_eq!(
        r.body["latex"]["gradient"]["y"],
        json!(r"x \cos\left(x y\right)")
    );
    let r = post(
        &app,
        "/v1/differentiate",
        json!({"expressions": ["x*y", "exp(x)"]}),
    )
    .await;
    assert_eq!(
        r.body["jacobian"],
        json!([{"x": "y", "y": "x"}, {"x": "exp(x)", "y": "0"}])
    );
    assert_eq!(r.body["expressions"], json!(["x*y", "exp(x)"]));
}

#[tokio::test]
async fn differentiate_text_parses_back_to_the_same_function() {
    let app = router(Config::default());
    let r = post(&app, "/v1/differentiate", json!({"expression": SHEET_4A})).await;
    for (k, v) in ["x", "y", "z"].iter().enumerate() {
        let text = r.body["gradient"][v].as_str().unwrap();
        let back = post(
            &app,
            "/v1/gradient",
            json!({"expression": text, "variables": ["x", "y", "z"], "point": [0.3, -1.1, 0.9]}),
        )
        .await;
        assert_eq!(back.status, 200, "{text}: {}", back.body);
        assert!(
            close(num(&back.body["value"]), sheet_4a(0.3, -1.1, 0.9)[k + 1]),
            "{text}"
        );
    }
}

#[tokio::test]
async fn spellings_share_one_cache_entry() {
    let app = router(Config::default());
    let ask = |e: &str| json!({"expression": e, "variables": ["x", "y"], "point": [1, 2]});
    assert_eq!(
        post(&app, "/v1/gradient", ask("x*y + x"))
            .await
            .cache
            .as_deref(),
        Some("miss")
    );
    for e in [
        "y*x + x",
        "x + x*y",
        "  x*y+x ",
        "x*y*1 + x - 0",
        "x + y*x + 0",
    ] {
        let r = post(&app, "/v1/gradient", ask(e)).await;
        assert_eq!(r.cache.as_deref(), Some("hit"), "{e}");
        assert_eq!(r.body["gradient"], json!([3.0, 1.0]));
    }
    // Another variable order or derivative order is another program.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x*y + x", "variables": ["y", "x"], "point": [2, 1]}),
    )
    .await;
    assert_eq!(r.cache.as_deref(), Some("miss"));
    let r = post(&app, "/v1/hessian", ask("x*y + x")).await;
    assert_eq!(r.cache.as_deref(), Some("miss"));
    let metrics = send(&app, "GET", "/metrics", None, "").await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("nabla_cache_hits_total 5"), "{text}");
    assert!(text.contains("nabla_cache_misses_total 3"), "{text}");
    assert!(text.contains("nabla_cache_entries 3"), "{text}");
    // The machine code gauges (the process's counts, which other tests change).
    for gauge in ["nabla_native_programs ", "nabla_native_code_bytes "] {
        let value = text.lines().find_map(|l| l.strip_prefix(gauge));
        assert!(
            value.is_some_and(|v| v.parse::<usize>().is_ok()),
            "{gauge}: {text}"
        );
    }
    assert!(
        text.contains("nabla_requests_total{route=\"/v1/gradient\",status=\"200\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("nabla_compile_duration_seconds_count 3"),
        "{text}"
    );
    // The latency histogram counts the same 7, its buckets cumulative (never falling).
    let route = "route=\"/v1/gradient\"";
    assert!(
        text.contains(&format!(
            "nabla_request_duration_seconds_count{{{route}}} 7"
        )),
        "{text}"
    );
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("nabla_request_duration_seconds_bucket{{{route}")))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15, "{text}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets.last(), Some(&7));
}

#[tokio::test]
async fn concurrent_misses_on_one_key_compile_once() {
    let app = router(Config::default());
    let src = crate::rosenbrock(300);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (app, src) = (app.clone(), src.clone());
            tokio::spawn(async move {
                post(
                    &app,
                    "/v1/gradient",
                    json!({"expression": src, "points": []}),
                )
                .await
            })
        })
        .collect();
    let mut misses = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        misses += usize::from(r.cache.as_deref() == Some("miss"));
    }
    assert_eq!(misses, 1);
    let text = send(&app, "GET", "/metrics", None, "").await.body;
    assert!(text
        .as_str()
        .unwrap()
        .contains("nabla_compile_duration_seconds_count 1"));
}

/// (path, (content type, body), status, code, span)
type ErrorCase = (
    &'static str,
    (Option<&'static str>, String),
    u16,
    &'static str,
    Option<(usize, usize)>,
);

/// Every error code of the contract, with its status, and the span where there is one.
#[tokio::test]
async fn every_error_is_a_problem_with_its_code() {
    let small = Config {
        max_depth: 20,
        max_expression_bytes: 600,
        max_points: 3,
        max_nodes: 5_000,
        max_body_bytes: 4096,
        ..Config::default()
    };
    let app = router(small);
    let g = |body: Value| (Some("application/json"), body.to_string());
    let deep = "(".repeat(30) + "x" + &")".repeat(30);
    let huge_product = (0..110)
        .map(|i| format!("x{i}"))
        .collect::<Vec<_>>()
        .join("*");
    let cases: Vec<ErrorCase> = vec![
        (
            "/v1/gradient",
            (Some("application/json"), "{\"expression\": ".into()),
            400,
            "malformed_json",
            None,
        ),
        (
            "/v1/gradient",
            (Some("application/json"), "not json".into()),
            400,
            "malformed_json",
            None,
        ),
        (
            "/v1/gradient",
            (Some("text/plain"), "{}".into()),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "/v1/gradient",
            (None, "{}".into()),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "/v1/gradient",
            (
                Some("application/json"),
                format!("{{\"expression\": \"{}\"}}", "x".repeat(5000)),
            ),
            413,
            "payload_too_large",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"point": {"x": 1}})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x"})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "point": {"x": 1}, "points": []})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": 3, "point": {"x": 1}})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "pont": {"x": 1}})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expressions": ["x"], "point": {"x": 1}})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "point": [1]})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "point": {"x": 1, "y": 2}})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "variables": ["x", "x"], "point": [1, 1]})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "variables": ["x"], "parameters": {"x": 1}, "point": [1]})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/differentiate",
            g(json!({"expression": "x", "order": 3})),
            422,
            "invalid_request",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "sin(x + 1", "point": {"x": 1}})),
            422,
            "parse_error",
            Some((3, 9)),
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "", "point": {}})),
            422,
            "parse_error",
            Some((0, 0)),
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "sinn(x)", "point": {"x": 1}})),
            422,
            "unknown_function",
            Some((0, 4)),
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "atan2(x)", "point": {"x": 1}})),
            422,
            "arity_mismatch",
            Some((0, 8)),
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x + q", "variables": ["x"], "point": {"x": 1}})),
            422,
            "unknown_variable",
            Some((4, 5)),
        ),
        (
            "/v1/jacobian",
            g(json!({"expressions": ["x", "x + q"], "variables": ["x"], "point": {"x": 1}})),
            422,
            "unknown_variable",
            Some((4, 5)),
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x*y", "point": {"x": 1}})),
            422,
            "missing_value",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x*y", "point": {"x": 1, "y": "two"}})),
            422,
            "missing_value",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x*y", "variables": ["x", "y"], "point": [1]})),
            422,
            "missing_value",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": deep, "point": {"x": 1}})),
            422,
            "limit_exceeded",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x+".repeat(350) + "x", "point": {"x": 1}})),
            422,
            "limit_exceeded",
            None,
        ),
        (
            "/v1/gradient",
            g(json!({"expression": "x", "points": [{"x": 1}, {"x": 1}, {"x": 1}, {"x": 1}]})),
            422,
            "limit_exceeded",
            None,
        ),
        (
            "/v1/hessian",
            g(json!({"expression": huge_product, "points": []})),
            422,
            "limit_exceeded",
            None,
        ),
        ("/v1/nothing", g(json!({})), 404, "not_found", None),
        ("/", (None, String::new()), 404, "not_found", None),
    ];
    for (path, (ct, body), status, code, span) in cases {
        let method = if path == "/" { "GET" } else { "POST" };
        let r = send(&app, method, path, ct, body.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{path} {body:.80}: {}",
            r.body
        );
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.body["status"], json!(status));
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(r.body["type"], json!("about:blank"));
        if let Some((start, end)) = span {
            assert_eq!(
                r.body["span"],
                json!({"start": start, "end": end}),
                "{body}"
            );
        }
        if code == "limit_exceeded" {
            assert!(r.body["limit"].is_string(), "{}", r.body);
        }
    }
    let r = send(&app, "DELETE", "/v1/gradient", None, "").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let r = send(&app, "GET", "/v1/gradient", None, "").await;
    assert_eq!(r.status, 405);
    let r = post(
        &app,
        "/v1/jacobian",
        json!({"expressions": ["x", "sin(x"], "point": {"x": 1}}),
    )
    .await;
    assert_eq!(r.body["expression_index"], json!(1));
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x", "points": [{"x": 1}, {"x": 1}, {"x": 1}, {"x": 1}]}),
    )
    .await;
    assert_eq!(r.body["limit"], json!("max_points"));
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "(((((((((((((((((((((((x)))))))))))))))))))))))", "point": {"x": 1}}),
    )
    .await;
    assert_eq!(r.body["limit"], json!("max_depth"));
}

#[tokio::test]
async fn too_many_in_flight_is_overloaded_with_retry_after() {
    let app = router(Config {
        max_in_flight: 0,
        ..Config::default()
    });
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x", "point": {"x": 1}}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("overloaded"))
    );
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    // Health and metrics still answer.
    assert_eq!(
        send(&app, "GET", "/healthz", None, "").await.body,
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn a_slow_compile_times_out_as_a_limit() {
    let app = router(Config {
        request_timeout_ms: 1,
        ..Config::default()
    });
    let r = post(
        &app,
        "/v1/hessian",
        json!({"expression": crate::rosenbrock(300), "points": []}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["limit"].as_str()),
        (422, Some("request_timeout_ms")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_large_batch_without_variables_answers_every_point() {
    // No inputs, enough instructions and points to take the off-runtime path.
    let app = router(Config::default());
    let expr = (1..=60)
        .map(|k| format!("sin({k}*pi/7)"))
        .collect::<Vec<_>>()
        .join(" + ");
    let points = vec![json!({}); 20_000];
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": expr, "points": points}),
    )
    .await;
    assert_eq!(r.status, 200);
    let values = r.body["values"].as_array().unwrap();
    assert_eq!(values.len(), 20_000);
    let want: f64 = (1..=60)
        .map(|k| (k as f64 * std::f64::consts::PI / 7.0).sin())
        .sum();
    assert!((num(&values[19_999]) - want).abs() < 1e-12);
}

/// A timed-out compile stops its work: the one worker core is free again within about
/// 100 ms of the 422, so the next compile is not queued behind the abandoned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_compile_stops_working_and_frees_its_core() {
    let shared = state(Config {
        request_timeout_ms: 200,
        max_blocking: 1,
        ..Config::default()
    });
    let app = app(shared);
    let started = std::time::Instant::now();
    let r = post(
        &app,
        "/v1/hessian",
        json!({"expression": crate::rosenbrock(1000), "points": []}),
    )
    .await;
    let answered = started.elapsed();
    assert_eq!(
        (r.status, r.body["limit"].as_str()),
        (422, Some("request_timeout_ms")),
        "{}",
        r.body
    );
    assert!(
        answered < std::time::Duration::from_millis(400),
        "{answered:?}"
    );
    let t = std::time::Instant::now();
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x*y + 17", "point": {"x": 2, "y": 3}}),
    )
    .await;
    let waited = t.elapsed();
    assert_eq!(
        (r.status, r.body["gradient"]["x"].as_f64()),
        (200, Some(3.0))
    );
    assert!(
        waited < std::time::Duration::from_millis(250),
        "the next compile waited {waited:?} for the abandoned one"
    );
}

/// Past the queue of CPU-heavy work, requests are refused with 503 `overloaded`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_work_past_the_queue_is_overloaded() {
    let app = app(state(Config {
        max_blocking: 1,
        max_queued: 0,
        ..Config::default()
    }));
    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            post(
                &app,
                "/v1/hessian",
                json!({"expression": crate::rosenbrock(1000), "points": []}),
            )
            .await
        })
    };
    // A Hessian of 1,000 variables takes its core for seconds; until it has taken it (on
    // a loaded machine that may be a while), a small compile still gets the core. Each
    // try is a new expression: a cached one needs no core.
    let mut r = None;
    for i in 0..100 {
        let answer = post(
            &app,
            "/v1/gradient",
            json!({"expression": format!("x*y + {i}"), "point": {"x": 2, "y": 3}}),
        )
        .await;
        if answer.status != 200 {
            r = Some(answer);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = r.expect("the slow Hessian never held the core");
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("overloaded")),
        "{}",
        r.body
    );
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    assert_eq!(slow.await.unwrap().status, 200);
}

/// Substitutes `definitions` (each using only the ones before it) into `text`, innermost
/// last, so the result is a plain expression.
fn substitute(text: &str, definitions: &serde_json::Map<String, Value>) -> String {
    let mut out = text.to_string();
    for (name, def) in definitions.iter().rev() {
        let def = format!("({})", def.as_str().unwrap());
        let mut next = String::new();
        let bytes = out.as_bytes();
        let mut i = 0;
        while i < out.len() {
            let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
            let at_start = i == 0 || !is_ident(bytes[i - 1]);
            let end = i + name.len();
            if at_start
                && out[i..].starts_with(name.as_str())
                && (end == out.len() || !is_ident(bytes[end]))
            {
                next.push_str(&def);
                i = end;
            } else {
                next.push(bytes[i] as char);
                i += 1;
            }
        }
        out = next;
    }
    out
}

/// With `definitions`, shared subexpressions are named once: the answer of a deep chain
/// stays small, and every entry, with the definitions substituted back, is the same
/// function as the plain answer (checked by value at a point).
#[tokio::test]
async fn definitions_name_shared_subexpressions_once_and_mean_the_same() {
    let app = router(Config::default());
    let expr = format!("{}x*y + z{}", "sin(".repeat(6), ")".repeat(6));
    let plain = post(
        &app,
        "/v1/differentiate",
        json!({"expression": expr, "order": 2}),
    )
    .await;
    let shared = post(
        &app,
        "/v1/differentiate",
        json!({"expression": expr, "order": 2, "definitions": true}),
    )
    .await;
    assert_eq!((plain.status, shared.status), (200, 200), "{}", shared.body);
    let defs = shared.body["definitions"].as_object().unwrap();
    assert!(defs.len() >= 6, "{defs:?}");
    assert!(shared.body["latex"]["definitions"].is_object());
    assert!(shared.body.to_string().len() < plain.body.to_string().len());
    let point = json!({"x": 0.3, "y": -0.7, "z": 0.2});
    for (a, b) in ["x", "y", "z"]
        .iter()
        .flat_map(|a| ["x", "y", "z"].map(|b| (*a, b)))
    {
        let full = substitute(shared.body["hessian"][a][b].as_str().unwrap(), defs);
        let value = |e: String| {
            let app = app.clone();
            let point = point.clone();
            async move {
                let r = post(
                    &app,
                    "/v1/gradient",
                    json!({"expression": e, "variables": ["x", "y", "z"], "point": point}),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.body);
                num(&r.body["value"])
            }
        };
        let want = value(plain.body["hessian"][a][b].as_str().unwrap().to_string()).await;
        let got = value(full).await;
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{a}{b}: {got} vs {want}"
        );
    }
    // The deep chain of the attack: 367 bytes asking for 144 second derivatives.
    let inner = (0..12)
        .map(|i| format!("x{i}"))
        .collect::<Vec<_>>()
        .join("+");
    let deep = format!("{}{inner}{}", "sin(".repeat(60), ")".repeat(60));
    let r = post(
        &app,
        "/v1/differentiate",
        json!({"expression": deep, "order": 2}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["limit"].as_str()),
        (422, Some("max_symbolic_nodes"))
    );
    let r = post(
        &app,
        "/v1/differentiate",
        json!({"expression": deep, "order": 2, "definitions": true}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.to_string().len() < 100_000,
        "{} bytes",
        r.body.to_string().len()
    );
}

/// An answer's numbers are bounded before they are computed.
#[tokio::test]
async fn an_answer_too_large_is_refused_before_it_is_computed() {
    let app = router(Config {
        max_answer_values: 1_000,
        ..Config::default()
    });
    // 400 points of 3 outputs (value, two partials): 1,200 numbers.
    let points: Vec<Value> = (0..400).map(|i| json!({"x": i, "y": 1})).collect();
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x*y", "points": points}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["limit"].as_str()),
        (422, Some("max_answer_values")),
        "{}",
        r.body
    );
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x*y", "points": &points[..100]}),
    )
    .await;
    assert_eq!(r.status, 200);
}

/// A field is given or left out: `null` is refused, on every endpoint and field.
#[tokio::test]
async fn null_is_refused_where_a_value_is_due() {
    let app = router(Config::default());
    let cases = [
        (
            "/v1/gradient",
            json!({"expression": "x", "point": {"x": 1}, "points": null}),
        ),
        (
            "/v1/gradient",
            json!({"expression": "x", "point": null, "points": [{"x": 1}]}),
        ),
        (
            "/v1/gradient",
            json!({"expression": "x", "variables": null, "point": {"x": 1}}),
        ),
        (
            "/v1/jacobian",
            json!({"expressions": null, "expression": "x", "point": {"x": 1}}),
        ),
        (
            "/v1/differentiate",
            json!({"expression": "x", "order": null}),
        ),
        (
            "/v1/grade",
            json!({"expression": "x^2", "answer": {"x": "2*x"}, "seed": null}),
        ),
        (
            "/v1/grade",
            json!({"expression": "x^2", "answer": null, "answers": [{"x": "2*x"}]}),
        ),
    ];
    for (path, body) in cases {
        let r = post(&app, path, body.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (422, Some("invalid_request")),
            "{path} {body}: {}",
            r.body
        );
    }
}

/// JSON by its media type, in any case and with parameters; anything else is 415.
#[tokio::test]
async fn the_content_type_decides_json_in_any_case() {
    let app = router(Config::default());
    let body = json!({"expression": "x", "point": {"x": 1}}).to_string();
    for (ct, status) in [
        ("application/json", 200),
        ("Application/JSON; charset=utf-8", 200),
        (" application/json ", 200),
        ("application/vnd.api+json", 200),
        ("APPLICATION/MERGE-PATCH+JSON", 200),
        ("text/json", 415),
        ("application/jsonx", 415),
        ("application+json", 415),
        ("text/plain", 415),
        ("", 415),
    ] {
        let r = send(&app, "POST", "/v1/gradient", Some(ct), body.clone()).await;
        assert_eq!(r.status, status, "{ct:?}: {}", r.body);
    }
}

/// Points are read straight from the JSON: every spelling of a coordinate, a key written
/// twice (the last counts, as in a JSON object), many variables, and every mistake with
/// its code.
#[tokio::test]
async fn points_read_every_spelling_and_name_every_mistake() {
    let app = router(Config::default());
    let g = |point: Value| json!({"expression": "x - 2*y", "point": point});
    let ok = [
        (json!({"x": 1, "y": 2}), json!(-3.0)),
        (json!({"y": 2.5, "x": -1}), json!(-6.0)),
        (json!({"x": "Infinity", "y": 1}), json!("Infinity")),
        (json!({"x": "NaN", "y": 1}), json!("NaN")),
        (
            json!({"x": 18446744073709551615u64, "y": 0}),
            json!(18446744073709551615.0),
        ),
    ];
    for (point, want) in ok {
        let r = post(&app, "/v1/gradient", g(point.clone())).await;
        assert_eq!(
            (r.status, &r.body["value"]),
            (200, &want),
            "{point}: {}",
            r.body
        );
    }
    let bad = [
        (json!({"x": 1}), "missing_value"),
        (json!({"x": 1, "y": "two"}), "missing_value"),
        // An array is a vector: `x - 2*y` is then a vector, which has no gradient.
        (json!({"x": 1, "y": [2, 3]}), "shape_mismatch"),
        (json!({"x": 1, "y": [[2, 3], [4]]}), "invalid_request"),
        (json!({"x": 1, "y": ["two"]}), "invalid_request"),
        (json!({"x": 1, "y": {"v": 2}}), "missing_value"),
        (json!({"x": 1, "y": true}), "missing_value"),
        (json!({"x": 1, "y": null}), "missing_value"),
        (json!({"x": 1, "y": 2, "z": 3}), "invalid_request"),
        (json!({"x": 1, "yy": 2}), "invalid_request"),
        (json!([1, 2]), "invalid_request"),
        (json!(3), "invalid_request"),
        (json!("x=1"), "invalid_request"),
        (Value::Null, "invalid_request"),
    ];
    for (point, code) in bad {
        let r = post(&app, "/v1/gradient", g(point.clone())).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (422, Some(code)),
            "{point}: {}",
            r.body
        );
    }
    // A key written twice (json! would merge them, so the body is written out).
    let raw = r#"{"expression": "x - 2*y", "point": {"x": 1, "y": 2, "x": 10}}"#;
    let r = send(&app, "POST", "/v1/gradient", Some("application/json"), raw).await;
    assert_eq!(r.body["value"], json!(6.0), "{}", r.body);
    // The typo is named, not the variable it left without a value.
    let r = post(&app, "/v1/gradient", g(json!({"x": 1, "yy": 2}))).await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("\"yy\""),
        "{}",
        r.body
    );
    // 200 variables: looked up through a map, the last of a repeated key counting.
    let n = 200;
    let expr = (0..n)
        .map(|i| format!("{}*v{i}", i + 1))
        .collect::<Vec<_>>()
        .join(" + ");
    let mut point: serde_json::Map<String, Value> =
        (0..n).map(|i| (format!("v{i}"), json!(1.0))).collect();
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": expr, "point": point}),
    )
    .await;
    assert_eq!(
        r.body["value"],
        json!((n * (n + 1) / 2) as f64),
        "{}",
        r.body
    );
    point.insert("w".into(), json!(1));
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": expr, "point": point}),
    )
    .await;
    assert_eq!(r.body["code"], json!("invalid_request"), "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("\"w\""),
        "{}",
        r.body
    );
}

/// A gradient of many zeros prints each shared node once: 30,000 variables of which the
/// expression uses one (printing every entry anew walked the whole pool per entry, so
/// this took minutes in a debug build and now takes well under the time limit).
#[tokio::test]
async fn a_sparse_gradient_of_many_variables_is_printed_in_linear_time() {
    let app = router(Config::default());
    let vars: Vec<String> = (0..30_000).map(|i| format!("v{i}")).collect();
    let r = post(
        &app,
        "/v1/differentiate",
        json!({"expression": "3*v7", "variables": vars}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["gradient"]["v7"], json!("3"));
    assert_eq!(r.body["gradient"]["v29999"], json!("0"));
}

#[tokio::test]
async fn variables_are_the_names_as_written_not_those_left_after_simplifying() {
    let app = router(Config::default());
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x - x + y", "point": {"x": 2, "y": 0}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["variables"], json!(["x", "y"]));
    assert_eq!(r.body["gradient"], json!({"x": 0.0, "y": 1.0}));
    let r = post(
        &app,
        "/v1/differentiate",
        json!({"expression": "x - x + y"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["variables"], json!(["x", "y"]));
    assert_eq!(r.body["gradient"], json!({"x": "0", "y": "1"}));
    // A parameter stays a parameter, written or not.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "a*x - a*x + y", "parameters": {"a": 2}, "point": {"x": 1, "y": 1}}),
    )
    .await;
    assert_eq!(r.body["variables"], json!(["x", "y"]), "{}", r.body);
}

#[tokio::test]
async fn numbers_stay_exact_and_print_as_written() {
    let app = router(Config::default());
    // (expression, d/dx as text, d/dx as LaTeX)
    let cases = [
        ("x^(4/5)", "4/(5*x^(1/5))", "\\frac{4}{5 x^{\\frac{1}{5}}}"),
        ("x^0.8", "0.8/x^0.2", "\\frac{0.8}{x^{0.2}}"),
        ("x^(1/3)", "1/(3*x^(2/3))", "\\frac{1}{3 x^{\\frac{2}{3}}}"),
        ("0.5*x^2", "x", "x"),
        ("0.1*x^2", "0.2*x", "0.2 x"),
        ("2/3*x^3", "2*x^2", "2 x^{2}"),
        ("x/3 + x/6", "1/2", "\\frac{1}{2}"),
        ("(0.1 + 0.2)*x", "0.3", "0.3"),
        // A sign provable from the expression needs no sign() in the answer.
        ("abs(x^2 + 1)", "2*x", "2 x"),
        ("abs(-exp(x))", "exp(x)", "\\exp\\left(x\\right)"),
        ("sign(cosh(x))*x", "1", "1"),
        (
            "abs(sinh(x^2 + 1))",
            "2*x*cosh(1 + x^2)",
            "2 x \\cosh\\left(1 + x^{2}\\right)",
        ),
    ];
    for (src, text, latex) in cases {
        let r = post(&app, "/v1/differentiate", json!({"expression": src})).await;
        assert_eq!(r.status, 200, "{src}: {}", r.body);
        assert_eq!(r.body["gradient"]["x"], json!(text), "{src}: {}", r.body);
        assert_eq!(
            r.body["latex"]["gradient"]["x"],
            json!(latex),
            "{src}: {}",
            r.body
        );
        // The text reads back, with this same API, to the same function.
        let again = post(
            &app,
            "/v1/differentiate",
            json!({"expression": text, "variables": ["x"]}),
        )
        .await;
        assert_eq!(again.status, 200, "{text}: {}", again.body);
    }
    // Values are the f64 ones: d/dx x^(4/5) at 2 is 0.8 * 2^(-0.2).
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x^(4/5)", "point": {"x": 2}}),
    )
    .await;
    let want = 0.8 * 2f64.powf(-0.2);
    let got = r.body["gradient"]["x"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 2.0 * f64::EPSILON * want,
        "{got} against {want}"
    );
    // The cache key does not depend on how the numbers were written.
    let first = post(
        &app,
        "/v1/gradient",
        json!({"expression": "0.5*x*y", "point": {"x": 1, "y": 2}}),
    )
    .await;
    assert_eq!(first.cache.as_deref(), Some("miss"));
    let second = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x*y/2", "point": {"x": 1, "y": 2}}),
    )
    .await;
    assert_eq!(second.cache.as_deref(), Some("hit"), "{}", second.body);
}
