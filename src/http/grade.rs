//! `POST /v1/grade`: verdicts on submitted derivatives, with counterexamples and hints.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::compute::{encode, one_or_many, within_time};
use super::extract::ApiJson;
use super::AppState;
use crate::engine::Budget;
use crate::service::grade::{GradeOptions, Grader, Verdict, DEFAULT_BOX};
use crate::service::points::{number, read_parameters};
use crate::service::program::{program, Kind, Program, Spec};
use crate::service::ApiError;
use bytes::Bytes;

/// The body of `/v1/grade`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRequest {
    /// The reference expression.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub expression: Option<String>,
    /// The reference expressions (kind `jacobian`).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub expressions: Option<Vec<String>>,
    /// The variables, in the order of array answers.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub variables: Option<Vec<String>>,
    /// Values of symbols held constant.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// `gradient` (default), `jacobian`, `hessian` or `value`.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub kind: Option<String>,
    /// One submission.
    #[serde(default, deserialize_with = "super::extract::present_value")]
    pub answer: Option<Value>,
    /// Many submissions (a class), graded against one reference.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub answers: Option<Vec<Value>>,
    /// A box per variable: `{"x": [0.1, 5]}`.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub domain: Option<Map<String, Value>>,
    /// Usable sample points wanted (default 24).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub samples: Option<usize>,
    /// Relative tolerance (default 1e-6).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub rtol: Option<f64>,
    /// Absolute tolerance (default 1e-9).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub atol: Option<f64>,
    /// Seed of the sampler (default 0).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub seed: Option<u64>,
}

/// The grade kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GradeKind {
    Gradient,
    Jacobian,
    Hessian,
    Value,
}

/// `POST /v1/grade`.
pub async fn grade(
    State(state): State<AppState>,
    ApiJson(req, _permit): ApiJson<GradeRequest>,
) -> Response {
    within_time(&state, |budget| answer(state.clone(), req, budget)).await
}

fn options(req: &GradeRequest, variables: &[String]) -> Result<GradeOptions, ApiError> {
    let mut o = GradeOptions::default();
    if let Some(s) = req.samples {
        if !(1..=1000).contains(&s) {
            return Err(ApiError::invalid_request("'samples' is from 1 to 1000"));
        }
        o.samples = s;
    }
    for (name, v, slot) in [
        ("rtol", req.rtol, &mut o.rtol),
        ("atol", req.atol, &mut o.atol),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 {
                return Err(ApiError::invalid_request(format!(
                    "'{name}' is a number >= 0"
                )));
            }
            *slot = v;
        }
    }
    o.seed = req.seed.unwrap_or(0);
    if let Some(domain) = &req.domain {
        let mut boxes = vec![DEFAULT_BOX; variables.len()];
        for (name, b) in domain {
            let Some(k) = variables.iter().position(|v| v == name) else {
                return Err(ApiError::invalid_request(format!(
                    "'domain' has a box for {name:?}, which is not a variable"
                )));
            };
            let bounds = b
                .as_array()
                .map(|xs| xs.iter().map(Value::as_f64).collect::<Vec<_>>());
            match bounds.as_deref() {
                Some([Some(lo), Some(hi)]) if lo.is_finite() && hi.is_finite() && lo < hi => {
                    boxes[k] = (*lo, *hi)
                }
                _ => {
                    return Err(ApiError::invalid_request(format!(
                        "the box of {name:?} is [low, high] with finite low < high, not {b}"
                    )))
                }
            }
        }
        o.domain = Some(boxes);
    }
    Ok(o)
}

async fn answer(
    state: AppState,
    mut req: GradeRequest,
    budget: Budget,
) -> Result<(Bytes, bool), ApiError> {
    let kind = match req.kind.as_deref().unwrap_or("gradient") {
        "gradient" => GradeKind::Gradient,
        "jacobian" => GradeKind::Jacobian,
        "hessian" => GradeKind::Hessian,
        "value" => GradeKind::Value,
        other => {
            return Err(ApiError::invalid_request(format!(
                "unknown kind {other:?}: one of gradient, jacobian, hessian, value"
            )))
        }
    };
    let exprs = match (kind, &req.expression, &req.expressions) {
        (_, Some(_), Some(_)) => {
            return Err(ApiError::invalid_request(
                "give 'expression' or 'expressions', not both",
            ))
        }
        (_, Some(e), None) => vec![e.clone()],
        (GradeKind::Jacobian, None, Some(es)) => es.clone(),
        (_, None, Some(_)) => {
            return Err(ApiError::invalid_request(
                "'expressions' goes with kind 'jacobian'",
            ))
        }
        (_, None, None) => return Err(ApiError::invalid_request("missing field 'expression'")),
    };
    let (answers, batch) = one_or_many(
        req.answer.take(),
        req.answers.take(),
        "answer",
        state.config.max_points,
    )?;
    let params = read_parameters(&req.parameters)?;
    let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    let program_kind = match kind {
        GradeKind::Jacobian => Kind::Jacobian,
        GradeKind::Hessian => Kind::Hessian,
        _ => Kind::Gradient,
    };
    let spec = Spec {
        kind: program_kind,
        expressions: &exprs,
        variables: req.variables.as_deref(),
        parameters: &names,
    };
    let (program, hit) = program(&state, spec, &budget).await?;
    let options = options(&req, &program.variables)?;
    let config = state.config.clone();
    let body = state
        .workers
        .run(move || -> Result<Bytes, ApiError> {
            let values: Vec<f64> = params.iter().map(|(_, x)| *x).collect();
            let mut grader = Grader::new(&program, values, options, &config, budget.clone())?;
            let mut results = Vec::with_capacity(answers.len());
            for a in &answers {
                // Each answer is bounded by the expression limits; the batch by the time.
                budget
                    .check()
                    .map_err(|e| ApiError::exhausted(e, &config))?;
                results.push(grade_one(&mut grader, &program, kind, a));
            }
            encode(&if batch {
                json!({"results": results})
            } else {
                results.into_iter().next().unwrap_or(Value::Null)
            })
        })
        .await?;
    Ok((body, hit))
}

/// A component's outcome while an answer is graded.
struct Graded {
    verdict: Verdict,
    values: Vec<f64>,
    reference: Option<crate::engine::ExprId>,
    swapped: bool,
    /// Part of a matrix answer that is the reference transposed.
    transposed: bool,
    /// Not a component of the reference (an unknown key, an index too many): it makes
    /// the answer invalid but does not count in the score.
    extra: bool,
}

/// A graded matrix row: its key, how it was spelled, its components.
type GradedRow = (String, Layout, Vec<(String, Graded)>);

/// How an answer spells a list of components.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Object,
    Array,
}

fn invalid(code: &'static str, detail: String) -> Graded {
    let mut e = ApiError::invalid_request(detail);
    e.code = code;
    Graded {
        verdict: Verdict::Invalid(e),
        values: Vec::new(),
        reference: None,
        swapped: false,
        transposed: false,
        extra: false,
    }
}

/// Grades one formula (a JSON string, or a number) against `reference`.
fn component(g: &mut Grader, reference: crate::engine::ExprId, answer: Option<&Value>) -> Graded {
    let text = match answer {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return invalid(
                "invalid_request",
                format!("an answer is a formula as a string, not {other}"),
            )
        }
        None => return invalid("missing_value", "no answer for this component".into()),
    };
    let (verdict, values) = g.grade(reference, &text);
    Graded {
        verdict,
        values,
        reference: Some(reference),
        swapped: false,
        transposed: false,
        extra: false,
    }
}

/// Grades a row of components (a gradient, a Jacobian row) spelled as an object keyed by
/// variable or an array aligned with the variables.
fn row(
    g: &mut Grader,
    refs: &[crate::engine::ExprId],
    answer: Option<&Value>,
) -> (Layout, Vec<(String, Graded)>) {
    let vars = g.variables().to_vec();
    let mut out = Vec::new();
    match answer {
        Some(Value::Object(map)) => {
            for (k, v) in vars.iter().enumerate() {
                out.push((v.clone(), component(g, refs[k], map.get(v))));
            }
            for key in map.keys().filter(|key| !vars.contains(key)) {
                let extra = Graded {
                    extra: true,
                    ..invalid("invalid_request", format!("{key:?} is not a variable"))
                };
                out.push((key.clone(), extra));
            }
            (Layout::Object, out)
        }
        Some(Value::Array(items)) => {
            for (k, _) in vars.iter().enumerate() {
                out.push((k.to_string(), component(g, refs[k], items.get(k))));
            }
            for k in vars.len()..items.len() {
                let extra = Graded {
                    extra: true,
                    ..invalid(
                        "invalid_request",
                        format!("there are {} variables, no component {k}", vars.len()),
                    )
                };
                out.push((k.to_string(), extra));
            }
            (Layout::Array, out)
        }
        other => {
            let what = other.map_or("nothing".to_string(), Value::to_string);
            for (k, v) in vars.iter().enumerate() {
                let _ = k;
                out.push((
                    v.clone(),
                    invalid(
                        "invalid_request",
                        format!(
                            "the answer is an object keyed by variable or an array, not {what}"
                        ),
                    ),
                ));
            }
            (Layout::Object, out)
        }
    }
}

/// Marks the incorrect entries of a square matrix answer that is, at every sample, the
/// reference transposed (while some entry is wrong, so the reference is not symmetric).
fn mark_transposed(g: &Grader, matrix: &[Vec<crate::engine::ExprId>], rows: &mut [GradedRow]) {
    let n = matrix.len();
    if n < 2 || matrix.iter().any(|r| r.len() != n) || rows.len() != n {
        return;
    }
    let values = |i: usize, j: usize| {
        rows[i]
            .2
            .get(j)
            .map(|(_, c)| c.values.as_slice())
            .unwrap_or(&[])
    };
    let transposed = (0..n).all(|i| (0..n).all(|j| g.agrees(matrix[j][i], values(i, j))));
    // Some entry wrong: so the reference is not symmetric, and the transpose explains it.
    let asymmetric = rows
        .iter()
        .flat_map(|r| &r.2)
        .any(|(_, c)| matches!(c.verdict, Verdict::Incorrect { .. }));
    if transposed && asymmetric {
        for row in rows.iter_mut() {
            for (_, c) in row.2.iter_mut() {
                c.transposed = matches!(c.verdict, Verdict::Incorrect { .. });
            }
        }
    }
}

/// Marks pairs of incorrect components that are each other's reference.
fn mark_swaps(g: &Grader, items: &mut [(String, Graded)]) {
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let (a, b) = (&items[i].1, &items[j].1);
            let both_wrong = matches!(a.verdict, Verdict::Incorrect { .. })
                && matches!(b.verdict, Verdict::Incorrect { .. });
            if let (true, Some(ra), Some(rb)) = (both_wrong, a.reference, b.reference) {
                if g.swapped(ra, rb, &a.values, &b.values) {
                    items[i].1.swapped = true;
                    items[j].1.swapped = true;
                }
            }
        }
    }
}

fn point_json(point: &[f64], vars: &[String], layout: Layout) -> Value {
    match layout {
        Layout::Object => Value::Object(
            vars.iter()
                .cloned()
                .zip(point.iter().map(|&x| number(x)))
                .collect(),
        ),
        Layout::Array => Value::Array(point.iter().map(|&x| number(x)).collect()),
    }
}

fn component_json(c: &Graded, vars: &[String], layout: Layout) -> Value {
    match &c.verdict {
        Verdict::Correct { symbolic } => {
            json!({"verdict": "correct", "method": if *symbolic { "symbolic" } else { "numeric" }})
        }
        Verdict::Incorrect {
            counterexample,
            hint,
        } => {
            let mut m = Map::new();
            m.insert("verdict".into(), json!("incorrect"));
            m.insert("method".into(), json!("numeric"));
            let hint = if c.transposed {
                Some("transposed")
            } else if c.swapped {
                Some("swapped_components")
            } else {
                hint.map(|h| h.name())
            };
            if let Some(h) = hint {
                m.insert("hint".into(), json!(h));
            }
            m.insert(
                "counterexample".into(),
                json!({
                    "point": point_json(&counterexample.point, vars, layout),
                    "expected": number(counterexample.expected),
                    "submitted": number(counterexample.submitted),
                }),
            );
            Value::Object(m)
        }
        Verdict::Invalid(e) => {
            let mut err = json!({"code": e.code, "detail": e.detail});
            if let (Some(span), Value::Object(m)) = (e.span, &mut err) {
                m.insert("span".into(), json!({"start": span.start, "end": span.end}));
            }
            json!({"verdict": "invalid", "error": err})
        }
        Verdict::Undecided => json!({"verdict": "undecided"}),
    }
}

/// The overall verdict and score of graded components.
fn overall<'a>(all: impl Iterator<Item = &'a Graded> + Clone) -> (&'static str, f64) {
    let total = all.clone().filter(|c| !c.extra).count();
    let correct = all
        .clone()
        .filter(|c| !c.extra && matches!(c.verdict, Verdict::Correct { .. }))
        .count();
    let any = |f: fn(&Verdict) -> bool| all.clone().any(|c| f(&c.verdict));
    let all_correct = all
        .clone()
        .all(|c| matches!(c.verdict, Verdict::Correct { .. }));
    let verdict = if total > 0 && all_correct {
        "correct"
    } else if any(|v| matches!(v, Verdict::Invalid(_))) {
        "invalid"
    } else if any(|v| matches!(v, Verdict::Incorrect { .. })) {
        "incorrect"
    } else {
        "undecided"
    };
    (
        verdict,
        if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        },
    )
}

fn shaped(
    items: &[(String, Graded)],
    vars: &[String],
    layout: Layout,
    point_layout: Layout,
) -> Value {
    match layout {
        Layout::Object => Value::Object(
            items
                .iter()
                .map(|(k, c)| (k.clone(), component_json(c, vars, point_layout)))
                .collect(),
        ),
        Layout::Array => Value::Array(
            items
                .iter()
                .map(|(_, c)| component_json(c, vars, point_layout))
                .collect(),
        ),
    }
}

/// Grades one submission.
fn grade_one(g: &mut Grader, program: &Program, kind: GradeKind, answer: &Value) -> Value {
    let vars = program.variables.clone();
    let (verdict, score, components) = match kind {
        GradeKind::Value => {
            let c = component(g, program.values()[0], Some(answer));
            let (v, s) = overall(std::iter::once(&c));
            (
                v,
                s,
                json!({"value": component_json(&c, &vars, Layout::Object)}),
            )
        }
        GradeKind::Gradient => {
            let refs = program.gradients()[0].clone();
            let (layout, mut items) = row(g, &refs, Some(answer));
            mark_swaps(g, &mut items);
            let (v, s) = overall(items.iter().map(|(_, c)| c));
            (v, s, shaped(&items, &vars, layout, layout))
        }
        GradeKind::Jacobian | GradeKind::Hessian => {
            let matrix: Vec<Vec<crate::engine::ExprId>> = if kind == GradeKind::Jacobian {
                program.gradients().to_vec()
            } else {
                program.hessian().to_vec()
            };
            let mut rows: Vec<GradedRow> = Vec::new();
            let outer_layout = match answer {
                Value::Object(_) if kind == GradeKind::Hessian => Layout::Object,
                _ => Layout::Array,
            };
            for (i, refs) in matrix.iter().enumerate() {
                let (key, cell) = match (outer_layout, answer) {
                    (Layout::Object, Value::Object(m)) => (vars[i].clone(), m.get(&vars[i])),
                    (_, Value::Array(xs)) => (i.to_string(), xs.get(i)),
                    _ => (i.to_string(), None),
                };
                let (layout, mut items) = row(g, refs, cell);
                mark_swaps(g, &mut items);
                rows.push((key, layout, items));
            }
            // Rows the reference does not have make the answer invalid.
            let extra_rows: Vec<String> = match answer {
                Value::Array(xs) => (matrix.len()..xs.len()).map(|i| i.to_string()).collect(),
                Value::Object(m) => m.keys().filter(|k| !vars.contains(k)).cloned().collect(),
                _ => Vec::new(),
            };
            for key in extra_rows {
                let detail = format!("the reference has no row {key}");
                let extra = Graded {
                    extra: true,
                    ..invalid("invalid_request", detail)
                };
                rows.push((key.clone(), Layout::Array, vec![(key, extra)]));
            }
            mark_transposed(g, &matrix, &mut rows);
            let (v, s) = overall(
                rows.iter()
                    .flat_map(|(_, _, items)| items.iter().map(|(_, c)| c)),
            );
            let point_layout = rows.first().map_or(Layout::Object, |r| r.1);
            let shaped_rows: Vec<(String, Value)> = rows
                .iter()
                .map(|(k, layout, items)| (k.clone(), shaped(items, &vars, *layout, point_layout)))
                .collect();
            let comps = match outer_layout {
                Layout::Object => Value::Object(shaped_rows.into_iter().collect()),
                Layout::Array => Value::Array(shaped_rows.into_iter().map(|(_, v)| v).collect()),
            };
            (v, s, comps)
        }
    };
    json!({"verdict": verdict, "score": score, "components": components})
}
