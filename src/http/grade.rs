//! `POST /v1/grade`: reads the request, has the service grade each answer
//! (`service::grade::answer`), and writes the outcomes as JSON.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::compute::{encode, one_or_many, within_time};
use super::extract::ApiJson;
use super::AppState;
use crate::engine::Budget;
use crate::service::grade::answer::{
    grade_submission, Components, GradeKind, Graded, Outcome, Row,
};
use crate::service::grade::matrix::{self, MatrixGradeOptions};
use crate::service::grade::{GradeOptions, Grader, Hint, VarDomain, Verdict};
use crate::service::points::{number, read_parameters, Layout};
use crate::service::program::{program, Spec};
use crate::service::tensor::{self, is_tensor_request, TKind, Variables};
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
    /// The variables, in the order of array answers: names, or an object from name to
    /// shape.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub variables: Option<Variables>,
    /// Shapes of symbols held constant and sampled (`{"A": ["n", "n"]}`).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub shapes: Option<Map<String, Value>>,
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
        let mut each = vec![VarDomain::default(); variables.len()];
        for (name, spec) in domain {
            let Some(k) = variables.iter().position(|v| v == name) else {
                return Err(ApiError::invalid_request(format!(
                    "'domain' has an entry for {name:?}, which is not a variable"
                )));
            };
            each[k] = var_domain(name, spec)?;
        }
        o.domain = each;
    }
    Ok(o)
}

/// One variable's entry of `domain`: a box `[low, high]`, an assumption (`"integer"`,
/// `"positive"`, `"negative"`, `"nonzero"`), or an object combining them
/// (`{"range": [0, 6], "integer": true}`).
fn var_domain(name: &str, spec: &Value) -> Result<VarDomain, ApiError> {
    let mut d = VarDomain::default();
    let bad_box = |b: &Value| {
        ApiError::invalid_request(format!(
            "the box of {name:?} is [low, high] with finite low < high, not {b}"
        ))
    };
    let read_box = |b: &Value| -> Result<(f64, f64), ApiError> {
        let bounds = b
            .as_array()
            .map(|xs| xs.iter().map(Value::as_f64).collect::<Vec<_>>());
        match bounds.as_deref() {
            Some([Some(lo), Some(hi)]) if lo.is_finite() && hi.is_finite() && lo < hi => {
                Ok((*lo, *hi))
            }
            _ => Err(bad_box(b)),
        }
    };
    let assume = |d: &mut VarDomain, what: &str, on: bool| -> Result<(), ApiError> {
        let slot = match what {
            "integer" => &mut d.integer,
            "positive" => &mut d.positive,
            "negative" => &mut d.negative,
            "nonzero" => &mut d.nonzero,
            _ => {
                return Err(ApiError::invalid_request(format!(
                    "the domain of {name:?} is a box [low, high], one of \"integer\", \"positive\", \"negative\", \"nonzero\", or an object of \"range\" and those (true or false), not {what:?}"
                )))
            }
        };
        *slot = on;
        Ok(())
    };
    match spec {
        Value::Array(_) => d.range = Some(read_box(spec)?),
        Value::String(s) => assume(&mut d, s, true)?,
        Value::Object(m) => {
            for (key, v) in m {
                if key == "range" {
                    d.range = Some(read_box(v)?);
                    continue;
                }
                let Some(on) = v.as_bool() else {
                    return Err(ApiError::invalid_request(format!(
                        "{key:?} in the domain of {name:?} is true or false, not {v}"
                    )));
                };
                assume(&mut d, key, on)?;
            }
        }
        _ => return Err(bad_box(spec)),
    }
    if !d.satisfiable(d.bounds(0)) {
        return Err(ApiError::invalid_request(format!(
            "no value of {name:?} satisfies its domain {spec}"
        )));
    }
    Ok(d)
}

async fn answer(
    state: AppState,
    mut req: GradeRequest,
    budget: Budget,
) -> Result<(Bytes, bool), ApiError> {
    let name = req.kind.as_deref().unwrap_or("gradient");
    let Some(kind) = GradeKind::from_name(name) else {
        return Err(ApiError::invalid_request(format!(
            "unknown kind {name:?}: one of gradient, jacobian, hessian, value, antiderivative"
        )));
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
    if req.shapes.is_some() || is_tensor_request(req.variables.as_ref(), &req.parameters, &[]) {
        return grade_matrices(state, req, kind, exprs, answers, batch, budget).await;
    }
    let params = read_parameters(&req.parameters)?;
    let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    let spec = Spec {
        kind: kind.program_kind(),
        expressions: &exprs,
        variables: req.variables.as_ref().and_then(Variables::names),
        parameters: &names,
    };
    let (program, hit) = program(&state, spec, &budget).await?;
    if kind == GradeKind::Antiderivative
        && (program.variables.is_empty()
            || (req.variables.is_none() && program.variables.len() > 1))
    {
        return Err(ApiError::invalid_request(format!(
            "kind 'antiderivative' needs the variable of integration: give 'variables' \
             (the first is integrated along), here among {:?}",
            program.variables
        )));
    }
    let mut options = options(&req, &program.variables)?;
    options.values_only = matches!(kind, GradeKind::Value | GradeKind::Antiderivative);
    let config = state.config.clone();
    let body = state
        .workers
        .run(move || -> Result<Bytes, ApiError> {
            let values: Vec<f64> = params.iter().map(|(_, x)| *x).collect();
            let mut grader = Grader::new(&program, values, options, &config, budget.clone())?;
            let vars = &program.variables;
            let mut results = Vec::with_capacity(answers.len());
            for a in &answers {
                // Each answer is bounded by the expression limits; the batch by the time.
                budget
                    .check()
                    .map_err(|e| ApiError::exhausted(e, &config))?;
                let outcome = grade_submission(&mut grader, &program, kind, a);
                let mut result = outcome_json(&outcome, vars);
                let boxes = grader.sampled_domain().filter(|_| outcome.sampled());
                if let (Some(boxes), Value::Object(m)) = (boxes, &mut result) {
                    let boxes: Map<String, Value> = vars
                        .iter()
                        .zip(boxes)
                        .map(|(v, &(lo, hi))| (v.clone(), json!([number(lo), number(hi)])))
                        .collect();
                    m.insert("sampled_domain".into(), Value::Object(boxes));
                }
                results.push(result);
            }
            body(results, batch)
        })
        .await?;
    Ok((body, hit))
}

/// Grading with vectors and matrices: each component one answer in matrix notation
/// (`service::grade::matrix`).
async fn grade_matrices(
    state: AppState,
    req: GradeRequest,
    kind: GradeKind,
    exprs: Vec<String>,
    answers: Vec<Value>,
    batch: bool,
    budget: Budget,
) -> Result<(Bytes, bool), ApiError> {
    let value = match kind {
        GradeKind::Gradient => false,
        GradeKind::Value => true,
        _ => {
            return Err(ApiError::invalid_request(
                "with vectors and matrices, 'kind' is gradient or value",
            ))
        }
    };
    // Named dimensions are sampled at one small size, chosen by the seed.
    let dim_size = Some(2 + (req.seed.unwrap_or(0) % 3) as u32);
    let treq = tensor::Request {
        kind: if value { TKind::Value } else { TKind::Gradient },
        expressions: &exprs,
        variables: req.variables.as_ref(),
        parameters: &req.parameters,
        shapes: req.shapes.as_ref(),
        points: &[],
        dim_size,
    };
    let (program, scope, hit) = tensor::program(&state, &treq, &budget).await?;
    let names = program.variable_names();
    let base = options(&req, &names)?;
    let mut boxes = Vec::new();
    for (name, d) in names.iter().zip(&base.domain) {
        if d.integer || d.positive || d.negative || d.nonzero {
            return Err(ApiError::invalid_request(format!(
                "with vectors and matrices, the domain of {name:?} is a box [low, high]: \
                 integer and sign assumptions are for scalar variables"
            )));
        }
        if let Some(b) = d.range {
            boxes.push((name.clone(), b));
        }
    }
    let options = MatrixGradeOptions {
        samples: base.samples,
        rtol: base.rtol,
        atol: base.atol,
        seed: base.seed,
        boxes,
        parameters: scope.parameter_values.clone(),
        value,
    };
    let config = state.config.clone();
    let body = state
        .workers
        .run(move || -> Result<Bytes, ApiError> {
            let parse = config.parse_options();
            let mut results = Vec::with_capacity(answers.len());
            for a in &answers {
                budget
                    .check()
                    .map_err(|e| ApiError::exhausted(e, &config))?;
                results.push(matrix::grade_submission(
                    &program, a, &options, &parse, &budget,
                )?);
            }
            body(results, batch)
        })
        .await?;
    Ok((body, hit))
}

/// The answer's body: the results of a class (`answers`), or the one result.
fn body(results: Vec<Value>, batch: bool) -> Result<Bytes, ApiError> {
    encode(&if batch {
        json!({"results": results})
    } else {
        results.into_iter().next().unwrap_or(Value::Null)
    })
}

/// A point of a counterexample, spelled like the answer.
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

/// One component's outcome.
fn component_json(c: &Graded, vars: &[String], layout: Layout) -> Value {
    match &c.verdict {
        Verdict::Correct { method } => {
            json!({"verdict": "correct", "method": method.name()})
        }
        Verdict::Incorrect {
            counterexample,
            hint,
            factor,
            difference,
            method,
        } => {
            let mut m = Map::new();
            m.insert("verdict".into(), json!("incorrect"));
            m.insert("method".into(), json!(method.name()));
            if let Some(h) = hint {
                m.insert("hint".into(), json!(h.name()));
            }
            if let (Some(f), Some(Hint::ConstantFactor)) = (factor, hint) {
                m.insert("factor".into(), number(*f));
            }
            if let Some(d) = difference {
                m.insert("difference".into(), json!(d));
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

/// A row of components, spelled like the answer's row.
fn row_json(row: &Row, vars: &[String], point_layout: Layout) -> Value {
    let each = row.items.iter();
    match row.layout {
        Layout::Object => Value::Object(
            each.map(|(k, c)| (k.clone(), component_json(c, vars, point_layout)))
                .collect(),
        ),
        Layout::Array => Value::Array(
            each.map(|(_, c)| component_json(c, vars, point_layout))
                .collect(),
        ),
    }
}

/// One graded submission.
fn outcome_json(outcome: &Outcome, vars: &[String]) -> Value {
    let point_layout = outcome.point_layout();
    let components = match &outcome.components {
        Components::Value(c) => json!({"value": component_json(c, vars, Layout::Object)}),
        Components::Row(row) => row_json(row, vars, point_layout),
        Components::Matrix { layout, rows } => {
            let each = rows.iter();
            match layout {
                Layout::Object => Value::Object(
                    each.map(|r| (r.key.clone(), row_json(r, vars, point_layout)))
                        .collect(),
                ),
                Layout::Array => {
                    Value::Array(each.map(|r| row_json(r, vars, point_layout)).collect())
                }
            }
        }
    };
    json!({"verdict": outcome.verdict.name(), "score": outcome.score, "components": components})
}
