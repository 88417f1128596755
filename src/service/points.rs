//! Points and numbers as JSON: the answer has the shape of the question.
//!
//! A point is an object keyed by variable or an array aligned with the variables. Numbers
//! are JSON numbers, or the strings "NaN", "Infinity" and "-Infinity" (the proto3 JSON
//! convention) both ways.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::point::{Coord, Point};

/// How the request spelled its points, and so how the answer spells its gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `{"x": 1, "y": 2}`: answers keyed by variable.
    Object,
    /// `[1, 2]`: answers aligned with `variables`.
    Array,
}

/// A number of a request: a JSON number or one of the non-finite strings.
pub fn read_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The `parameters` of a request, sorted by name, each a number (or a non-finite string).
pub fn read_parameters(parameters: &Map<String, Value>) -> Result<Vec<(String, f64)>, ApiError> {
    let mut out = Vec::with_capacity(parameters.len());
    for (name, v) in parameters {
        let x = read_number(v).ok_or_else(|| {
            ApiError::invalid_request(format!("parameter {name:?} is not a number: {v}"))
        })?;
        out.push((name.clone(), x));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A number of a response.
pub fn number(v: f64) -> Value {
    if v.is_nan() {
        Value::from("NaN")
    } else if v == f64::INFINITY {
        Value::from("Infinity")
    } else if v == f64::NEG_INFINITY {
        Value::from("-Infinity")
    } else {
        Value::from(v)
    }
}

/// The layout of `point` (an object or an array; anything else is an error).
pub fn layout(point: &Point, explicit_variables: bool) -> Result<Layout, ApiError> {
    match point {
        Point::Object(_) => Ok(Layout::Object),
        Point::Array(_) if explicit_variables => Ok(Layout::Array),
        Point::Array(_) => Err(ApiError::invalid_request(
            "an array point needs 'variables' to say which value is which",
        )),
        Point::Other(_) => Err(ApiError::invalid_request(
            "a point is an object keyed by variable or an array aligned with 'variables'",
        )),
    }
}

fn describe(index: Option<usize>) -> String {
    match index {
        Some(i) => format!("points[{i}]"),
        None => "the point".into(),
    }
}

/// Past this many keys or variables, look-ups go through a hash set or map instead of a
/// scan (a point may have 100,000 keys; a scan per key would be quadratic).
const SCAN_MAX: usize = 16;

/// Appends `point`'s values in the order of `variables` to `out`. `index` is the point's
/// position in a batch, for messages.
pub fn read_point(
    point: &Point,
    layout: Layout,
    variables: &[String],
    index: Option<usize>,
    out: &mut Vec<f64>,
) -> Result<(), ApiError> {
    let coord = |which: &dyn Fn() -> String, v: &str, c: &Coord| match c {
        Coord::Num(x) => Ok(*x),
        Coord::Bad(x) => Err(ApiError::missing_value(format!(
            "{}: the value of {v:?} is not a number: {x}",
            which()
        ))),
    };
    let which = || describe(index);
    match (layout, point) {
        (Layout::Object, Point::Object(entries)) => {
            // A key that is not a variable, if any (looked for only when one may exist,
            // or when a variable has no value: the message names the typo).
            let extra = || -> Option<ApiError> {
                let k = if variables.len() <= SCAN_MAX {
                    entries
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .find(|k| !variables.iter().any(|v| v == k))?
                } else {
                    let vars: HashSet<&str> = variables.iter().map(String::as_str).collect();
                    entries
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .find(|k| !vars.contains(k))?
                };
                let shown: Vec<&String> = variables.iter().take(20).collect();
                Some(ApiError::invalid_request(format!(
                    "{} has a value for {k:?}, which is not a variable (the variables are {shown:?}{})",
                    which(),
                    if variables.len() > 20 { " and more" } else { "" }
                )))
            };
            if entries.len() > variables.len() {
                if let Some(e) = extra() {
                    return Err(e);
                }
            }
            // The last value written for a key counts, as in a JSON object.
            let index: Option<HashMap<&str, &Coord>> = (entries.len() > SCAN_MAX)
                .then(|| entries.iter().map(|(k, c)| (k.as_str(), c)).collect());
            for v in variables {
                let found = match &index {
                    Some(map) => map.get(v.as_str()).copied(),
                    None => entries
                        .iter()
                        .rev()
                        .find(|(k, _)| k.as_str() == v)
                        .map(|(_, c)| c),
                };
                match found {
                    None => {
                        return Err(extra().unwrap_or_else(|| {
                            ApiError::missing_value(format!("{} has no value for {v:?}", which()))
                        }))
                    }
                    Some(c) => out.push(coord(&which, v, c)?),
                }
            }
        }
        (Layout::Array, Point::Array(xs)) => {
            if xs.len() > variables.len() {
                return Err(ApiError::invalid_request(format!(
                    "{} has {} values for {} variables",
                    which(),
                    xs.len(),
                    variables.len()
                )));
            }
            for (k, v) in variables.iter().enumerate() {
                match xs.get(k) {
                    None => {
                        return Err(ApiError::missing_value(format!(
                            "{} has {} values: none for {v:?}",
                            which(),
                            xs.len()
                        )))
                    }
                    Some(c) => out.push(coord(&which, v, c)?),
                }
            }
        }
        _ => {
            return Err(ApiError::invalid_request(format!(
            "{} is not spelled like the others: every point is an object, or every point an array",
            which()
        )))
        }
    }
    Ok(())
}

/// `values` (aligned with `variables`) in the layout of the question.
pub fn shaped<T: Into<Value> + Clone>(values: &[T], variables: &[String], layout: Layout) -> Value {
    match layout {
        Layout::Object => Value::Object(
            variables
                .iter()
                .cloned()
                .zip(values.iter().cloned().map(Into::into))
                .collect::<Map<String, Value>>(),
        ),
        Layout::Array => Value::Array(values.iter().cloned().map(Into::into).collect()),
    }
}
