//! `/v1/grade` against hand-derived truths: verdicts, symbolic proofs, domain-aware
//! sampling, counterexamples at simple points, hints, invalid answers inside the result,
//! a whole class in one request, and determinism.

use nabla::config::Config;
use serde_json::{json, Value};

use crate::http::{post, router};

const SHEET_4A: &str = "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))";

async fn grade(body: Value) -> Value {
    let app = router(Config::default());
    let r = post(&app, "/v1/grade", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn sheet_4a_right_answers_and_the_printed_mistake() {
    // Hand-derived: s = e^u/(1 + e^u), u = x^2 y^3 z.
    let right = json!({
        "x": "x - 2*x*y^3*z*exp(x^2*y^3*z)/(1 + exp(x^2*y^3*z))",
        "y": "z - 3*x^2*y^2*z*exp(x^2*y^3*z)/(1 + exp(x^2*y^3*z))",
        "z": "y - x^2*y^3*exp(x^2*y^3*z)/(1 + exp(x^2*y^3*z))",
    });
    let r =
        grade(json!({"expression": SHEET_4A, "variables": ["x", "y", "z"], "answer": right})).await;
    assert_eq!(r["verdict"], "correct");
    assert_eq!(r["score"], 1.0);
    assert_eq!(
        r["components"]["x"],
        json!({"verdict": "correct", "method": "symbolic"})
    );
    // The same with sigmoid and 1/(1 + e^-u): equal, not identical, so sampled.
    let other = json!({"x": "x - 2*x*y^3*z*sigmoid(x^2*y^3*z)", "y": "z - 3*x^2*y^2*z/(1 + exp(-x^2*y^3*z))", "z": "y - x^2*y^3*sigmoid(x^2*y^3*z)"});
    let r = grade(json!({"expression": SHEET_4A, "answer": other})).await;
    assert_eq!(r["verdict"], "correct");
    assert_eq!(r["components"]["y"]["method"], "numeric");
    // The sheet's printed solution: 1/(1 + e^u) where e^u/(1 + e^u) belongs.
    let sheet = json!({
        "x": "x - 2*x*y^3*z/(1 + exp(x^2*y^3*z))",
        "y": "z - 3*y^2*x^2*z/(1 + exp(x^2*y^3*z))",
        "z": "y - x^2*y^3/(1 + exp(x^2*y^3*z))",
    });
    let r = grade(json!({"expression": SHEET_4A, "answer": sheet})).await;
    assert_eq!(r["verdict"], "incorrect");
    assert_eq!(r["score"], 0.0);
    // At (1, 1, 1): u = 1, expected 1 - 2e/(1+e), submitted 1 - 2/(1+e).
    let e = std::f64::consts::E;
    let c = &r["components"]["x"]["counterexample"];
    assert_eq!(c["point"], json!({"x": 1.0, "y": 1.0, "z": 1.0}));
    assert!((c["expected"].as_f64().unwrap() - (1.0 - 2.0 * e / (1.0 + e))).abs() < 1e-15);
    assert!((c["submitted"].as_f64().unwrap() - (1.0 - 2.0 / (1.0 + e))).abs() < 1e-15);
}

#[tokio::test]
async fn sheet_2b_4b_4c() {
    // 2b: grad h2(h1(f)) = grad f * h2'(h1(f)) * h1'(f), with f = x^2 + y*z, h1 = sin, h2 = exp.
    let r = grade(json!({"expression": "exp(sin(x^2 + y*z))", "answer": {
        "x": "2*x*exp(sin(x^2 + y*z))*cos(x^2 + y*z)",
        "y": "z*cos(x^2 + y*z)*exp(sin(x^2 + y*z))",
        "z": "exp(sin(x^2 + y*z))*cos(x^2 + y*z)"}}))
    .await;
    assert_eq!(r["verdict"], "incorrect");
    assert_eq!(r["components"]["x"]["verdict"], "correct");
    assert_eq!(r["components"]["y"]["verdict"], "correct");
    assert_eq!(
        r["components"]["z"]["hint"], "missing_chain_factor",
        "{}",
        r["components"]["z"]
    );
    // 4b: grad of |x|^2/2 is x.
    let r = grade(json!({"expression": "0.5*(x1^2 + x2^2 + x3^2)", "variables": ["x1", "x2", "x3"], "answer": ["x1", "x2", "x3"]})).await;
    assert_eq!(
        r["components"],
        json!([{"verdict": "correct", "method": "symbolic"}, {"verdict": "correct", "method": "symbolic"}, {"verdict": "correct", "method": "symbolic"}])
    );
    // 4c: grad_w ln(1 + exp(-w.x)) = -x e^{-w.x}/(1 + e^{-w.x}) (the sheet is right).
    let r = grade(json!({"expression": "ln(1 + exp(-(w1*x1 + w2*x2)))", "variables": ["w1", "w2"], "parameters": {"x1": 0.5, "x2": -2},
        "answer": {"w1": "-x1*exp(-(w1*x1 + w2*x2))/(1 + exp(-(w1*x1 + w2*x2)))", "w2": "x2*exp(-(w1*x1 + w2*x2))/(1 + exp(-(w1*x1 + w2*x2)))"}})).await;
    assert_eq!(r["components"]["w1"]["verdict"], "correct");
    assert_eq!(r["components"]["w2"]["hint"], "sign_error");
}

#[tokio::test]
async fn domain_aware_sampling() {
    // Agrees wherever the reference is defined: correct.
    let r = grade(json!({"expression": "x*ln(x)", "answer": {"x": "ln(x) + 1"}})).await;
    assert_eq!(r["verdict"], "correct", "{r}");
    let r =
        grade(json!({"expression": "sqrt(x)*y", "answer": {"x": "y/(2*sqrt(x))", "y": "x^0.5"}}))
            .await;
    assert_eq!(r["verdict"], "correct", "{r}");
    // Differs only for x < 0: the default box has negative numbers.
    let r = grade(json!({"expression": "x^2/2", "answer": {"x": "abs(x)"}})).await;
    assert_eq!(r["verdict"], "incorrect");
    assert_eq!(
        r["components"]["x"]["counterexample"],
        json!({"point": {"x": -1.0}, "expected": -1.0, "submitted": 1.0})
    );
    // ...unless the teacher's box says otherwise.
    let r =
        grade(json!({"expression": "x^2/2", "answer": {"x": "abs(x)"}, "domain": {"x": [0.1, 5]}}))
            .await;
    assert_eq!(r["verdict"], "correct");
    // Never defined in any box: undecided, not a guess.
    let r = grade(json!({"expression": "ln(-1 - x^2)", "answer": {"x": "2*x/(1 + x^2)"}})).await;
    assert_eq!(r["verdict"], "undecided");
}

#[tokio::test]
async fn hints() {
    let cases = [
        ("x^3", json!({"x": "-3*x^2"}), "sign_error"),
        ("x^3", json!({"x": "6*x^2"}), "constant_factor"),
        ("sin(x^2)", json!({"x": "cos(x^2)"}), "missing_chain_factor"),
        ("exp(3*x)", json!({"x": "exp(3*x)"}), "constant_factor"),
        (
            "x^2*y",
            json!({"x": "x^2", "y": "2*x*y"}),
            "swapped_components",
        ),
    ];
    for (expr, answer, hint) in cases {
        let r = grade(json!({"expression": expr, "answer": answer})).await;
        assert_eq!(r["components"]["x"]["hint"], hint, "{expr}: {r}");
    }
    // No hint when not sure.
    let r = grade(json!({"expression": "x^3", "answer": {"x": "3*x^2 + 1"}})).await;
    assert!(r["components"]["x"].get("hint").is_none(), "{r}");
}

#[tokio::test]
async fn invalid_answers_stay_inside_the_result() {
    let r = grade(json!({"expression": "x*y", "answer": {"x": "y", "y": "sin(x", "z": "1"}})).await;
    assert_eq!(r["verdict"], "invalid");
    assert_eq!(r["score"], 0.5);
    assert_eq!(r["components"]["x"]["verdict"], "correct");
    let e = &r["components"]["y"]["error"];
    assert_eq!(
        (e["code"].as_str(), &e["span"]),
        (Some("parse_error"), &json!({"start": 3, "end": 5}))
    );
    assert_eq!(r["components"]["z"]["verdict"], "invalid");
    let r = grade(json!({"expression": "x*y", "answer": {"x": "q*y", "y": "x"}})).await;
    assert_eq!(r["components"]["x"]["error"]["code"], "unknown_variable");
    let r = grade(json!({"expression": "x*y", "answer": {"x": "sinn(y)", "y": 3}})).await;
    assert_eq!(r["components"]["x"]["error"]["code"], "unknown_function");
    assert_eq!(r["components"]["y"]["verdict"], "incorrect");
}

#[tokio::test]
async fn kinds_and_shapes() {
    let r = grade(json!({"expression": "x^2*y", "kind": "hessian", "answer": {"x": {"x": "2*y", "y": "2*x"}, "y": {"x": "2*x", "y": "1"}}})).await;
    assert_eq!(r["score"], 0.75);
    assert_eq!(r["components"]["y"]["y"]["counterexample"]["expected"], 0.0);
    let r = grade(json!({"expression": "x^2*y", "kind": "hessian", "variables": ["x", "y"], "answer": [["2*y", "2*x"], ["2*x", "0"]]})).await;
    assert_eq!(r["verdict"], "correct");
    let r = grade(json!({"expressions": ["x*y", "x + y"], "kind": "jacobian", "variables": ["x", "y"], "answer": [["y", "x"], ["1", "2"]]})).await;
    assert_eq!(r["score"], 0.75);
    assert_eq!(
        r["components"][1][1]["counterexample"]["point"],
        json!([1.0, 1.0])
    );
    let r =
        grade(json!({"expression": "(x + 1)^2", "kind": "value", "answer": "x^2 + 2*x + 1"})).await;
    // Equal once multiplied out: proved, not sampled.
    assert_eq!(
        r["components"]["value"],
        json!({"verdict": "correct", "method": "symbolic"})
    );
    let app = router(Config::default());
    let bad = post(
        &app,
        "/v1/grade",
        json!({"expression": "x", "kind": "divergence", "answer": "1"}),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (422, Some("invalid_request"))
    );
}

#[tokio::test]
async fn a_class_in_one_request_is_deterministic() {
    let answers: Vec<Value> = (0..50)
        .map(|i| match i % 3 {
            0 => json!({"x": "2*x*y", "y": "x^2"}),
            1 => json!({"x": "2*x", "y": "x^2"}),
            _ => json!({"x": "2*x*y", "y": "x^2 + "}),
        })
        .collect();
    let body = json!({"expression": "x^2*y", "answers": answers, "seed": 7});
    let app = router(Config::default());
    let first = post(&app, "/v1/grade", body.clone()).await;
    assert_eq!(first.status, 200);
    let results = first.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    let verdicts: Vec<&str> = results
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(&verdicts[..3], ["correct", "incorrect", "invalid"]);
    for _ in 0..3 {
        let again = post(&app, "/v1/grade", body.clone()).await;
        assert_eq!(again.body, first.body);
        assert_eq!(again.cache.as_deref(), Some("hit"));
    }
    let fresh = post(&router(Config::default()), "/v1/grade", body).await;
    assert_eq!(
        fresh.body, first.body,
        "same request, same response, in another server too"
    );
}

#[tokio::test]
async fn a_transposed_jacobian_and_extra_rows() {
    let body = |answer: Value| json!({"expressions": ["x*y^2", "x + 3*y"], "kind": "jacobian", "variables": ["x", "y"], "answer": answer});
    // J = [[y^2, 2xy], [1, 3]]; its transpose:
    let r = grade(body(json!([["y^2", "1"], ["2*x*y", "3"]]))).await;
    assert_eq!(r["verdict"], "incorrect");
    assert_eq!(r["components"][0][1]["hint"], "transposed", "{r}");
    assert_eq!(r["components"][0][0]["verdict"], "correct");
    let r = grade(body(json!([["y^2", "2*x*y"], ["1", "3"], ["0", "0"]]))).await;
    assert_eq!(
        (r["verdict"].as_str(), r["score"].as_f64()),
        (Some("invalid"), Some(1.0)),
        "{r}"
    );
}

#[tokio::test]
async fn spellings_that_differ_in_what_is_multiplied_out_are_proved() {
    // (reference expression, its derivative in x spelled another way)
    let cases = [
        ("(1-x)^2 + 100*(y-x^2)^2", "2*x - 2 - 400*x*y + 400*x^3"),
        ("(x+1)^3", "3*x^2 + 6*x + 3"),
        ("x*(x+1)^2", "3*x^2 + 4*x + 1"),
        ("sin(2*x + 2*y)", "2*cos(2*(x + y))"),
    ];
    for (expression, dx) in cases {
        let r = grade(json!({"expression": expression, "variables": ["x", "y"], "kind": "gradient", "answer": {"x": dx, "y": "0"}})).await;
        assert_eq!(
            r["components"]["x"],
            json!({"verdict": "correct", "method": "symbolic"}),
            "d/dx {expression} = {dx}: {r}"
        );
    }
    // A wrong multiplied-out answer is still caught (by the samples).
    let r = grade(
        json!({"expression": "(x+1)^3", "variables": ["x"], "answer": {"x": "3*x^2 + 6*x + 1"}}),
    )
    .await;
    assert_eq!(r["components"]["x"]["verdict"], "incorrect");
}

/// The service grades whole answers without HTTP: the hints only a whole answer shows are
/// the service's.
#[test]
fn the_service_finds_transposes_and_swaps_itself() {
    use nabla::engine::Budget;
    use nabla::service::grade::answer::{grade_submission, Components, GradeKind, Overall};
    use nabla::service::grade::{GradeOptions, Grader, Hint, Verdict};
    use nabla::service::program::{build, prepare, Spec};

    let config = Config::default();
    let grade = |kind: GradeKind, exprs: &[&str], answer: Value| {
        let exprs: Vec<String> = exprs.iter().map(|s| s.to_string()).collect();
        let vars = vec!["x".to_string(), "y".to_string()];
        let spec = Spec {
            kind: kind.program_kind(),
            expressions: &exprs,
            variables: Some(&vars),
            parameters: &[],
        };
        let prepared = prepare(spec, &config).unwrap();
        let program = build(prepared, &config, &Budget::default()).unwrap();
        let options = GradeOptions::default();
        let mut g = Grader::new(&program, vec![], options, &config, Budget::default()).unwrap();
        grade_submission(&mut g, &program, kind, &answer)
    };
    let hints = |c: &Components| -> Vec<Option<Hint>> {
        let rows = match c {
            Components::Row(r) => vec![r],
            Components::Matrix { rows, .. } => rows.iter().collect(),
            Components::Value(_) => vec![],
        };
        rows.iter()
            .flat_map(|r| r.items.iter())
            .map(|(_, c)| match &c.verdict {
                Verdict::Incorrect { hint, .. } => *hint,
                _ => None,
            })
            .collect()
    };
    // The Jacobian of (x*y, x^2) is [[y, x], [2x, 0]]; answered transposed.
    let t = grade(
        GradeKind::Jacobian,
        &["x*y", "x^2"],
        json!([["y", "2*x"], ["x", "0"]]),
    );
    assert_eq!(t.verdict, Overall::Incorrect);
    assert_eq!(t.score, 0.5);
    assert_eq!(
        hints(&t.components),
        [None, Some(Hint::Transposed), Some(Hint::Transposed), None]
    );
    // The gradient of x^2*y is (2xy, x^2); answered the other way round.
    let s = grade(
        GradeKind::Gradient,
        &["x^2*y"],
        json!({"x": "x^2", "y": "2*x*y"}),
    );
    assert_eq!(s.verdict, Overall::Incorrect);
    assert_eq!(s.score, 0.0);
    let swapped = Some(Hint::SwappedComponents);
    assert_eq!(hints(&s.components), [swapped, swapped]);
}

/// The expansion of `512*(2*x+5)^7*(5*x-1)^5*(70*x+67)`, term by term (multiplied out by
/// hand-written integer polynomial arithmetic, outside nabla).
const EXPANDED: &str = "14336000000*x^13 + 250265600000*x^12 + 1862860800000*x^11 + 7623925760000*x^10 + 18290677760000*x^9 + 24744757985280*x^8 + 14567212351488*x^7 - 3267871272960*x^6 - 6408053107200*x^5 + 670406720000*x^4 + 1179708800000*x^3 - 429244800000*x^2 + 56696000000*x - 2680000000";

/// Wrong answers a tolerance let pass: decided in exact arithmetic, at every seed.
#[tokio::test]
async fn exact_arithmetic_lets_no_wrong_answer_pass() {
    let value = |expression: &str, answer: &str, seed: u64| json!({"expression": expression, "kind": "value", "answer": answer, "seed": seed});
    let factored = "512*(2*x+5)^7*(5*x-1)^5*(70*x+67)";
    let off_by_one = EXPANDED.replace("- 2680000000", "- 2680000001");
    for seed in 0..30 {
        let r = grade(value(factored, &off_by_one, seed)).await;
        let c = &r["components"]["value"];
        assert_eq!(
            (c["verdict"].as_str(), c["method"].as_str()),
            (Some("incorrect"), Some("exact")),
            "seed {seed}: {r}"
        );
        // submitted - expected is exactly -1, and the counterexample shows it.
        assert_eq!(c["difference"], "-1", "{r}");
        let ce = &c["counterexample"];
        assert_eq!(
            ce["submitted"].as_f64().unwrap() - ce["expected"].as_f64().unwrap(),
            -1.0,
            "{r}"
        );
        let r = grade(value(factored, EXPANDED, seed)).await;
        let m = r["components"]["value"]["method"].as_str();
        assert!(
            r["verdict"] == "correct" && matches!(m, Some("symbolic" | "exact")),
            "seed {seed}: {r}"
        );
    }
    // Values that underflow every tolerance: still incorrect, at every seed.
    for seed in 0..=1000 {
        let r = grade(value("(x-a)^6000", "(x-a)^5999", seed)).await;
        let c = &r["components"]["value"];
        assert_eq!(c["verdict"], "incorrect", "seed {seed}: {r}");
        // The ratio is x - a, not a constant: no constant_factor.
        assert!(c.get("hint").is_none(), "seed {seed}: {r}");
        let r = grade(value("5999*(x-a)^5999", "6000*(x-a)^5999", seed)).await;
        let c = &r["components"]["value"];
        assert_eq!(
            (c["verdict"].as_str(), c["hint"].as_str()),
            (Some("incorrect"), Some("constant_factor")),
            "seed {seed}: {r}"
        );
        assert_eq!(c["factor"].as_f64(), Some(6000.0 / 5999.0), "{r}");
    }
    // A gradient too: d/dx x^3*y is 3*x^2*y, exactly; 3.0000001*x^2*y is not.
    let r = grade(
        json!({"expression": "x^3*y + 1/3*y^3", "answer": {"x": "3*x^2*y", "y": "x^3 + y^2"}}),
    )
    .await;
    assert_eq!(r["verdict"], "correct", "{r}");
    let r =
        grade(json!({"expression": "x^3*y", "answer": {"x": "3.0000001*x^2*y", "y": "x^3"}})).await;
    assert_eq!(r["components"]["x"]["verdict"], "incorrect", "{r}");
    assert_eq!(r["components"]["x"]["hint"], "constant_factor", "{r}");
}
