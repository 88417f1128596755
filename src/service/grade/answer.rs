//! Grading a whole submission: its components read as the answer spells them (one
//! formula; a row keyed by variable or aligned with the variables; a matrix of rows), each
//! graded against the reference, the hints only the whole answer shows (components that
//! are each other's, a matrix that is the reference transposed), and the overall verdict
//! and score. The HTTP layer reads the request and writes the [`Outcome`] as JSON.

use serde_json::Value;

use super::{Grader, Hint, Method, Verdict};
use crate::engine::ExprId;
use crate::service::points::Layout;
use crate::service::program::{Kind, Program};
use crate::service::ApiError;

/// What a grade request asks the answers to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradeKind {
    /// The gradient of one expression.
    Gradient,
    /// The Jacobian of one or more expressions.
    Jacobian,
    /// The Hessian of one expression.
    Hessian,
    /// The expression itself.
    Value,
    /// A function whose derivative along the first variable is the expression.
    Antiderivative,
}

impl GradeKind {
    /// The kind a request names, if it is one.
    pub fn from_name(name: &str) -> Option<GradeKind> {
        match name {
            "gradient" => Some(GradeKind::Gradient),
            "jacobian" => Some(GradeKind::Jacobian),
            "hessian" => Some(GradeKind::Hessian),
            "value" => Some(GradeKind::Value),
            "antiderivative" => Some(GradeKind::Antiderivative),
            _ => None,
        }
    }

    /// The program the answers are graded against.
    pub fn program_kind(self) -> Kind {
        match self {
            GradeKind::Jacobian => Kind::Jacobian,
            GradeKind::Hessian => Kind::Hessian,
            GradeKind::Gradient | GradeKind::Value | GradeKind::Antiderivative => Kind::Gradient,
        }
    }
}

/// One component's outcome.
#[derive(Debug)]
pub struct Graded {
    /// The verdict; an incorrect one's hint is the whole answer's where a swap or a
    /// transpose explains it.
    pub verdict: Verdict,
    /// Not a component of the reference (an unknown key, an index too many): it makes the
    /// answer invalid but does not count in the score.
    pub extra: bool,
    /// The answer's values at the samples.
    values: Vec<f64>,
    /// The reference node it was graded against.
    reference: Option<ExprId>,
}

impl Graded {
    fn invalid(e: ApiError) -> Graded {
        Graded {
            verdict: Verdict::Invalid(e),
            extra: false,
            values: Vec::new(),
            reference: None,
        }
    }

    fn extra(e: ApiError) -> Graded {
        Graded {
            extra: true,
            ..Graded::invalid(e)
        }
    }

    fn is_incorrect(&self) -> bool {
        matches!(self.verdict, Verdict::Incorrect { .. })
    }

    /// Replaces an incorrect verdict's hint.
    fn explain(&mut self, why: Hint) {
        if let Verdict::Incorrect { hint, .. } = &mut self.verdict {
            *hint = Some(why);
        }
    }
}

/// A row of graded components, in the answer's spelling.
#[derive(Debug)]
pub struct Row {
    /// The row's key in a matrix answer: a variable, or an index.
    pub key: String,
    /// Keyed by variable, or aligned with the variables.
    pub layout: Layout,
    /// Each component with its key (a variable, or an index).
    pub items: Vec<(String, Graded)>,
}

/// The graded components of a submission, in the answer's shape.
#[derive(Debug)]
pub enum Components {
    /// `kind: "value"`: one formula.
    Value(Graded),
    /// A gradient.
    Row(Row),
    /// A Jacobian or a Hessian: rows keyed by variable (a Hessian's object) or listed.
    Matrix {
        /// How the rows are spelled.
        layout: Layout,
        /// The rows, then any the reference does not have.
        rows: Vec<Row>,
    },
}

/// The verdict on a whole submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overall {
    /// Every component correct.
    Correct,
    /// Some component does not read, or is not the reference's.
    Invalid,
    /// Some component wrong (none invalid).
    Incorrect,
    /// None wrong, some undecided.
    Undecided,
}

impl Overall {
    /// The contract's name.
    pub fn name(self) -> &'static str {
        match self {
            Overall::Correct => "correct",
            Overall::Invalid => "invalid",
            Overall::Incorrect => "incorrect",
            Overall::Undecided => "undecided",
        }
    }
}

/// A graded submission.
#[derive(Debug)]
pub struct Outcome {
    /// The overall verdict.
    pub verdict: Overall,
    /// The share of the reference's components that are correct.
    pub score: f64,
    /// Each component's outcome.
    pub components: Components,
}

impl Outcome {
    /// Whether some verdict rested on the sampled points (numeric, or undecided).
    pub fn sampled(&self) -> bool {
        let rests = |c: &Graded| match &c.verdict {
            Verdict::Correct { method } | Verdict::Incorrect { method, .. } => {
                *method == Method::Numeric
            }
            Verdict::Undecided => true,
            Verdict::Invalid(_) => false,
        };
        match &self.components {
            Components::Value(c) => rests(c),
            Components::Row(r) => r.items.iter().any(|(_, c)| rests(c)),
            Components::Matrix { rows, .. } => {
                rows.iter().any(|r| r.items.iter().any(|(_, c)| rests(c)))
            }
        }
    }

    /// How counterexample points are spelled: like the answer's (first) row.
    pub fn point_layout(&self) -> Layout {
        match &self.components {
            Components::Value(_) => Layout::Object,
            Components::Row(r) => r.layout,
            Components::Matrix { rows, .. } => rows.first().map_or(Layout::Object, |r| r.layout),
        }
    }
}

/// Grades one submission of `kind` against the reference program.
pub fn grade_submission(
    g: &mut Grader,
    program: &Program,
    kind: GradeKind,
    answer: &Value,
) -> Outcome {
    let components = match kind {
        GradeKind::Value | GradeKind::Antiderivative => {
            let reference = program.values().first().copied();
            let integrate = kind == GradeKind::Antiderivative;
            Components::Value(match reference {
                Some(r) => graded(g, r, Some(answer), integrate),
                None => Graded::invalid(ApiError::internal("a reference without a value")),
            })
        }
        GradeKind::Gradient => {
            let refs = program.gradients().first().cloned().unwrap_or_default();
            let mut row = row(g, &refs, Some(answer), String::new());
            mark_swaps(g, &mut row.items);
            Components::Row(row)
        }
        GradeKind::Jacobian | GradeKind::Hessian => {
            let matrix = if kind == GradeKind::Jacobian {
                program.gradients()
            } else {
                program.hessian()
            };
            let (layout, rows) = matrix_rows(g, matrix, &program.variables, kind, answer);
            Components::Matrix { layout, rows }
        }
    };
    let all: Vec<&Graded> = match &components {
        Components::Value(c) => vec![c],
        Components::Row(r) => r.items.iter().map(|(_, c)| c).collect(),
        Components::Matrix { rows, .. } => rows
            .iter()
            .flat_map(|r| r.items.iter().map(|(_, c)| c))
            .collect(),
    };
    let (verdict, score) = overall(&all);
    Outcome {
        verdict,
        score,
        components,
    }
}

/// The rows of a matrix answer, graded, then any rows the reference does not have, with
/// the transpose hint where it explains the mistakes.
fn matrix_rows(
    g: &mut Grader,
    matrix: &[Vec<ExprId>],
    vars: &[String],
    kind: GradeKind,
    answer: &Value,
) -> (Layout, Vec<Row>) {
    let layout = match answer {
        Value::Object(_) if kind == GradeKind::Hessian => Layout::Object,
        _ => Layout::Array,
    };
    let mut rows = Vec::new();
    for (i, refs) in matrix.iter().enumerate() {
        let var = vars.get(i).cloned().unwrap_or_default();
        let (key, cell) = match (layout, answer) {
            (Layout::Object, Value::Object(m)) => (var.clone(), m.get(&var)),
            (_, Value::Array(xs)) => (i.to_string(), xs.get(i)),
            _ => (i.to_string(), None),
        };
        let mut row = row(g, refs, cell, key);
        mark_swaps(g, &mut row.items);
        rows.push(row);
    }
    // Rows the reference does not have make the answer invalid.
    let extra_rows: Vec<String> = match answer {
        Value::Array(xs) => (matrix.len()..xs.len()).map(|i| i.to_string()).collect(),
        Value::Object(m) => m.keys().filter(|k| !vars.contains(k)).cloned().collect(),
        _ => Vec::new(),
    };
    for key in extra_rows {
        let detail = format!("the reference has no row {key}");
        rows.push(Row {
            key: key.clone(),
            layout: Layout::Array,
            items: vec![(key, Graded::extra(ApiError::invalid_request(detail)))],
        });
    }
    mark_transposed(g, matrix, &mut rows);
    (layout, rows)
}

/// Grades one formula (a JSON string, or a number) against `reference`.
fn component(g: &mut Grader, reference: ExprId, answer: Option<&Value>) -> Graded {
    graded(g, reference, answer, false)
}

/// Grades one formula against `reference`: the formula itself, or (`integrate`) its
/// derivative along the first variable.
fn graded(g: &mut Grader, reference: ExprId, answer: Option<&Value>, integrate: bool) -> Graded {
    let text = match answer {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Graded::invalid(ApiError::invalid_request(format!(
                "an answer is a formula as a string, not {other}"
            )))
        }
        None => return Graded::invalid(ApiError::missing_value("no answer for this component")),
    };
    let (verdict, values) = if integrate {
        g.grade_antiderivative(reference, &text)
    } else {
        g.grade(reference, &text)
    };
    Graded {
        verdict,
        extra: false,
        values,
        reference: Some(reference),
    }
}

/// Grades a row of components (a gradient, a Jacobian row) spelled as an object keyed by
/// variable or an array aligned with the variables.
fn row(g: &mut Grader, refs: &[ExprId], answer: Option<&Value>, key: String) -> Row {
    let vars = g.variables().to_vec();
    let mut items = Vec::new();
    let layout = match answer {
        Some(Value::Object(map)) => {
            for (v, &r) in vars.iter().zip(refs) {
                items.push((v.clone(), component(g, r, map.get(v))));
            }
            for key in map.keys().filter(|key| !vars.contains(key)) {
                let e = ApiError::invalid_request(format!("{key:?} is not a variable"));
                items.push((key.clone(), Graded::extra(e)));
            }
            Layout::Object
        }
        Some(Value::Array(list)) => {
            for (k, &r) in refs.iter().enumerate().take(vars.len()) {
                items.push((k.to_string(), component(g, r, list.get(k))));
            }
            for k in vars.len()..list.len() {
                let e = ApiError::invalid_request(format!(
                    "there are {} variables, no component {k}",
                    vars.len()
                ));
                items.push((k.to_string(), Graded::extra(e)));
            }
            Layout::Array
        }
        other => {
            let what = other.map_or("nothing".to_string(), Value::to_string);
            for v in &vars {
                let e = ApiError::invalid_request(format!(
                    "the answer is an object keyed by variable or an array, not {what}"
                ));
                items.push((v.clone(), Graded::invalid(e)));
            }
            Layout::Object
        }
    };
    Row { key, layout, items }
}

/// Marks the incorrect entries of a square matrix answer that is, at every sample, the
/// reference transposed (while some entry is wrong, so the reference is not symmetric).
fn mark_transposed(g: &Grader, matrix: &[Vec<ExprId>], rows: &mut [Row]) {
    let n = matrix.len();
    if n < 2 || matrix.iter().any(|r| r.len() != n) || rows.len() != n {
        return;
    }
    let values = |i: usize, j: usize| {
        rows[i]
            .items
            .get(j)
            .map(|(_, c)| c.values.as_slice())
            .unwrap_or(&[])
    };
    let transposed = (0..n).all(|i| (0..n).all(|j| g.agrees(matrix[j][i], values(i, j))));
    // Some entry wrong: so the reference is not symmetric, and the transpose explains it.
    let asymmetric = rows
        .iter()
        .flat_map(|r| &r.items)
        .any(|(_, c)| c.is_incorrect());
    if transposed && asymmetric {
        for (_, c) in rows.iter_mut().flat_map(|r| r.items.iter_mut()) {
            c.explain(Hint::Transposed);
        }
    }
}

/// Marks pairs of incorrect components that are each other's reference.
fn mark_swaps(g: &Grader, items: &mut [(String, Graded)]) {
    let mut swapped = vec![false; items.len()];
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let (a, b) = (&items[i].1, &items[j].1);
            let both_wrong = a.is_incorrect() && b.is_incorrect();
            if let (true, Some(ra), Some(rb)) = (both_wrong, a.reference, b.reference) {
                if g.swapped(ra, rb, &a.values, &b.values) {
                    swapped[i] = true;
                    swapped[j] = true;
                }
            }
        }
    }
    for (item, _) in items.iter_mut().zip(&swapped).filter(|(_, s)| **s) {
        item.1.explain(Hint::SwappedComponents);
    }
}

/// The overall verdict and score of graded components.
fn overall(all: &[&Graded]) -> (Overall, f64) {
    let counted = all.iter().filter(|c| !c.extra);
    let total = counted.clone().count();
    let correct = counted
        .filter(|c| matches!(c.verdict, Verdict::Correct { .. }))
        .count();
    let any = |f: fn(&Verdict) -> bool| all.iter().any(|c| f(&c.verdict));
    let verdict = if total > 0
        && all
            .iter()
            .all(|c| matches!(c.verdict, Verdict::Correct { .. }))
    {
        Overall::Correct
    } else if any(|v| matches!(v, Verdict::Invalid(_))) {
        Overall::Invalid
    } else if any(|v| matches!(v, Verdict::Incorrect { .. })) {
        Overall::Incorrect
    } else {
        Overall::Undecided
    };
    let score = if total == 0 {
        0.0
    } else {
        correct as f64 / total as f64
    };
    (verdict, score)
}
