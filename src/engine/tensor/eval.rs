//! Evaluation of tensor expressions: a [`Plan`] over the nodes the outputs need, in id
//! order (children first), at the concrete shapes of one request, with faer for the
//! products and factorisations.
//!
//! Values are dense and row-major (as JSON writes a matrix: row by row). A transpose of a
//! symbol that only feeds matrix products is never copied: the product reads it as a
//! transposed view. A chain of products is multiplied in the cheapest order for its
//! shapes (`A'*(A*x)`, never `(A'*A)*x`), and a `diag(v)` inside a chain scales rows or
//! columns instead of being formed. The plan counts its memory and its arithmetic before
//! anything is allocated, and refuses what is over the limits; evaluation checks the
//! request's budget between steps.

use std::borrow::Cow;

use faer::linalg::solvers::DenseSolveCore;
use faer::{MatMut, MatRef};

use super::chain::{chain_order, sub_chains};
use super::{Dim, TId, TNode, TPool, TShape};
use crate::engine::budget::{Budget, Exhausted};

/// A dense value: `rows` by `cols`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The entries, row by row.
    pub data: Vec<f64>,
}

impl Dense {
    /// A 1x1 value.
    pub fn scalar(v: f64) -> Dense {
        Dense {
            rows: 1,
            cols: 1,
            data: vec![v],
        }
    }

    fn filled(rows: usize, cols: usize, v: f64) -> Dense {
        Dense {
            rows,
            cols,
            data: vec![v; rows * cols],
        }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    fn view(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.data, self.rows, self.cols)
    }
}

/// Why a plan could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A dimension is a name, not a number.
    #[error("the shapes are symbolic: a value needs numbers for every dimension")]
    Symbolic,
    /// Its values would hold more numbers than allowed.
    #[error(
        "the values of this expression would hold {entries} numbers, over the limit of {limit}"
    )]
    TooLarge {
        /// What it would hold.
        entries: u128,
        /// The limit.
        limit: u128,
    },
    /// Its arithmetic is over the limit.
    #[error(
        "this expression would take about {flops} arithmetic operations, over the limit of {limit}"
    )]
    TooMuchWork {
        /// Its estimate.
        flops: u128,
        /// The limit.
        limit: u128,
    },
}

/// Limits of a plan.
#[derive(Clone, Copy, Debug)]
pub struct PlanLimits {
    /// Most numbers all values together may hold.
    pub max_entries: u128,
    /// Most arithmetic operations one evaluation may take.
    pub max_flops: u128,
}

/// How a chain factor is read.
#[derive(Clone, Copy, Debug)]
pub(super) enum Factor {
    /// The node's value.
    Value(usize),
    /// The value of a node, transposed (a view, no copy).
    Transposed(usize),
    /// `diag(v)`: the value of `v`.
    Diagonal(usize),
}

/// One step of a chain's product: multiply the two operands on top of the stack, or
/// push a factor.
#[derive(Clone, Copy, Debug)]
pub(super) enum ChainStep {
    Push(Factor),
    Multiply,
}

/// What a step computes.
#[derive(Clone, Debug)]
enum Step {
    /// Symbol `k`'s value.
    Input(u32),
    /// A node evaluated from its children's values.
    Node,
    /// A chain of matrix products, in the order found.
    Chain(Vec<ChainStep>),
}

/// A program over tensors for one set of shapes.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The nodes evaluated, in order, with their shapes and steps.
    nodes: Vec<(TId, (usize, usize), Step)>,
    /// The position in `nodes` of each node id (usize::MAX: not evaluated).
    position: Vec<usize>,
    /// For each step, the steps whose values are not needed after it.
    frees: Vec<Vec<usize>>,
    roots: Vec<TId>,
    /// Estimated arithmetic of one evaluation.
    pub flops: u128,
}

pub(super) fn concrete(s: TShape) -> Option<(usize, usize)> {
    match (s.rows, s.cols) {
        (Dim::Known(r), Dim::Known(c)) => Some((r as usize, c as usize)),
        _ => None,
    }
}

impl Plan {
    /// The plan of `roots` in `pool`.
    pub fn new(pool: &TPool, roots: &[TId], limits: PlanLimits) -> Result<Plan, PlanError> {
        let reach = pool.reachable(roots);
        // Transposes read as views by every product that uses them need no value.
        let mut needed = vec![false; reach.len()];
        for r in roots {
            needed[r.index()] = true;
        }
        for i in (0..reach.len()).rev() {
            if !needed[i] {
                continue;
            }
            let node = pool.node(TId(i as u32));
            match node {
                TNode::MatMul(fs) => {
                    for &f in fs {
                        match pool.node(f) {
                            TNode::Transpose(x) => needed[x.index()] = true,
                            TNode::Diag(v) => needed[v.index()] = true,
                            _ => needed[f.index()] = true,
                        }
                    }
                }
                n => {
                    for c in n.children() {
                        needed[c.index()] = true;
                    }
                }
            }
        }
        let mut nodes = Vec::new();
        let mut position = vec![usize::MAX; needed.len()];
        let mut entries: u128 = 0;
        let mut flops: u128 = 0;
        // Ids in order, but a product that a longer chain contains (`A*x` inside `x'*A*x`
        // beside the gradient `A*x + A'*x`) is planned just before the chain, which then
        // reads it instead of multiplying again: its factors are the chain's, already done.
        let mut order: Vec<usize> = Vec::with_capacity(needed.len());
        let mut queued = vec![false; needed.len()];
        for (i, &n) in needed.iter().enumerate() {
            if !n || queued[i] {
                continue;
            }
            if let TNode::MatMul(fs) = pool.node(TId(i as u32)) {
                for part in sub_chains(pool, fs) {
                    if needed.get(part.index()) == Some(&true) && !queued[part.index()] {
                        queued[part.index()] = true;
                        order.push(part.index());
                    }
                }
            }
            queued[i] = true;
            order.push(i);
        }
        for i in order {
            let id = TId(i as u32);
            let shape = concrete(pool.shape(id)).ok_or(PlanError::Symbolic)?;
            let size = shape.0 as u128 * shape.1 as u128;
            entries += size;
            let step = match pool.node(id) {
                TNode::Sym(k) => Step::Input(*k),
                TNode::MatMul(fs) => {
                    let (steps, cost) = chain_order(pool, fs, &position)?;
                    flops += cost;
                    // The intermediate products are values too.
                    entries += size;
                    Step::Chain(steps)
                }
                TNode::Inv(_) | TNode::Det(_) | TNode::Logdet(_) => {
                    flops += 2 * size * shape.0.max(1) as u128;
                    entries += size;
                    Step::Node
                }
                n => {
                    flops += size * (n.children().len() as u128).max(1);
                    Step::Node
                }
            };
            position[i] = nodes.len();
            nodes.push((id, shape, step));
            if entries > limits.max_entries {
                return Err(PlanError::TooLarge {
                    entries,
                    limit: limits.max_entries,
                });
            }
            if flops > limits.max_flops {
                return Err(PlanError::TooMuchWork {
                    flops,
                    limit: limits.max_flops,
                });
            }
        }
        // Each value is freed after its last reader (roots are kept).
        let mut last = vec![0usize; nodes.len()];
        for (p, (id, _, step)) in nodes.iter().enumerate() {
            let mut read = |c: TId| {
                let q = position[c.index()];
                if q != usize::MAX {
                    last[q] = p;
                }
            };
            match step {
                Step::Chain(steps) => {
                    for st in steps {
                        if let ChainStep::Push(
                            Factor::Value(q) | Factor::Transposed(q) | Factor::Diagonal(q),
                        ) = st
                        {
                            if *q != usize::MAX {
                                last[*q] = p;
                            }
                        }
                    }
                }
                _ => {
                    for &c in pool.node(*id).children() {
                        read(c);
                    }
                }
            }
        }
        let mut frees = vec![Vec::new(); nodes.len()];
        for (q, &p) in last.iter().enumerate() {
            if p > q && !roots.contains(&nodes[q].0) {
                frees[p].push(q);
            }
        }
        Ok(Plan {
            nodes,
            position,
            frees,
            roots: roots.to_vec(),
            flops,
        })
    }

    /// The number of steps (nodes evaluated).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it evaluates nothing.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The values of the roots, given each symbol's value (by symbol index; `None` for
    /// symbols the plan does not read).
    pub fn eval(
        &self,
        pool: &TPool,
        inputs: &[Option<&Dense>],
        budget: &Budget,
    ) -> Result<Vec<Dense>, Exhausted> {
        // Inputs are read where they are (a 1,000x1,000 matrix is not copied per point).
        let mut values: Vec<Option<Cow<'_, Dense>>> = vec![None; self.nodes.len()];
        for (p, (id, (rows, cols), step)) in self.nodes.iter().enumerate() {
            budget.check()?;
            let v = match step {
                Step::Input(k) => match inputs.get(*k as usize).copied().flatten() {
                    Some(d) if d.rows == *rows && d.cols == *cols => Cow::Borrowed(d),
                    _ => Cow::Owned(Dense::filled(*rows, *cols, f64::NAN)),
                },
                Step::Chain(steps) => Cow::Owned(self.chain(steps, &values)),
                Step::Node => Cow::Owned(self.node(pool, *id, (*rows, *cols), &values)),
            };
            values[p] = Some(v);
            for &q in &self.frees[p] {
                values[q] = None;
            }
        }
        // Each root's value moved out (copied only for a root named twice).
        let mut out = Vec::with_capacity(self.roots.len());
        for (k, r) in self.roots.iter().enumerate() {
            let p = self.position[r.index()];
            let again = self.roots[k + 1..].contains(r);
            let v = match values.get_mut(p) {
                Some(slot) if again => slot.as_ref().map(|c| c.clone().into_owned()),
                Some(slot) => slot.take().map(Cow::into_owned),
                None => None,
            };
            out.push(v.unwrap_or_else(|| Dense::scalar(f64::NAN)));
        }
        Ok(out)
    }

    fn value<'v>(&self, values: &'v [Option<Cow<'_, Dense>>], id: TId) -> &'v Dense {
        static EMPTY: Dense = Dense {
            rows: 0,
            cols: 0,
            data: Vec::new(),
        };
        values
            .get(self.position.get(id.index()).copied().unwrap_or(usize::MAX))
            .and_then(Option::as_ref)
            .map_or(&EMPTY, |c| &**c)
    }

    fn chain(&self, steps: &[ChainStep], values: &[Option<Cow<'_, Dense>>]) -> Dense {
        let mut stack: Vec<Operand> = Vec::new();
        let get = |p: usize| values.get(p).and_then(Option::as_ref).map(|c| &**c);
        for step in steps {
            match *step {
                ChainStep::Push(f) => stack.push(match f {
                    Factor::Value(p) => get(p)
                        .map_or(Operand::Owned(Dense::scalar(f64::NAN)), |d| {
                            Operand::Borrowed(d, false)
                        }),
                    Factor::Transposed(p) => get(p)
                        .map_or(Operand::Owned(Dense::scalar(f64::NAN)), |d| {
                            Operand::Borrowed(d, true)
                        }),
                    Factor::Diagonal(p) => get(p)
                        .map_or(Operand::OwnedDiagonal(vec![f64::NAN]), |d| {
                            Operand::Diagonal(&d.data)
                        }),
                }),
                ChainStep::Multiply => {
                    let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                        return Dense::scalar(f64::NAN);
                    };
                    let diag = |o: &Operand| -> Option<Vec<f64>> {
                        match o {
                            Operand::Diagonal(v) => Some(v.to_vec()),
                            Operand::OwnedDiagonal(v) => Some(v.clone()),
                            _ => None,
                        }
                    };
                    let product = match (view(&a), view(&b)) {
                        (Some(x), Some(y)) => Operand::Owned(matmul(x, y)),
                        (None, Some(y)) => {
                            let d = diag(&a).unwrap_or_default();
                            let mut out = Dense::filled(y.nrows(), y.ncols(), 0.0);
                            for i in 0..y.nrows() {
                                let s = d.get(i).copied().unwrap_or(f64::NAN);
                                for j in 0..y.ncols() {
                                    out.data[i * out.cols + j] = s * y[(i, j)];
                                }
                            }
                            Operand::Owned(out)
                        }
                        (Some(x), None) => {
                            let d = diag(&b).unwrap_or_default();
                            let mut out = Dense::filled(x.nrows(), x.ncols(), 0.0);
                            for i in 0..x.nrows() {
                                for j in 0..x.ncols() {
                                    out.data[i * out.cols + j] =
                                        x[(i, j)] * d.get(j).copied().unwrap_or(f64::NAN);
                                }
                            }
                            Operand::Owned(out)
                        }
                        (None, None) => {
                            let (x, y) =
                                (diag(&a).unwrap_or_default(), diag(&b).unwrap_or_default());
                            Operand::OwnedDiagonal(x.iter().zip(&y).map(|(p, q)| p * q).collect())
                        }
                    };
                    stack.push(product);
                }
            }
        }
        match stack.pop() {
            Some(Operand::Owned(d)) => d,
            Some(Operand::Borrowed(d, false)) => d.clone(),
            Some(Operand::Borrowed(d, true)) => transpose(d),
            Some(Operand::Diagonal(v)) => diagonal_matrix(v),
            Some(Operand::OwnedDiagonal(v)) => diagonal_matrix(&v),
            None => Dense::scalar(f64::NAN),
        }
    }

    fn node(
        &self,
        pool: &TPool,
        id: TId,
        (rows, cols): (usize, usize),
        values: &[Option<Cow<'_, Dense>>],
    ) -> Dense {
        let v = |c: TId| self.value(values, c);
        match pool.node(id) {
            TNode::Num(bits) => Dense::scalar(f64::from_bits(*bits)),
            TNode::Const(c) => Dense::scalar(c.value()),
            TNode::Sym(_) | TNode::MatMul(_) => Dense::filled(rows, cols, f64::NAN),
            TNode::Add(ts) => {
                elementwise(rows, cols, ts.iter().map(|&t| v(t)), 0.0, |acc, x| acc + x)
            }
            TNode::Mul(fs) => {
                elementwise(rows, cols, fs.iter().map(|&f| v(f)), 1.0, |acc, x| acc * x)
            }
            TNode::Pow([b, e]) => {
                let (b, e) = (v(*b), v(*e));
                let mut out = Dense::filled(rows, cols, 0.0);
                let k = (e.data.len() == 1).then(|| e.data[0]);
                for (i, o) in out.data.iter_mut().enumerate() {
                    let x = pick(b, i);
                    *o = match k {
                        Some(2.0) => x * x,
                        Some(-1.0) => 1.0 / x,
                        Some(0.5) => x.sqrt(),
                        Some(k) => x.powf(k),
                        None => x.powf(pick(e, i)),
                    };
                }
                out
            }
            TNode::Call(f, args) => {
                let a = v(args[0]);
                let b = args.get(1).map(|&b| v(b));
                let mut out = Dense::filled(rows, cols, 0.0);
                for (i, o) in out.data.iter_mut().enumerate() {
                    let x = pick(a, i);
                    *o = f.eval(x, b.map_or(x, |b| pick(b, i)));
                }
                out
            }
            TNode::Transpose(x) => transpose(v(*x)),
            TNode::Sum(a) => Dense::scalar(v(*a).data.iter().sum()),
            TNode::Tr(a) => {
                let a = v(*a);
                Dense::scalar((0..a.rows.min(a.cols)).map(|i| a.at(i, i)).sum())
            }
            TNode::Det(a) => {
                let (sign, log) = log_abs_det(v(*a));
                Dense::scalar(sign * log.exp())
            }
            TNode::Logdet(a) => {
                let (sign, log) = log_abs_det(v(*a));
                Dense::scalar(if sign > 0.0 { log } else { f64::NAN })
            }
            TNode::Inv(a) => inverse(v(*a)),
            TNode::Diag(a) => diagonal_matrix(&v(*a).data),
            TNode::DiagOf(a) => {
                let a = v(*a);
                Dense {
                    rows: a.rows,
                    cols: 1,
                    data: (0..a.rows.min(a.cols)).map(|i| a.at(i, i)).collect(),
                }
            }
            TNode::Norm(a) => Dense::scalar(v(*a).data.iter().map(|x| x * x).sum::<f64>().sqrt()),
            TNode::Norm1(a) => Dense::scalar(v(*a).data.iter().map(|x| x.abs()).sum()),
            TNode::Eye(_) => {
                let mut out = Dense::filled(rows, cols, 0.0);
                for i in 0..rows.min(cols) {
                    out.data[i * cols + i] = 1.0;
                }
                out
            }
            TNode::Ones(_) => Dense::filled(rows, cols, 1.0),
            TNode::Zeros(_) => Dense::filled(rows, cols, 0.0),
        }
    }
}

/// An operand of a chain being multiplied.
enum Operand<'a> {
    Borrowed(&'a Dense, bool),
    Owned(Dense),
    Diagonal(&'a [f64]),
    OwnedDiagonal(Vec<f64>),
}

/// A dense operand as a matrix view (`None` for a diagonal).
fn view<'a>(o: &'a Operand<'_>) -> Option<MatRef<'a, f64>> {
    match o {
        Operand::Borrowed(d, false) => Some(d.view()),
        Operand::Borrowed(d, true) => Some(d.view().transpose()),
        Operand::Owned(d) => Some(d.view()),
        _ => None,
    }
}

/// Entry `i` of `d`, or its only entry when it is a scalar.
#[inline]
fn pick(d: &Dense, i: usize) -> f64 {
    if d.data.len() == 1 {
        d.data[0]
    } else {
        d.data.get(i).copied().unwrap_or(f64::NAN)
    }
}

fn elementwise<'a>(
    rows: usize,
    cols: usize,
    operands: impl Iterator<Item = &'a Dense>,
    start: f64,
    f: impl Fn(f64, f64) -> f64,
) -> Dense {
    let mut out = Dense::filled(rows, cols, start);
    for d in operands {
        if d.data.len() == 1 {
            let x = d.data[0];
            out.data.iter_mut().for_each(|o| *o = f(*o, x));
        } else {
            out.data
                .iter_mut()
                .zip(&d.data)
                .for_each(|(o, &x)| *o = f(*o, x));
        }
    }
    out
}

fn transpose(d: &Dense) -> Dense {
    let mut out = Dense::filled(d.cols, d.rows, 0.0);
    for i in 0..d.rows {
        for j in 0..d.cols {
            out.data[j * d.rows + i] = d.data[i * d.cols + j];
        }
    }
    out
}

fn diagonal_matrix(v: &[f64]) -> Dense {
    let n = v.len();
    let mut out = Dense::filled(n, n, 0.0);
    for (i, &x) in v.iter().enumerate() {
        out.data[i * n + i] = x;
    }
    out
}

fn matmul(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Dense {
    let (r, c) = (a.nrows(), b.ncols());
    let mut out = Dense::filled(r, c, 0.0);
    if a.ncols() != b.nrows() {
        out.data.fill(f64::NAN);
        return out;
    }
    let dst = MatMut::from_row_major_slice_mut(&mut out.data, r, c);
    faer::linalg::matmul::matmul(dst, faer::Accum::Replace, a, b, 1.0, faer::Par::Seq);
    out
}

/// The sign of the determinant and the log of its absolute value, from an LU
/// factorisation with partial pivoting (a determinant of 0 is sign 0).
fn log_abs_det(a: &Dense) -> (f64, f64) {
    let n = a.rows;
    if n == 0 || a.cols != n {
        return (f64::NAN, f64::NAN);
    }
    if a.data.iter().any(|x| !x.is_finite()) {
        return (f64::NAN, f64::NAN);
    }
    let lu = a.view().partial_piv_lu();
    let u = lu.U();
    let mut sign = 1.0;
    let mut log = 0.0;
    for i in 0..n {
        let d = u[(i, i)];
        if d == 0.0 {
            return (0.0, f64::NEG_INFINITY);
        }
        sign *= d.signum();
        log += d.abs().ln();
    }
    // The permutation's parity: each cycle of length k is k - 1 swaps.
    let (fwd, _) = lu.P().arrays();
    let mut seen = vec![false; n];
    for start in 0..n {
        if seen[start] {
            continue;
        }
        let mut len = 0;
        let mut j = start;
        while !seen[j] {
            seen[j] = true;
            j = fwd[j];
            len += 1;
        }
        if len % 2 == 0 {
            sign = -sign;
        }
    }
    (sign, log)
}

fn inverse(a: &Dense) -> Dense {
    let n = a.rows;
    if a.cols != n || a.data.iter().any(|x| !x.is_finite()) {
        return Dense::filled(n, a.cols, f64::NAN);
    }
    let (sign, _) = log_abs_det(a);
    if sign == 0.0 {
        // Singular: every entry is infinite or undefined; say so rather than guess.
        return Dense::filled(n, n, f64::NAN);
    }
    let inv = a.view().partial_piv_lu().inverse();
    let mut out = Dense::filled(n, n, 0.0);
    for i in 0..n {
        for j in 0..n {
            out.data[i * n + j] = inv[(i, j)];
        }
    }
    out
}
