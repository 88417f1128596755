//! How many digits an `f64` evaluation keeps, and a second evaluation with more.
//!
//! Sampling compares the reference and an answer at points in `f64`. Where large terms
//! cancel (`cosh(x)^2 - sinh(x)^2` at `x = 20`: two numbers near 6e16 whose difference is
//! 1), the `f64` value has no correct digit left, and a comparison of it is no evidence
//! either way. So every sampled value comes with a first-order bound on its rounding
//! error, propagated node by node over the expression (sums: the terms' magnitudes; products:
//! the factors' relative errors; functions: their slope times the argument's error, plus
//! their own accuracy). Where the bounds could change the comparison, both sides are
//! evaluated again with 192-bit floating point (astro-float: every operation and elementary
//! function correctly rounded; the few functions it lacks stay `f64` and keep their error),
//! and where that still cannot decide, the sample is not informative. (Double-double from
//! the twofloat crate was tried first: its `ln 2` is off by 2e-14 and `cosh 1` by 2e-12,
//! worse than `f64`.)

use astro_float::{BigFloat, Consts, RoundingMode};
use rustc_hash::FxHashMap as HashMap;

use crate::engine::expr::{Constant, Node};
use crate::engine::func::Func;
use crate::engine::{Budget, ExprId, Pool};

/// The unit roundoff of `f64`.
const U64: f64 = f64::EPSILON / 2.0;
/// The relative accuracy assumed of an `f64` elementary function (libm's are within an ulp
/// or two; a composite such as `sec = 1/cos` adds a rounding).
const F64_FUNCTION: f64 = 4.0 * U64;
/// The bits of the second evaluation.
const WIDE_BITS: usize = 192;
/// Its unit roundoff, for arithmetic and functions alike (astro-float rounds each
/// operation correctly; a composite such as `sec` adds a rounding).
const WIDE_UNIT: f64 = 4.0 / (1u128 << 127) as f64 / (1u128 << 64) as f64;
const RM: RoundingMode = RoundingMode::ToEven;

/// A number type the evaluation runs in, with what its operations need (`Cx`).
trait Real: Clone {
    /// The state its operations share (astro-float's cache of constants).
    type Cx;
    /// The unit roundoff of its arithmetic.
    const UNIT: f64;
    fn of(v: f64) -> Self;
    /// `n/d`, rounded once.
    fn ratio(n: i64, d: i64) -> Self;
    fn constant(c: Constant, cx: &mut Self::Cx) -> Self;
    fn add(&self, o: &Self) -> Self;
    fn mul(&self, o: &Self) -> Self;
    fn powi(&self, k: i32) -> Self;
    fn powf(&self, e: &Self, cx: &mut Self::Cx) -> Self;
    /// `f(a, b)` and the relative accuracy of that evaluation.
    fn call(f: Func, a: &Self, b: &Self, cx: &mut Self::Cx) -> (Self, f64);
    /// The nearest `f64`.
    fn value(&self) -> f64;
}

impl Real for f64 {
    type Cx = ();
    const UNIT: f64 = U64;
    fn of(v: f64) -> f64 {
        v
    }
    fn ratio(n: i64, d: i64) -> f64 {
        n as f64 / d as f64
    }
    fn constant(c: Constant, _: &mut ()) -> f64 {
        c.value()
    }
    fn add(&self, o: &f64) -> f64 {
        self + o
    }
    fn mul(&self, o: &f64) -> f64 {
        self * o
    }
    fn powi(&self, k: i32) -> f64 {
        f64::powi(*self, k)
    }
    fn powf(&self, e: &f64, _: &mut ()) -> f64 {
        f64::powf(*self, *e)
    }
    fn call(f: Func, a: &f64, b: &f64, _: &mut ()) -> (f64, f64) {
        (f.eval(*a, *b), F64_FUNCTION)
    }
    fn value(&self) -> f64 {
        *self
    }
}

impl Real for BigFloat {
    type Cx = Option<Consts>;
    const UNIT: f64 = WIDE_UNIT;
    fn of(v: f64) -> BigFloat {
        BigFloat::from_f64(v, WIDE_BITS)
    }
    fn ratio(n: i64, d: i64) -> BigFloat {
        BigFloat::of(n as f64).div(&BigFloat::of(d as f64), WIDE_BITS, RM)
    }
    fn constant(c: Constant, cx: &mut Option<Consts>) -> BigFloat {
        match (c, cx.as_mut()) {
            (Constant::Pi, Some(cc)) => cc.pi(WIDE_BITS, RM),
            (Constant::E, Some(cc)) => cc.e(WIDE_BITS, RM),
            _ => BigFloat::of(c.value()),
        }
    }
    fn add(&self, o: &BigFloat) -> BigFloat {
        BigFloat::add(self, o, WIDE_BITS, RM)
    }
    fn mul(&self, o: &BigFloat) -> BigFloat {
        BigFloat::mul(self, o, WIDE_BITS, RM)
    }
    fn powi(&self, k: i32) -> BigFloat {
        let p = BigFloat::powi(self, k.unsigned_abs() as usize, WIDE_BITS, RM);
        if k < 0 {
            p.reciprocal(WIDE_BITS, RM)
        } else {
            p
        }
    }
    fn powf(&self, e: &BigFloat, cx: &mut Option<Consts>) -> BigFloat {
        // Undefined inputs answer at once (astro-float can take seconds over them).
        let (x, k) = (self.value(), e.value());
        if x.is_nan() || k.is_nan() || (x < 0.0 && k.fract() != 0.0) || (x == 0.0 && k < 0.0) {
            return BigFloat::of(f64::NAN);
        }
        // A negative base with an integer exponent: a product, not exp(k ln x).
        if x <= 0.0 {
            return match i32::try_from(k as i64) {
                Ok(k) if k.unsigned_abs() <= 1 << 20 => Real::powi(self, k),
                _ => BigFloat::of(x.powf(k)),
            };
        }
        match cx.as_mut() {
            Some(cc) => self.pow(e, WIDE_BITS, RM, cc),
            None => BigFloat::of(self.value().powf(e.value())),
        }
    }
    fn call(f: Func, a: &BigFloat, b: &BigFloat, cx: &mut Option<Consts>) -> (BigFloat, f64) {
        let p = WIDE_BITS;
        let narrow =
            |a: &BigFloat, b: &BigFloat| (BigFloat::of(f.eval(a.value(), b.value())), F64_FUNCTION);
        let Some(cc) = cx.as_mut() else {
            return narrow(a, b);
        };
        // Outside a function's domain the answer is NaN at once: astro-float can take
        // seconds over such an argument.
        let (x, y) = (a.value(), b.value());
        let outside = x.is_nan()
            || y.is_nan()
            || match f {
                Func::Ln | Func::Log2 | Func::Log10 => x <= 0.0,
                Func::Asin | Func::Acos => x.abs() > 1.0,
                Func::Acosh => x < 1.0,
                Func::Atanh => x.abs() >= 1.0,
                _ => false,
            };
        // Past these, f64 has the answer (an overflow, 1, or a sine no digit of whose
        // argument is known), and astro-float would reduce the argument at great length.
        let huge = match f {
            Func::Sin | Func::Cos | Func::Tan | Func::Sec | Func::Csc | Func::Cot => x.abs() > 1e6,
            Func::Exp
            | Func::Sinh
            | Func::Cosh
            | Func::Tanh
            | Func::Sech
            | Func::Csch
            | Func::Coth
            | Func::Sigmoid => x.abs() > 1e6,
            _ => false,
        };
        if huge {
            return narrow(a, b);
        }
        if outside {
            return (BigFloat::of(f64::NAN), 0.0);
        }
        let v = match f {
            Func::Exp => a.exp(p, RM, cc),
            Func::Ln => a.ln(p, RM, cc),
            Func::Log2 => a.log2(p, RM, cc),
            Func::Log10 => a.log10(p, RM, cc),
            Func::Sin => a.sin(p, RM, cc),
            Func::Cos => a.cos(p, RM, cc),
            Func::Tan => a.tan(p, RM, cc),
            Func::Sec => a.cos(p, RM, cc).reciprocal(p, RM),
            Func::Csc => a.sin(p, RM, cc).reciprocal(p, RM),
            Func::Cot => a.tan(p, RM, cc).reciprocal(p, RM),
            Func::Asin => a.asin(p, RM, cc),
            Func::Acos => a.acos(p, RM, cc),
            Func::Atan => a.atan(p, RM, cc),
            Func::Sinh => a.sinh(p, RM, cc),
            Func::Cosh => a.cosh(p, RM, cc),
            Func::Tanh => a.tanh(p, RM, cc),
            Func::Sech => a.cosh(p, RM, cc).reciprocal(p, RM),
            Func::Csch => a.sinh(p, RM, cc).reciprocal(p, RM),
            Func::Coth => a.tanh(p, RM, cc).reciprocal(p, RM),
            Func::Asinh => a.asinh(p, RM, cc),
            Func::Acosh => a.acosh(p, RM, cc),
            Func::Atanh => a.atanh(p, RM, cc),
            Func::Cbrt => a.cbrt(p, RM),
            Func::Abs => a.abs(),
            Func::Sigmoid => {
                let one = BigFloat::of(1.0);
                Real::add(&one, &a.neg().exp(p, RM, cc)).reciprocal(p, RM)
            }
            // Exact on their arguments, or piecewise constant: the f64 value is exact
            // wherever the argument's f64 is on the same side of the steps.
            Func::Sign
            | Func::Signum
            | Func::Min
            | Func::Max
            | Func::Floor
            | Func::Ceil
            | Func::Round
            | Func::Trunc => return (BigFloat::of(f.eval(a.value(), b.value())), 0.0),
            // Not there: f64, with f64's error.
            _ => return narrow(a, b),
        };
        (v, WIDE_UNIT)
    }
    fn value(&self) -> f64 {
        if self.is_inf_pos() {
            return f64::INFINITY;
        }
        if self.is_inf_neg() {
            return f64::NEG_INFINITY;
        }
        // The top two words of the mantissa (a fraction in [1/2, 1)) times 2^exponent:
        // within an ulp, without printing (a decimal conversion costs big products).
        let Some((words, _, sign, exponent, _)) = self.as_raw_parts() else {
            return f64::NAN;
        };
        let word = |k: usize| words.len().checked_sub(k).map_or(0.0, |i| words[i] as f64);
        let two64 = 2f64.powi(64);
        let fraction = (word(1) + word(2) / two64) / two64;
        let v = fraction * 2f64.powi(exponent);
        if sign == astro_float::Sign::Neg {
            -v
        } else {
            v
        }
    }
}

/// A value and a bound on its error, in the arithmetic `R`.
#[derive(Clone)]
struct Bounded<R> {
    v: R,
    err: f64,
}

/// An evaluator of one node of a pool with rounding-error bounds.
pub struct Careful<'p> {
    pool: &'p Pool,
    /// The nodes below the root, children first.
    order: Vec<ExprId>,
    root: ExprId,
    /// Each input symbol's position in the input vector.
    inputs: HashMap<ExprId, usize>,
}

/// The most nodes below one root this evaluates (an answer is bounded by the expression
/// limits well below this; the bound keeps the cost of a sample proportional).
const MAX_NODES: usize = 1 << 16;

impl<'p> Careful<'p> {
    /// An evaluator of `root`, whose inputs are the symbols `inputs` in that order; `None`
    /// past 65,536 nodes.
    pub fn new(pool: &'p Pool, root: ExprId, inputs: &[ExprId]) -> Option<Careful<'p>> {
        let mut seen = rustc_hash::FxHashSet::default();
        seen.insert(root);
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            for &c in pool.children(id) {
                if seen.insert(c) {
                    if seen.len() > MAX_NODES {
                        return None;
                    }
                    stack.push(c);
                }
            }
        }
        // Children have smaller ids: ascending order is children first.
        let mut order: Vec<ExprId> = seen.into_iter().collect();
        order.sort_unstable();
        let inputs = inputs.iter().enumerate().map(|(k, &s)| (s, k)).collect();
        Some(Careful {
            pool,
            order,
            root,
            inputs,
        })
    }

    /// The `f64` value at `point` and a bound on its rounding error (an infinite bound
    /// when `budget` ran out).
    pub fn in_f64(&self, point: &[f64], budget: &Budget) -> (f64, f64) {
        let b = self.eval::<f64>(point, &mut (), budget);
        (b.v, b.err)
    }

    /// The 192-bit value at `point` (rounded to `f64`) and a bound on its error (an
    /// infinite bound when `budget` ran out).
    pub fn in_wide(&self, point: &[f64], budget: &Budget) -> (f64, f64) {
        let mut cx = Consts::new().ok();
        let b = self.eval::<BigFloat>(point, &mut cx, budget);
        (b.v.value(), b.err)
    }

    fn eval<R: Real>(&self, point: &[f64], cx: &mut R::Cx, budget: &Budget) -> Bounded<R> {
        let nan = || Bounded {
            v: R::of(f64::NAN),
            err: f64::INFINITY,
        };
        let wide = R::UNIT < U64;
        let mut vals: HashMap<ExprId, Bounded<R>> = HashMap::default();
        vals.reserve(self.order.len());
        for (i, &n) in self.order.iter().enumerate() {
            if budget.check_every(i).is_err() {
                return nan();
            }
            let get = |vals: &HashMap<ExprId, Bounded<R>>, c: &ExprId| {
                vals.get(c).cloned().unwrap_or_else(nan)
            };
            let b = match self.pool.node(n) {
                Node::Num(bits) => {
                    let v = f64::from_bits(bits);
                    match self.pool.exact(v) {
                        // The literal as written (1/10, not its f64), rounded once unless
                        // it is a binary fraction.
                        Some(r) if wide && !(r.denom() as u64).is_power_of_two() => Bounded {
                            v: R::ratio(r.numer(), r.denom()),
                            err: v.abs() * R::UNIT,
                        },
                        // A dyadic number is its f64 exactly.
                        Some(r) if (r.denom() as u64).is_power_of_two() => Bounded {
                            v: R::of(v),
                            err: 0.0,
                        },
                        // So is an integer past the exact numbers' bound (`1e16`), and
                        // both sides read the same text to the same number.
                        None if v.fract() == 0.0 => Bounded {
                            v: R::of(v),
                            err: 0.0,
                        },
                        _ => Bounded {
                            v: R::of(v),
                            err: v.abs() * U64,
                        },
                    }
                }
                Node::Const(c) => Bounded {
                    v: R::constant(c, cx),
                    err: c.value().abs() * if wide { R::UNIT } else { U64 },
                },
                Node::Sym(_) => match self.inputs.get(&n).and_then(|&k| point.get(k)) {
                    Some(&x) => Bounded {
                        v: R::of(x),
                        err: 0.0,
                    },
                    None => nan(),
                },
                Node::Add(ts) => {
                    let (mut v, mut err, mut magnitude) = (R::of(0.0), 0.0, 0.0);
                    for t in ts {
                        let b = get(&vals, t);
                        v = v.add(&b.v);
                        err += b.err;
                        magnitude += b.v.value().abs();
                    }
                    // Each partial sum is rounded once: at most the magnitudes' sum each.
                    let steps = ts.len().saturating_sub(1) as f64;
                    Bounded {
                        v,
                        err: err + steps * R::UNIT * magnitude,
                    }
                }
                Node::Mul(ts) => {
                    let factors: Vec<Bounded<R>> = ts.iter().map(|t| get(&vals, t)).collect();
                    let mut v = R::of(1.0);
                    for f in &factors {
                        v = v.mul(&f.v);
                    }
                    let magnitudes: Vec<f64> = factors.iter().map(|f| f.v.value().abs()).collect();
                    // First order: each factor's error times the others' product.
                    let mut err = 0.0;
                    for (i, f) in factors.iter().enumerate() {
                        if f.err > 0.0 {
                            let others: f64 = magnitudes
                                .iter()
                                .enumerate()
                                .filter(|&(j, _)| j != i)
                                .map(|(_, m)| m)
                                .product();
                            err += f.err * others;
                        }
                    }
                    let steps = ts.len().saturating_sub(1) as f64;
                    let y = v.value().abs();
                    Bounded {
                        v,
                        err: err + steps * R::UNIT * y,
                    }
                }
                Node::Pow([b, e]) => {
                    let (b, e) = (get(&vals, &b), get(&vals, &e));
                    let (x, k) = (b.v.value(), e.v.value());
                    let integer = e.err == 0.0 && k.fract() == 0.0 && k.abs() <= 1024.0;
                    let v = if integer {
                        b.v.powi(k as i32)
                    } else {
                        b.v.powf(&e.v, cx)
                    };
                    let y = v.value();
                    let slope_b = (k * y / x).abs();
                    let slope_e = if e.err > 0.0 {
                        (y * x.abs().ln()).abs()
                    } else {
                        0.0
                    };
                    let own = if integer {
                        (k.abs().log2().ceil() + 1.0) * R::UNIT
                    } else if wide {
                        4.0 * R::UNIT
                    } else {
                        F64_FUNCTION
                    };
                    let mut err = own * y.abs();
                    if b.err > 0.0 {
                        err += slope_b * b.err;
                    }
                    if e.err > 0.0 {
                        err += slope_e * e.err;
                    }
                    Bounded { v, err }
                }
                Node::Call(f, args) => {
                    let a = args.first().map_or_else(nan, |c| get(&vals, c));
                    let b = args.get(1).map_or_else(
                        || Bounded {
                            v: R::of(0.0),
                            err: 0.0,
                        },
                        |c| get(&vals, c),
                    );
                    let (v, accuracy) = R::call(f, &a.v, &b.v, cx);
                    let (x, y) = (a.v.value(), b.v.value());
                    // The slopes, by central differences in f64: first order is enough
                    // for a bound that only asks whether digits are left.
                    // (Central, else one-sided at the edge of a domain: ln at 1e-300.)
                    let slope = |g: &dyn Fn(f64) -> f64, at: f64| {
                        let h = if at == 0.0 { 1e-300 } else { at.abs() * 1e-6 };
                        let (left, mid, right) = (g(at - h), g(at), g(at + h));
                        [
                            (right - left) / (2.0 * h),
                            (right - mid) / h,
                            (mid - left) / h,
                        ]
                        .into_iter()
                        .find(|d| d.is_finite())
                        .map_or(f64::INFINITY, f64::abs)
                    };
                    let mut err = accuracy * v.value().abs();
                    if a.err > 0.0 {
                        err += slope(&|t| f.eval(t, y), x) * a.err;
                    }
                    if b.err > 0.0 {
                        err += slope(&|t| f.eval(x, t), y) * b.err;
                    }
                    Bounded { v, err }
                }
            };
            let b = if b.err.is_nan() {
                Bounded {
                    err: f64::INFINITY,
                    ..b
                }
            } else {
                b
            };
            vals.insert(n, b);
        }
        vals.get(&self.root).cloned().unwrap_or_else(nan)
    }
}
