//! Grading answers in matrix notation: each component of a gradient with respect to a
//! vector or matrix (or a `value`) is one answer (`{"x": "(A + A')*x"}`), read with the
//! request's shapes.
//!
//! An answer that does not parse, names what is not in scope or does not type-check, or
//! has another shape than the component, is `invalid` inside the result (`shape_mismatch`
//! for shapes). Otherwise it is proved where the canonical difference is zero
//! (`symbolic`), else sampled: parameters keep their values, every other symbol gets
//! random entries in the box (default [-2, 2]); an entry agrees within
//! `atol + rtol * scale`, the scale being the largest entry of the reference at that
//! sample. Hints, each only when it holds at every sample: `transposed` (the transpose
//! agrees), `assumes_symmetric` (it agrees when every square matrix is symmetric, and the
//! counterexample's is not), `sign_error`, `constant_factor`.

use serde_json::{json, Map, Value};

use crate::engine::budget::Budget;
use crate::engine::parse::{parse, ParseOptions};
use crate::engine::tensor::eval::{Dense, Plan, PlanLimits};
use crate::engine::tensor::{self, ShapeError, TId, TNode, TPool, TShape};
use crate::engine::ExprError;
use crate::service::error::ApiError;
use crate::service::points::number;
use crate::service::tensor::{json_of, TensorProgram};

use super::DEFAULT_BOX;

/// How a matrix submission is graded.
#[derive(Clone, Debug)]
pub struct MatrixGradeOptions {
    /// Usable samples wanted.
    pub samples: usize,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// The sampler's seed.
    pub seed: u64,
    /// A box per symbol name (every entry drawn from it).
    pub boxes: Vec<(String, (f64, f64))>,
    /// Values of the parameters, by name (held fixed).
    pub parameters: Vec<(String, Dense)>,
    /// `value` (else `gradient`).
    pub value: bool,
}

/// A deterministic generator (xorshift64*), seeded by the request.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        // Rounded to 1/64: a counterexample a student can type in.
        ((lo + (hi - lo) * u) * 64.0).round() / 64.0 + 0.0
    }
}

fn dims(s: TShape) -> (usize, usize) {
    match (s.rows, s.cols) {
        (tensor::Dim::Known(r), tensor::Dim::Known(c)) => (r as usize, c as usize),
        _ => (0, 0),
    }
}

fn rank(s: TShape) -> u8 {
    if s.is_scalar() {
        0
    } else if s.is_column() {
        1
    } else {
        2
    }
}

/// A sampled point: each symbol's name, value and rank.
type Point = Vec<(String, Dense, u8)>;

/// An answer's error inside the result.
fn invalid(code: &str, detail: String, span: Option<crate::engine::parse::Span>) -> Value {
    let mut err = json!({"code": code, "detail": detail});
    if let (Some(span), Value::Object(m)) = (span, &mut err) {
        m.insert("span".into(), json!({"start": span.start, "end": span.end}));
    }
    json!({"verdict": "invalid", "error": err})
}

/// Grades one submission (an object keyed by variable for a gradient, one string for a
/// value) against `program`.
pub fn grade_submission(
    program: &TensorProgram,
    answer: &Value,
    options: &MatrixGradeOptions,
    parse_options: &ParseOptions,
    budget: &Budget,
) -> Result<Value, ApiError> {
    let mut pool = program.pool.clone();
    let vars = &program.variables;
    // (component key, reference node, answer text)
    let mut items: Vec<(String, TId, Option<&str>)> = Vec::new();
    if options.value {
        items.push(("value".into(), program.values[0].0, answer.as_str()));
    } else {
        for (k, v) in vars.iter().enumerate() {
            let text = match answer {
                Value::Object(m) => m.get(&v.name).and_then(Value::as_str),
                Value::Array(xs) => xs.get(k).and_then(Value::as_str),
                _ => None,
            };
            items.push((v.name.clone(), program.gradient[k], text));
        }
    }
    let mut components = Map::new();
    let mut correct = 0usize;
    let (mut any_invalid, mut any_incorrect) = (false, false);
    for (key, reference, text) in items {
        budget
            .check()
            .map_err(|e| ApiError::limit_exceeded("request_timeout_ms", e.to_string()))?;
        let c = match text {
            None => invalid(
                "invalid_request",
                format!("no answer for {key:?}: each component is a string in matrix notation"),
                None,
            ),
            Some(text) => grade_one(
                &mut pool,
                program,
                reference,
                text,
                options,
                parse_options,
                budget,
            )?,
        };
        match c["verdict"].as_str() {
            Some("correct") => correct += 1,
            Some("invalid") => any_invalid = true,
            Some("incorrect") => any_incorrect = true,
            _ => {}
        }
        components.insert(key, c);
    }
    let n = components.len().max(1);
    let verdict = if correct == components.len() {
        "correct"
    } else if any_invalid {
        "invalid"
    } else if any_incorrect {
        "incorrect"
    } else {
        "undecided"
    };
    let sampled = components
        .values()
        .any(|c| c["method"] == "numeric" || c["verdict"] == "undecided");
    let mut result =
        json!({"verdict": verdict, "score": correct as f64 / n as f64, "components": components});
    // Where the service chose a box and sampled, the response says which.
    let chosen = vars
        .iter()
        .any(|v| !options.boxes.iter().any(|(n, _)| n == &v.name));
    if let (true, true, Value::Object(m)) = (sampled, chosen, &mut result) {
        let boxes: Map<String, Value> = vars
            .iter()
            .map(|v| {
                let (lo, hi) = options
                    .boxes
                    .iter()
                    .find(|(n, _)| n == &v.name)
                    .map_or(DEFAULT_BOX, |(_, b)| *b);
                (v.name.clone(), json!([lo, hi]))
            })
            .collect();
        m.insert("sampled_domain".into(), Value::Object(boxes));
    }
    Ok(result)
}

fn grade_one(
    pool: &mut TPool,
    program: &TensorProgram,
    reference: TId,
    text: &str,
    options: &MatrixGradeOptions,
    parse_options: &ParseOptions,
    budget: &Budget,
) -> Result<Value, ApiError> {
    let ast = match parse(text, parse_options) {
        Ok(a) => a,
        Err(e) => {
            let err = ApiError::expression(&ExprError::Parse(e), None);
            return Ok(invalid(err.code, err.detail, err.span));
        }
    };
    let shape_of = |name: &str| {
        program
            .variables
            .iter()
            .chain(&program.constants)
            .find(|s| s.name == name)
            .map(|s| s.shape)
    };
    let answer = match tensor::lower(&ast, pool, &shape_of, true) {
        Ok(a) => a,
        Err(e @ ShapeError::Mismatch { .. }) => {
            return Ok(invalid("shape_mismatch", e.to_string(), e.span()))
        }
        Err(e @ ShapeError::UnknownVariable { .. }) => {
            return Ok(invalid("unknown_variable", e.to_string(), e.span()))
        }
        Err(e @ ShapeError::TooLarge) => return Ok(invalid("limit_exceeded", e.to_string(), None)),
    };
    let (rs, ans_shape) = (pool.shape(reference), pool.shape(answer));
    // A number stands for a tensor filled with it (`0` for a zero gradient).
    let answer = if ans_shape != rs && pool.as_num(answer).is_some() {
        pool.widen(answer, rs)
    } else {
        answer
    };
    let ans_shape = pool.shape(answer);
    if ans_shape != rs {
        let hint = if ans_shape == rs.t() {
            " (its transpose has the right shape)"
        } else {
            ""
        };
        return Ok(invalid(
            "shape_mismatch",
            format!(
                "the answer is a {}, but this component is a {}{hint}",
                pool.shape_name(ans_shape),
                pool.shape_name(rs)
            ),
            Some(crate::engine::parse::Span::new(0, text.len())),
        ));
    }
    // Proof: the canonical difference is zero.
    let zero = |pool: &TPool, d: TId| {
        matches!(pool.node(d), TNode::Zeros(_)) || pool.as_num(d) == Some(0.0)
    };
    if let Ok(d) = pool.sub(answer, reference) {
        if zero(pool, d) {
            return Ok(json!({"verdict": "correct", "method": "symbolic"}));
        }
        // Products of sums multiplied out: `(A + A')*x` is `A*x + A'*x`.
        if let Ok(e) = pool.expand(d) {
            if zero(pool, e) {
                return Ok(json!({"verdict": "correct", "method": "symbolic"}));
            }
        }
    }
    let transposed = if rs.is_square() && !rs.is_scalar() {
        pool.transpose(answer).ok()
    } else {
        None
    };
    let mut roots = vec![reference, answer];
    roots.extend(transposed);
    let limits = PlanLimits {
        max_entries: 1 << 24,
        max_flops: 5_000_000_000,
    };
    let plan = match Plan::new(pool, &roots, limits) {
        Ok(p) => p,
        Err(e) => return Err(ApiError::limit_exceeded("max_matrix_work", e.to_string())),
    };
    // The symbols sampled: every symbol but the parameters (and the seed of products).
    let sampled: Vec<(u32, String, TShape)> = pool
        .symbols()
        .enumerate()
        .filter(|(_, (name, _))| {
            !name.starts_with('#') && !options.parameters.iter().any(|(p, _)| p == name)
        })
        .map(|(k, (name, shape))| (k as u32, name.to_string(), shape))
        .collect();
    let mut rng = Rng::new(options.seed);
    let agree = |r: &Dense, a: &Dense| -> bool {
        let scale = r.data.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        r.data
            .iter()
            .zip(&a.data)
            .all(|(x, y)| (x - y).abs() <= options.atol + options.rtol * scale.max(x.abs()))
    };
    let mut used = 0usize;
    let mut tries = 0usize;
    let mut first_bad: Option<(Point, Dense, Dense)> = None;
    let (mut transposed_holds, mut negated_holds) = (transposed.is_some(), true);
    let mut factor: Option<f64> = None;
    let mut factor_holds = true;
    let mut symmetric_holds = sampled
        .iter()
        .any(|(_, _, s)| s.is_square() && !s.is_scalar());
    while used < options.samples && tries < options.samples * 8 {
        tries += 1;
        budget
            .check()
            .map_err(|e| ApiError::limit_exceeded("request_timeout_ms", e.to_string()))?;
        let mut inputs: Vec<Option<Dense>> = pool.symbols().map(|_| None).collect();
        let mut point = Vec::with_capacity(sampled.len());
        for (k, name, shape) in &sampled {
            let (r, c) = dims(*shape);
            let (lo, hi) = options
                .boxes
                .iter()
                .find(|(n, _)| n == name)
                .map_or(DEFAULT_BOX, |(_, b)| *b);
            let d = Dense {
                rows: r,
                cols: c,
                data: (0..r * c).map(|_| rng.uniform(lo, hi)).collect(),
            };
            point.push((name.clone(), d.clone(), rank(*shape)));
            inputs[*k as usize] = Some(d);
        }
        for (name, d) in &options.parameters {
            if let Some(k) = pool.symbols().position(|(n, _)| n == name) {
                inputs[k] = Some(d.clone());
            }
        }
        let refs: Vec<Option<&Dense>> = inputs.iter().map(Option::as_ref).collect();
        let out = plan
            .eval(pool, &refs, budget)
            .map_err(|e| ApiError::limit_exceeded("request_timeout_ms", e.to_string()))?;
        let (r, a) = (&out[0], &out[1]);
        if r.data.iter().any(|x| !x.is_finite()) {
            continue; // the reference is undefined here: not a sample
        }
        used += 1;
        let ok = agree(r, a) && a.data.iter().all(|x| x.is_finite());
        if let Some(t) = out.get(2) {
            transposed_holds &= agree(r, t);
        }
        let neg = Dense {
            data: a.data.iter().map(|x| -x).collect(),
            ..a.clone()
        };
        negated_holds &= agree(r, &neg);
        // One constant ratio submitted / expected at every entry.
        for (x, y) in r.data.iter().zip(&a.data) {
            if x.abs() > 1e-6 {
                let q = y / x;
                match factor {
                    None => factor = Some(q),
                    Some(f) if (f - q).abs() > 1e-6 * f.abs().max(1.0) => factor_holds = false,
                    _ => {}
                }
            }
        }
        if !ok && first_bad.is_none() {
            first_bad = Some((point.clone(), r.clone(), a.clone()));
        }
        // The same sample with every square matrix symmetrised.
        if symmetric_holds {
            let mut sym = inputs.clone();
            for (k, _, shape) in &sampled {
                if shape.is_square() && !shape.is_scalar() {
                    if let Some(Some(d)) = sym.get_mut(*k as usize) {
                        let n = d.rows;
                        let m = d.clone();
                        for i in 0..n {
                            for j in 0..n {
                                d.data[i * n + j] = 0.5 * (m.data[i * n + j] + m.data[j * n + i]);
                            }
                        }
                    }
                }
            }
            let refs: Vec<Option<&Dense>> = sym.iter().map(Option::as_ref).collect();
            let out = plan
                .eval(pool, &refs, budget)
                .map_err(|e| ApiError::limit_exceeded("request_timeout_ms", e.to_string()))?;
            if out[0].data.iter().all(|x| x.is_finite()) {
                symmetric_holds &= agree(&out[0], &out[1]);
            }
        }
    }
    if used == 0 {
        return Ok(json!({"verdict": "undecided"}));
    }
    let Some((point, expected, submitted)) = first_bad else {
        return Ok(json!({"verdict": "correct", "method": "numeric"}));
    };
    let mut m = Map::new();
    m.insert("verdict".into(), json!("incorrect"));
    m.insert("method".into(), json!("numeric"));
    let r = rank(pool.shape(reference));
    if transposed_holds {
        m.insert("hint".into(), json!("transposed"));
    } else if symmetric_holds {
        m.insert("hint".into(), json!("assumes_symmetric"));
    } else if negated_holds {
        m.insert("hint".into(), json!("sign_error"));
    } else if let (true, Some(f)) = (factor_holds, factor) {
        if f.is_finite() && f != 1.0 && f != 0.0 {
            m.insert("hint".into(), json!("constant_factor"));
            m.insert("factor".into(), number(f));
        }
    }
    let point: Map<String, Value> = point
        .iter()
        .map(|(n, d, k)| (n.clone(), json_of(d, *k)))
        .collect();
    m.insert(
        "counterexample".into(),
        json!({"point": point, "expected": json_of(&expected, r), "submitted": json_of(&submitted, r)}),
    );
    Ok(Value::Object(m))
}
