//! A tensor request's symbols: shapes declared or read from the values, named dimensions
//! fixed by the values, and the values of points and parameters.

use serde_json::Value;

use crate::config::Config;
use crate::engine::parse::{parse, AstKind};
use crate::engine::tensor::eval::Dense;
use crate::engine::tensor::{Dim, TPool, TShape};
use crate::engine::ExprError;
use crate::service::error::ApiError;
use crate::service::point::{Coord, Point};
use crate::service::points::read_number;

use super::build::MAX_ENTRIES;
use super::*;

/// A dimension as a request writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum DimSpec {
    Size(u32),
    Name(String),
}

/// The largest dimension a request may declare.
pub(super) const MAX_DIM: u64 = 1 << 24;

/// A shape as `[]`, `[n]` or `[r, c]`; each dimension a positive integer or a name.
pub(super) fn read_shape(name: &str, v: &Value) -> Result<Vec<DimSpec>, ApiError> {
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

pub(super) fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A value of a request: a number, an array (a column vector) or an array of
/// equal-length arrays (a matrix, row by row), with its rank (0, 1 or 2).
pub(super) fn read_value(name: &str, what: &str, v: &Value) -> Result<(Dense, u8), ApiError> {
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
pub(super) fn describe(d: &Dense, rank: u8) -> String {
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

/// The symbols of a request: variables (in the answer's order) and parameters, with
/// their shapes, and the parameters' values.
pub(crate) struct Scope {
    pub(crate) variables: Vec<Symbol>,
    pub(crate) constants: Vec<Symbol>,
    pub(crate) parameter_values: Vec<(String, Dense)>,
    /// Named dimensions as sizes, once a point fixes them (not for symbolic answers).
    pub(crate) sizes: Vec<(String, u32)>,
}

/// The free symbols of the expressions as written, sorted by name (`pi` and `e` are
/// constants).
pub(super) fn free_symbols(
    expressions: &[String],
    config: &Config,
) -> Result<Vec<String>, ApiError> {
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

pub(super) fn index(expressions: &[String], i: usize) -> Option<usize> {
    (expressions.len() > 1).then_some(i)
}

pub(super) fn shape_of_dense(d: &Dense) -> TShape {
    TShape::new(Dim::Known(d.rows as u32), Dim::Known(d.cols as u32))
}

/// Resolves a declared shape: known sizes, names bound to sizes (`sizes`), or left as
/// names in `pool` (symbolic answers).
pub(super) fn resolve(
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
pub(super) fn bind(
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
pub(super) fn point_values(
    p: &Point,
    i: Option<usize>,
) -> Result<Vec<(String, Dense, u8)>, ApiError> {
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
pub(super) fn scope(
    req: &Request<'_>,
    config: &Config,
    pool: &mut TPool,
) -> Result<Scope, ApiError> {
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

pub(super) fn symbol_from_point(
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
