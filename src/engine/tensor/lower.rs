//! Lowering a parsed expression into a [`TPool`], with the shapes of its symbols: `*` is
//! the matrix product, `.* ./ .^` are elementwise, `/` needs a scalar divisor, `^` a
//! scalar or a square matrix with an integer exponent; every scalar function applies
//! elementwise. A shape error points at the operator (or the call's name).

use super::{Dim, Mismatch, TId, TPool, TShape};
use crate::engine::expr::exact::Rational;
use crate::engine::expr::Constant;
use crate::engine::func::{Builtin, Func, TensorFn};
use crate::engine::parse::{Ast, AstKind, AstNode, ElemOp, Span};

/// Why lowering failed, with the bytes it points at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// Shapes that do not fit the operation.
    #[error("{message}")]
    Mismatch {
        /// What did not fit, with both shapes.
        message: String,
        /// The operator or call.
        span: Span,
    },
    /// A name that is neither a variable, a parameter nor a constant.
    #[error("unknown variable '{name}'; it is not in 'variables' or 'parameters'")]
    UnknownVariable {
        /// The name.
        name: String,
        /// Where it is.
        span: Span,
    },
    /// The expression grew past the pool's node budget.
    #[error("the expression grew past the node limit")]
    TooLarge,
}

impl ShapeError {
    /// The bytes of the expression the error points at.
    pub fn span(&self) -> Option<Span> {
        match self {
            ShapeError::Mismatch { span, .. } | ShapeError::UnknownVariable { span, .. } => {
                Some(*span)
            }
            ShapeError::TooLarge => None,
        }
    }
}

/// The largest `k` of a matrix power `A^k` (each power is a product in the program).
const MAX_MATRIX_POWER: i64 = 64;

/// The largest size `eye(n)`, `ones(n)` or `zeros(n)` may write with a number.
const MAX_LITERAL_DIM: f64 = 100_000.0;

/// Lowers `ast` into `pool`. `shape_of` gives the shape of each bound name (variables,
/// parameters, declared constants); an unbound name is an error when `closed`, else a
/// scalar symbol. `pi` and `e` are constants unless bound.
pub fn lower(
    ast: &Ast,
    pool: &mut TPool,
    shape_of: &dyn Fn(&str) -> Option<TShape>,
    closed: bool,
) -> Result<TId, ShapeError> {
    let mut ids: Vec<TId> = Vec::with_capacity(ast.nodes.len());
    for (i, node) in ast.nodes.iter().enumerate() {
        let here = node.span();
        let mismatch = |span: Span| move |Mismatch(message)| ShapeError::Mismatch { message, span };
        let id = match node.kind {
            AstKind::Num(v) => match Rational::of_literal(v, ast.name(node)) {
                Some(r) => {
                    let v = pool.remember_exact(r);
                    pool.num(v)
                }
                None => pool.num(v),
            },
            AstKind::Ident => {
                let name = ast.name(node);
                match (shape_of(name), name) {
                    (Some(shape), _) => pool.sym(name, shape),
                    (None, "pi") => pool.constant(Constant::Pi),
                    (None, "e") => pool.constant(Constant::E),
                    (None, _) if !closed => pool.sym(name, TShape::SCALAR),
                    (None, _) => {
                        return Err(ShapeError::UnknownVariable {
                            name: name.into(),
                            span: here,
                        })
                    }
                }
            }
            AstKind::Neg(a) => pool.neg(ids[a.index()]),
            AstKind::Sum(items) => {
                let items = ast.items(items);
                let mut acc = ids[items[0].1.index()];
                if items[0].0 {
                    acc = pool.neg(acc);
                }
                for w in items.windows(2) {
                    let (minus, t) = w[1];
                    let op = operator(ast, w[0].1, t);
                    let mut t = ids[t.index()];
                    if minus {
                        t = pool.neg(t);
                    }
                    acc = pool.add(&[acc, t]).map_err(mismatch(op))?;
                }
                acc
            }
            AstKind::Product(items) => {
                let items = ast.items(items);
                let mut acc = ids[items[0].1.index()];
                for w in items.windows(2) {
                    let (divide, f) = w[1];
                    let op = operator(ast, w[0].1, f);
                    let f = ids[f.index()];
                    acc = if divide {
                        if !pool.shape(f).is_scalar() {
                            return Err(ShapeError::Mismatch {
                                message: format!(
                                    "cannot divide by a {}: '/' needs a scalar divisor; \
                                     for elementwise division write './'",
                                    pool.shape_name(pool.shape(f))
                                ),
                                span: op,
                            });
                        }
                        pool.div(acc, f).map_err(mismatch(op))?
                    } else {
                        pool.matmul(acc, f).map_err(mismatch(op))?
                    };
                }
                acc
            }
            AstKind::Rem(a, b) => {
                let op = operator(ast, a, b);
                pool.call(Func::Rem, &[ids[a.index()], ids[b.index()]])
                    .map_err(mismatch(op))?
            }
            AstKind::Pow(a, b) => {
                let op = operator(ast, a, b);
                power(pool, ids[a.index()], ids[b.index()]).map_err(mismatch(op))?
            }
            AstKind::Elem(e, a, b) => {
                let op = operator(ast, a, b);
                let (a, b) = (ids[a.index()], ids[b.index()]);
                match e {
                    ElemOp::Mul => pool.mul(&[a, b]),
                    ElemOp::Div => pool.div(a, b),
                    ElemOp::Pow => pool.pow(a, b),
                }
                .map_err(mismatch(op))?
            }
            AstKind::Transpose(a) => pool.transpose(ids[a.index()]).map_err(mismatch(here))?,
            AstKind::Call(builtin, items) => {
                let args: Vec<TId> = ast
                    .items(items)
                    .iter()
                    .map(|&(_, a)| ids[a.index()])
                    .collect();
                let name_span = call_name(ast, node);
                let m = mismatch(name_span);
                match builtin {
                    Builtin::Func(f) => pool.call(f, &args).map_err(m)?,
                    Builtin::Sqrt => {
                        let half = pool.num(0.5);
                        pool.pow(args[0], half).map_err(m)?
                    }
                    Builtin::Pow => pool.pow(args[0], args[1]).map_err(m)?,
                    Builtin::Log if args.len() == 1 => pool.call(Func::Ln, &args).map_err(m)?,
                    Builtin::Log => pool.call(Func::LogBase, &args).map_err(m)?,
                    Builtin::Variadic(f) => {
                        let mut acc = pool
                            .call(f, &[args[0], args[args.len().min(2) - 1]])
                            .map_err(mismatch(name_span))?;
                        for &a in args.iter().skip(2) {
                            acc = pool.call(f, &[acc, a]).map_err(mismatch(name_span))?;
                        }
                        acc
                    }
                    Builtin::Tensor(f) => {
                        let arg_nodes: Vec<&AstNode> =
                            ast.items(items).iter().map(|&(_, a)| ast.node(a)).collect();
                        tensor_call(pool, f, &args, &arg_nodes, ast, name_span)?
                    }
                }
            }
        };
        if pool.over_budget() {
            return Err(ShapeError::TooLarge);
        }
        ids.push(id);
        let _ = i;
    }
    Ok(ids.last().copied().unwrap_or_else(|| pool.num(0.0)))
}

/// `a ^ b`: elementwise on scalars, the matrix power of a square matrix by an integer.
fn power(pool: &mut TPool, a: TId, b: TId) -> Result<TId, Mismatch> {
    let (sa, sb) = (pool.shape(a), pool.shape(b));
    if sa.is_scalar() && sb.is_scalar() {
        return pool.pow(a, b);
    }
    let k = pool
        .as_num(b)
        .filter(|k| k.fract() == 0.0 && k.abs() <= MAX_MATRIX_POWER as f64);
    match k {
        Some(k) if sa.is_square() && sb.is_scalar() => {
            let k = k as i64;
            let base = if k < 0 { pool.inv(a)? } else { a };
            if k == 0 {
                return Ok(pool.eye(sa.rows));
            }
            let factors = vec![base; k.unsigned_abs() as usize];
            pool.matmul_chain(&factors)
        }
        _ => Err(Mismatch(format!(
            "cannot raise a {} to the power {}: '^' needs a scalar, or a square matrix and an \
             integer exponent (at most {MAX_MATRIX_POWER}); for an elementwise power write '.^'",
            pool.shape_name(sa),
            match pool.as_num(b) {
                Some(v) => v.to_string(),
                None => format!("of a {}", pool.shape_name(sb)),
            }
        ))),
    }
}

/// A function of vectors and matrices.
fn tensor_call(
    pool: &mut TPool,
    f: TensorFn,
    args: &[TId],
    arg_nodes: &[&AstNode],
    ast: &Ast,
    span: Span,
) -> Result<TId, ShapeError> {
    let m = |Mismatch(message)| ShapeError::Mismatch { message, span };
    Ok(match f {
        TensorFn::Transpose => pool.transpose(args[0]).map_err(m)?,
        TensorFn::Dot => pool.dot(args[0], args[1]).map_err(m)?,
        TensorFn::Sum => pool.sum(args[0]).map_err(m)?,
        TensorFn::Norm => pool.norm(args[0]).map_err(m)?,
        TensorFn::Norm1 => pool.norm1(args[0]).map_err(m)?,
        TensorFn::Tr => pool.tr(args[0]).map_err(m)?,
        TensorFn::Det => pool.det(args[0]).map_err(m)?,
        TensorFn::Logdet => pool.logdet(args[0]).map_err(m)?,
        TensorFn::Inv => pool.inv(args[0]).map_err(m)?,
        TensorFn::Diag => pool.diag(args[0]).map_err(m)?,
        TensorFn::Eye | TensorFn::Ones | TensorFn::Zeros => {
            let mut dims = Vec::with_capacity(2);
            for node in arg_nodes {
                dims.push(dimension(pool, node, ast, f)?);
            }
            match f {
                TensorFn::Eye if dims.len() == 1 => pool.eye(dims[0]),
                TensorFn::Eye => {
                    return Err(ShapeError::Mismatch {
                        message: "eye takes one size: eye(n)".into(),
                        span,
                    })
                }
                _ => {
                    let shape = TShape::new(dims[0], dims.get(1).copied().unwrap_or(Dim::Known(1)));
                    pool.fill(if f == TensorFn::Ones { 1.0 } else { 0.0 }, shape)
                }
            }
        }
    })
}

/// A size written in `eye(n)`: a positive integer, or a dimension's name.
fn dimension(pool: &mut TPool, node: &AstNode, ast: &Ast, f: TensorFn) -> Result<Dim, ShapeError> {
    let span = node.span();
    match node.kind {
        AstKind::Num(v) if v >= 1.0 && v.fract() == 0.0 && v <= MAX_LITERAL_DIM => {
            Ok(Dim::Known(v as u32))
        }
        AstKind::Ident if pool.has_dim(ast.name(node)) => Ok(pool.dim(ast.name(node))),
        _ => Err(ShapeError::Mismatch {
            message: format!(
                "{}'s size must be a positive integer (at most {MAX_LITERAL_DIM}) or the name of \
                 a dimension, not '{}'",
                f.name(),
                ast.name(node)
            ),
            span,
        }),
    }
}

/// The bytes of the operator between the operands `a` and `b`: the first operator
/// character after `a` (past closing parentheses), or the gap when the product is implied.
fn operator(ast: &Ast, a: crate::engine::parse::AstId, b: crate::engine::parse::AstId) -> Span {
    let (sa, sb) = (ast.node(a).span(), ast.node(b).span());
    let src = ast.source().as_bytes();
    let (lo, hi) = (sa.end.min(src.len()), sb.start.min(src.len()));
    let mut i = lo;
    while i < hi {
        match src[i] {
            b')' | b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'.' if i + 1 < hi => return Span::new(i, i + 2),
            b'*' if src.get(i + 1) == Some(&b'*') => return Span::new(i, i + 2),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => return Span::new(i, i + 1),
            _ => break,
        }
    }
    // Implied, or a sign the lexer read as U+2212: the whole of both operands.
    sa.to(sb)
}

/// The bytes of a call's name.
fn call_name(ast: &Ast, node: &AstNode) -> Span {
    let span = node.span();
    let text = ast.name(node);
    let len = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    Span::new(span.start, span.start + len.max(1))
}
