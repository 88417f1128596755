//! Hostile input is normal input: random bodies and random expressions get a documented
//! answer (200 or a problem with a known code), never a 5xx, a panic or a hang.

use nabla::config::Config;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::http::{router, send};

const CODES: &[&str] = &[
    "malformed_json",
    "unsupported_media_type",
    "payload_too_large",
    "invalid_request",
    "parse_error",
    "unknown_function",
    "arity_mismatch",
    "unknown_variable",
    "missing_value",
    "limit_exceeded",
];

fn check(status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{} {}", status, body);
    if status != 200 {
        let code = body["code"].as_str().unwrap_or("");
        prop_assert!(CODES.contains(&code), "{} {}", status, body);
    }
    Ok(())
}

fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            &[
                "x", "y", "(", ")", "+", "-", "*", "/", "^", "**", "%", ",", ".", "1", "2.5", "e",
                "1e308", "sin(", "max(", "atan2(", "sqrt(", "ln(", "exp(", " ", "pi", "\u{2212}",
                "é", "0", "abs(", "floor(",
            ][..],
        ),
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_expressions_get_an_answer_or_a_documented_error(src in expression(), x in -3.0f64..3.0) {
        let app = router(Config::default());
        let rt = runtime();
        for path in ["/v1/gradient", "/v1/hessian", "/v1/differentiate", "/v1/grade", "/v1/grade "] {
            let body = match path {
                "/v1/differentiate" => json!({"expression": src, "order": 2}),
                // The random text as a reference, then as an answer.
                "/v1/grade" => json!({"expression": src, "answer": {"x": "cos(x)", "y": "1"}}),
                "/v1/grade " => json!({"expression": "x*sin(y)", "answer": {"x": src, "y": src}}),
                _ => json!({"expression": src, "point": {"x": x, "y": 0.5}, "symbolic": true}),
            };
            let path = path.trim();
            let r = rt.block_on(send(&app, "POST", path, Some("application/json"), body.to_string()));
            check(r.status, &r.body)?;
        }
    }

    #[test]
    fn random_bodies_get_a_documented_error(bytes in prop::collection::vec(any::<u8>(), 0..300), path in prop::sample::select(&["/v1/gradient", "/v1/jacobian", "/v1/hessian", "/v1/differentiate", "/v1/grade"][..])) {
        let app = router(Config::default());
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let r = runtime().block_on(send(&app, "POST", path, Some("application/json"), body));
        check(r.status, &r.body)?;
    }

    #[test]
    fn random_json_shapes_get_a_documented_error(
        field in prop::sample::select(&["expression", "expressions", "variables", "parameters", "point", "points", "symbolic", "order"][..]),
        value in prop_oneof![
            Just(json!(null)), Just(json!(1)), Just(json!("x")), Just(json!([])), Just(json!({})),
            Just(json!([1, "NaN", {}])), Just(json!({"x": [1]})), Just(json!(["x", "x"])), Just(json!(-1e308)),
        ],
    ) {
        let app = router(Config::default());
        let mut body = json!({"expression": "x*y", "point": {"x": 1, "y": 2}});
        body[field] = value;
        let r = runtime().block_on(send(&app, "POST", "/v1/gradient", Some("application/json"), body.to_string()));
        check(r.status, &r.body)?;
    }

    #[test]
    fn hostile_grading_domains_and_kinds_get_an_answer_or_a_documented_error(
        domain in prop_oneof![
            Just(json!("integer")), Just(json!("positive")), Just(json!("negative")),
            Just(json!("nonzero")), Just(json!("odd")), Just(json!([-1e308, 1e308])),
            Just(json!({"range": [-1e308, 1e308], "integer": true})),
            Just(json!({"range": [0, 0.5], "integer": true})),
            Just(json!({"range": [-3, -1], "positive": true})),
            Just(json!({"positive": true, "negative": true})),
            Just(json!({"integer": 1})), Just(json!({"range": "x"})), Just(json!([1, 1])),
            Just(json!([2, 1])), Just(json!(null)), Just(json!([1, 2, 3])),
            Just(json!({"range": [1e-300, 2e-300], "nonzero": true})),
        ],
        kind in prop::sample::select(&["gradient", "value", "antiderivative", "hessian"][..]),
        src in expression(),
        answer in expression(),
    ) {
        let app = router(Config::default());
        let answer = match kind {
            "gradient" => json!({"x": answer}),
            "hessian" => json!({"x": {"x": answer}}),
            _ => json!(answer),
        };
        let body = json!({"expression": src, "variables": ["x"], "kind": kind,
                          "answer": answer, "domain": {"x": domain}});
        let r = runtime().block_on(send(&app, "POST", "/v1/grade", Some("application/json"), body.to_string()));
        check(r.status, &r.body)?;
    }
}
