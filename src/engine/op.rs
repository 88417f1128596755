//! The tape's operations and their arithmetic, apart from any evaluator: the interpreter,
//! the batch evaluator and the machine-code generator all compute an operation with
//! [`apply`], so their results agree bit for bit.
//!
//! An operation is structural (the arithmetic the compiler lowers sums, products and
//! powers to, the shared-exponential forms of sigmoid and softplus, and the fused
//! products of the scheduler), declared once in `define_op` below, or one of the
//! functions of the table in [`func`](super::func), one operation each, computing
//! [`Func::eval`].

use super::func::{for_each_func, Func, Machine};

/// Generates [`Op`], its facts and [`dispatch`] from the structural operations listed
/// here and the function table.
macro_rules! define_op {
    (
        []
        $(
            $(#[$doc:meta])*
            $func:ident = $id:literal { name: $name:literal, $($body:tt)* }
        )*
    ) => {
        define_op! {
            @structural
            /// `a + b`.
            Add(2) = |a, b, _c| a + b;
            /// `a - b`.
            Sub(2) = |a, b, _c| a - b;
            /// `a * b`.
            Mul(2) = |a, b, _c| a * b;
            /// `a / b`.
            Div(2) = |a, b, _c| a / b;
            /// `-a`.
            Neg(1) = |a, _b, _c| -a;
            /// `1 / a`.
            Recip(1) = |a, _b, _c| 1.0 / a;
            /// `sqrt(a)`.
            Sqrt(1) = |a, _b, _c| a.sqrt();
            /// `a.powf(b)`.
            Powf(2) = |a, b, _c| a.powf(b);
            /// `exp(-|a|)`: the one exponential that softplus and sigmoid of `a` share.
            ExpNegAbs(1) = |a, _b, _c| (-a.abs()).exp();
            /// `softplus(a)` given `b = exp(-|a|)`: `max(a, 0) + ln(1 + b)`, the same
            /// arithmetic as [`super::func::softplus`] with its exponential shared.
            SoftplusE(2) = |a, b, _c| a.max(0.0) + super::func::ln_1p_unit(b);
            /// `softplus(-a)` given `b = exp(-|a|)`: `max(-a, 0) + ln(1 + b)`.
            SoftplusNegE(2) = |a, b, _c| (-a).max(0.0) + super::func::ln_1p_unit(b);
            /// `sigmoid(a)` given `b = exp(-|a|)`, as [`super::func::sigmoid`].
            SigmoidE(2) = |a, b, _c| if a >= 0.0 { 1.0 / (1.0 + b) } else { b / (1.0 + b) };
            /// `sigmoid(-a)` given `b = exp(-|a|)`.
            SigmoidNegE(2) = |a, b, _c| if a <= 0.0 { 1.0 / (1.0 + b) } else { b / (1.0 + b) };
            /// `a + b * c`: a product absorbed by the sum that was its only use, rounded
            /// twice like the two instructions it replaces (no fused multiply-add), so the
            /// results are bitwise those of the unfused program.
            MulAdd(3) = |a, b, c| a + b * c;
            /// `a - b * c`, likewise.
            MulSub(3) = |a, b, c| a - b * c;
            /// `b * c - a`, likewise.
            MulRsub(3) = |a, b, c| b * c - a;
            /// `(a * b) * c`: a product absorbed by the product that was its only use,
            /// rounded twice like the two instructions it replaces.
            Mul3(3) = |a, b, c| a * b * c;
            @functions
            $(
                #[doc = concat!("`", $name, "`: [`Func::", stringify!($func), "`].")]
                $func
            )*
        }
    };
    (
        @structural
        $($(#[$sdoc:meta])* $op:ident($n:literal) = $arith:expr;)*
        @functions
        $($(#[$fdoc:meta])* $func:ident)*
    ) => {
        /// An instruction's operation: one flat set, so evaluation dispatches once.
        /// Unary operations ignore their second operand, binary ones their third.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Op {
            $($(#[$sdoc])* $op,)*
            $($(#[$fdoc])* $func,)*
        }

        impl Op {
            /// Every operation.
            pub const ALL: &'static [Op] = &[$(Op::$op,)* $(Op::$func,)*];

            /// The operation computing `f`.
            pub const fn of(f: Func) -> Op {
                match f {
                    $(Func::$func => Op::$func,)*
                }
            }

            /// The function the operation computes, if it is a function's.
            pub const fn func(self) -> Option<Func> {
                match self {
                    $(Op::$func => Some(Func::$func),)*
                    _ => None,
                }
            }

            /// How many operands the operation reads: 1 (`a`), 2 (`a`, `b`) or 3.
            pub const fn operands(self) -> usize {
                match self {
                    $(Op::$op => $n,)*
                    $(Op::$func => Func::$func.arity(),)*
                }
            }
        }

        /// The value of `op` on its operands (`c` is read by the three-operand
        /// operations only).
        #[inline(always)]
        pub fn apply(op: Op, a: f64, b: f64, c: impl FnOnce() -> f64) -> f64 {
            match op {
                $(Op::$op => arith3($arith, a, b, if $n == 3 { c() } else { a }),)*
                $(Op::$func => Func::$func.eval(a, b),)*
            }
        }

        /// Calls `visit` with the operation as a constant ([`Known`]), so that code
        /// generic over it (a loop over lanes, a function for machine code to call) is
        /// compiled once per operation, with the operation known.
        #[inline(always)]
        pub(crate) fn dispatch<V: Visit>(op: Op, visit: V) -> V::Output {
            match op {
                $(Op::$op => visit.visit::<Is<{ Op::$op as u8 }>>(),)*
                $(Op::$func => visit.visit::<Is<{ Op::$func as u8 }>>(),)*
            }
        }
    };
}

for_each_func!(define_op);

/// Applies a structural operation's closure (its parameter types given here).
#[inline(always)]
fn arith3(f: impl FnOnce(f64, f64, f64) -> f64, a: f64, b: f64, c: f64) -> f64 {
    f(a, b, c)
}

/// Code generic over an operation known when it is compiled (see [`dispatch`]).
pub(crate) trait Visit {
    /// What the code gives.
    type Output;
    /// The code for the operation `K::OP`.
    fn visit<K: Known>(self) -> Self::Output;
}

/// An operation as a type: [`Is<K>`] for the operation whose discriminant is `K`.
pub(crate) trait Known {
    /// The operation.
    const OP: Op;
    /// Whether it reads a third operand, decided when compiling (a call to
    /// [`Op::operands`] per instruction cost a lane loop 4%).
    const TERNARY: bool;
}

/// The operation `Op::ALL[K]`.
pub(crate) struct Is<const K: u8>;

impl<const K: u8> Known for Is<K> {
    const OP: Op = Op::ALL[K as usize];
    const TERNARY: bool = Op::ALL[K as usize].operands() == 3;
}

impl Op {
    /// The operation of the negated argument: `softplus(-a)` for `softplus(a)` and so on.
    pub fn mirrored(self) -> Op {
        match self {
            Op::SoftplusE => Op::SoftplusNegE,
            Op::SoftplusNegE => Op::SoftplusE,
            Op::SigmoidE => Op::SigmoidNegE,
            Op::SigmoidNegE => Op::SigmoidE,
            other => other,
        }
    }

    /// Whether the operation reads a third operand `c`.
    pub fn is_ternary(self) -> bool {
        self.operands() == 3
    }

    /// Whether `a op b = b op a`, so hash-consing may order the operands.
    pub fn is_commutative(self) -> bool {
        match self.func() {
            Some(f) => f.is_commutative(),
            None => matches!(self, Op::Add | Op::Mul),
        }
    }

    /// What machine code does for the operation, if it is a function's.
    pub fn machine(self) -> Option<Machine> {
        self.func().map(Func::machine)
    }
}
