//! From a request's expressions to a compiled [`Program`]: reading (with the request's
//! names), the cache key, differentiation, compilation, the limits of each step, and the
//! look-up through the cache ([`program`]).

use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;

use crate::config::Config;
use crate::engine::compile::compile_within;
use crate::engine::expr::Scope;
use crate::engine::print::{self, Latex, Printer, Text};
use crate::engine::{diff, read, Budget, Executable, ExprId, Pool};

use super::cache::spelling_key;
use super::error::ApiError;
use super::Service;

/// What a program computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One expression: its value and gradient.
    Gradient,
    /// Several expressions: their values and Jacobian.
    Jacobian,
    /// One expression: its value, gradient and Hessian.
    Hessian,
    /// Symbolic derivatives only (no program), of order 1 or 2.
    Differentiate(u8),
}

/// The expressions and names of a request, before anything is built.
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    /// What to compute.
    pub kind: Kind,
    /// The expressions, as sent.
    pub expressions: &'a [String],
    /// The variables, as sent (`None`: the free symbols that are not parameters).
    pub variables: Option<&'a [String]>,
    /// The parameters' names, sorted.
    pub parameters: &'a [String],
}

/// A request's expressions read into a pool, with everything the cache key needs.
pub struct Prepared {
    kind: Kind,
    pool: Pool,
    roots: Vec<ExprId>,
    variables: Vec<String>,
    parameters: Vec<String>,
    /// Canonical text of the roots with the kind and names: equal for requests that
    /// differ only in spelling the engine canonicalises, different otherwise (printed
    /// text parses back to the same node, so it is injective on canonical nodes).
    pub key: String,
}

/// A compiled request: what the cache holds.
pub struct Program {
    /// What it computes.
    pub kind: Kind,
    /// The variables, in the order of the answer.
    pub variables: Vec<String>,
    /// The parameters, sorted; inputs after the variables.
    pub parameters: Vec<String>,
    /// Inputs: variables then parameters; outputs in the order of [`Program::outputs`].
    /// `None` for `Differentiate`.
    pub tape: Option<Executable>,
    pool: Pool,
    values: Vec<ExprId>,
    gradients: Vec<Vec<ExprId>>,
    hessian: Vec<Vec<ExprId>>,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every name an identifier, none twice (a set: a request may list 100,000 names).
fn check_names(what: &str, names: &[String]) -> Result<(), ApiError> {
    let mut seen: HashSet<&str> =
        HashSet::with_capacity_and_hasher(names.len(), Default::default());
    for n in names {
        if !is_identifier(n) {
            return Err(ApiError::invalid_request(format!(
                "{what} name {n:?} is not a name of the expression language ([A-Za-z_][A-Za-z0-9_]*)"
            )));
        }
        if !seen.insert(n) {
            return Err(ApiError::invalid_request(format!(
                "{what} {n:?} is listed twice"
            )));
        }
    }
    Ok(())
}

/// Reads the request's expressions and finds its variables. `closed`: whether a free
/// symbol that is not a variable or parameter is an error (compute endpoints) or held
/// constant (`/v1/differentiate`).
pub fn prepare(spec: Spec<'_>, config: &Config) -> Result<Prepared, ApiError> {
    if spec.expressions.is_empty() {
        return Err(ApiError::invalid_request("'expressions' is empty"));
    }
    check_names("variable", spec.variables.unwrap_or_default())?;
    check_names("parameter", spec.parameters)?;
    let params: HashSet<&str> = spec.parameters.iter().map(String::as_str).collect();
    if let Some(vars) = spec.variables {
        if let Some(p) = vars.iter().find(|v| params.contains(v.as_str())) {
            return Err(ApiError::invalid_request(format!(
                "{p:?} is both a variable and a parameter"
            )));
        }
    }
    let closed = spec.variables.is_some() && !matches!(spec.kind, Kind::Differentiate(_));
    let bound: Vec<String> = spec
        .variables
        .unwrap_or_default()
        .iter()
        .chain(spec.parameters)
        .cloned()
        .collect();
    let scope = Scope {
        bound: &bound,
        closed,
    };
    let several = spec.expressions.len() > 1 || matches!(spec.kind, Kind::Jacobian);
    let mut pool = Pool::new();
    let mut roots = Vec::with_capacity(spec.expressions.len());
    for (i, src) in spec.expressions.iter().enumerate() {
        let root = read(&mut pool, src, scope, &config.parse_options())
            .map_err(|e| ApiError::expression(&e, several.then_some(i)))?;
        roots.push(root);
    }
    let variables = match spec.variables {
        Some(v) => v.to_vec(),
        // As written: `x - x + y` has `x` (whose partial is 0) and `y`. The pool is the
        // request's own, so its symbols are the names the expressions wrote.
        None => pool
            .symbol_names()
            .into_iter()
            .filter(|s| !params.contains(s.as_str()))
            .collect(),
    };
    let parameters = spec.parameters.to_vec();
    let mut key = format!(
        "{:?}\u{1}{}\u{1}{}",
        spec.kind,
        variables.join(","),
        parameters.join(",")
    );
    // Fractions whatever the request wrote: `0.5*x` and `x/2` are one entry.
    let mut printer = Printer::new(&pool, Text).fractions();
    for &r in &roots {
        if pool.tree_size(r) > config.max_symbolic_nodes {
            return Err(ApiError::limit_exceeded(
                "max_symbolic_nodes",
                format!(
                    "the expression's canonical form has over {} nodes",
                    config.max_symbolic_nodes
                ),
            ));
        }
        key.push('\u{1}');
        key.push_str(&printer.print(r));
    }
    Ok(Prepared {
        kind: spec.kind,
        pool,
        roots,
        variables,
        parameters,
        key,
    })
}

fn too_many_nodes(config: &Config) -> ApiError {
    ApiError::limit_exceeded(
        "max_nodes",
        format!(
            "the derivatives grew past the limit of {} expression nodes",
            config.max_nodes
        ),
    )
}

/// Differentiates and compiles a prepared request, within `budget` (its time and the
/// configured node limit).
pub fn build(prepared: Prepared, config: &Config, budget: &Budget) -> Result<Program, ApiError> {
    let Prepared {
        kind,
        mut pool,
        roots,
        variables,
        parameters,
        ..
    } = prepared;
    if pool.len() > config.max_nodes {
        return Err(too_many_nodes(config));
    }
    // The derivatives' count alone can be too much (a Hessian of 100,000 variables has
    // 10^10 entries): refuse before building any.
    let (m, n) = (roots.len(), variables.len());
    let second = if matches!(kind, Kind::Hessian | Kind::Differentiate(2)) {
        n.saturating_mul(n)
    } else {
        0
    };
    let entries = m.saturating_add(m.saturating_mul(n)).saturating_add(second);
    if entries > config.max_program_instructions {
        return Err(ApiError::limit_exceeded(
            "max_program_instructions",
            format!(
                "{entries} derivatives asked for ({m} expressions, {n} variables), over the limit of {}",
                config.max_program_instructions
            ),
        ));
    }
    let vars: Vec<ExprId> = variables.iter().map(|v| pool.sym(v)).collect();
    let params: Vec<ExprId> = parameters.iter().map(|p| pool.sym(p)).collect();
    let mut budget = budget.clone();
    budget.max_nodes = config.max_nodes;
    let gradients = diff::jacobian(&mut pool, &roots, &vars, budget.clone())
        .map_err(|e| ApiError::exhausted(e, config))?;
    let hessian = match kind {
        Kind::Hessian | Kind::Differentiate(2) => match gradients.first() {
            Some(g) if roots.len() == 1 => diff::jacobian(&mut pool, g, &vars, budget.clone())
                .map_err(|e| ApiError::exhausted(e, config))?,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let tape = match kind {
        Kind::Differentiate(_) => None,
        _ => {
            let outputs = Outputs::new(roots.len(), vars.len(), hessian.len())
                .nodes(&roots, &gradients, &hessian);
            let inputs: Vec<ExprId> = vars.iter().chain(&params).copied().collect();
            let tape = compile_within(&pool, &outputs, &inputs, &budget)
                .map_err(|e| ApiError::compile(e, config))?;
            if tape.len() > config.max_program_instructions {
                return Err(ApiError::limit_exceeded(
                    "max_program_instructions",
                    format!(
                        "the derivative program has {} instructions, over the limit of {}",
                        tape.len(),
                        config.max_program_instructions
                    ),
                ));
            }
            Some(Executable::new(tape))
        }
    };
    Ok(Program {
        kind,
        variables,
        parameters,
        tape,
        pool,
        values: roots,
        gradients,
        hessian,
    })
}

/// Where a program's outputs sit, in the one order every part of the service reads them:
/// the expressions' values, then each expression's gradient row, then the Hessian row by
/// row (every row aligned with the variables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outputs {
    expressions: usize,
    variables: usize,
    hessian_rows: usize,
}

impl Outputs {
    /// The outputs of `expressions` expressions in `variables` variables, with
    /// `hessian_rows` rows of a Hessian (0, or the number of variables).
    pub fn new(expressions: usize, variables: usize, hessian_rows: usize) -> Outputs {
        Outputs {
            expressions,
            variables,
            hessian_rows,
        }
    }

    /// The number of expressions.
    pub fn expressions(self) -> usize {
        self.expressions
    }

    /// The number of Hessian rows.
    pub fn hessian_rows(self) -> usize {
        self.hessian_rows
    }

    /// The number of outputs.
    pub fn len(self) -> usize {
        let rows = self.expressions + self.hessian_rows;
        self.expressions + rows * self.variables
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Where expression `e`'s value is.
    pub fn value(self, e: usize) -> usize {
        e
    }

    /// Where expression `e`'s gradient row is.
    pub fn gradient_row(self, e: usize) -> std::ops::Range<usize> {
        let start = self.expressions + e * self.variables;
        start..start + self.variables
    }

    /// Where row `i` of the Hessian is.
    pub fn hessian_row(self, i: usize) -> std::ops::Range<usize> {
        let start = self.expressions * (1 + self.variables) + i * self.variables;
        start..start + self.variables
    }

    /// The nodes of the values, gradient rows and Hessian rows, in output order.
    pub fn nodes(
        self,
        values: &[ExprId],
        gradients: &[Vec<ExprId>],
        hessian: &[Vec<ExprId>],
    ) -> Vec<ExprId> {
        let mut nodes = Vec::with_capacity(self.len());
        nodes.extend_from_slice(values);
        nodes.extend(gradients.iter().flatten());
        nodes.extend(hessian.iter().flatten());
        debug_assert_eq!(nodes.len(), self.len());
        nodes
    }
}

/// Symbolic forms of a program's expressions and derivatives.
pub struct Symbolic {
    /// Each expression.
    pub values: Vec<String>,
    /// Each expression's gradient, aligned with the variables.
    pub gradients: Vec<Vec<String>>,
    /// The Hessian of the one expression (empty unless of order 2).
    pub hessian: Vec<Vec<String>>,
    /// Shared subexpressions named once, in order (each uses only names before it); the
    /// texts above use the names. Empty unless asked for.
    pub definitions: Vec<(String, String)>,
}

/// Names for `k` definitions that no symbol of `pool` has: `u1 ...`, else `_u1 ...`.
fn definition_names(pool: &Pool, k: usize) -> Vec<String> {
    let mut prefix = String::from("u");
    loop {
        let names: Vec<String> = (1..=k).map(|i| format!("{prefix}{i}")).collect();
        if names.iter().all(|n| pool.find_symbol(n).is_none()) {
            return names;
        }
        prefix.insert(0, '_');
    }
}

impl Program {
    /// The pool holding the expressions and their derivatives.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Where the program's outputs sit.
    pub fn outputs(&self) -> Outputs {
        Outputs::new(self.values.len(), self.variables.len(), self.hessian.len())
    }

    /// The nodes of the outputs, in output order.
    pub fn output_nodes(&self) -> Vec<ExprId> {
        self.outputs()
            .nodes(&self.values, &self.gradients, &self.hessian)
    }

    /// The expressions' nodes.
    pub fn values(&self) -> &[ExprId] {
        &self.values
    }

    /// Each expression's gradient, aligned with the variables.
    pub fn gradients(&self) -> &[Vec<ExprId>] {
        &self.gradients
    }

    /// The Hessian of the one expression, row by row (empty unless computed).
    pub fn hessian(&self) -> &[Vec<ExprId>] {
        &self.hessian
    }

    /// The memory the program holds, roughly, in bytes: its cache weight.
    pub fn weight_bytes(&self) -> usize {
        let tape = self.tape.as_ref().map_or(0, Executable::weight_bytes);
        tape + self.pool.len() * 96 + 256
    }

    /// Prints the program's expressions and derivatives, as text or LaTeX; with `share`,
    /// subexpressions used more than once are printed once as named definitions. Fails
    /// when the answer would be larger than `max_symbolic_nodes` in all (checked before
    /// anything is printed), or when the budget's time runs out.
    pub fn symbolic(
        &self,
        latex: bool,
        share: bool,
        decimals: bool,
        config: &Config,
        budget: &Budget,
    ) -> Result<Symbolic, ApiError> {
        let roots: Vec<ExprId> = self
            .values
            .iter()
            .chain(self.gradients.iter().flatten())
            .chain(self.hessian.iter().flatten())
            .copied()
            .collect();
        let named = if share {
            print::shared(&self.pool, &roots)
        } else {
            Vec::new()
        };
        let total = if share {
            print::printed_size(&self.pool, &roots, &named)
        } else {
            roots
                .iter()
                .fold(0u64, |t, &id| t.saturating_add(self.pool.tree_size(id)))
        };
        budget.check().map_err(|e| ApiError::exhausted(e, config))?;
        if total > config.max_symbolic_nodes {
            let hint = if share {
                "ask for numbers instead"
            } else {
                "ask for numbers, or for \"definitions\": true, which names shared subexpressions once"
            };
            return Err(ApiError::limit_exceeded(
                "max_symbolic_nodes",
                format!(
                    "the symbolic answer would have {total} nodes in all, over the limit of {}; {hint}",
                    config.max_symbolic_nodes
                ),
            ));
        }
        // Decimals only where the request wrote them (`0.1*x^2` gives `0.2*x`); else
        // fractions (`x^(4/5)` gives `4/(5*x^(1/5))`).
        if latex {
            let p = Printer::new(&self.pool, Latex);
            let p = if decimals { p } else { p.fractions() };
            self.print(p, &named, config, budget)
        } else {
            let p = Printer::new(&self.pool, Text);
            let p = if decimals { p } else { p.fractions() };
            self.print(p, &named, config, budget)
        }
    }

    fn print<S: print::Style>(
        &self,
        mut printer: Printer<'_, S>,
        named: &[ExprId],
        config: &Config,
        budget: &Budget,
    ) -> Result<Symbolic, ApiError> {
        let names = definition_names(&self.pool, named.len());
        let mut definitions = Vec::with_capacity(named.len());
        for (&id, name) in named.iter().zip(names) {
            let text = printer
                .print_within(id, budget)
                .map_err(|e| ApiError::exhausted(e, config))?;
            printer.name(id, &name);
            definitions.push((name, text));
        }
        let mut row = |ids: &[ExprId]| {
            ids.iter()
                .map(|&i| printer.print_within(i, budget))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::exhausted(e, config))
        };
        Ok(Symbolic {
            values: row(&self.values)?,
            gradients: self
                .gradients
                .iter()
                .map(|g| row(g))
                .collect::<Result<_, _>>()?,
            hessian: self
                .hessian
                .iter()
                .map(|h| row(h))
                .collect::<Result<_, _>>()?,
            definitions,
        })
    }
}

/// Whether the expressions write a number as a decimal (`0.5`, `1e-3`): then symbolic
/// answers may print exact numbers as decimals; otherwise they print fractions.
pub fn wrote_decimals(expressions: &[String]) -> bool {
    expressions.iter().any(|e| {
        let b = e.as_bytes();
        (0..b.len()).any(|i| {
            let digit = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
            let dot = b[i] == b'.' && (digit(i + 1) || (i > 0 && digit(i - 1)));
            let exponent = digit(i)
                && matches!(b.get(i + 1), Some(b'e' | b'E'))
                && (digit(i + 2) || (matches!(b.get(i + 2), Some(b'+' | b'-')) && digit(i + 3)));
            dot || exponent
        })
    })
}

/// The program for a request: by exact spelling, else by canonical form, else compiled
/// on a worker (compiling is CPU-heavy; a lookup is not). Also whether the cache had it.
pub async fn program(
    service: &Arc<Service>,
    spec: Spec<'_>,
    budget: &Budget,
) -> Result<(Arc<Program>, bool), ApiError> {
    let spelling = spelling_key(spec.kind, spec.expressions, spec.variables, spec.parameters);
    if let Some(p) = service.cache.by_spelling(&spelling, &service.metrics) {
        return Ok((p, true));
    }
    let prepared = prepare(spec, &service.config)?;
    let key = prepared.key.clone();
    let (program, hit) = match service.cache.cached(&prepared, &service.metrics) {
        Some(p) => (p, true),
        None => {
            let (sv, budget) = (service.clone(), budget.clone());
            service
                .workers
                .run(move || {
                    sv.cache
                        .get_or_build(prepared, &sv.config, &sv.metrics, &budget)
                })
                .await?
        }
    };
    service.cache.remember_spelling(spelling, &key, &program);
    Ok((program, hit))
}
