//! `POST /v1/gradient`, `/v1/jacobian` and `/v1/hessian`: values and derivatives at
//! points, from a cached compiled program.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::ApiJson;
use super::write;
use super::AppState;
use crate::config::Config;
use crate::engine::Budget;
use crate::service::evaluate::{check_answer_size, evaluate};
use crate::service::point::Point;
use crate::service::points::{self, shaped, Layout};
use crate::service::program::{program, wrote_decimals, Kind, Program, Spec};
use crate::service::tensor::{self, is_tensor_request, TKind, Variables};
use crate::service::{ApiError, RequestBudget};

/// The body of the compute endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeRequest {
    /// The expression (gradient, Hessian; or a single one for the Jacobian).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub expression: Option<String>,
    /// The expressions (Jacobian).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub expressions: Option<Vec<String>>,
    /// What to differentiate with respect to, in the order of the answer: names, or an
    /// object from name to shape.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub variables: Option<Variables>,
    /// Values of symbols held constant, shared by every point.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// One point.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub point: Option<Point>,
    /// A batch of points.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub points: Option<Vec<Point>>,
    /// Also answer the symbolic derivatives.
    #[serde(default)]
    pub symbolic: bool,
    /// With `symbolic`: name each subexpression used more than once in
    /// `symbolic.definitions` and use the names.
    #[serde(default)]
    pub definitions: bool,
}

/// `POST /v1/gradient`.
pub async fn gradient(
    State(state): State<AppState>,
    ApiJson(req, _permit): ApiJson<ComputeRequest>,
) -> Response {
    respond(state, Kind::Gradient, req).await
}

/// `POST /v1/jacobian`.
pub async fn jacobian(
    State(state): State<AppState>,
    ApiJson(req, _permit): ApiJson<ComputeRequest>,
) -> Response {
    respond(state, Kind::Jacobian, req).await
}

/// `POST /v1/hessian`.
pub async fn hessian(
    State(state): State<AppState>,
    ApiJson(req, _permit): ApiJson<ComputeRequest>,
) -> Response {
    respond(state, Kind::Hessian, req).await
}

async fn respond(state: AppState, kind: Kind, req: ComputeRequest) -> Response {
    within_time(&state, |budget| compute(state.clone(), kind, req, budget)).await
}

/// Runs a handler's work under `NABLA_REQUEST_TIMEOUT_MS` and answers its JSON with
/// `x-cache`, or its error, or `limit_exceeded` when time runs out. The work gets the
/// request's budget: when the time is up, or the request is dropped (its client gone),
/// the budget tells the CPU work it started to stop.
pub async fn within_time<F>(state: &AppState, work: impl FnOnce(Budget) -> F) -> Response
where
    F: std::future::Future<Output = Result<(Bytes, bool), ApiError>>,
{
    let request = RequestBudget::start(&state.config);
    let deadline = tokio::time::Instant::from_std(request.deadline);
    match tokio::time::timeout_at(deadline, work(request.budget.clone())).await {
        Ok(Ok((body, hit))) => {
            let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
            with_cache_header((json, body).into_response(), hit)
        }
        Ok(Err(e)) => {
            if e.code == "overloaded" {
                // No core free for its CPU work (admission counts its own refusals).
                state.metrics.record_overloaded();
            }
            e.into_response()
        }
        Err(_) => ApiError::limit_exceeded(
            "request_timeout_ms",
            format!(
                "the request took longer than {} ms",
                state.config.request_timeout_ms
            ),
        )
        .into_response(),
    }
}

/// Adds `x-cache: hit|miss`.
pub fn with_cache_header(mut response: Response, hit: bool) -> Response {
    let v = if hit { "hit" } else { "miss" };
    response
        .headers_mut()
        .insert("x-cache", HeaderValue::from_static(v));
    response
}

/// `one` or `many` (a batch), exactly one of them, at most `limit` long: the items and
/// whether it was a batch. `name` is the singular field, `{name}s` the plural.
pub fn one_or_many<T>(
    one: Option<T>,
    many: Option<Vec<T>>,
    name: &str,
    limit: usize,
) -> Result<(Vec<T>, bool), ApiError> {
    let (items, batch) = match (one, many) {
        (Some(x), None) => (vec![x], false),
        (None, Some(xs)) => (xs, true),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_request(format!(
                "give '{name}' or '{name}s', not both"
            )))
        }
        (None, None) => {
            return Err(ApiError::invalid_request(format!(
                "missing field '{name}' (or '{name}s')"
            )))
        }
    };
    if items.len() > limit {
        return Err(ApiError::limit_exceeded(
            "max_points",
            format!("{} {name}s, over the limit of {limit}", items.len()),
        ));
    }
    Ok((items, batch))
}

/// The expressions of a request, by endpoint.
fn expressions(
    kind: Kind,
    one: Option<String>,
    many: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    match (kind, one, many) {
        (_, Some(_), Some(_)) => Err(ApiError::invalid_request(
            "give 'expression' or 'expressions', not both",
        )),
        (_, Some(e), None) => Ok(vec![e]),
        (Kind::Jacobian | Kind::Differentiate(_), None, Some(es)) => Ok(es),
        (_, None, Some(_)) => Err(ApiError::invalid_request(
            "this endpoint takes one 'expression'; for several, use /v1/jacobian",
        )),
        (_, None, None) => Err(ApiError::invalid_request("missing field 'expression'")),
    }
}

async fn compute(
    state: AppState,
    kind: Kind,
    req: ComputeRequest,
    budget: Budget,
) -> Result<(Bytes, bool), ApiError> {
    let exprs = expressions(kind, req.expression, req.expressions)?;
    let (pts, batch) = one_or_many(req.point, req.points, "point", state.config.max_points)?;
    if is_tensor_request(req.variables.as_ref(), &req.parameters, &pts) {
        let tkind = match kind {
            Kind::Jacobian => TKind::Jacobian,
            Kind::Hessian => TKind::Hessian,
            _ => TKind::Gradient,
        };
        let treq = tensor::Request {
            kind: tkind,
            expressions: &exprs,
            variables: req.variables.as_ref(),
            parameters: &req.parameters,
            shapes: None,
            points: &pts,
            dim_size: None,
        };
        let (v, hit) = tensor::compute(&state, treq, batch, req.symbolic, budget).await?;
        return Ok((encode(&v)?, hit));
    }
    let variables = req.variables.as_ref().and_then(Variables::names);
    let params = points::read_parameters(&req.parameters)?;
    let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    let layout = match pts.first() {
        Some(p) => points::layout(p, variables.is_some())?,
        None => Layout::Object,
    };
    let spec = Spec {
        kind,
        expressions: &exprs,
        variables,
        parameters: &names,
    };
    let (program, hit) = program(&state, spec, &budget).await?;
    check_answer_size(&state, &program, pts.len())?;
    let n_in = program.variables.len() + params.len();
    let mut inputs = Vec::with_capacity(pts.len() * n_in);
    for (i, p) in pts.iter().enumerate() {
        points::read_point(
            p,
            layout,
            &program.variables,
            batch.then_some(i),
            &mut inputs,
        )?;
        inputs.extend(params.iter().map(|(_, x)| x));
    }
    let out = evaluate(&state, &program, inputs, pts.len(), &budget).await?;
    let share = req.definitions;
    let texts = match req.symbolic {
        true => {
            let (config, program) = (state.config.clone(), program.clone());
            let decimals = wrote_decimals(&exprs);
            Some(
                state
                    .workers
                    .run(move || {
                        symbolic(&config, &program, kind, layout, share, decimals, &budget)
                    })
                    .await?,
            )
        }
        false => None,
    };
    let numbers = out.len();
    let n_points = pts.len();
    let shape = move || -> Result<Bytes, ApiError> {
        let body = write::answer(&program, &out, n_points, batch, layout, texts.as_ref());
        Ok(Bytes::from(body))
    };
    // A large answer is shaped and written off the async runtime.
    let bytes = if numbers > LARGE_ANSWER {
        state.workers.run(shape).await?
    } else {
        shape()?
    };
    Ok((bytes, hit))
}

/// Numbers in an answer past which it is shaped and written on a worker (about a
/// millisecond of work).
const LARGE_ANSWER: usize = 20_000;

/// A JSON body as bytes.
pub fn encode(v: &Value) -> Result<Bytes, ApiError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("the answer could not be written: {e}")))
}

/// The fields of an answer for `kind`: the expressions' `values`, each expression's
/// gradient row, and the Hessian rows (all aligned with `vars`), shaped like the question.
/// One layout for numbers and for symbolic texts.
fn shape_fields(
    kind: Kind,
    values: Vec<Value>,
    rows: Vec<Vec<Value>>,
    hessian: Vec<Vec<Value>>,
    vars: &[String],
    layout: Layout,
) -> Map<String, Value> {
    let mut rows: Vec<Value> = rows.iter().map(|r| shaped(r, vars, layout)).collect();
    let mut m = Map::new();
    if kind == Kind::Jacobian {
        m.insert("value".into(), Value::Array(values));
        m.insert("jacobian".into(), Value::Array(rows));
        return m;
    }
    m.insert(
        "value".into(),
        values.into_iter().next().unwrap_or(Value::Null),
    );
    m.insert(
        "gradient".into(),
        if rows.is_empty() {
            Value::Null
        } else {
            rows.swap_remove(0)
        },
    );
    if kind == Kind::Hessian {
        let h: Vec<Value> = hessian.iter().map(|r| shaped(r, vars, layout)).collect();
        m.insert("hessian".into(), shaped(&h, vars, layout));
    }
    m
}

/// The `symbolic` field: the expressions and derivatives as text, shaped like the answer.
fn symbolic(
    config: &Config,
    program: &Program,
    kind: Kind,
    layout: Layout,
    share: bool,
    decimals: bool,
    budget: &Budget,
) -> Result<Value, ApiError> {
    let s = program.symbolic(false, share, decimals, config, budget)?;
    let defs = super::differentiate::definitions(&s);
    let texts = |row: Vec<String>| row.into_iter().map(Value::from).collect::<Vec<_>>();
    let rows = s.gradients.into_iter().map(texts).collect();
    let hessian = s.hessian.into_iter().map(texts).collect();
    let mut fields = shape_fields(
        kind,
        texts(s.values),
        rows,
        hessian,
        &program.variables,
        layout,
    );
    if let Some(d) = defs {
        fields.insert("definitions".into(), d);
    }
    Ok(Value::Object(fields))
}
