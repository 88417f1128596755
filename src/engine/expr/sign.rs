//! What is known of a node's sign wherever it is defined, worked out where the node is made
//! (a fact of `Meta`, like `entire`): `x^2 + 1` is positive, so `abs(x^2 + 1)` is the sum
//! itself and its derivative has no `sign(...)` in it.

use super::{Constant, Node, Pool};
use crate::engine::func::FuncSign;

/// The sign of a node wherever it is defined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Sign {
    /// Nothing known.
    #[default]
    Unknown,
    /// Greater than 0.
    Positive,
    /// At least 0.
    NonNegative,
    /// Less than 0.
    Negative,
    /// At most 0.
    NonPositive,
}

impl Sign {
    /// (whether it is known not to be negative or not to be positive: `+1`, `-1`, or 0
    /// for unknown; and whether it is known not to be 0).
    fn parts(self) -> (i8, bool) {
        match self {
            Sign::Unknown => (0, false),
            Sign::Positive => (1, true),
            Sign::NonNegative => (1, false),
            Sign::Negative => (-1, true),
            Sign::NonPositive => (-1, false),
        }
    }

    fn of(direction: i8, strict: bool) -> Sign {
        match (direction, strict) {
            (1, true) => Sign::Positive,
            (1, false) => Sign::NonNegative,
            (-1, true) => Sign::Negative,
            (-1, false) => Sign::NonPositive,
            _ => Sign::Unknown,
        }
    }

    /// Whether the node is at least 0 wherever it is defined.
    pub fn non_negative(self) -> bool {
        matches!(self, Sign::Positive | Sign::NonNegative)
    }

    /// Whether the node is at most 0 wherever it is defined.
    pub fn non_positive(self) -> bool {
        matches!(self, Sign::Negative | Sign::NonPositive)
    }
}

impl Pool {
    /// What is known of the sign of `id` wherever it is defined.
    pub fn sign(&self, id: super::ExprId) -> Sign {
        self.meta(id).sign
    }

    /// The sign of a node about to be made, from its children's.
    pub(crate) fn sign_of(&self, node: &Node<'_>) -> Sign {
        let sign = |id: &super::ExprId| self.meta(*id).sign;
        match *node {
            Node::Num(bits) => {
                let v = f64::from_bits(bits);
                if v > 0.0 {
                    Sign::Positive
                } else if v < 0.0 {
                    Sign::Negative
                } else if v == 0.0 {
                    Sign::NonNegative
                } else {
                    Sign::Unknown
                }
            }
            Node::Const(Constant::Pi | Constant::E) => Sign::Positive,
            Node::Sym(_) => Sign::Unknown,
            Node::Add(terms) => {
                // All of one direction; strict when one of them is. One pass: a large
                // expression's sums are many.
                let (mut direction, mut strict) = (0i8, false);
                for t in terms {
                    let (d, s) = sign(t).parts();
                    if d == 0 || (direction != 0 && d != direction) {
                        return Sign::Unknown;
                    }
                    direction = d;
                    strict |= s;
                }
                Sign::of(direction, strict)
            }
            Node::Mul(factors) => {
                let (mut direction, mut strict) = (1i8, true);
                for f in factors {
                    let (d, s) = sign(f).parts();
                    if d == 0 {
                        return Sign::Unknown;
                    }
                    direction *= d;
                    strict &= s;
                }
                Sign::of(direction, strict)
            }
            Node::Pow([b, e]) => {
                let base = sign(&b);
                match self.node(e).as_num() {
                    // An even power; strict where the base is never 0.
                    Some(k) if k.fract() == 0.0 && k % 2.0 == 0.0 => Sign::of(1, base.parts().1),
                    // An odd power keeps the base's sign.
                    Some(k) if k.fract() == 0.0 => base,
                    // A real power of a non-integer exponent is defined for a base >= 0
                    // only, and is >= 0 there (positive for a positive base).
                    Some(_) => Sign::of(1, base == Sign::Positive),
                    None if base == Sign::Positive => Sign::Positive,
                    None => Sign::Unknown,
                }
            }
            Node::Call(f, args) => match f.sign() {
                FuncSign::Unknown => Sign::Unknown,
                FuncSign::Positive => Sign::Positive,
                FuncSign::NonNegative => Sign::NonNegative,
                FuncSign::OfArgument => sign(&args[0]),
            },
        }
    }
}
