//! `POST /v1/differentiate`: symbolic derivatives as text and LaTeX, no point.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::compute::{encode, within_time};
use super::extract::ApiJson;
use super::AppState;
use crate::engine::Budget;
use crate::service::points::{shaped, Layout};
use crate::service::program::{program, wrote_decimals};
use crate::service::program::{Kind, Spec, Symbolic};
use crate::service::tensor::{self, is_tensor_request, TKind, Variables};
use crate::service::ApiError;
use bytes::Bytes;

/// The body of `/v1/differentiate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifferentiateRequest {
    /// One expression.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub expression: Option<String>,
    /// Several expressions (a Jacobian).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub expressions: Option<Vec<String>>,
    /// What to differentiate with respect to; other free symbols are held constant.
    /// Names, or an object from name to shape (dimensions may be names).
    #[serde(default, deserialize_with = "super::extract::present")]
    pub variables: Option<Variables>,
    /// Shapes of symbols held constant (`{"A": ["n", "n"]}`); a symbol without one is a
    /// scalar.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub shapes: Option<Map<String, Value>>,
    /// Symbols held constant (their values do not matter here).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// 1 (gradient or Jacobian) or 2 (also the Hessian).
    #[serde(default, deserialize_with = "super::extract::present_value")]
    pub order: Option<Value>,
    /// Name each subexpression used more than once (`u1`, `u2`, ...) in `definitions`,
    /// and use the names in the answers: the answer grows with the expression's DAG, not
    /// with its tree.
    #[serde(default)]
    pub definitions: bool,
}

/// `POST /v1/differentiate`.
pub async fn differentiate(
    State(state): State<AppState>,
    ApiJson(req, _permit): ApiJson<DifferentiateRequest>,
) -> Response {
    within_time(&state, |budget| answer(state.clone(), req, budget)).await
}

async fn answer(
    state: AppState,
    req: DifferentiateRequest,
    budget: Budget,
) -> Result<(Bytes, bool), ApiError> {
    let order = match &req.order {
        None => 1,
        Some(v) => match v.as_u64() {
            Some(1) => 1,
            Some(2) => 2,
            _ => {
                return Err(ApiError::invalid_request(format!(
                    "unknown order {v}: 'order' is 1 (gradient) or 2 (also the Hessian)"
                )))
            }
        },
    };
    let several = req.expressions.is_some();
    let share = req.definitions;
    let exprs = match (req.expression, req.expressions) {
        (Some(e), None) => vec![e],
        (None, Some(es)) => es,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_request(
                "give 'expression' or 'expressions', not both",
            ))
        }
        (None, None) => return Err(ApiError::invalid_request("missing field 'expression'")),
    };
    if several && order == 2 {
        return Err(ApiError::invalid_request(
            "order 2 (the Hessian) takes one 'expression'",
        ));
    }
    if req.shapes.is_some() || is_tensor_request(req.variables.as_ref(), &req.parameters, &[]) {
        let treq = tensor::Request {
            kind: TKind::Differentiate(order as u8),
            expressions: &exprs,
            variables: req.variables.as_ref(),
            parameters: &req.parameters,
            shapes: req.shapes.as_ref(),
            points: &[],
            dim_size: None,
        };
        let (v, hit) = tensor::differentiate(&state, treq, budget).await?;
        return Ok((encode(&v)?, hit));
    }
    let mut params: Vec<String> = req.parameters.keys().cloned().collect();
    params.sort();
    let spec = Spec {
        kind: Kind::Differentiate(order),
        expressions: &exprs,
        variables: req.variables.as_ref().and_then(Variables::names),
        parameters: &params,
    };
    let (program, hit) = program(&state, spec, &budget).await?;
    let decimals = wrote_decimals(&exprs);
    // Printing grows with the answer: off the async runtime, under the budget.
    let config = state.config.clone();
    let body = state
        .workers
        .run(move || {
            let text = program.symbolic(false, share, decimals, &config, &budget)?;
            let latex = program.symbolic(true, share, decimals, &config, &budget)?;
            let vars = &program.variables;
            let mut body = Map::new();
            body.insert("variables".into(), Value::from(vars.clone()));
            body.extend(fields(&text, vars, several));
            body.insert("latex".into(), Value::Object(fields(&latex, vars, several)));
            encode(&Value::Object(body))
        })
        .await?;
    Ok((body, hit))
}

fn fields(s: &Symbolic, vars: &[String], several: bool) -> Map<String, Value> {
    let rows: Vec<Value> = s
        .gradients
        .iter()
        .map(|g| shaped(g, vars, Layout::Object))
        .collect();
    let mut m = Map::new();
    if let Some(d) = definitions(s) {
        m.insert("definitions".into(), d);
    }
    if several {
        m.insert("expressions".into(), Value::from(s.values.clone()));
        m.insert("jacobian".into(), Value::Array(rows));
    } else {
        m.insert(
            "expression".into(),
            s.values.first().cloned().map_or(Value::Null, Value::from),
        );
        m.insert(
            "gradient".into(),
            rows.into_iter().next().unwrap_or(Value::Null),
        );
        if !s.hessian.is_empty() {
            let h: Vec<Value> = s
                .hessian
                .iter()
                .map(|r| shaped(r, vars, Layout::Object))
                .collect();
            m.insert("hessian".into(), shaped(&h, vars, Layout::Object));
        }
    }
    m
}

/// The `definitions` object of an answer that asked for them.
pub fn definitions(s: &Symbolic) -> Option<Value> {
    if s.definitions.is_empty() {
        return None;
    }
    let defs: Map<String, Value> = s
        .definitions
        .iter()
        .map(|(name, text)| (name.clone(), Value::from(text.as_str())))
        .collect();
    Some(Value::Object(defs))
}
