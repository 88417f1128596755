//! The expression DAG: typed ids, nodes with shapes, and the pool that owns them.
//!
//! Invariants of a [`Pool`] (checked with `debug_assert!` in `Pool::intern`):
//! - **children before parents**: every child id of a node is smaller than the node's,
//!   so the node vector is already in topological order and every pass over the DAG is a
//!   loop, never a recursion;
//! - **hash-consing**: structurally equal nodes are one node, so `ExprId` equality is
//!   structural equality;
//! - **canonical**: nodes are only made by the canonicalising constructors of
//!   `canon.rs`, so `x*y` and `y*x`, or `x+x` and `2*x`, are the same node, and
//!   [`Pool::hash`] is a structural hash that does not depend on construction order (the
//!   cache key of the service).

mod canon;
pub mod exact;
mod expand;
mod lower;
mod pool;
pub mod sign;

pub use lower::{lower, LowerError, LowerErrorKind, Scope};
pub use pool::Pool;

use super::func::Func;

/// A node of a [`Pool`]: a typed index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(u32);

impl ExprId {
    /// The index into the pool's node vector.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The shape of a node's value. Only scalars exist so far; vectors and matrices join as
/// new variants, and the canonicalising constructors are the
/// one place that checks and propagates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Shape {
    /// A single number.
    #[default]
    Scalar,
}

/// A named mathematical constant. `pi` and `e` are these unless the request lists them
/// as variables or parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Constant {
    /// π.
    Pi,
    /// Euler's number.
    E,
}

impl Constant {
    /// The constant's value.
    pub fn value(self) -> f64 {
        match self {
            Constant::Pi => std::f64::consts::PI,
            Constant::E => std::f64::consts::E,
        }
    }

    /// The constant's name in the language.
    pub fn name(self) -> &'static str {
        match self {
            Constant::Pi => "pi",
            Constant::E => "e",
        }
    }
}

/// An index into the pool's table of symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId(u32);

/// A node of the DAG, as [`Pool::node`] gives it out: operand lists are borrowed from
/// the pool, which stores all of them in one vector (no allocation per node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node<'p> {
    /// A number, stored as its bits so nodes can be hashed; never NaN.
    Num(u64),
    /// `pi` or `e`.
    Const(Constant),
    /// A variable or a parameter.
    Sym(SymbolId),
    /// A sum of two or more terms, at most one of them a number; no term is a sum.
    Add(&'p [ExprId]),
    /// A product of two or more factors; a numeric coefficient, if any, comes first and is
    /// not 1; no factor is a product; no two factors share a base.
    Mul(&'p [ExprId]),
    /// `[base, exponent]`: `base ^ exponent`.
    Pow([ExprId; 2]),
    /// A function applied to its arguments (as many as [`Func::arity`]).
    Call(Func, &'p [ExprId]),
}

impl Node<'_> {
    /// The node's children, in order.
    #[inline]
    pub fn children(&self) -> &[ExprId] {
        match self {
            Node::Num(_) | Node::Const(_) | Node::Sym(_) => &[],
            Node::Add(xs) | Node::Mul(xs) | Node::Call(_, xs) => xs,
            Node::Pow(be) => be,
        }
    }

    /// The value of a number node.
    #[inline]
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Node::Num(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }
}
