//! Requests with vectors and matrices: shapes read from `variables` (an object of shapes),
//! from the point and from `parameters`; the tensor engine's program built (and cached)
//! per expression and shapes; values, gradients, Jacobians and Hessians evaluated and
//! written with the shape of the question.
//!
//! A request comes here when some variable or parameter is not a scalar, or when
//! `variables` is given as an object of shapes; every other request takes the scalar
//! path unchanged.

mod answer;
mod build;
mod scope;

pub(crate) use answer::json_of;
use answer::{point_inputs, symbolic_answer, write_answer};
use build::{key, lower_all};
pub(crate) use scope::{Scope, Symbol};

use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::point::{Coord, Point};
use super::Service;
use crate::engine::budget::Budget;
use crate::engine::tensor::diff::{Jacobian, SEED};
use crate::engine::tensor::eval::{Dense, Plan};
use crate::engine::tensor::{TId, TPool};

/// `variables` as a request gives it: names, or an object from name to shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Variables {
    /// `["x", "y"]`.
    Names(Vec<String>),
    /// `{"x": [3], "A": [3, 3], "t": []}`, in the request's key order.
    Shapes(Vec<(String, Value)>),
}

impl Variables {
    /// The names, when `variables` is a list.
    pub fn names(&self) -> Option<&[String]> {
        match self {
            Variables::Names(n) => Some(n),
            Variables::Shapes(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Variables {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Variables, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Variables;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of names, or an object from name to shape")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Variables, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<String>()? {
                    names.push(n);
                }
                Ok(Variables::Names(names))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Variables, A::Error> {
                let mut shapes = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    shapes.push((k, v));
                }
                Ok(Variables::Shapes(shapes))
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a request needs the tensor path: `variables` as shapes, a parameter or a
/// point value that is an array.
pub fn is_tensor_request(
    variables: Option<&Variables>,
    parameters: &Map<String, Value>,
    points: &[Point],
) -> bool {
    matches!(variables, Some(Variables::Shapes(_)))
        || parameters.values().any(Value::is_array)
        || points.iter().any(|p| match p {
            Point::Object(entries) => entries
                .iter()
                .any(|(_, c)| matches!(c, Coord::Bad(Value::Array(_)))),
            _ => false,
        })
}

/// What a tensor request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TKind {
    /// Value and gradient of a scalar expression.
    Gradient,
    /// Values and Jacobian of one or more expressions (each component an output).
    Jacobian,
    /// Value, gradient and Hessian of a scalar expression.
    Hessian,
    /// Symbolic derivatives of this order, no point.
    Differentiate(u8),
    /// The value only (grading a `value`).
    Value,
}

/// A compiled tensor program: the pool, the symbolic derivatives, and the plans that
/// evaluate them. Cached by the request's expressions and shapes.
pub struct TensorProgram {
    pub(crate) pool: TPool,
    pub(crate) kind: TKind,
    pub(crate) variables: Vec<Symbol>,
    /// Parameters and declared constants, with their shapes.
    pub(crate) constants: Vec<Symbol>,
    /// Each expression's node and rank.
    pub(crate) values: Vec<(TId, u8)>,
    /// Gradient (and Hessian) kinds: the gradient of expression 0, per variable.
    pub(crate) gradient: Vec<TId>,
    /// Jacobian kind: per expression, per variable.
    pub(crate) jacobian: Vec<Vec<Jacobian>>,
    /// Hessian kind: per variable pair.
    pub(crate) hessian: Vec<Vec<Jacobian>>,
    /// The plan of every node answer (values, gradients, Jacobian and Hessian matrices);
    /// `None` for symbolic shapes.
    pub(crate) plan: Option<Plan>,
    /// The plans of vector-Jacobian products, by product node.
    pub(crate) products: Vec<(TId, Plan)>,
}

impl TensorProgram {
    /// The variables' names, in the order of the answer.
    pub fn variable_names(&self) -> Vec<String> {
        self.variables.iter().map(|s| s.name.clone()).collect()
    }

    /// An estimate of the memory it holds, for the cache's weigher.
    pub fn weight_bytes(&self) -> usize {
        256 + self.pool.len() * 96
    }
}

/// A tensor request as the handlers read it.
pub struct Request<'a> {
    /// What it asks for.
    pub kind: TKind,
    /// Its expressions.
    pub expressions: &'a [String],
    /// `variables`, if given.
    pub variables: Option<&'a Variables>,
    /// `parameters`.
    pub parameters: &'a Map<String, Value>,
    /// `shapes` of symbols held constant (`/v1/differentiate`).
    pub shapes: Option<&'a Map<String, Value>>,
    /// Its points (none for `/v1/differentiate`).
    pub points: &'a [Point],
    /// The size of a named dimension no value fixes (grading samples at it).
    pub dim_size: Option<u32>,
}

/// The shared program of `req`: from the cache, or built on a worker (and cached).
pub(crate) async fn program(
    service: &Arc<Service>,
    req: &Request<'_>,
    budget: &Budget,
) -> Result<(Arc<TensorProgram>, Arc<Scope>, bool), ApiError> {
    let config = &service.config;
    let mut pool = TPool::new(config.max_nodes);
    let scope = Arc::new(scope::scope(req, config, &mut pool)?);
    let values = lower_all(req, &scope, &mut pool, config)?;
    let key = key(req, &scope, &pool, &values);
    if let Some(p) = service.tensors.get(&key) {
        return Ok((p, scope, true));
    }
    let owned = OwnedRequest {
        kind: req.kind,
        expressions: req.expressions.to_vec(),
        variables: req.variables.cloned(),
        parameters: req.parameters.clone(),
        shapes: req.shapes.cloned(),
        dim_size: req.dim_size,
    };
    let (config, budget_w, scope_w) = (config.clone(), budget.clone(), scope.clone());
    let built = service
        .workers
        .run(move || {
            let req = Request {
                kind: owned.kind,
                expressions: &owned.expressions,
                variables: owned.variables.as_ref(),
                parameters: &owned.parameters,
                shapes: owned.shapes.as_ref(),
                points: &[],
                dim_size: owned.dim_size,
            };
            build::build(&req, &scope_w, pool, values, &config, &budget_w)
        })
        .await?;
    let built = Arc::new(built);
    service.tensors.insert(key, built.clone());
    Ok((built, scope, false))
}

struct OwnedRequest {
    kind: TKind,
    expressions: Vec<String>,
    variables: Option<Variables>,
    parameters: Map<String, Value>,
    shapes: Option<Map<String, Value>>,
    dim_size: Option<u32>,
}

/// `/v1/gradient`, `/v1/jacobian`, `/v1/hessian` with vectors or matrices: the answer as
/// JSON (`batch`: plural fields), and whether the program was cached.
pub async fn compute(
    service: &Arc<Service>,
    req: Request<'_>,
    batch: bool,
    symbolic: bool,
    budget: Budget,
) -> Result<(Value, bool), ApiError> {
    let (program, scope, hit) = program(service, &req, &budget).await?;
    let total = program.answer_len().saturating_mul(req.points.len());
    if total > service.config.max_answer_values {
        return Err(ApiError::limit_exceeded(
            "max_answer_values",
            format!(
                "the answer would hold {total} numbers, over the limit of {}",
                service.config.max_answer_values
            ),
        ));
    }
    // Every point's values, checked against the shapes.
    let mut inputs: Vec<Vec<Option<Dense>>> = Vec::with_capacity(req.points.len());
    for (i, p) in req.points.iter().enumerate() {
        inputs.push(point_inputs(&program, &scope, p, batch.then_some(i))?);
    }
    let program_w = program.clone();
    let answers = service
        .workers
        .run(move || {
            let mut out = Vec::with_capacity(inputs.len());
            for input in &inputs {
                out.push(answer::answer(&program_w, input, &budget)?);
            }
            Ok(out)
        })
        .await?;
    // Printing grows with the answer: on a worker.
    let config = service.config.clone();
    let program_w = program.clone();
    let body = service
        .workers
        .run(move || {
            let texts = if symbolic {
                Some(symbolic_answer(&program_w, false, &config)?)
            } else {
                None
            };
            Ok(write_answer(&program_w, answers, batch, texts))
        })
        .await?;
    Ok((body, hit))
}

/// `/v1/differentiate` with shapes: the expression and its derivatives in matrix
/// notation, as text and LaTeX.
pub async fn differentiate(
    service: &Arc<Service>,
    req: Request<'_>,
    budget: Budget,
) -> Result<(Value, bool), ApiError> {
    let (program, _, hit) = program(service, &req, &budget).await?;
    let config = service.config.clone();
    let several = req.expressions.len() > 1;
    let program_w = program.clone();
    let (text, latex) = service
        .workers
        .run(move || {
            Ok((
                symbolic_answer(&program_w, false, &config)?,
                symbolic_answer(&program_w, true, &config)?,
            ))
        })
        .await?;
    let fields = |v: Value| -> Map<String, Value> {
        let Value::Object(mut m) = v else {
            return Map::new();
        };
        let mut out = Map::new();
        match m.remove("value") {
            Some(Value::Array(vs)) if several => {
                out.insert("expressions".into(), Value::Array(vs));
            }
            Some(Value::Array(mut vs)) => {
                out.insert("expression".into(), vs.pop().unwrap_or(Value::Null));
            }
            Some(v) => {
                out.insert("expression".into(), v);
            }
            None => {}
        }
        if let Some(g) = m.remove("gradient") {
            out.insert("gradient".into(), g);
        }
        if let Some(Value::Array(mut rows)) = m.remove("jacobian") {
            // One vector expression: its Jacobian per variable, in matrix notation.
            if several {
                out.insert("jacobian".into(), Value::Array(rows));
            } else {
                out.insert("jacobian".into(), rows.pop().unwrap_or(Value::Null));
            }
        }
        if let Some(h) = m.remove("hessian") {
            out.insert("hessian".into(), h);
        }
        out
    };
    let mut body = Map::new();
    body.insert("variables".into(), Value::from(program.variable_names()));
    let shapes: Map<String, Value> = program
        .variables
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                Value::from(program.pool.shape_name(s.shape)),
            )
        })
        .collect();
    body.extend(fields(text));
    body.insert("latex".into(), Value::Object(fields(latex)));
    body.insert("shapes".into(), Value::Object(shapes));
    Ok((Value::Object(body), hit))
}

/// The `SEED` name is not a name of the language.
const _: () = assert!(SEED.as_bytes()[0] == b'#');
