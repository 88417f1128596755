//! Differentiation at the level of matrices: one reverse sweep over the DAG, each node's
//! adjoint a tensor of the node's shape (`∂f/∂node` for a scalar `f`).
//!
//! The rules (`G` the adjoint of the node): a sum hands `G` to each term (summed over
//! the entries where a scalar term was broadcast); an elementwise product hands
//! `G .* (the other factors)`; a matrix product `L*F*R` hands `L'*G*R'` to `F`; a
//! transpose hands `G'`; an elementwise function `G .* f'(a)` (the table's derivative,
//! read elementwise); `sum(A)` hands `G` spread over `A`'s shape; `tr(A)` `G*eye(n)`;
//! `det(A)` `G*det(A)*inv(A)'`; `logdet(A)` `G*inv(A)'`; `inv(A)` `-inv(A)'*G*inv(A)'`;
//! `diag` the other `diag`; `norm(A)` `G*A/norm(A)`; `norm1(A)` `G*sign(A)`.
//!
//! A Jacobian of a vector `y` with respect to a vector `x` is found from the
//! vector-Jacobian product: the adjoint of `x` when `y`'s adjoint is a symbol `u` is
//! linear in `u`, `M*u`, and the Jacobian is `M'`; [`linear_in`] reads `M` off the
//! expression (`A'*u` gives `A'`; `c .* (X*u)` gives `diag(c)*X`). Where it cannot, the
//! product itself is kept, to be evaluated once per output ([`Jacobian::Product`]).

use super::{Dim, Mismatch, TId, TNode, TPool, TShape};
use crate::engine::budget::{Budget, Exhausted};
use crate::engine::func::{Builtin, Func};
use crate::engine::parse::{parse, AstKind, ElemOp, ParseOptions};

/// Why differentiation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DiffError {
    /// The work ran out of nodes or time.
    #[error(transparent)]
    Exhausted(#[from] Exhausted),
    /// A shape that did not fit where a rule expected it to: a bug, not an input error.
    #[error("internal shape error: {0}")]
    Shape(String),
}

impl From<Mismatch> for DiffError {
    fn from(Mismatch(m): Mismatch) -> DiffError {
        DiffError::Shape(m)
    }
}

type R<T> = Result<T, DiffError>;

/// The name of the symbol that stands for an output's adjoint in a vector-Jacobian
/// product: not a name the language can write, so it never meets a user's symbol.
pub const SEED: &str = "#seed";

fn check(pool: &TPool, budget: &Budget) -> R<()> {
    if pool.len() > budget.max_nodes {
        return Err(Exhausted::Nodes {
            limit: budget.max_nodes,
        }
        .into());
    }
    budget.check()?;
    Ok(())
}

/// The gradients of the scalar `root` with respect to each of `wrt` (symbols); each has
/// its symbol's shape.
pub fn gradient(pool: &mut TPool, root: TId, wrt: &[TId], budget: &Budget) -> R<Vec<TId>> {
    let one = pool.num(1.0);
    adjoints(pool, root, one, wrt, budget)
}

/// The adjoints of `wrt` when `root`'s adjoint is `seed` (of `root`'s shape).
pub fn adjoints(
    pool: &mut TPool,
    root: TId,
    seed: TId,
    wrt: &[TId],
    budget: &Budget,
) -> R<Vec<TId>> {
    let top = root.index();
    // Which nodes depend on some symbol of `wrt`.
    let mut dep = vec![false; top + 1];
    for &w in wrt {
        if w.index() <= top {
            dep[w.index()] = true;
        }
    }
    for i in 0..=top {
        if !dep[i] {
            dep[i] = pool
                .node(TId(i as u32))
                .children()
                .iter()
                .any(|c| dep[c.index()]);
        }
    }
    let mut adj: Vec<Option<TId>> = vec![None; top + 1];
    if dep[top] {
        adj[top] = Some(seed);
    }
    let mut contributions: Vec<(TId, TId)> = Vec::new();
    for i in (0..=top).rev() {
        let Some(g) = adj[i] else { continue };
        if i % 16 == 0 {
            check(pool, budget)?;
        }
        let id = TId(i as u32);
        contributions.clear();
        rule(pool, id, g, &dep, &mut contributions)?;
        for &(child, c) in &contributions {
            let c = unbroadcast(pool, c, pool.shape(child))?;
            adj[child.index()] = Some(match adj[child.index()] {
                Some(prev) => pool.add(&[prev, c])?,
                None => c,
            });
        }
    }
    check(pool, budget)?;
    Ok(wrt
        .iter()
        .map(|&w| match adj.get(w.index()).copied().flatten() {
            Some(g) => g,
            None => {
                let s = pool.shape(w);
                pool.fill(0.0, s)
            }
        })
        .collect())
}

/// `g` summed down to `shape` where a scalar was broadcast.
fn unbroadcast(pool: &mut TPool, g: TId, shape: TShape) -> R<TId> {
    let sg = pool.shape(g);
    if sg == shape {
        return Ok(g);
    }
    if shape.is_scalar() {
        return Ok(pool.sum(g)?);
    }
    Ok(pool.widen(g, shape))
}

/// The contributions of node `id` with adjoint `g` to its children that depend on a
/// variable.
fn rule(pool: &mut TPool, id: TId, g: TId, dep: &[bool], out: &mut Vec<(TId, TId)>) -> R<()> {
    let d = |c: TId| dep[c.index()];
    let node = pool.node(id).clone();
    match node {
        TNode::Num(_)
        | TNode::Const(_)
        | TNode::Sym(_)
        | TNode::Eye(_)
        | TNode::Ones(_)
        | TNode::Zeros(_) => {}
        TNode::Add(ts) => {
            for t in ts.into_iter().filter(|&t| d(t)) {
                out.push((t, g));
            }
        }
        TNode::Mul(fs) => {
            for (i, &f) in fs.iter().enumerate() {
                if !d(f) {
                    continue;
                }
                let mut others: Vec<TId> = fs
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &x)| x)
                    .collect();
                others.push(g);
                out.push((f, pool.mul(&others)?));
            }
        }
        TNode::Pow([b, e]) => {
            if d(b) {
                let one = pool.num(1.0);
                let e1 = pool.sub(e, one)?;
                let p = pool.pow(b, e1)?;
                out.push((b, pool.mul(&[g, e, p])?));
            }
            if d(e) {
                let ln = pool.call(Func::Ln, &[b])?;
                out.push((e, pool.mul(&[g, id, ln])?));
            }
        }
        TNode::MatMul(fs) => {
            for i in 0..fs.len() {
                if !d(fs[i]) {
                    continue;
                }
                let mut chain = Vec::with_capacity(3);
                if i > 0 {
                    let left = pool.matmul_chain(&fs[..i])?;
                    chain.push(pool.transpose(left)?);
                }
                chain.push(g);
                if i + 1 < fs.len() {
                    let right = pool.matmul_chain(&fs[i + 1..])?;
                    chain.push(pool.transpose(right)?);
                }
                out.push((fs[i], pool.matmul_chain(&chain)?));
            }
        }
        TNode::Transpose(x) => out.push((x, pool.transpose(g)?)),
        TNode::Call(f, args) => {
            for (j, &a) in args.iter().enumerate() {
                if !d(a) {
                    continue;
                }
                if let Some(p) = partial(pool, f, j, &args)? {
                    out.push((a, pool.mul(&[g, p])?));
                }
            }
        }
        TNode::Sum(a) => {
            let s = pool.shape(a);
            out.push((a, pool.widen(g, s)));
        }
        TNode::Tr(a) => {
            let n = pool.shape(a).rows;
            let eye = pool.eye(n);
            out.push((a, pool.mul(&[g, eye])?));
        }
        TNode::Det(a) => {
            let inv = pool.inv(a)?;
            let inv_t = pool.transpose(inv)?;
            out.push((a, pool.mul(&[g, id, inv_t])?));
        }
        TNode::Logdet(a) => {
            let inv = pool.inv(a)?;
            let inv_t = pool.transpose(inv)?;
            out.push((a, pool.mul(&[g, inv_t])?));
        }
        TNode::Inv(a) => {
            let inv_t = pool.transpose(id)?;
            let chain = pool.matmul_chain(&[inv_t, g, inv_t])?;
            out.push((a, pool.neg(chain)));
        }
        TNode::Diag(v) | TNode::DiagOf(v) => out.push((v, pool.diag(g)?)),
        TNode::Norm(a) => {
            let m1 = pool.num(-1.0);
            let inverse = pool.pow(id, m1)?;
            out.push((a, pool.mul(&[g, a, inverse])?));
        }
        TNode::Norm1(a) => {
            let sign = pool.call(Func::Sign, &[a])?;
            out.push((a, pool.mul(&[g, sign])?));
        }
    }
    Ok(())
}

/// `∂f/∂args[j]` from the function table's derivative, read elementwise over the
/// arguments; `None` where it is 0.
fn partial(pool: &mut TPool, f: Func, j: usize, args: &[TId]) -> R<Option<TId>> {
    let Some(src) = f.derivative().get(j) else {
        return Ok(None);
    };
    if *src == "0" {
        return Ok(None);
    }
    let ast = parse(src, &ParseOptions::default())
        .map_err(|e| DiffError::Shape(format!("the table's derivative {src:?}: {e}")))?;
    let mut ids: Vec<TId> = Vec::with_capacity(ast.nodes.len());
    for node in &ast.nodes {
        let id = match node.kind {
            AstKind::Num(v) => pool.num(v),
            AstKind::Ident => match ast.name(node) {
                "a" => args[0],
                "b" => args[args.len() - 1],
                "pi" => pool.constant(crate::engine::expr::Constant::Pi),
                name => {
                    return Err(DiffError::Shape(format!(
                        "the table's derivative names {name}"
                    )))
                }
            },
            AstKind::Neg(a) => pool.neg(ids[a.index()]),
            AstKind::Sum(items) => {
                let mut terms = Vec::new();
                for &(minus, t) in ast.items(items) {
                    let t = ids[t.index()];
                    terms.push(if minus { pool.neg(t) } else { t });
                }
                pool.add(&terms)?
            }
            AstKind::Product(items) => {
                let mut fs = Vec::new();
                for &(divide, t) in ast.items(items) {
                    let t = ids[t.index()];
                    fs.push(if divide {
                        let m1 = pool.num(-1.0);
                        pool.pow(t, m1)?
                    } else {
                        t
                    });
                }
                pool.mul(&fs)?
            }
            AstKind::Pow(a, b) | AstKind::Elem(ElemOp::Pow, a, b) => {
                pool.pow(ids[a.index()], ids[b.index()])?
            }
            AstKind::Elem(ElemOp::Mul, a, b) => pool.mul(&[ids[a.index()], ids[b.index()]])?,
            AstKind::Elem(ElemOp::Div, a, b) => pool.div(ids[a.index()], ids[b.index()])?,
            AstKind::Rem(a, b) => pool.call(Func::Rem, &[ids[a.index()], ids[b.index()]])?,
            AstKind::Transpose(a) => ids[a.index()],
            AstKind::Call(builtin, items) => {
                let a: Vec<TId> = ast
                    .items(items)
                    .iter()
                    .map(|&(_, x)| ids[x.index()])
                    .collect();
                match builtin {
                    Builtin::Func(g) => pool.call(g, &a)?,
                    Builtin::Sqrt => {
                        let half = pool.num(0.5);
                        pool.pow(a[0], half)?
                    }
                    Builtin::Pow => pool.pow(a[0], a[1])?,
                    Builtin::Log if a.len() == 1 => pool.call(Func::Ln, &a)?,
                    Builtin::Log => pool.call(Func::LogBase, &a)?,
                    Builtin::Variadic(g) => pool.call(g, &[a[0], a[a.len().min(2) - 1]])?,
                    Builtin::Tensor(t) => {
                        return Err(DiffError::Shape(format!(
                            "the table's derivative calls {t:?}"
                        )))
                    }
                }
            }
        };
        ids.push(id);
    }
    Ok(ids.last().copied())
}

/// A Jacobian `dy/dx` of a column `y` with respect to a column `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jacobian {
    /// The matrix itself (rows: `y`'s entries; columns: `x`'s).
    Matrix(TId),
    /// The vector-Jacobian product `J'*u` with `u` the symbol [`SEED`], to be evaluated
    /// with `u` each unit vector in turn (row `i` of `J` is its value at `e_i`).
    Product {
        /// The seed symbol.
        seed: TId,
        /// The product, of `x`'s shape.
        product: TId,
    },
}

/// The Jacobian of `y` (any shape: its entries row by row are the outputs) with respect
/// to the symbol `x`.
pub fn jacobian(pool: &mut TPool, y: TId, x: TId, budget: &Budget) -> R<Jacobian> {
    let (sy, sx) = (pool.shape(y), pool.shape(x));
    if sy.is_scalar() {
        let g = gradient(pool, y, &[x], budget)?[0];
        return Ok(if sx.is_scalar() || sx.is_column() {
            // One output: a row, the gradient laid flat.
            Jacobian::Matrix(pool.transpose(g)?)
        } else {
            let seed = pool.sym(SEED, TShape::SCALAR);
            Jacobian::Product { seed, product: g }
        });
    }
    let seed = pool.sym(SEED, sy);
    let product = adjoints(pool, y, seed, &[x], budget)?[0];
    if sy.is_column() && (sx.is_column() || sx.is_scalar()) {
        if !pool.depends_on(product, seed) {
            // No output depends on `x`: the Jacobian is zero.
            let shape = TShape::new(sy.rows, sx.rows);
            return Ok(Jacobian::Matrix(pool.fill(0.0, shape)));
        }
        if let Some(m) = linear_in(pool, product, seed)? {
            check(pool, budget)?;
            return Ok(Jacobian::Matrix(pool.transpose(m)?));
        }
    }
    Ok(Jacobian::Product { seed, product })
}

/// What [`linear_in`] knows of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lin {
    /// It does not depend on `u`.
    Free,
    /// It is `M*u` with this `M`.
    Of(TId),
    /// Not a form read here.
    Unknown,
}

/// The matrix `M` with `expr = M*u`, where `expr` (a column or a scalar) is linear in the
/// column symbol `u`, if its form shows it.
pub fn linear_in(pool: &mut TPool, expr: TId, u: TId) -> R<Option<TId>> {
    if expr.index() < u.index() {
        return Ok(None);
    }
    let n = pool.shape(u).rows;
    let base = u.index();
    let mut lin: Vec<Lin> = vec![Lin::Free; expr.index() + 1 - base];
    for i in base..=expr.index() {
        let id = TId(i as u32);
        let at = |lin: &[Lin], c: TId| {
            if c.index() < base {
                Lin::Free
            } else {
                lin[c.index() - base]
            }
        };
        let node = pool.node(id).clone();
        let children = node.children().to_vec();
        if id != u && children.iter().all(|&c| at(&lin, c) == Lin::Free) {
            lin[i - base] = Lin::Free;
            continue;
        }
        let result = if id == u {
            Lin::Of(pool.eye(n))
        } else {
            match node {
                TNode::Add(ts) => {
                    let mut ms = Vec::with_capacity(ts.len());
                    let mut ok = true;
                    for t in ts {
                        match at(&lin, t) {
                            Lin::Of(m) => ms.push(m),
                            _ => ok = false,
                        }
                    }
                    if ok {
                        Lin::Of(merge_diagonals(pool, &ms)?)
                    } else {
                        Lin::Unknown
                    }
                }
                TNode::Mul(fs) => {
                    let linear: Vec<usize> = (0..fs.len())
                        .filter(|&j| at(&lin, fs[j]) != Lin::Free)
                        .collect();
                    match (linear.as_slice(), linear.first().map(|&j| at(&lin, fs[j]))) {
                        ([j], Some(Lin::Of(mf))) => {
                            let rest: Vec<TId> = fs
                                .iter()
                                .enumerate()
                                .filter(|&(k, _)| k != *j)
                                .map(|(_, &f)| f)
                                .collect();
                            let c = pool.mul(&rest)?;
                            let (sf, sc) = (pool.shape(fs[*j]), pool.shape(c));
                            if sc.is_scalar() {
                                Lin::Of(pool.mul(&[c, mf])?)
                            } else if sf.is_scalar() && sc.is_column() {
                                Lin::Of(pool.matmul(c, mf)?)
                            } else if sf == sc && sf.is_column() {
                                let dc = pool.diag(c)?;
                                Lin::Of(pool.matmul(dc, mf)?)
                            } else {
                                Lin::Unknown
                            }
                        }
                        _ => Lin::Unknown,
                    }
                }
                TNode::MatMul(fs) => {
                    let linear: Vec<usize> = (0..fs.len())
                        .filter(|&j| at(&lin, fs[j]) != Lin::Free)
                        .collect();
                    match linear.as_slice() {
                        [j] => {
                            let j = *j;
                            let row_of_u =
                                matches!(pool.node(fs[j]), TNode::Transpose(x) if *x == u);
                            if row_of_u && j + 1 < fs.len() {
                                // L * u' * R, with u'*R a scalar: (L*R')*u.
                                let right = pool.matmul_chain(&fs[j + 1..])?;
                                if pool.shape(right).is_column() {
                                    let rt = pool.transpose(right)?;
                                    let mut chain = fs[..j].to_vec();
                                    chain.push(rt);
                                    Lin::Of(pool.matmul_chain(&chain)?)
                                } else {
                                    Lin::Unknown
                                }
                            } else if let (Lin::Of(m), true) = (at(&lin, fs[j]), j + 1 == fs.len())
                            {
                                let mut chain = fs[..j].to_vec();
                                chain.push(m);
                                Lin::Of(pool.matmul_chain(&chain)?)
                            } else {
                                Lin::Unknown
                            }
                        }
                        _ => Lin::Unknown,
                    }
                }
                TNode::Sum(a) => match at(&lin, a) {
                    Lin::Of(m) if pool.shape(a).is_column() => {
                        let k = pool.shape(a).rows;
                        let ones = pool.fill(1.0, TShape::new(Dim::Known(1), k));
                        Lin::Of(pool.matmul(ones, m)?)
                    }
                    _ => Lin::Unknown,
                },
                _ => Lin::Unknown,
            }
        };
        lin[i - base] = result;
    }
    Ok(match lin[expr.index() - base] {
        Lin::Of(m) => Some(m),
        _ => None,
    })
}

/// `Σ Mᵢ`, where terms `s*diag(d)*R` with the same `R` become one `diag(Σ s*d)*R`: the
/// Hessian of a sum over data points stays `X'*diag(c)*X`, one product.
fn merge_diagonals(pool: &mut TPool, ms: &[TId]) -> R<TId> {
    // (the rest of the chain, the diagonal's vector with its scalar factors)
    let mut groups: Vec<(Vec<TId>, Vec<TId>)> = Vec::new();
    let mut others = Vec::new();
    for &m in ms {
        let (scalars, chain) = match pool.node(m) {
            TNode::Mul(fs) => {
                let fs = fs.clone();
                let (s, t): (Vec<TId>, Vec<TId>) =
                    fs.into_iter().partition(|&f| pool.shape(f).is_scalar());
                match t.as_slice() {
                    [t] => (s, *t),
                    _ => {
                        others.push(m);
                        continue;
                    }
                }
            }
            _ => (Vec::new(), m),
        };
        let parts = match pool.node(chain) {
            TNode::MatMul(fs) => fs.clone(),
            _ => vec![chain],
        };
        match pool.node(parts[0]) {
            TNode::Diag(d) => {
                let d = *d;
                let mut factors = scalars;
                factors.push(d);
                let scaled = pool.mul(&factors)?;
                let rest = parts[1..].to_vec();
                match groups.iter_mut().find(|(r, _)| *r == rest) {
                    Some((_, ds)) => ds.push(scaled),
                    None => groups.push((rest, vec![scaled])),
                }
            }
            _ => others.push(m),
        }
    }
    for (rest, ds) in groups {
        let d = pool.add(&ds)?;
        let mut chain = vec![pool.diag(d)?];
        chain.extend(rest);
        others.push(pool.matmul_chain(&chain)?);
    }
    Ok(pool.add(&others)?)
}
