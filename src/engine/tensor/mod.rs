//! Vectors and matrices: expressions whose nodes are tensors (a scalar, a column vector,
//! a matrix), differentiated at the level of matrices, not of their entries.
//!
//! The scalar engine (`engine::expr` and what follows it) stays as it is: a request whose
//! every symbol is a scalar never comes here. This module has its own DAG ([`TPool`]),
//! with the same invariants as the scalar one — children before parents (every pass is a
//! loop over ids), hash-consing (equal structures are one node), nodes made only by the
//! canonicalising constructors of `canon.rs` — and every node has a [`TShape`], checked
//! where the node is made.
//!
//! - `canon.rs`: the constructors and their rules: sums and elementwise products collect
//!   like terms and powers; a matrix product is a chain that does not commute, with its
//!   scalar factors pulled out; transposes are pushed down to the symbols
//!   (`(A*B)' = B'*A'`, `(A')' = A`), and a scalar chain is the smaller of itself and its
//!   transpose, so `x'*A'*x` and `x'*A*x` are one node.
//! - `lower.rs`: a parsed expression to nodes, with the shapes of the symbols.
//! - `diff.rs`: reverse mode over matrix nodes (the adjoint of `A*B` is `G*B'` and
//!   `A'*G`), and Jacobians as the matrix `M` of a vector-Jacobian product `M*u`.
//! - `print.rs`: matrix notation, as text that parses back and as LaTeX.
//! - `eval.rs`: a program over dense tensors, with faer for the products and
//!   factorisations.

mod canon;
mod chain;
pub mod diff;
pub mod eval;
mod expand;
mod lower;
pub mod print;

pub use lower::{lower, ShapeError};

use std::fmt;

use rustc_hash::FxHashMap as HashMap;

use super::expr::exact::Rational;
use super::expr::Constant;
use super::func::Func;

/// A dimension: a number, or a name (`n`) for symbolic answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// A known size.
    Known(u32),
    /// A named size: an index into the pool's dimension names.
    Named(u32),
}

/// The shape of a node: rows by columns. A scalar is 1x1, a vector of n is nx1, and its
/// transpose 1xn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TShape {
    /// Rows.
    pub rows: Dim,
    /// Columns.
    pub cols: Dim,
}

impl TShape {
    /// A scalar.
    pub const SCALAR: TShape = TShape {
        rows: Dim::Known(1),
        cols: Dim::Known(1),
    };

    /// A shape of `rows` by `cols`.
    pub fn new(rows: Dim, cols: Dim) -> TShape {
        TShape { rows, cols }
    }

    /// Whether it is 1x1.
    pub fn is_scalar(self) -> bool {
        self == TShape::SCALAR
    }

    /// Whether it is a column (nx1, not 1x1).
    pub fn is_column(self) -> bool {
        self.cols == Dim::Known(1) && !self.is_scalar()
    }

    /// Whether it is a row (1xn, not 1x1).
    pub fn is_row(self) -> bool {
        self.rows == Dim::Known(1) && !self.is_scalar()
    }

    /// Whether it is square.
    pub fn is_square(self) -> bool {
        self.rows == self.cols
    }

    /// The transposed shape.
    pub fn t(self) -> TShape {
        TShape::new(self.cols, self.rows)
    }

    /// The number of entries, when both dimensions are known.
    pub fn len(self) -> Option<usize> {
        match (self.rows, self.cols) {
            (Dim::Known(r), Dim::Known(c)) => Some(r as usize * c as usize),
            _ => None,
        }
    }

    /// Whether some dimension is unknown (named) or the shape is empty.
    pub fn is_empty(self) -> bool {
        self.len().is_none_or(|n| n == 0)
    }
}

/// A node of a [`TPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TId(u32);

impl TId {
    /// The index into the pool's node vector.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A node: what it computes. Elementwise nodes broadcast scalar operands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TNode {
    /// A scalar number, by its bits; never NaN.
    Num(u64),
    /// `pi` or `e`.
    Const(Constant),
    /// A variable or a parameter, by its index in the pool's symbols.
    Sym(u32),
    /// An elementwise sum of two or more terms: at most one number, no sum among them.
    Add(Vec<TId>),
    /// An elementwise product of two or more factors: a number first if any (not 1), no
    /// product among them, no two with the same base.
    Mul(Vec<TId>),
    /// Elementwise `[base, exponent]`: `base .^ exponent`.
    Pow([TId; 2]),
    /// A matrix product of two or more factors, none of them a scalar or a product.
    MatMul(Vec<TId>),
    /// The transpose of a symbol, or of what a transpose cannot be pushed into.
    Transpose(TId),
    /// A scalar function applied elementwise.
    Call(Func, Vec<TId>),
    /// The sum of all entries.
    Sum(TId),
    /// The trace.
    Tr(TId),
    /// The determinant.
    Det(TId),
    /// `ln(det(A))`.
    Logdet(TId),
    /// The inverse.
    Inv(TId),
    /// The diagonal matrix of a column.
    Diag(TId),
    /// The diagonal of a square matrix, as a column.
    DiagOf(TId),
    /// The Euclidean (Frobenius) norm.
    Norm(TId),
    /// The sum of absolute values.
    Norm1(TId),
    /// The identity of a size.
    Eye(Dim),
    /// A tensor of ones (never 1x1).
    Ones(TShape),
    /// A tensor of zeros (never 1x1).
    Zeros(TShape),
}

impl TNode {
    /// The node's children, in order.
    pub fn children(&self) -> &[TId] {
        match self {
            TNode::Num(_)
            | TNode::Const(_)
            | TNode::Sym(_)
            | TNode::Eye(_)
            | TNode::Ones(_)
            | TNode::Zeros(_) => &[],
            TNode::Add(xs) | TNode::Mul(xs) | TNode::MatMul(xs) | TNode::Call(_, xs) => xs,
            TNode::Pow(be) => be,
            TNode::Transpose(a)
            | TNode::Sum(a)
            | TNode::Tr(a)
            | TNode::Det(a)
            | TNode::Logdet(a)
            | TNode::Inv(a)
            | TNode::Diag(a)
            | TNode::DiagOf(a)
            | TNode::Norm(a)
            | TNode::Norm1(a) => std::slice::from_ref(a),
        }
    }
}

/// A shape error of a constructor: what did not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch(pub String);

/// Owns the nodes of tensor expressions and their derivatives.
#[derive(Clone, Debug, Default)]
pub struct TPool {
    nodes: Vec<TNode>,
    shapes: Vec<TShape>,
    /// Structural hash of each node: equal structures hash equal in any pool, whatever
    /// the order they were built in. Orders the operands of sums and products.
    hashes: Vec<u64>,
    /// Whether a symbol occurs below, per node.
    symbolic: Vec<bool>,
    index: HashMap<TNode, TId>,
    symbols: Vec<(Box<str>, TShape)>,
    symbol_nodes: HashMap<Box<str>, TId>,
    dims: Vec<Box<str>>,
    /// The exact rational each number stands for, by its bits, where it is not exact by
    /// its bits alone.
    exact: HashMap<u64, Rational>,
    /// The most nodes the pool may hold (see `canon`'s checks).
    max_nodes: usize,
}

impl TPool {
    /// An empty pool that may hold `max_nodes` nodes.
    pub fn new(max_nodes: usize) -> TPool {
        TPool {
            max_nodes,
            ..TPool::default()
        }
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the pool holds no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether the pool is over its node budget.
    pub fn over_budget(&self) -> bool {
        self.nodes.len() > self.max_nodes
    }

    /// The node of `id`.
    pub fn node(&self, id: TId) -> &TNode {
        &self.nodes[id.index()]
    }

    /// The shape of `id`.
    pub fn shape(&self, id: TId) -> TShape {
        self.shapes[id.index()]
    }

    /// The structural hash of `id`.
    pub fn hash(&self, id: TId) -> u64 {
        self.hashes[id.index()]
    }

    /// Whether a symbol occurs in `id`.
    pub fn has_symbol(&self, id: TId) -> bool {
        self.symbolic[id.index()]
    }

    /// The name and shape of symbol `k`.
    pub fn symbol(&self, k: u32) -> (&str, TShape) {
        let (name, shape) = &self.symbols[k as usize];
        (name, *shape)
    }

    /// The symbols, in the order they were made.
    pub fn symbols(&self) -> impl Iterator<Item = (&str, TShape)> {
        self.symbols.iter().map(|(n, s)| (&**n, *s))
    }

    /// The node of the symbol `name`, if the pool has one.
    pub fn symbol_node(&self, name: &str) -> Option<TId> {
        self.symbol_nodes.get(name).copied()
    }

    /// The index of the dimension name `name`, made if new.
    pub fn dim(&mut self, name: &str) -> Dim {
        if let Some(i) = self.dims.iter().position(|d| &**d == name) {
            return Dim::Named(i as u32);
        }
        self.dims.push(name.into());
        Dim::Named((self.dims.len() - 1) as u32)
    }

    /// Whether `name` is a dimension's name.
    pub fn has_dim(&self, name: &str) -> bool {
        self.dims.iter().any(|d| &**d == name)
    }

    /// How a dimension is written.
    pub fn dim_name(&self, d: Dim) -> String {
        match d {
            Dim::Known(n) => n.to_string(),
            Dim::Named(i) => self
                .dims
                .get(i as usize)
                .map_or("?".into(), |n| n.to_string()),
        }
    }

    /// How a shape is written in messages: `3x2`, `nx1`.
    pub fn shape_name(&self, s: TShape) -> String {
        format!("{}x{}", self.dim_name(s.rows), self.dim_name(s.cols))
    }

    /// The exact rational the number `v` stands for, if any.
    pub fn exact(&self, v: f64) -> Option<Rational> {
        if let Some(&r) = self.exact.get(&v.to_bits()) {
            return Some(r);
        }
        if let Some(&r) = self.exact.get(&(-v).to_bits()) {
            return r.checked_mul(Rational::int(-1)?);
        }
        Rational::from_f64(v)
    }

    /// Records that `v` stands for `r`, and returns `r`'s `f64`.
    pub fn remember_exact(&mut self, r: Rational) -> f64 {
        let v = r.to_f64();
        if Rational::from_f64(v) != Some(r) {
            self.exact.entry(v.to_bits()).or_insert(r);
        }
        v
    }

    /// Stores a node (hash-consed) with its shape.
    fn intern(&mut self, node: TNode, shape: TShape) -> TId {
        if let Some(&id) = self.index.get(&node) {
            return id;
        }
        let hash = self.structural_hash(&node, shape);
        let symbolic = match &node {
            TNode::Sym(_) => true,
            n => n.children().iter().any(|&c| self.symbolic[c.index()]),
        };
        debug_assert!(node.children().iter().all(|c| c.index() < self.nodes.len()));
        let id = TId(self.nodes.len() as u32);
        self.nodes.push(node.clone());
        self.shapes.push(shape);
        self.hashes.push(hash);
        self.symbolic.push(symbolic);
        self.index.insert(node, id);
        id
    }

    fn structural_hash(&self, node: &TNode, shape: TShape) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        std::mem::discriminant(node).hash(&mut h);
        match node {
            TNode::Num(bits) => bits.hash(&mut h),
            TNode::Const(c) => c.hash(&mut h),
            TNode::Sym(k) => {
                let (name, _) = &self.symbols[*k as usize];
                name.hash(&mut h);
            }
            TNode::Call(f, _) => (*f as u32).hash(&mut h),
            TNode::Eye(d) => self.dim_name(*d).hash(&mut h),
            TNode::Ones(s) | TNode::Zeros(s) => {
                self.dim_name(s.rows).hash(&mut h);
                self.dim_name(s.cols).hash(&mut h);
            }
            _ => {}
        }
        let _ = shape;
        for &c in node.children() {
            self.hashes[c.index()].hash(&mut h);
        }
        // Mixed so that nearby structures do not hash nearby.
        let x = h.finish();
        x ^ (x >> 29).wrapping_mul(0xbf58_476d_1ce4_e5b9)
    }

    /// The symbol `name` with `shape` (the first shape given to a name stays).
    pub fn sym(&mut self, name: &str, shape: TShape) -> TId {
        if let Some(&id) = self.symbol_nodes.get(name) {
            return id;
        }
        let k = self.symbols.len() as u32;
        self.symbols.push((name.into(), shape));
        let id = self.intern(TNode::Sym(k), shape);
        self.symbol_nodes.insert(name.into(), id);
        id
    }

    /// The scalar number `v` (NaN is not a node: it becomes the number's bits of NaN's
    /// canonical form, which no constructor folds).
    pub fn num(&mut self, v: f64) -> TId {
        let v = if v == 0.0 { 0.0 } else { v };
        self.intern(TNode::Num(v.to_bits()), TShape::SCALAR)
    }

    /// `pi` or `e`.
    pub fn constant(&mut self, c: Constant) -> TId {
        self.intern(TNode::Const(c), TShape::SCALAR)
    }

    /// The node equal to `node`, if the pool holds it.
    pub fn find(&self, node: &TNode) -> Option<TId> {
        self.index.get(node).copied()
    }

    /// The value of a number node.
    pub fn as_num(&self, id: TId) -> Option<f64> {
        match self.node(id) {
            TNode::Num(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }

    /// The nodes reachable from `roots`, as a mask by id.
    pub fn reachable(&self, roots: &[TId]) -> Vec<bool> {
        let top = roots.iter().map(|r| r.index() + 1).max().unwrap_or(0);
        let mut seen = vec![false; top];
        for r in roots {
            seen[r.index()] = true;
        }
        for i in (0..top).rev() {
            if seen[i] {
                for c in self.nodes[i].children() {
                    seen[c.index()] = true;
                }
            }
        }
        seen
    }

    /// Whether `id` depends on the node `on` (a symbol).
    pub fn depends_on(&self, id: TId, on: TId) -> bool {
        self.dependence(on)[..=id.index()][id.index()]
    }

    /// For every node, whether it depends on `on`.
    pub fn dependence(&self, on: TId) -> Vec<bool> {
        let mut dep = vec![false; self.nodes.len()];
        for i in on.index()..self.nodes.len() {
            dep[i] = i == on.index() || self.nodes[i].children().iter().any(|c| dep[c.index()]);
        }
        dep
    }
}

impl fmt::Display for TId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
