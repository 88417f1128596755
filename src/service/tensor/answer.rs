//! Evaluating a tensor program at a point and writing its answer with the shape of the
//! question, numbers or symbolic texts.

use serde_json::{Map, Value};

use crate::config::Config;
use crate::engine::budget::Budget;
use crate::engine::tensor::diff::Jacobian;
use crate::engine::tensor::eval::Dense;
use crate::engine::tensor::{self, print, Dim, TId, TPool, TShape};
use crate::service::error::ApiError;
use crate::service::point::Point;
use crate::service::points::number;

use super::scope::{describe, point_values, shape_of_dense};
use super::*;

/// The inputs of one point, by symbol index of the program's pool.
pub(super) fn point_inputs(
    program: &TensorProgram,
    scope: &Scope,
    p: &Point,
    i: Option<usize>,
) -> Result<Vec<Option<Dense>>, ApiError> {
    let values = point_values(p, i)?;
    let at = i.map_or(String::new(), |i| format!(" in point {i}"));
    let pool = &program.pool;
    let mut inputs: Vec<Option<Dense>> = pool.symbols().map(|_| None).collect();
    for (name, d, rank) in values {
        let Some(v) = program.variables.iter().find(|s| s.name == name) else {
            return Err(ApiError::invalid_request(format!(
                "the point has a value for {name:?}{at}, which is not a variable"
            )));
        };
        if v.rank != rank || v.shape != shape_of_dense(&d) {
            return Err(ApiError::invalid_request(format!(
                "the value of {name:?}{at} is {}, but its shape is {}",
                describe(&d, rank),
                pool.shape_name(v.shape)
            )));
        }
        if let Some(node) = pool.symbol_node(&name) {
            if let Some(k) = symbol_index(pool, node) {
                inputs[k] = Some(d);
            }
        }
    }
    for v in &program.variables {
        let Some(node) = pool.symbol_node(&v.name) else {
            continue;
        };
        if let Some(k) = symbol_index(pool, node) {
            if inputs[k].is_none() {
                return Err(ApiError::missing_value(format!(
                    "the point has no value for variable {:?}{at}",
                    v.name
                )));
            }
        }
    }
    for (name, d) in &scope.parameter_values {
        if let Some(node) = pool.symbol_node(name) {
            if let Some(k) = symbol_index(pool, node) {
                inputs[k] = Some(d.clone());
            }
        }
    }
    let _ = &scope.sizes;
    Ok(inputs)
}

pub(super) fn symbol_index(pool: &TPool, node: TId) -> Option<usize> {
    match pool.node(node) {
        tensor::TNode::Sym(k) => Some(*k as usize),
        _ => None,
    }
}

/// One point's numbers: values, then gradient, Jacobian rows or Hessian blocks, each a
/// dense value in the layout of its answer.
pub(super) struct Answer {
    values: Vec<Dense>,
    gradient: Vec<Dense>,
    /// Per expression, per variable: rows (outputs) of the variable's shape.
    jacobian: Vec<Vec<Vec<Dense>>>,
    /// Per variable pair: the block as one dense value (rows: entries of the first).
    hessian: Vec<Vec<Dense>>,
}

pub(super) fn answer(
    program: &TensorProgram,
    input: &[Option<Dense>],
    budget: &Budget,
) -> Result<Answer, ApiError> {
    let pool = &program.pool;
    let refs: Vec<Option<&Dense>> = input.iter().map(Option::as_ref).collect();
    let plan = program
        .plan
        .as_ref()
        .ok_or_else(|| ApiError::internal("a tensor program without a plan"))?;
    let nodes = plan.eval(pool, &refs, budget).map_err(|_| {
        ApiError::limit_exceeded("request_timeout_ms", "the evaluation ran out of time")
    })?;
    let roots = program.node_roots();
    let node_value = |id: TId| -> Dense {
        roots
            .iter()
            .position(|&r| r == id)
            .map_or_else(|| Dense::scalar(f64::NAN), |k| nodes[k].clone())
    };
    // The rows of a Jacobian entry: one per output component, each of `x`'s shape.
    let rows = |j: &Jacobian, outputs: usize, x: &Symbol| -> Result<Vec<Dense>, ApiError> {
        let (xr, xc) = dims_of(x.shape);
        match *j {
            Jacobian::Matrix(m) => {
                let m = node_value(m);
                Ok((0..outputs)
                    .map(|i| Dense {
                        rows: xr,
                        cols: xc,
                        data: m
                            .data
                            .get(i * m.cols..(i + 1) * m.cols)
                            .map_or_else(|| vec![f64::NAN; xr * xc], <[f64]>::to_vec),
                    })
                    .collect())
            }
            Jacobian::Product { seed, product } => {
                let plan = program
                    .products
                    .iter()
                    .find(|(p, _)| *p == product)
                    .map(|(_, plan)| plan)
                    .ok_or_else(|| ApiError::internal("a product without a plan"))?;
                let k = symbol_index(pool, seed).unwrap_or(usize::MAX);
                let (sr, sc) = dims_of(pool.shape(seed));
                let mut out = Vec::with_capacity(outputs);
                for i in 0..outputs {
                    let mut unit = Dense {
                        rows: sr,
                        cols: sc,
                        data: vec![0.0; sr * sc],
                    };
                    if let Some(x) = unit.data.get_mut(i) {
                        *x = 1.0;
                    }
                    let mut refs = refs.clone();
                    if k < refs.len() {
                        refs[k] = Some(&unit);
                    }
                    let v = plan.eval(pool, &refs, budget).map_err(|_| {
                        ApiError::limit_exceeded(
                            "request_timeout_ms",
                            "the evaluation ran out of time",
                        )
                    })?;
                    out.push(
                        v.into_iter()
                            .next()
                            .unwrap_or_else(|| Dense::scalar(f64::NAN)),
                    );
                }
                Ok(out)
            }
        }
    };
    let values: Vec<Dense> = program.values.iter().map(|v| node_value(v.0)).collect();
    let gradient = program
        .gradient
        .iter()
        .map(|&g| widen(node_value(g), program, g))
        .collect();
    let mut jacobian = Vec::with_capacity(program.jacobian.len());
    for (e, row) in program.jacobian.iter().enumerate() {
        let outputs = values[e].data.len();
        let mut per_var = Vec::with_capacity(row.len());
        for (j, x) in row.iter().zip(&program.variables) {
            per_var.push(rows(j, outputs, x)?);
        }
        jacobian.push(per_var);
    }
    let mut hessian = Vec::with_capacity(program.hessian.len());
    for (a, row) in program.hessian.iter().enumerate() {
        let sa = &program.variables[a];
        let mut blocks = Vec::with_capacity(row.len());
        for (b, j) in row.iter().enumerate() {
            let sb = &program.variables[b];
            let (na, nb) = (sa.shape.len().unwrap_or(0), sb.shape.len().unwrap_or(0));
            let block = match *j {
                Jacobian::Matrix(m) => {
                    let mut v = node_value(m);
                    if v.data.len() == 1 && na * nb != 1 {
                        v = Dense {
                            rows: na,
                            cols: nb,
                            data: vec![v.data[0]; na * nb],
                        };
                    }
                    v
                }
                Jacobian::Product { .. } => {
                    let rs = rows(j, na, sb)?;
                    Dense {
                        rows: na,
                        cols: nb,
                        data: rs.into_iter().flat_map(|d| d.data).collect(),
                    }
                }
            };
            // A block of one variable is symmetric; rounding in a product's kernel is
            // not, so each pair of mirrored entries is made one (their mean).
            let block = if a == b { symmetrised(block) } else { block };
            blocks.push(block);
        }
        hessian.push(blocks);
    }
    Ok(Answer {
        values,
        gradient,
        jacobian,
        hessian,
    })
}

/// `(H + H')/2` of a square block.
fn symmetrised(mut h: Dense) -> Dense {
    let n = h.rows;
    if h.cols == n {
        for i in 0..n {
            for j in 0..i {
                let m = 0.5 * (h.data[i * n + j] + h.data[j * n + i]);
                h.data[i * n + j] = m;
                h.data[j * n + i] = m;
            }
        }
    }
    h
}

/// A gradient of the variable's shape (a 0 that stands for zeros is spread).
pub(super) fn widen(d: Dense, program: &TensorProgram, g: TId) -> Dense {
    let (r, c) = dims_of(program.pool.shape(g));
    if d.data.len() == 1 && r * c != 1 {
        return Dense {
            rows: r,
            cols: c,
            data: vec![d.data[0]; r * c],
        };
    }
    d
}

pub(super) fn dims_of(s: TShape) -> (usize, usize) {
    match (s.rows, s.cols) {
        (Dim::Known(r), Dim::Known(c)) => (r as usize, c as usize),
        _ => (0, 0),
    }
}

/// A dense value as JSON of `rank`: a number, an array, or an array of rows.
pub(crate) fn json_of(d: &Dense, rank: u8) -> Value {
    match rank {
        0 => number(d.data.first().copied().unwrap_or(f64::NAN)),
        1 => Value::Array(d.data.iter().map(|&x| number(x)).collect()),
        _ => Value::Array(
            d.data
                .chunks(d.cols.max(1))
                .map(|row| Value::Array(row.iter().map(|&x| number(x)).collect()))
                .collect(),
        ),
    }
}

pub(super) fn write_answer(
    program: &TensorProgram,
    answers: Vec<Answer>,
    batch: bool,
    texts: Option<Value>,
) -> Value {
    let vars = &program.variables;
    let mut per_point: Vec<Map<String, Value>> = Vec::with_capacity(answers.len());
    for a in &answers {
        let mut m = Map::new();
        match program.kind {
            TKind::Jacobian => {
                let mut flat = Vec::new();
                for v in &a.values {
                    flat.extend(v.data.iter().map(|&x| number(x)));
                }
                m.insert("value".into(), Value::Array(flat));
                let mut rows = Vec::new();
                for per_var in &a.jacobian {
                    let outputs = per_var.first().map_or(0, Vec::len);
                    for i in 0..outputs {
                        let mut row = Map::new();
                        for (x, rs) in vars.iter().zip(per_var) {
                            row.insert(x.name.clone(), json_of(&rs[i], x.rank));
                        }
                        rows.push(Value::Object(row));
                    }
                }
                m.insert("jacobian".into(), Value::Array(rows));
            }
            _ => {
                let (v, rank) = (&a.values[0], program.values[0].1);
                m.insert("value".into(), json_of(v, rank));
                let g: Map<String, Value> = vars
                    .iter()
                    .zip(&a.gradient)
                    .map(|(x, d)| (x.name.clone(), json_of(d, x.rank)))
                    .collect();
                m.insert("gradient".into(), Value::Object(g));
                if program.kind == TKind::Hessian {
                    let mut h = Map::new();
                    for (x, row) in vars.iter().zip(&a.hessian) {
                        let mut r = Map::new();
                        for (y, block) in vars.iter().zip(row) {
                            r.insert(y.name.clone(), json_of(block, hessian_rank(x.rank, y.rank)));
                        }
                        h.insert(x.name.clone(), Value::Object(r));
                    }
                    m.insert("hessian".into(), Value::Object(h));
                }
            }
        }
        per_point.push(m);
    }
    let mut out = Map::new();
    out.insert("variables".into(), Value::from(program.variable_names()));
    if batch {
        let fields: &[(&str, &str)] = match program.kind {
            TKind::Jacobian => &[("value", "values"), ("jacobian", "jacobians")],
            TKind::Hessian => &[
                ("value", "values"),
                ("gradient", "gradients"),
                ("hessian", "hessians"),
            ],
            _ => &[("value", "values"), ("gradient", "gradients")],
        };
        for (one, many) in fields {
            let items: Vec<Value> = per_point
                .iter_mut()
                .map(|m| m.remove(*one).unwrap_or(Value::Null))
                .collect();
            out.insert((*many).into(), Value::Array(items));
        }
    } else if let Some(m) = per_point.pop() {
        out.extend(m);
    }
    if let Some(t) = texts {
        out.insert("symbolic".into(), t);
    }
    Value::Object(out)
}

/// The rank of a Hessian block: the shape of the first variable followed by the second.
pub(super) fn hessian_rank(a: u8, b: u8) -> u8 {
    a + b
}

/// The symbolic answer: texts (or LaTeX) of the values and derivatives.
pub(super) fn symbolic_answer(
    program: &TensorProgram,
    latex: bool,
    config: &Config,
) -> Result<Value, ApiError> {
    let pool = &program.pool;
    let mut roots: Vec<TId> = program.values.iter().map(|v| v.0).collect();
    roots.extend(&program.gradient);
    let not_written = || {
        ApiError::invalid_request(
            "this derivative has no matrix form nabla can write (a Jacobian of a matrix, or with \
             respect to a matrix); /v1/jacobian evaluates it",
        )
    };
    for j in program.jacobian.iter().chain(&program.hessian).flatten() {
        match *j {
            Jacobian::Matrix(m) => roots.push(m),
            Jacobian::Product { .. } => return Err(not_written()),
        }
    }
    let limit = (config.max_symbolic_nodes as usize).saturating_mul(16);
    let texts = print::print(pool, &roots, latex, limit)
        .map_err(|e| ApiError::limit_exceeded("max_symbolic_nodes", e.to_string()))?;
    let mut it = texts.into_iter();
    let mut m = Map::new();
    let vals: Vec<String> = it.by_ref().take(program.values.len()).collect();
    let vars = &program.variables;
    if program.jacobian.is_empty() {
        m.insert("value".into(), Value::from(vals[0].clone()));
        let g: Map<String, Value> = vars
            .iter()
            .map(|x| (x.name.clone(), Value::from(it.next().unwrap_or_default())))
            .collect();
        m.insert("gradient".into(), Value::Object(g));
    } else {
        m.insert("value".into(), Value::from(vals));
        let rows: Vec<Value> = program
            .jacobian
            .iter()
            .map(|row| {
                Value::Object(
                    vars.iter()
                        .zip(row)
                        .map(|(x, _)| (x.name.clone(), Value::from(it.next().unwrap_or_default())))
                        .collect(),
                )
            })
            .collect();
        m.insert("jacobian".into(), Value::Array(rows));
    }
    if !program.hessian.is_empty() {
        let mut h = Map::new();
        for x in vars {
            let r: Map<String, Value> = vars
                .iter()
                .map(|y| (y.name.clone(), Value::from(it.next().unwrap_or_default())))
                .collect();
            h.insert(x.name.clone(), Value::Object(r));
        }
        m.insert("hessian".into(), Value::Object(h));
    }
    Ok(Value::Object(m))
}
