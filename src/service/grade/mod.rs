//! Grading: is a submitted formula the derivative of the reference?
//!
//! Proof before sampling: when the canonical form of `reference - answer` is 0, as it is
//! or with its products of sums multiplied out (bounded: `Pool::expand`), the answer is
//! `correct` with `method: "symbolic"`. Otherwise both are evaluated at seeded points
//! of a box: points where the reference (the function or any of its derivatives) is not
//! finite are not samples, and when too few points are usable the default box moves to the
//! positive orthant, then widens; too few still is `undecided`, never a guess. An answer is
//! `correct` (`method: "numeric"`) when it agrees at every sample within `atol + rtol*|x|`;
//! else `incorrect`, with a counterexample at the simplest disagreeing point found (small
//! integers and halves first) and a hint when the mistake is a common one and certain.
//!
//! A grader holds a copy of the reference's pool, so every answer of a class is read into
//! one pool: equal submissions are one node, graded once. [`answer`] grades whole
//! submissions (rows, matrices, the hints only a whole answer shows, the score).

pub mod answer;
pub mod exact;
pub mod matrix;
pub mod precision;
pub mod sampling;

use std::collections::HashMap;

use crate::config::Config;
use crate::engine::expr::{Node, Scope};
use crate::engine::{compile, diff, parse, read, Budget, Executable, Exhausted, ExprId, Pool};

use super::error::ApiError;
use super::program::Program;
use sampling::{close, Rng, Scale};
pub use sampling::{VarDomain, DEFAULT_BOX, INTEGER_BOX};

/// A symbolic proof multiplies out products of sums while a result has at most this many
/// terms (a square of a 8-term sum, say) ...
const EXPAND_MAX_TERMS: usize = 64;
/// ... and gives up after making this many nodes for one comparison: the numeric check
/// decides the rest.
const EXPAND_MAX_NODES: usize = 20_000;

/// Sampling settings of a grade request.
#[derive(Clone, Debug)]
pub struct GradeOptions {
    /// Usable sample points wanted.
    pub samples: usize,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Seed of the sampler: the same request gives the same response.
    pub seed: u64,
    /// What the request says of each variable, aligned with the variables (empty: the
    /// defaults for all).
    pub domain: Vec<VarDomain>,
    /// Only the functions are graded (kinds `value`, `antiderivative`): a sample needs
    /// them finite, not their derivatives.
    pub values_only: bool,
}

impl Default for GradeOptions {
    fn default() -> Self {
        GradeOptions {
            samples: 24,
            rtol: 1e-6,
            atol: 1e-9,
            seed: 0,
            domain: Vec::new(),
            values_only: false,
        }
    }
}

/// A hint about a common mistake, given only when the answer matches it at every sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// The answer is minus the reference.
    SignError,
    /// The answer is a constant multiple of the reference (the factor is not 1 or -1).
    ConstantFactor,
    /// The answer times an inner function's derivative is the reference.
    MissingChainFactor,
    /// The answer of this component is the reference of another, and the other way round
    /// (found by [`answer`], which sees the whole answer).
    SwappedComponents,
    /// The matrix answered is the reference transposed (found by [`answer`]).
    Transposed,
}

impl Hint {
    /// The contract's name.
    pub fn name(self) -> &'static str {
        match self {
            Hint::SignError => "sign_error",
            Hint::ConstantFactor => "constant_factor",
            Hint::MissingChainFactor => "missing_chain_factor",
            Hint::SwappedComponents => "swapped_components",
            Hint::Transposed => "transposed",
        }
    }
}

/// A point where the answer differs, with the numbers as the service computed them.
#[derive(Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// The variables' values, aligned with the variables.
    pub point: Vec<f64>,
    /// The reference's value there.
    pub expected: f64,
    /// The answer's value there.
    pub submitted: f64,
}

/// The verdict on one component.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Right, and how that was decided.
    Correct {
        /// A proof, exact arithmetic, or sampling.
        method: Method,
    },
    /// Wrong.
    Incorrect {
        /// Where, with the numbers.
        counterexample: Counterexample,
        /// The common mistake it is, if certain.
        hint: Option<Hint>,
        /// `submitted = factor × expected` everywhere (with the hints of a factor).
        factor: Option<f64>,
        /// `submitted - expected` where exact arithmetic showed it is one number
        /// everywhere, as text (`"-1"`, `"1/2"`).
        difference: Option<String>,
        /// How it was decided.
        method: Method,
    },
    /// The answer does not read (or names an unknown symbol).
    Invalid(ApiError),
    /// Too few points where the reference is defined to decide.
    Undecided,
}

/// How a verdict was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The canonical difference is 0: a proof.
    Symbolic,
    /// Exact rational arithmetic at random points (`exact.rs`: wrong with a chance below
    /// 10^-12).
    Exact,
    /// Agreement (or not) at sampled points within the tolerances.
    Numeric,
}

impl Method {
    /// The contract's name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Symbolic => "symbolic",
            Method::Exact => "exact",
            Method::Numeric => "numeric",
        }
    }
}

/// Grades answers against one reference program.
pub struct Grader {
    pool: Pool,
    variables: Vec<String>,
    bound: Vec<String>,
    inputs: Vec<ExprId>,
    params: Vec<f64>,
    /// The reference's function(s): an inner function's derivative is looked for there.
    functions: Vec<ExprId>,
    /// Usable samples: the variables' values.
    samples: Vec<Vec<f64>>,
    /// The box the samples came from.
    bounds: Vec<(f64, f64)>,
    /// The reference program's outputs at each sample.
    reference_at: Vec<Vec<f64>>,
    /// Where each reference node sits among the program's outputs.
    output_of: HashMap<ExprId, usize>,
    tape: Executable,
    options: GradeOptions,
    /// The request's budget: sampling and hints stop when its time runs out.
    budget: Budget,
    parse: parse::ParseOptions,
    memo: HashMap<(ExprId, ExprId), (Verdict, Vec<f64>)>,
}

/// `submitted / expected` where it is one number at every sample (the factor of a hint).
fn constant_ratio(expected: &[f64], values: &[f64]) -> Option<f64> {
    let (r, a) = expected
        .iter()
        .zip(values)
        .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()))?;
    (r.abs() > 0.0).then(|| a / r)
}

/// Error-bounded evaluators of a reference and an answer (`None`: too large to bound).
struct Pair<'p> {
    reference: Option<precision::Careful<'p>>,
    answer: Option<precision::Careful<'p>>,
}

impl<'p> Pair<'p> {
    fn new(pool: &'p Pool, reference: ExprId, answer: ExprId, inputs: &[ExprId]) -> Pair<'p> {
        Pair {
            reference: precision::Careful::new(pool, reference, inputs),
            answer: precision::Careful::new(pool, answer, inputs),
        }
    }
}

impl Grader {
    /// A grader for `program` (compiled with the variables and, after them, the
    /// parameters `params` in the program's order).
    pub fn new(
        program: &Program,
        params: Vec<f64>,
        mut options: GradeOptions,
        config: &Config,
        budget: Budget,
    ) -> Result<Grader, ApiError> {
        let tape = program
            .tape
            .clone()
            .ok_or_else(|| ApiError::internal("a grading reference without a program"))?;
        let mut pool = program.pool().clone();
        let vars: Vec<ExprId> = program.variables.iter().map(|v| pool.sym(v)).collect();
        let mut inputs = vars.clone();
        inputs.extend(program.parameters.iter().map(|p| pool.sym(p)));
        let mut output_of = HashMap::new();
        for (k, id) in program.output_nodes().into_iter().enumerate() {
            output_of.entry(id).or_insert(k);
        }
        let n = vars.len();
        if !options.domain.is_empty() && options.domain.len() != n {
            return Err(ApiError::internal(
                "a domain not aligned with the variables",
            ));
        }
        // Each variable's domain, the defaults where the request gave none.
        options.domain.resize(n, VarDomain::default());
        let mut g = Grader {
            pool,
            variables: program.variables.clone(),
            bound: program
                .variables
                .iter()
                .chain(&program.parameters)
                .cloned()
                .collect(),
            inputs,
            params,
            functions: program.values().to_vec(),
            samples: Vec::new(),
            bounds: Vec::new(),
            reference_at: Vec::new(),
            output_of,
            tape,
            budget,
            parse: config.parse_options(),
            memo: HashMap::new(),
            options,
        };
        g.sample().map_err(|e| ApiError::exhausted(e, config))?;
        Ok(g)
    }

    /// Evaluates the reference program at `point` (the variables' values).
    fn reference(&self, point: &[f64]) -> Option<Vec<f64>> {
        let mut input = point.to_vec();
        input.extend(&self.params);
        self.tape.eval(&input).ok()
    }

    /// Draws the usable samples: points where every output of the reference is finite.
    /// Boxes the service chose move (around 0, then the positive side, then wide) while
    /// fewer than half the wanted points are usable.
    fn sample(&mut self) -> Result<(), Exhausted> {
        let wanted = self.options.samples.max(1);
        let domains = self.options.domain.clone();
        let movable = domains.iter().any(|d| d.range.is_none());
        let mut rng = Rng(self.options.seed);
        // The outputs that must be finite at a sample: the functions alone when only
        // they are graded (a derivative along an integer variable means nothing).
        let needed = if self.options.values_only {
            self.functions.len()
        } else {
            usize::MAX
        };
        for attempt in 0..if movable { 3 } else { 1 } {
            let bounds: Vec<(f64, f64)> = domains.iter().map(|d| d.bounds(attempt)).collect();
            let (mut samples, mut values) = (Vec::new(), Vec::new());
            for i in 0..wanted.saturating_mul(40) {
                self.budget.check_every(i)?;
                let p: Option<Vec<f64>> = domains
                    .iter()
                    .zip(&bounds)
                    .map(|(d, &b)| d.draw(b, &mut rng))
                    .collect();
                let Some(p) = p else { continue };
                if let Some(r) = self
                    .reference(&p)
                    .filter(|r| r[..needed.min(r.len())].iter().all(|v| v.is_finite()))
                {
                    samples.push(p);
                    values.push(r);
                    if samples.len() == wanted {
                        break;
                    }
                }
            }
            let enough = samples.len() * 2 >= wanted;
            if enough || samples.len() > self.samples.len() || attempt == 0 {
                (self.samples, self.reference_at, self.bounds) = (samples, values, bounds);
            }
            if enough {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The box per variable the samples came from, when the service chose any of it
    /// (`sampled_domain` in the response).
    pub fn sampled_domain(&self) -> Option<&[(f64, f64)]> {
        let chosen = self.options.domain.iter().any(|d| d.range.is_none());
        chosen.then_some(self.bounds.as_slice())
    }

    /// Whether there are enough samples to decide anything numerically.
    fn decidable(&self) -> bool {
        self.samples.len() * 2 >= self.options.samples.max(1)
    }

    /// Reads an answer's text into the grader's pool.
    fn read(&mut self, text: &str) -> Result<ExprId, ApiError> {
        let scope = Scope {
            bound: &self.bound,
            closed: true,
        };
        read(&mut self.pool, text, scope, &self.parse).map_err(|e| ApiError::expression(&e, None))
    }

    /// Compiles `ids` and evaluates them at every sample; `None` if they do not compile.
    fn at_samples(&self, ids: &[ExprId]) -> Option<Vec<Vec<f64>>> {
        let tape = Executable::new(compile(&self.pool, ids, &self.inputs).ok()?);
        self.run_at_samples(&tape)
    }

    /// Evaluates a compiled program at every sample.
    fn run_at_samples(&self, tape: &Executable) -> Option<Vec<Vec<f64>>> {
        self.samples
            .iter()
            .map(|p| {
                let mut input = p.clone();
                input.extend(&self.params);
                tape.eval(&input).ok()
            })
            .collect()
    }

    /// Grades `answer` (text) against the reference node `reference`. Returns the
    /// verdict and the answer's values at the samples (for hints across components).
    pub fn grade(&mut self, reference: ExprId, answer: &str) -> (Verdict, Vec<f64>) {
        let answer = match self.read(answer) {
            Ok(a) => a,
            Err(e) => return (Verdict::Invalid(e), Vec::new()),
        };
        if let Some(done) = self.memo.get(&(reference, answer)) {
            return done.clone();
        }
        let result = self.grade_node(reference, answer);
        self.memo.insert((reference, answer), result.clone());
        result
    }

    /// Grades `answer` (text), an antiderivative, against the reference node `reference`:
    /// its derivative along the first variable must equal it, so any constant of
    /// integration passes, and a counterexample shows that derivative.
    pub fn grade_antiderivative(&mut self, reference: ExprId, answer: &str) -> (Verdict, Vec<f64>) {
        let answer = match self.read(answer) {
            Ok(a) => a,
            Err(e) => return (Verdict::Invalid(e), Vec::new()),
        };
        let Some(&var) = self.inputs.first() else {
            return (Verdict::Undecided, Vec::new());
        };
        let derivative = match diff::gradient(&mut self.pool, answer, &[var], self.budget.clone()) {
            Ok(d) => d[0],
            Err(_) => return (Verdict::Undecided, Vec::new()),
        };
        if let Some(done) = self.memo.get(&(reference, derivative)) {
            return done.clone();
        }
        // F itself must be defined where the expression is (`ln(x)` for `1/x` is not an
        // antiderivative on a domain with negative numbers, though its derivative is 1/x).
        let result = match self.undefined_at(reference, answer) {
            Some(counterexample) => {
                let values = vec![f64::NAN; self.samples.len()];
                let verdict = Verdict::Incorrect {
                    counterexample,
                    hint: None,
                    factor: None,
                    difference: None,
                    method: Method::Numeric,
                };
                (verdict, values)
            }
            None => self.grade_node(reference, derivative),
        };
        self.memo.insert((reference, derivative), result.clone());
        result
    }

    /// The reference's and the answer's values at sample `point` as compared: `r` and `a`
    /// (their f64 values) when their rounding errors cannot change whether they agree;
    /// else the 192-bit values when theirs cannot; else `None`: no evidence.
    fn decidable_pair(
        &self,
        careful: &Pair<'_>,
        point: &[f64],
        r: f64,
        a: f64,
        scale: Scale,
    ) -> Option<(f64, f64)> {
        let (Some(cr), Some(ca)) = (&careful.reference, &careful.answer) else {
            return Some((r, a));
        };
        let mut input = point.to_vec();
        input.extend(&self.params);
        let b = &self.budget;
        if !r.is_finite() {
            return Some((r, a));
        }
        if !a.is_finite() {
            // Undefined, or only past f64's range on the way (`exp(u)/(1 + exp(u))` at
            // u = 800 is inf/inf in f64 and 1 in 192 bits, with a far wider exponent).
            let (a2, _) = ca.in_wide(&input, b);
            if !a2.is_finite() {
                return Some((r, a));
            }
        }
        let decides = |r: f64, a: f64, err: f64| {
            let tol = scale.atol + scale.rtol * r.abs().max(a.abs());
            let gap = (r - a).abs();
            gap + err <= tol || gap - err > tol
        };
        let ((_, er), (_, ea)) = (cr.in_f64(&input, b), ca.in_f64(&input, b));
        if a.is_finite() && decides(r, a, er + ea) {
            return Some((r, a));
        }
        let ((r2, er2), (a2, ea2)) = (cr.in_wide(&input, b), ca.in_wide(&input, b));
        decides(r2, a2, er2 + ea2).then_some((r2, a2))
    }

    /// The simplest point (small integers and halves first, then the samples) where the
    /// reference is finite and `node` is not: the reference's value there, and `node`'s.
    fn undefined_at(&self, reference: ExprId, node: ExprId) -> Option<Counterexample> {
        let k = *self.output_of.get(&reference)?;
        let tape = Executable::new(compile(&self.pool, &[node], &self.inputs).ok()?);
        self.simple_points()
            .iter()
            .chain(&self.samples)
            .find_map(|p| {
                let r = self.reference(p)?.get(k).copied()?;
                let mut input = p.clone();
                input.extend(&self.params);
                let a = tape.eval(&input).ok()?.first().copied()?;
                (r.is_finite() && !a.is_finite()).then(|| Counterexample {
                    point: p.clone(),
                    expected: r,
                    submitted: a,
                })
            })
    }

    fn grade_node(&mut self, reference: ExprId, answer: ExprId) -> (Verdict, Vec<f64>) {
        // Compiled once: for the samples here and for the counterexample search.
        let tape = compile(&self.pool, &[answer], &self.inputs)
            .ok()
            .map(Executable::new);
        let values = tape
            .as_ref()
            .and_then(|t| self.run_at_samples(t))
            .map(|rows| {
                rows.into_iter()
                    .map(|r| r.first().copied().unwrap_or(f64::NAN))
                    .collect()
            })
            .unwrap_or_default();
        let difference = self.pool.sub(reference, answer);
        let zero = |pool: &Pool, d: ExprId| pool.node(d).as_num() == Some(0.0);
        if answer == reference || zero(&self.pool, difference) {
            return (
                Verdict::Correct {
                    method: Method::Symbolic,
                },
                values,
            );
        }
        // Spellings that differ in what is multiplied out (`2*x*(y - x^2)` against
        // `2*x*y - 2*x^3`, `(x + 1)^2` against `x^2 + 2*x + 1`) are equal once expanded.
        let expanded = self
            .pool
            .expand(difference, EXPAND_MAX_TERMS, EXPAND_MAX_NODES);
        if zero(&self.pool, expanded) {
            return (
                Verdict::Correct {
                    method: Method::Symbolic,
                },
                values,
            );
        }
        // Rational functions with exact coefficients: decided in exact arithmetic, where
        // no tolerance can let a wrong answer pass.
        if let Some(verdict) = self.exact(reference, answer) {
            return (verdict, values);
        }
        let Some(&k) = self.output_of.get(&reference) else {
            return (Verdict::Undecided, values);
        };
        if !self.decidable() || values.len() != self.samples.len() {
            return (Verdict::Undecided, values);
        }
        let o = &self.options;
        let expected: Vec<f64> = self.reference_at.iter().map(|r| r[k]).collect();
        let zero = self.pool.node(reference).as_num() == Some(0.0);
        let scale = Scale::of(&expected, o, zero);
        // Each sample's pair as compared: in f64, or in 192 bits where f64 kept too
        // few digits to decide; `None` where neither can (no evidence).
        let careful = Pair::new(&self.pool, reference, answer, &self.inputs);
        let pairs: Vec<Option<(f64, f64)>> = self
            .samples
            .iter()
            .zip(expected.iter().zip(&values))
            .map(|(p, (&r, &a))| self.decidable_pair(&careful, p, r, a, scale))
            .collect();
        // Undefined where the reference is defined: wrong, whatever else agrees.
        let undefined = pairs.iter().flatten().any(|(_, a)| !a.is_finite());
        let evidence = |pair: &Option<(f64, f64)>| pair.filter(|&(r, a)| scale.informative(r, a));
        let differs = pairs
            .iter()
            .filter_map(evidence)
            .any(|(r, a)| a.is_finite() && !scale.close(r, a));
        if !undefined && !differs {
            // Agreement counts only at informative samples: where both sides are
            // negligible against the reference's scale, any answer would agree.
            let informative = pairs.iter().filter_map(evidence).count();
            let verdict = if informative * 2 >= o.samples.max(1) {
                Verdict::Correct {
                    method: Method::Numeric,
                }
            } else {
                Verdict::Undecided
            };
            return (verdict, values);
        }
        let usable: Vec<bool> = pairs.iter().map(|p| evidence(p).is_some()).collect();
        let Some(counterexample) = tape
            .as_ref()
            .and_then(|t| self.counterexample(k, t, scale, &careful))
        else {
            return (Verdict::Undecided, values);
        };
        let hint = self.hint(reference, &expected, &values, &usable);
        let factor = match hint {
            Some(Hint::ConstantFactor) => constant_ratio(&expected, &values),
            _ => None,
        };
        (
            Verdict::Incorrect {
                counterexample,
                hint,
                factor,
                difference: None,
                method: Method::Numeric,
            },
            values,
        )
    }

    /// The verdict of exact arithmetic, where both sides are rational functions with
    /// exact coefficients (`None`: not decided that way).
    fn exact(&mut self, reference: ExprId, answer: ExprId) -> Option<Verdict> {
        // Only where the reference function is defined somewhere (`ln(-1 - x^2)` has a
        // rational derivative but is defined nowhere: undecided, as sampling says).
        if !self.decidable() {
            return None;
        }
        let n = self.variables.len();
        let params: Vec<(ExprId, f64)> = self.inputs[n..]
            .iter()
            .copied()
            .zip(self.params.iter().copied())
            .collect();
        let ex = exact::Exact::new(&self.pool, &[reference, answer], &self.inputs[..n], &params)?;
        match ex.decide(reference, answer, n, self.options.seed, &self.budget) {
            exact::Decision::Unknown => None,
            exact::Decision::Equal => Some(Verdict::Correct {
                method: Method::Exact,
            }),
            exact::Decision::Differs { constant, ratio } => {
                let (counterexample, r, a) = self.exact_counterexample(&ex, reference, answer)?;
                // The constant difference and ratio read at the counterexample, a small
                // point, where they are small numbers.
                let small = r.reduced().zip(a.reduced());
                let factor = small
                    .as_ref()
                    .filter(|(r, _)| ratio && *r.numer() != 0.into())
                    .map(|(r, a)| a / r);
                let hint = match &factor {
                    Some(f) if exact::is_minus_one(f) => Some(Hint::SignError),
                    Some(_) => Some(Hint::ConstantFactor),
                    None => None,
                };
                Some(Verdict::Incorrect {
                    counterexample,
                    hint,
                    factor: factor
                        .filter(|_| hint == Some(Hint::ConstantFactor))
                        .map(|f| exact::ratio_f64(&f)),
                    difference: small
                        .filter(|_| constant)
                        .map(|(r, a)| exact::text(&(a - r))),
                    method: Method::Exact,
                })
            }
        }
    }

    /// The simplest point (small integers and halves first, inside the box) where exact
    /// arithmetic shows the answer differs, else a sample where it does; with the exact
    /// values of the reference and the answer there.
    fn exact_counterexample(
        &self,
        ex: &exact::Exact<'_>,
        reference: ExprId,
        answer: ExprId,
    ) -> Option<(Counterexample, exact::Frac, exact::Frac)> {
        let at = |p: &[f64]| {
            let (r, a) = ex.values_at(reference, answer, p, &self.budget)?;
            (r != a).then(|| {
                let c = Counterexample {
                    point: p.to_vec(),
                    expected: r.to_f64(),
                    submitted: a.to_f64(),
                };
                (c, r, a)
            })
        };
        // The first point whose numbers are small enough to show (and to read a
        // difference or a factor from); else the first point where they differ.
        let mut first = None;
        for p in self.simple_points().iter().chain(&self.samples) {
            if let Some(found) = at(p) {
                if found.1.reduced().is_some() && found.2.reduced().is_some() {
                    return Some(found);
                }
                first = first.or(Some(found));
            }
        }
        first
    }

    /// Points of small integers and halves inside the box, simplest first.
    fn simple_points(&self) -> Vec<Vec<f64>> {
        const SIMPLE: [f64; 13] = [
            1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.0, 1.5, -1.5, 3.0, -3.0, 2.5, -2.5,
        ];
        let n = self.variables.len();
        let domains = &self.options.domain;
        let mut rng = Rng(self.options.seed ^ 0x5eed);
        let mut candidates: Vec<Vec<usize>> = vec![vec![0; n], vec![1; n], vec![4; n]];
        for _ in 0..300 {
            candidates.push(
                (0..n)
                    .map(|_| (rng.next() % SIMPLE.len() as u64) as usize)
                    .collect(),
            );
        }
        candidates.sort_by_key(|c| c.iter().sum::<usize>());
        candidates
            .into_iter()
            .map(|c| c.iter().map(|&i| SIMPLE[i]).collect::<Vec<f64>>())
            .filter(|p| {
                p.iter()
                    .zip(&self.bounds)
                    .zip(domains)
                    .all(|((x, &(lo, hi)), d)| (lo..=hi).contains(x) && d.admits(*x))
            })
            .collect()
    }

    /// The simplest point (small integers and halves first) where the reference is
    /// defined and the answer differs from it (or is undefined), else the first such
    /// sample.
    fn counterexample(
        &self,
        k: usize,
        tape: &Executable,
        scale: Scale,
        careful: &Pair<'_>,
    ) -> Option<Counterexample> {
        let eval = |p: &[f64]| -> Option<(f64, f64)> {
            let r = self.reference(p)?;
            if !r[k].is_finite() || (!self.options.values_only && !r.iter().all(|v| v.is_finite()))
            {
                return None;
            }
            let mut input = p.to_vec();
            input.extend(&self.params);
            let a = tape.eval(&input).ok()?.first().copied()?;
            // Only where the digits decide: the numbers shown are then the f64 ones, or
            // the 192-bit ones rounded where f64 lost them.
            let (r, a) = self.decidable_pair(careful, p, r[k], a, scale)?;
            let differs = !a.is_finite() || (scale.informative(r, a) && !scale.close(r, a));
            differs.then_some((r, a))
        };
        for p in self.simple_points() {
            if let Some((expected, submitted)) = eval(&p) {
                return Some(Counterexample {
                    point: p,
                    expected,
                    submitted,
                });
            }
        }
        self.samples.iter().find_map(|p| {
            eval(p).map(|(expected, submitted)| Counterexample {
                point: p.clone(),
                expected,
                submitted,
            })
        })
    }

    /// A hint certain at every sample: a constant factor (-1 is a sign error), or a
    /// missing chain factor of an inner function of the reference.
    fn hint(
        &mut self,
        reference: ExprId,
        expected: &[f64],
        values: &[f64],
        usable: &[bool],
    ) -> Option<Hint> {
        let o = self.options.clone();
        if values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        // Only informative samples whose digits decide are evidence of a factor.
        let mask = usable;
        let (expected, values): (Vec<f64>, Vec<f64>) = expected
            .iter()
            .zip(values)
            .zip(mask)
            .filter(|(_, &m)| m)
            .map(|(p, _)| p)
            .unzip();
        let pivot = expected
            .iter()
            .zip(&values)
            .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()))?;
        if pivot.0.abs() > 1e-9 && expected.len() * 2 >= o.samples.max(1) {
            let c = pivot.1 / pivot.0;
            if expected
                .iter()
                .zip(&values)
                .all(|(&r, &a)| close(c * r, a, &o))
            {
                if close(c, -1.0, &o) {
                    return Some(Hint::SignError);
                }
                if !close(c, 1.0, &o) && c != 0.0 {
                    return Some(Hint::ConstantFactor);
                }
            }
        }
        // Missing chain factor: answer * du/dx_i = reference for an inner function u.
        let var = self.variable_of(reference)?;
        for inner in self.inner_functions(var) {
            let Ok(du) = diff::gradient(&mut self.pool, inner, &[var], self.budget.clone()) else {
                continue;
            };
            let du = du[0];
            if self.pool.node(du).as_num().is_some() {
                continue; // a constant factor is the hint above
            }
            let Some(rows) = self.at_samples(&[du]) else {
                continue;
            };
            let matches = rows
                .iter()
                .zip(mask)
                .filter(|(_, &m)| m)
                .map(|(d, _)| d)
                .zip(expected.iter().zip(&values))
                .all(|(d, (&r, &a))| d.first().is_some_and(|&d| close(a * d, r, &o)));
            if matches {
                return Some(Hint::MissingChainFactor);
            }
        }
        None
    }

    /// The variable a gradient component (or Hessian entry) is the derivative along:
    /// looked up in the program's outputs.
    fn variable_of(&self, reference: ExprId) -> Option<ExprId> {
        let k = *self.output_of.get(&reference)?;
        let m = self.functions.len();
        let n = self.variables.len();
        if k < m || n == 0 {
            return None;
        }
        let j = (k - m) % n;
        self.pool.find_symbol(&self.variables[j])
    }

    /// Arguments of calls and bases of powers in the reference functions that depend on
    /// `var` and are not `var` itself: the inner functions of chain rules.
    fn inner_functions(&self, var: ExprId) -> Vec<ExprId> {
        let order = self.pool.reachable(&self.functions);
        let mut depends: HashMap<ExprId, bool> = HashMap::with_capacity(order.len());
        let mut inner = Vec::new();
        for &id in &order {
            let d = id == var
                || self
                    .pool
                    .children(id)
                    .iter()
                    .any(|c| depends.get(c) == Some(&true));
            depends.insert(id, d);
            let args: &[ExprId] = match self.pool.node(id) {
                Node::Call(_, args) => args,
                Node::Pow(_) => &self.pool.children(id)[..1],
                _ => continue,
            };
            for &a in args {
                if a != var
                    && depends.get(&a) == Some(&true)
                    && !inner.contains(&a)
                    && inner.len() < 32
                {
                    inner.push(a);
                }
            }
        }
        inner
    }

    /// Whether component answers `a` and `b` (values at the samples) are each other's
    /// references `ra` and `rb`: swapped.
    pub fn swapped(&self, ka: ExprId, kb: ExprId, a: &[f64], b: &[f64]) -> bool {
        let (Some(&ia), Some(&ib)) = (self.output_of.get(&ka), self.output_of.get(&kb)) else {
            return false;
        };
        if a.len() != self.samples.len() || b.len() != self.samples.len() || self.samples.is_empty()
        {
            return false;
        }
        let o = &self.options;
        self.reference_at
            .iter()
            .zip(a.iter().zip(b))
            .all(|(r, (&x, &y))| close(x, r[ib], o) && close(y, r[ia], o))
            && self.reference_at.iter().any(|r| !close(r[ia], r[ib], o))
    }

    /// Whether `values` (an answer's values at the samples) agree with the reference
    /// node `reference` at every sample.
    pub fn agrees(&self, reference: ExprId, values: &[f64]) -> bool {
        let Some(&k) = self.output_of.get(&reference) else {
            return false;
        };
        !self.samples.is_empty()
            && values.len() == self.samples.len()
            && self
                .reference_at
                .iter()
                .zip(values)
                .all(|(r, &v)| close(r[k], v, &self.options))
    }

    /// The variables, in the order of the answers.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }
}
