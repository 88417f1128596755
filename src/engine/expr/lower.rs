//! Lowering: a parsed [`Ast`] into canonical nodes of a [`Pool`].
//!
//! One loop over the arena in index order (children first), so lowering is as flat as the
//! arena. Names resolve here: `pi` and `e` are constants unless the scope binds them, and
//! in a closed scope any other unbound name is an error with its span.

use rustc_hash::{FxHashMap, FxHashSet};

use super::exact::Rational;
use super::{Constant, ExprId, Pool};
use crate::engine::func::TensorFn;
use crate::engine::func::{Builtin, Func};
use crate::engine::parse::{Ast, AstKind, AstNode, ElemOp, Span};

/// How names resolve while lowering.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    /// Names that are symbols (variables and parameters). `pi` and `e` listed here are
    /// symbols, not constants.
    pub bound: &'a [String],
    /// When true, a name that is neither bound nor a constant is an error; when false it
    /// becomes a symbol (used when the variables are inferred, and by `/v1/differentiate`).
    pub closed: bool,
}

/// Why lowering failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LowerErrorKind {
    /// A name that is not a variable, a parameter or a constant.
    #[error("unknown variable '{0}'; it is not in 'variables' or 'parameters'")]
    UnknownVariable(String),
    /// A matrix where every operand is a scalar (`eye(3)` among scalars).
    #[error("{0}")]
    NotScalar(String),
}

/// A lowering error with the span of the offending name.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct LowerError {
    /// What went wrong.
    pub kind: LowerErrorKind,
    /// The name's bytes in the source.
    pub span: Span,
}

/// Lowers `ast` into `pool` and returns the root's node.
pub fn lower(ast: &Ast, pool: &mut Pool, scope: Scope<'_>) -> Result<ExprId, LowerError> {
    let bound: FxHashSet<&str> = scope.bound.iter().map(String::as_str).collect();
    // Each name resolves once; its other occurrences are a lookup here.
    let mut names: FxHashMap<&str, ExprId> = FxHashMap::default();
    let mut ids: Vec<ExprId> = Vec::with_capacity(ast.nodes.len());
    // The operands of the node being lowered (one buffer for all of them).
    let mut operands: Vec<ExprId> = Vec::new();
    // Most syntax nodes become a canonical node (numbers and names repeat, `a - b` makes
    // `-1*b`), and a gradient about as many again: reserving that much up front saves
    // the pool copying itself as it grows (pages never touched cost no memory).
    pool.reserve(3 * ast.nodes.len());
    for node in &ast.nodes {
        let id = match node.kind {
            // A literal is the rational it writes (`0.1` is 1/10), where that fits.
            // (An integer, or a dyadic like 0.5, is exact by its f64 alone.)
            AstKind::Num(v) => match Rational::of_literal(v, ast.name(node)) {
                Some(r) => {
                    let v = pool.remember_exact(r);
                    pool.num(v)
                }
                None => pool.num(v),
            },
            AstKind::Ident => {
                let name = ast.name(node);
                match names.get(name) {
                    Some(&id) => id,
                    None => {
                        let bound = bound.contains(name);
                        let id = match name {
                            "pi" if !bound => pool.constant(Constant::Pi),
                            "e" if !bound => pool.constant(Constant::E),
                            _ if bound || !scope.closed => pool.sym(name),
                            _ => {
                                return Err(LowerError {
                                    kind: LowerErrorKind::UnknownVariable(name.to_string()),
                                    span: node.span(),
                                })
                            }
                        };
                        names.insert(name, id);
                        id
                    }
                }
            }
            AstKind::Neg(a) => pool.neg(ids[a.index()]),
            AstKind::Sum(items) => {
                operands.clear();
                for &(minus, t) in ast.items(items) {
                    let t = ids[t.index()];
                    operands.push(if minus { pool.neg(t) } else { t });
                }
                pool.add(&operands)
            }
            AstKind::Product(items) => {
                operands.clear();
                for &(divide, f) in ast.items(items) {
                    let f = ids[f.index()];
                    operands.push(if divide { pool.recip(f) } else { f });
                }
                pool.mul(&operands)
            }
            AstKind::Rem(a, b) => pool.call(Func::Rem, &[ids[a.index()], ids[b.index()]]),
            AstKind::Pow(a, b) | AstKind::Elem(ElemOp::Pow, a, b) => {
                pool.pow(ids[a.index()], ids[b.index()])
            }
            // Among scalars the elementwise operators are the plain ones, and a transpose
            // changes nothing.
            AstKind::Elem(ElemOp::Mul, a, b) => pool.mul(&[ids[a.index()], ids[b.index()]]),
            AstKind::Elem(ElemOp::Div, a, b) => {
                let inverse = pool.recip(ids[b.index()]);
                pool.mul(&[ids[a.index()], inverse])
            }
            AstKind::Transpose(a) => ids[a.index()],
            AstKind::Call(builtin, items) => {
                operands.clear();
                operands.extend(ast.items(items).iter().map(|&(_, a)| ids[a.index()]));
                let args = &operands[..];
                match builtin {
                    Builtin::Func(f) => pool.call(f, args),
                    Builtin::Sqrt => {
                        let half = pool.num(0.5);
                        pool.pow(args[0], half)
                    }
                    Builtin::Pow => pool.pow(args[0], args[1]),
                    Builtin::Log if args.len() == 1 => pool.call(Func::Ln, args),
                    Builtin::Log => pool.call(Func::LogBase, args),
                    Builtin::Tensor(f) => scalar_meaning(pool, f, args, ast, node)?,
                    Builtin::Variadic(f) => {
                        // `min(a)` is `min(a, a)`: meval's value is +inf, not NaN, when
                        // `a` is NaN.
                        let mut acc = pool.call(f, &[args[0], args[args.len().min(2) - 1]]);
                        for &a in args.iter().skip(2) {
                            acc = pool.call(f, &[acc, a]);
                        }
                        acc
                    }
                }
            }
        };
        ids.push(id);
    }
    Ok(ids.last().copied().unwrap_or_else(|| pool.num(0.0)))
}

/// A function of vectors and matrices applied to scalars: `tr(t) = det(t) = sum(t) = t`,
/// `inv(t) = 1/t`, `norm(t) = norm1(t) = abs(t)`, `logdet(t) = ln(t)`, `dot(a, b) = a*b`,
/// and `eye(1) = ones(1) = 1`; `eye(n)` of another size is a matrix, an error here.
fn scalar_meaning(
    pool: &mut Pool,
    f: TensorFn,
    args: &[ExprId],
    ast: &Ast,
    node: &AstNode,
) -> Result<ExprId, LowerError> {
    Ok(match f {
        TensorFn::Transpose | TensorFn::Sum | TensorFn::Tr | TensorFn::Det | TensorFn::Diag => {
            args[0]
        }
        TensorFn::Inv => pool.recip(args[0]),
        TensorFn::Norm | TensorFn::Norm1 => pool.call(Func::Abs, args),
        TensorFn::Logdet => pool.call(Func::Ln, args),
        TensorFn::Dot => pool.mul(args),
        TensorFn::Eye | TensorFn::Ones | TensorFn::Zeros => {
            if args.iter().all(|&a| pool.node(a).as_num() == Some(1.0)) {
                pool.num(if f == TensorFn::Zeros { 0.0 } else { 1.0 })
            } else {
                return Err(LowerError {
                    kind: LowerErrorKind::NotScalar(format!(
                        "'{}' is a matrix here, but every variable is a scalar: give the \
                         shapes of vector and matrix variables",
                        ast.name(node)
                    )),
                    span: node.span(),
                });
            }
        }
    })
}
