//! Building a tensor program: lowering with the scope's shapes, the cache key, the
//! derivatives asked for, and the plans that evaluate them.

use std::fmt::Write as _;

use crate::config::Config;
use crate::engine::budget::Budget;
use crate::engine::parse::parse;
use crate::engine::tensor::diff::{self, DiffError, Jacobian};
use crate::engine::tensor::eval::{Plan, PlanError, PlanLimits};
use crate::engine::tensor::{self, ShapeError, TId, TPool, TShape};
use crate::engine::ExprError;
use crate::service::error::ApiError;

use super::scope::index;
use super::*;

/// The cache key: what the program depends on (the expressions, the kind, every
/// symbol's name and shape), not the values.
pub(super) fn key(req: &Request<'_>, scope: &Scope, pool: &TPool, values: &[(TId, u8)]) -> String {
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

pub(super) fn shape_error(e: ShapeError, i: Option<usize>, config: &Config) -> ApiError {
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

pub(super) fn diff_error(e: DiffError, config: &Config) -> ApiError {
    match e {
        DiffError::Exhausted(x) => ApiError::exhausted(x, config),
        DiffError::Shape(m) => ApiError::internal(format!("differentiation: {m}")),
    }
}

pub(super) fn plan_error(e: PlanError) -> ApiError {
    match e {
        PlanError::Symbolic => ApiError::invalid_request(e.to_string()),
        PlanError::TooLarge { .. } => ApiError::limit_exceeded("max_matrix_work", e.to_string()),
        PlanError::TooMuchWork { .. } => ApiError::limit_exceeded("max_matrix_work", e.to_string()),
    }
}

/// The most numbers the values of one tensor program may hold together.
pub(super) const MAX_ENTRIES: u128 = 1 << 25;
/// The most arithmetic operations one evaluation may take (a few seconds).
pub(super) const MAX_FLOPS: u128 = 20_000_000_000;

/// Builds the program of `req` (lowering, differentiation, plans) under `budget`.
/// Lowers the expressions of `req` into `pool` with the scope's shapes: each root and its
/// rank. Linear in the expressions (whose size is limited), so it runs before the cache
/// is asked, and the cache key is the canonical structure.
pub(super) fn lower_all(
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
pub(super) fn build(
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
    pub(super) fn node_roots(&self) -> Vec<TId> {
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
    pub(super) fn answer_len(&self) -> usize {
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
