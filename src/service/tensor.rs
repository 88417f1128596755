//! Requests with vectors and matrices: shapes read from `variables` (an object of shapes),
//! from the point and from `parameters`; the tensor engine's program built (and cached)
//! per expression and shapes; values, gradients, Jacobians and Hessians evaluated and
//! written with the shape of the question.
//!
//! A request comes here when some variable or parameter is not a scalar, or when
//! `variables` is given as an object of shapes; every other request takes the scalar
//! path unchanged.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::point::{Coord, Point};
use super::points::{number, read_number};
use super::Service;
use crate::config::Config;
use crate::engine::budget::Budget;
use crate::engine::parse::{parse, AstKind};
use crate::engine::tensor::diff::{self, DiffError, Jacobian, SEED};
use crate::engine::tensor::eval::{Dense, Plan, PlanError, PlanLimits};
use crate::engine::tensor::{self, print, Dim, ShapeError, TId, TPool, TShape};
use crate::engine::ExprError;

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

/// A dimension as a request writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum DimSpec {
    Size(u32),
    Name(String),
}

/// The largest dimension a request may declare.
const MAX_DIM: u64 = 1 << 24;

/// A shape as `[]`, `[n]` or `[r, c]`; each dimension a positive integer or a name.
fn read_shape(name: &str, v: &Value) -> Result<Vec<DimSpec>, ApiError> {
    let bad = || {
        ApiError::invalid_request(format!(
            "the shape of {name:?} is [] (a scalar), [n] (a vector) or [rows, cols] (a matrix), \
             each dimension a positive integer or a name; not {v}"
        ))
    };
    let dims = v.as_array().ok_or_else(bad)?;
    if dims.len() > 2 {
        return Err(bad());
    }
    dims.iter()
        .map(|d| match d {
            Value::Number(n) => match n.as_u64() {
                Some(k) if (1..=MAX_DIM).contains(&k) => Ok(DimSpec::Size(k as u32)),
                _ => Err(bad()),
            },
            Value::String(s) if is_identifier(s) => Ok(DimSpec::Name(s.clone())),
            _ => Err(bad()),
        })
        .collect()
}

fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A value of a request: a number, an array (a column vector) or an array of
/// equal-length arrays (a matrix, row by row), with its rank (0, 1 or 2).
fn read_value(name: &str, what: &str, v: &Value) -> Result<(Dense, u8), ApiError> {
    if let Some(x) = read_number(v) {
        return Ok((Dense::scalar(x), 0));
    }
    let not_number = |v: &Value| {
        ApiError::invalid_request(format!("{what} {name:?} holds {v}, which is not a number"))
    };
    let Some(items) = v.as_array() else {
        return Err(if what == "the point's value of" {
            ApiError::missing_value(format!("the value of {name:?} is not a number: {v}"))
        } else {
            not_number(v)
        });
    };
    if items.is_empty() {
        return Err(ApiError::invalid_request(format!(
            "{what} {name:?} is an empty array"
        )));
    }
    if items.iter().all(|x| !x.is_array()) {
        let data = items
            .iter()
            .map(|x| read_number(x).ok_or_else(|| not_number(x)))
            .collect::<Result<Vec<f64>, _>>()?;
        return Ok((
            Dense {
                rows: data.len(),
                cols: 1,
                data,
            },
            1,
        ));
    }
    let mut data = Vec::new();
    let mut cols = None;
    for (i, row) in items.iter().enumerate() {
        let Some(row) = row.as_array() else {
            return Err(ApiError::invalid_request(format!(
                "{what} {name:?} mixes numbers and rows: a matrix is an array of rows"
            )));
        };
        match cols {
            None => cols = Some(row.len()),
            Some(c) if c != row.len() => {
                return Err(ApiError::invalid_request(format!(
                    "{what} {name:?} is ragged: row {} has {} entries, row 1 has {c}",
                    i + 1,
                    row.len()
                )))
            }
            _ => {}
        }
        for x in row {
            data.push(read_number(x).ok_or_else(|| not_number(x))?);
        }
    }
    let cols = cols.unwrap_or(0);
    if cols == 0 {
        return Err(ApiError::invalid_request(format!(
            "{what} {name:?} has empty rows"
        )));
    }
    Ok((
        Dense {
            rows: items.len(),
            cols,
            data,
        },
        2,
    ))
}

/// The rank-and-size description of a value, for messages: `[3]`, `[2, 3]`.
fn describe(d: &Dense, rank: u8) -> String {
    match rank {
        0 => "a scalar ([])".into(),
        1 => format!("a vector of {} ([{}])", d.rows, d.rows),
        _ => format!("a {}x{} matrix ([{}, {}])", d.rows, d.cols, d.rows, d.cols),
    }
}

/// A variable or parameter of a request: its name, rank and shape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Symbol {
    /// Its name.
    pub(crate) name: String,
    /// 0 (a scalar), 1 (a vector) or 2 (a matrix), as the request wrote it.
    pub(crate) rank: u8,
    /// Its shape.
    pub(crate) shape: TShape,
}

/// A compiled tensor program: the pool, the symbolic derivatives, and the plans that
/// evaluate them. Cached by the request's expressions and shapes.
pub struct TensorProgram {
    pub(crate) pool: TPool,
    kind: TKind,
    pub(crate) variables: Vec<Symbol>,
    /// Parameters and declared constants, with their shapes.
    pub(crate) constants: Vec<Symbol>,
    /// Each expression's node and rank.
    pub(crate) values: Vec<(TId, u8)>,
    /// Gradient (and Hessian) kinds: the gradient of expression 0, per variable.
    pub(crate) gradient: Vec<TId>,
    /// Jacobian kind: per expression, per variable.
    jacobian: Vec<Vec<Jacobian>>,
    /// Hessian kind: per variable pair.
    hessian: Vec<Vec<Jacobian>>,
    /// The plan of every node answer (values, gradients, Jacobian and Hessian matrices);
    /// `None` for symbolic shapes.
    plan: Option<Plan>,
    /// The plans of vector-Jacobian products, by product node.
    products: Vec<(TId, Plan)>,
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

/// The symbols of a request: variables (in the answer's order) and parameters, with
/// their shapes, and the parameters' values.
pub(crate) struct Scope {
    variables: Vec<Symbol>,
    constants: Vec<Symbol>,
    pub(crate) parameter_values: Vec<(String, Dense)>,
    /// Named dimensions as sizes, once a point fixes them (not for symbolic answers).
    sizes: Vec<(String, u32)>,
}

/// The free symbols of the expressions as written, sorted by name (`pi` and `e` are
/// constants).
fn free_symbols(expressions: &[String], config: &Config) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = Vec::new();
    for (i, src) in expressions.iter().enumerate() {
        let ast = parse(src, &config.parse_options())
            .map_err(|e| ApiError::expression(&ExprError::Parse(e), index(expressions, i)))?;
        for node in &ast.nodes {
            if node.kind == AstKind::Ident {
                let name = ast.name(node);
                if name != "pi" && name != "e" && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

fn index(expressions: &[String], i: usize) -> Option<usize> {
    (expressions.len() > 1).then_some(i)
}

fn shape_of_dense(d: &Dense) -> TShape {
    TShape::new(Dim::Known(d.rows as u32), Dim::Known(d.cols as u32))
}

/// Resolves a declared shape: known sizes, names bound to sizes (`sizes`), or left as
/// names in `pool` (symbolic answers).
fn resolve(
    dims: &[DimSpec],
    sizes: &[(String, u32)],
    pool: &mut TPool,
    symbolic: bool,
    default: Option<u32>,
) -> Option<TShape> {
    let mut out = [Dim::Known(1), Dim::Known(1)];
    for (k, d) in dims.iter().enumerate() {
        out[k] = match d {
            DimSpec::Size(n) => Dim::Known(*n),
            DimSpec::Name(n) if symbolic => pool.dim(n),
            DimSpec::Name(n) => Dim::Known(match sizes.iter().find(|(m, _)| m == n) {
                Some((_, k)) => *k,
                None => default?,
            }),
        };
    }
    Some(TShape::new(out[0], out[1]))
}

/// Binds the named dimensions of `dims` to the sizes of `value`, or says where they
/// disagree.
fn bind(
    name: &str,
    dims: &[DimSpec],
    value: &Dense,
    rank: u8,
    sizes: &mut Vec<(String, u32)>,
) -> Result<(), ApiError> {
    let actual = [value.rows as u32, value.cols as u32];
    let declared = dims.len() as u8;
    let mismatch = || {
        let want: Vec<String> = dims
            .iter()
            .map(|d| match d {
                DimSpec::Size(n) => n.to_string(),
                DimSpec::Name(n) => n.clone(),
            })
            .collect();
        ApiError::invalid_request(format!(
            "the value of {name:?} is {}, but its declared shape is [{}]",
            describe(value, rank),
            want.join(", ")
        ))
    };
    if declared != rank {
        return Err(mismatch());
    }
    for (k, d) in dims.iter().enumerate() {
        match d {
            DimSpec::Size(n) if *n != actual[k] => return Err(mismatch()),
            DimSpec::Size(_) => {}
            DimSpec::Name(n) => match sizes.iter().find(|(m, _)| m == n) {
                Some((_, s)) if *s != actual[k] => {
                    return Err(ApiError::invalid_request(format!(
                        "the value of {name:?} is {}, but the dimension {n:?} is {s} elsewhere",
                        describe(value, rank)
                    )))
                }
                Some(_) => {}
                None => sizes.push((n.clone(), actual[k])),
            },
        }
    }
    Ok(())
}

/// A point's values by name (an object; anything else is an error here).
fn point_values(p: &Point, i: Option<usize>) -> Result<Vec<(String, Dense, u8)>, ApiError> {
    let at = i.map_or(String::new(), |i| format!(" (point {i})"));
    let Point::Object(entries) = p else {
        return Err(ApiError::invalid_request(format!(
            "with vector or matrix variables, a point is an object keyed by variable{at}"
        )));
    };
    let mut out: Vec<(String, Dense, u8)> = Vec::with_capacity(entries.len());
    for (k, c) in entries {
        let name = k.as_str().to_string();
        let (d, rank) = match c {
            Coord::Num(x) => (Dense::scalar(*x), 0),
            Coord::Bad(v) => read_value(&name, "the point's value of", v)?,
        };
        match out.iter_mut().find(|(n, _, _)| *n == name) {
            Some(slot) => *slot = (name, d, rank),
            None => out.push((name, d, rank)),
        }
    }
    Ok(out)
}

/// The scope of a request: its variables' and parameters' shapes.
fn scope(req: &Request<'_>, config: &Config, pool: &mut TPool) -> Result<Scope, ApiError> {
    let symbolic = matches!(req.kind, TKind::Differentiate(_));
    let mut sizes: Vec<(String, u32)> = Vec::new();
    // Parameters: values (shapes from them), or for `/v1/differentiate` anything.
    let mut constants = Vec::new();
    let mut parameter_values = Vec::new();
    for (name, v) in req.parameters {
        if symbolic {
            // Values do not matter here, but their shapes do (and they must be values).
            let (d, rank) = read_value(name, "parameter", v)?;
            constants.push(Symbol {
                name: name.clone(),
                rank,
                shape: shape_of_dense(&d),
            });
            continue;
        }
        let (d, rank) = read_value(name, "parameter", v)?;
        constants.push(Symbol {
            name: name.clone(),
            rank,
            shape: shape_of_dense(&d),
        });
        parameter_values.push((name.clone(), d));
    }
    if let Some(shapes) = req.shapes {
        for (name, v) in shapes {
            let dims = read_shape(name, v)?;
            let shape = resolve(&dims, &sizes, pool, symbolic, req.dim_size).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "the shape of {name:?} names a dimension that no value fixes"
                ))
            })?;
            let sym = Symbol {
                name: name.clone(),
                rank: dims.len() as u8,
                shape,
            };
            match constants.iter_mut().find(|c| c.name == *name) {
                Some(c) => *c = sym,
                None => constants.push(sym),
            }
        }
    }
    let first = match req.points.first() {
        Some(p) => Some(point_values(p, (req.points.len() > 1).then_some(0))?),
        None => None,
    };
    let value_of = |name: &str| {
        first
            .as_ref()
            .and_then(|vs| vs.iter().find(|(n, _, _)| n == name))
    };
    let mut variables = Vec::new();
    match req.variables {
        Some(Variables::Shapes(declared)) => {
            let mut parsed = Vec::with_capacity(declared.len());
            for (name, v) in declared {
                parsed.push((name, read_shape(name, v)?));
            }
            // Named dimensions are fixed by the first point's values.
            if !symbolic {
                for (name, dims) in &parsed {
                    if let Some((_, d, rank)) = value_of(name) {
                        bind(name, dims, d, *rank, &mut sizes)?;
                    }
                }
            }
            for (name, dims) in parsed {
                let shape =
                    resolve(&dims, &sizes, pool, symbolic, req.dim_size).ok_or_else(|| {
                        ApiError::missing_value(format!("the point has no value for {name:?}"))
                    })?;
                variables.push(Symbol {
                    name: name.clone(),
                    rank: dims.len() as u8,
                    shape,
                });
            }
        }
        Some(Variables::Names(names)) => {
            for name in names {
                variables.push(symbol_from_point(name, value_of(name), symbolic)?);
            }
        }
        None => {
            for name in free_symbols(req.expressions, config)? {
                if constants.iter().any(|c| c.name == name) {
                    continue;
                }
                variables.push(symbol_from_point(&name, value_of(&name), symbolic)?);
            }
        }
    }
    // What sampling or evaluation will hold, bounded before anything is allocated.
    let entries: u128 = variables
        .iter()
        .chain(&constants)
        .map(|s| s.shape.len().unwrap_or(0) as u128)
        .sum();
    if entries > MAX_ENTRIES {
        return Err(ApiError::limit_exceeded(
            "max_matrix_work",
            format!("the variables and parameters would hold {entries} numbers, over the limit of {MAX_ENTRIES}"),
        ));
    }
    for (i, v) in variables.iter().enumerate() {
        if variables[..i].iter().any(|w| w.name == v.name) {
            return Err(ApiError::invalid_request(format!(
                "variable {:?} is listed twice",
                v.name
            )));
        }
    }
    Ok(Scope {
        variables,
        constants,
        parameter_values,
        sizes,
    })
}

fn symbol_from_point(
    name: &str,
    value: Option<&(String, Dense, u8)>,
    symbolic: bool,
) -> Result<Symbol, ApiError> {
    match value {
        Some((_, d, rank)) => Ok(Symbol {
            name: name.to_string(),
            rank: *rank,
            shape: shape_of_dense(d),
        }),
        None if symbolic => Ok(Symbol {
            name: name.to_string(),
            rank: 0,
            shape: TShape::SCALAR,
        }),
        None => Err(ApiError::missing_value(format!(
            "the point has no value for variable {name:?}"
        ))),
    }
}

/// The cache key: what the program depends on (the expressions, the kind, every
/// symbol's name and shape), not the values.
fn key(req: &Request<'_>, scope: &Scope, pool: &TPool, values: &[(TId, u8)]) -> String {
    // The canonical structure, not the spelling: `x'*A*x` and `(A*x)'*x` are one entry.
    let mut k = format!("{:?}|", req.kind);
    for &(id, _) in values {
        let _ = write!(k, "{:016x},", pool.hash(id));
    }
    for (tag, syms) in [("v", &scope.variables), ("c", &scope.constants)] {
        for s in syms {
            let _ = write!(
                k,
                "|{tag}{}:{}:{}",
                s.name,
                s.rank,
                pool.shape_name(s.shape)
            );
        }
    }
    k
}

fn shape_error(e: ShapeError, i: Option<usize>, config: &Config) -> ApiError {
    let (code, limit, detail) = match &e {
        ShapeError::Mismatch { message, .. } => ("shape_mismatch", None, message.clone()),
        ShapeError::UnknownVariable { .. } => ("unknown_variable", None, e.to_string()),
        ShapeError::TooLarge => (
            "limit_exceeded",
            Some("max_nodes"),
            format!(
                "the expression grew past the limit of {} nodes",
                config.max_nodes
            ),
        ),
    };
    let mut err = match code {
        "shape_mismatch" => ApiError::shape_mismatch(detail),
        "unknown_variable" => ApiError::unknown_variable(detail),
        _ => ApiError::limit_exceeded(limit.unwrap_or("max_nodes"), detail),
    };
    err.span = e.span();
    err.expression_index = i;
    err
}

fn diff_error(e: DiffError, config: &Config) -> ApiError {
    match e {
        DiffError::Exhausted(x) => ApiError::exhausted(x, config),
        DiffError::Shape(m) => ApiError::internal(format!("differentiation: {m}")),
    }
}

fn plan_error(e: PlanError) -> ApiError {
    match e {
        PlanError::Symbolic => ApiError::invalid_request(e.to_string()),
        PlanError::TooLarge { .. } => ApiError::limit_exceeded("max_matrix_work", e.to_string()),
        PlanError::TooMuchWork { .. } => ApiError::limit_exceeded("max_matrix_work", e.to_string()),
    }
}

/// The most numbers the values of one tensor program may hold together.
const MAX_ENTRIES: u128 = 1 << 25;
/// The most arithmetic operations one evaluation may take (a few seconds).
const MAX_FLOPS: u128 = 20_000_000_000;

/// Builds the program of `req` (lowering, differentiation, plans) under `budget`.
/// Lowers the expressions of `req` into `pool` with the scope's shapes: each root and its
/// rank. Linear in the expressions (whose size is limited), so it runs before the cache
/// is asked, and the cache key is the canonical structure.
fn lower_all(
    req: &Request<'_>,
    scope: &Scope,
    pool: &mut TPool,
    config: &Config,
) -> Result<Vec<(TId, u8)>, ApiError> {
    let symbolic = matches!(req.kind, TKind::Differentiate(_));
    let shape_of = |name: &str| {
        scope
            .variables
            .iter()
            .chain(&scope.constants)
            .find(|s| s.name == name)
            .map(|s| s.shape)
    };
    let mut values = Vec::with_capacity(req.expressions.len());
    for (i, src) in req.expressions.iter().enumerate() {
        let at = index(req.expressions, i);
        let ast = parse(src, &config.parse_options())
            .map_err(|e| ApiError::expression(&ExprError::Parse(e), at))?;
        let id = tensor::lower(&ast, pool, &shape_of, !symbolic)
            .map_err(|e| shape_error(e, at, config))?;
        let s = pool.shape(id);
        let rank = if s.is_scalar() {
            0
        } else if s.is_column() {
            1
        } else {
            2
        };
        values.push((id, rank));
    }
    Ok(values)
}

/// Builds the program of `req` from its lowered `values` (differentiation, plans) under
/// `budget`.
fn build(
    req: &Request<'_>,
    scope: &Scope,
    mut pool: TPool,
    values: Vec<(TId, u8)>,
    config: &Config,
    budget: &Budget,
) -> Result<TensorProgram, ApiError> {
    let symbolic = matches!(req.kind, TKind::Differentiate(_));
    let vars: Vec<TId> = scope
        .variables
        .iter()
        .map(|s| pool.sym(&s.name, s.shape))
        .collect();
    let d = |e: DiffError| diff_error(e, config);
    let needs_scalar = |pool: &TPool, (id, _): (TId, u8), what: &str| -> Result<(), ApiError> {
        if pool.shape(id).is_scalar() {
            return Ok(());
        }
        let mut e = ApiError::shape_mismatch(format!(
            "{what} needs a scalar expression, and this one is a {}; for the derivatives of \
             each component use /v1/jacobian",
            pool.shape_name(pool.shape(id))
        ));
        e.span = Some(crate::engine::parse::Span::new(0, req.expressions[0].len()));
        Err(e)
    };
    let mut gradient = Vec::new();
    let mut jacobian = Vec::new();
    let mut hessian = Vec::new();
    let order = match req.kind {
        TKind::Differentiate(o) => o,
        TKind::Hessian => 2,
        _ => 1,
    };
    let as_jacobian = req.kind == TKind::Jacobian
        || (symbolic && (values.len() > 1 || !pool.shape(values[0].0).is_scalar()));
    if as_jacobian {
        for &(e, _) in &values {
            let mut row = Vec::with_capacity(vars.len());
            for &x in &vars {
                row.push(diff::jacobian(&mut pool, e, x, budget).map_err(d)?);
            }
            jacobian.push(row);
        }
    } else if req.kind != TKind::Value {
        needs_scalar(
            &pool,
            values[0],
            if order == 2 {
                "a Hessian"
            } else {
                "a gradient"
            },
        )?;
        gradient = diff::gradient(&mut pool, values[0].0, &vars, budget).map_err(d)?;
    }
    if order == 2 {
        if as_jacobian {
            return Err(ApiError::invalid_request(
                "order 2 (the Hessian) takes one scalar 'expression'",
            ));
        }
        if let Some(m) = scope.variables.iter().find(|s| s.rank == 2) {
            return Err(ApiError::invalid_request(format!(
                "Hessians with respect to a matrix are not offered ({:?} is a matrix)",
                m.name
            )));
        }
        for (a, sa) in scope.variables.iter().enumerate() {
            let mut row = Vec::with_capacity(vars.len());
            for (b, sb) in scope.variables.iter().enumerate() {
                let block = if sa.rank == 0 {
                    Jacobian::Matrix(
                        diff::gradient(&mut pool, gradient[a], &[vars[b]], budget).map_err(d)?[0],
                    )
                } else if sb.rank == 0 {
                    Jacobian::Matrix(
                        diff::gradient(&mut pool, gradient[b], &[vars[a]], budget).map_err(d)?[0],
                    )
                } else {
                    diff::jacobian(&mut pool, gradient[a], vars[b], budget).map_err(d)?
                };
                row.push(block);
            }
            hessian.push(row);
        }
    }
    let mut program = TensorProgram {
        pool,
        kind: req.kind,
        variables: scope.variables.clone(),
        constants: scope.constants.clone(),
        values,
        gradient,
        jacobian,
        hessian,
        plan: None,
        products: Vec::new(),
    };
    if !symbolic {
        let limits = PlanLimits {
            max_entries: MAX_ENTRIES,
            max_flops: MAX_FLOPS,
        };
        let roots = program.node_roots();
        program.plan = Some(Plan::new(&program.pool, &roots, limits).map_err(plan_error)?);
        let mut products = Vec::new();
        for j in program.jacobian.iter().chain(&program.hessian).flatten() {
            if let Jacobian::Product { product, .. } = *j {
                if !products.iter().any(|(p, _)| *p == product) {
                    let plan = Plan::new(&program.pool, &[product], limits).map_err(plan_error)?;
                    products.push((product, plan));
                }
            }
        }
        program.products = products;
    }
    Ok(program)
}

impl TensorProgram {
    /// Every answer that is a node: values, gradients, Jacobian and Hessian matrices.
    fn node_roots(&self) -> Vec<TId> {
        let mut roots: Vec<TId> = self.values.iter().map(|v| v.0).collect();
        roots.extend(&self.gradient);
        for j in self.jacobian.iter().chain(&self.hessian).flatten() {
            if let Jacobian::Matrix(m) = *j {
                roots.push(m);
            }
        }
        roots
    }

    /// How many numbers one point's answer holds.
    fn answer_len(&self) -> usize {
        let len = |s: TShape| s.len().unwrap_or(0);
        let values: usize = self.values.iter().map(|v| len(self.pool.shape(v.0))).sum();
        let vars: usize = self.variables.iter().map(|s| len(s.shape)).sum();
        match self.kind {
            TKind::Jacobian => values + values * vars,
            TKind::Hessian => values + vars + vars * vars,
            _ => values + vars,
        }
    }
}

/// The shared program of `req`: from the cache, or built on a worker (and cached).
pub(crate) async fn program(
    service: &Arc<Service>,
    req: &Request<'_>,
    budget: &Budget,
) -> Result<(Arc<TensorProgram>, Arc<Scope>, bool), ApiError> {
    let config = &service.config;
    let mut pool = TPool::new(config.max_nodes);
    let scope = Arc::new(scope(req, config, &mut pool)?);
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
            build(&req, &scope_w, pool, values, &config, &budget_w)
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
                out.push(answer(&program_w, input, &budget)?);
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

/// The inputs of one point, by symbol index of the program's pool.
fn point_inputs(
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

fn symbol_index(pool: &TPool, node: TId) -> Option<usize> {
    match pool.node(node) {
        tensor::TNode::Sym(k) => Some(*k as usize),
        _ => None,
    }
}

/// One point's numbers: values, then gradient, Jacobian rows or Hessian blocks, each a
/// dense value in the layout of its answer.
struct Answer {
    values: Vec<Dense>,
    gradient: Vec<Dense>,
    /// Per expression, per variable: rows (outputs) of the variable's shape.
    jacobian: Vec<Vec<Vec<Dense>>>,
    /// Per variable pair: the block as one dense value (rows: entries of the first).
    hessian: Vec<Vec<Dense>>,
}

fn answer(
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

/// A gradient of the variable's shape (a 0 that stands for zeros is spread).
fn widen(d: Dense, program: &TensorProgram, g: TId) -> Dense {
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

fn dims_of(s: TShape) -> (usize, usize) {
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

fn write_answer(
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
fn hessian_rank(a: u8, b: u8) -> u8 {
    a + b
}

/// The symbolic answer: texts (or LaTeX) of the values and derivatives.
fn symbolic_answer(
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
