//! Exact identity tests: where the reference and the answer are rational functions of
//! the variables with exact coefficients (integers, fractions, decimals as written), they
//! are evaluated in exact rational arithmetic (numbers of any size) at random integer
//! points, so no tolerance can let a wrong answer pass.
//!
//! The bound (Schwartz–Zippel): the difference, written as one fraction, has a numerator
//! of degree at most `d` (the sum of the two sides' degree bounds, numerator and
//! denominator counted); a nonzero polynomial of degree `d` vanishes at a point drawn
//! uniformly from `S^n` with probability at most `d/S`. Points are drawn from the
//! `S = 2^40` integers in `[-2^39, 2^39)`, and `k` independent points are used with
//! `(d/S)^k ≤ 10^-12` (two points for `d` up to about a million). Points where a
//! denominator vanishes are drawn again. Past `MAX_EXPONENT`, `MAX_BITS` or a degree
//! that makes `d/S` useless, the test answers `Unknown` and sampling decides, as before.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use rustc_hash::FxHashMap as HashMap;

use super::sampling::Rng;
use crate::engine::expr::Node;
use crate::engine::{Budget, ExprId, Pool};

/// The largest integer exponent evaluated exactly.
const MAX_EXPONENT: i64 = 100_000;
/// The most bits a number may reach (numerator and denominator together).
const MAX_BITS: u64 = 1 << 20;
/// The most bits of all numbers made at one point together.
const MAX_WORK_BITS: u64 = 1 << 23;
/// log2 of the size of the set each coordinate is drawn from.
const SET_BITS: u32 = 40;
/// The chance a wrong answer may pass, at most.
pub const FAILURE: f64 = 1e-12;

/// The most bits of a number reduced to lowest terms (for a difference or a factor to
/// show): reducing costs a gcd, which is slow for huge numbers.
const MAX_REDUCED_BITS: u64 = 1 << 12;

/// A fraction `n/d` with `d > 0`, never reduced: the values here are mostly integers,
/// and a gcd of two 240,000-bit numbers (what `BigRational` computes after every step)
/// costs more than all the products. Equality is by cross products.
#[derive(Clone, Debug)]
pub struct Frac {
    n: BigInt,
    d: BigInt,
}

impl Frac {
    fn int(n: BigInt) -> Frac {
        Frac {
            n,
            d: BigInt::one(),
        }
    }

    /// `v` exactly (every finite `f64` is a binary fraction).
    fn of_f64(v: f64) -> Option<Frac> {
        let r = BigRational::from_float(v)?;
        Some(Frac {
            n: r.numer().clone(),
            d: r.denom().clone(),
        })
    }

    fn bits(&self) -> u64 {
        self.n.bits() + self.d.bits()
    }

    fn is_zero(&self) -> bool {
        self.n.is_zero()
    }

    fn add(&self, o: &Frac) -> Frac {
        if self.d == o.d {
            return Frac {
                n: &self.n + &o.n,
                d: self.d.clone(),
            };
        }
        Frac {
            n: &self.n * &o.d + &o.n * &self.d,
            d: &self.d * &o.d,
        }
    }

    fn sub(&self, o: &Frac) -> Frac {
        self.add(&Frac {
            n: -&o.n,
            d: o.d.clone(),
        })
    }

    fn mul(&self, o: &Frac) -> Frac {
        Frac {
            n: &self.n * &o.n,
            d: &self.d * &o.d,
        }
    }

    /// `self^k`; `None` for a negative power of 0.
    fn pow(&self, k: i64) -> Option<Frac> {
        let e = u32::try_from(k.unsigned_abs()).ok()?;
        let (n, d) = (self.n.pow(e), self.d.pow(e));
        if k >= 0 {
            return Some(Frac { n, d });
        }
        if n.is_zero() {
            return None;
        }
        Some(if n.is_negative() {
            Frac { n: -d, d: -n }
        } else {
            Frac { n: d, d: n }
        })
    }

    /// In lowest terms, when small enough for the gcd to be cheap.
    pub fn reduced(&self) -> Option<BigRational> {
        (self.bits() <= MAX_REDUCED_BITS).then(|| BigRational::new(self.n.clone(), self.d.clone()))
    }

    /// The nearest `f64` (correctly rounded, for small numbers; else the quotient of the
    /// parts' `f64`s).
    pub fn to_f64(&self) -> f64 {
        match self.reduced() {
            Some(r) => r.to_f64().unwrap_or(f64::NAN),
            None => {
                let (n, d) = (self.n.to_f64(), self.d.to_f64());
                match (n, d) {
                    (Some(n), Some(d)) => n / d,
                    _ => f64::NAN,
                }
            }
        }
    }
}

impl PartialEq for Frac {
    fn eq(&self, o: &Frac) -> bool {
        if self.d == o.d {
            return self.n == o.n;
        }
        &self.n * &o.d == &o.n * &self.d
    }
}

/// What exact arithmetic decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Equal at every point: equal as functions, but for a chance below [`FAILURE`].
    Equal,
    /// Different.
    Differs {
        /// Whether `answer - reference` is the same number at every point (that number
        /// is best read at a small point: see [`Exact::values_at`]).
        constant: bool,
        /// Whether `answer / reference` is the same number at every point (that number is
        /// best read at a small point: see [`Exact::values_at`]).
        ratio: bool,
    },
    /// Not rational functions with exact coefficients, or past a bound.
    Unknown,
}

/// A value of the exact evaluation.
enum Value {
    Num(Frac),
    /// A denominator vanished: not a point of the domain.
    Singular,
}

/// The exact evaluator of a pool's nodes below some roots.
pub struct Exact<'p> {
    pool: &'p Pool,
    /// The nodes below the roots, children first.
    order: Vec<ExprId>,
    /// Each input symbol's node: its index among the variables, or a parameter's value.
    inputs: HashMap<ExprId, Input>,
}

#[derive(Clone)]
enum Input {
    Variable(usize),
    Fixed(Frac),
}

/// `v` as an exact rational, if the pool holds it as one (every literal, and every
/// number the canonical forms folded exactly).
fn rational_of(pool: &Pool, v: f64) -> Option<Frac> {
    let r = pool.exact(v)?;
    Some(Frac {
        n: BigInt::from(r.numer()),
        d: BigInt::from(r.denom()),
    })
}

impl<'p> Exact<'p> {
    /// An evaluator of `roots` with `variables` drawn at random and `parameters` held at
    /// their values (each a finite `f64`, exact as a binary fraction); `None` as soon as a
    /// node below them is no rational operation (a function, `pi`), so an answer that is
    /// not rational costs a few steps of its own size, not a walk of the pool.
    pub fn new(
        pool: &'p Pool,
        roots: &[ExprId],
        variables: &[ExprId],
        parameters: &[(ExprId, f64)],
    ) -> Option<Exact<'p>> {
        let mut seen: rustc_hash::FxHashSet<ExprId> = roots.iter().copied().collect();
        let mut stack: Vec<ExprId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if matches!(pool.node(id), Node::Const(_) | Node::Call(..)) {
                return None;
            }
            for &c in pool.children(id) {
                if seen.insert(c) {
                    stack.push(c);
                }
            }
        }
        // Children have smaller ids: ascending order is children first.
        let mut order: Vec<ExprId> = seen.into_iter().collect();
        order.sort_unstable();
        let mut inputs = HashMap::default();
        for (k, &v) in variables.iter().enumerate() {
            inputs.insert(v, Input::Variable(k));
        }
        for &(p, v) in parameters {
            if let Some(r) = Frac::of_f64(v) {
                inputs.insert(p, Input::Fixed(r));
            }
        }
        Some(Exact {
            pool,
            order,
            inputs,
        })
    }

    /// A bound on the degree of `id` as a rational function of the variables (numerator
    /// and denominator together), or `None` when it is not one with exact coefficients.
    pub fn degree(&self, id: ExprId) -> Option<u64> {
        let mut deg: HashMap<ExprId, u64> = HashMap::default();
        for &n in &self.order {
            let d = match self.pool.node(n) {
                Node::Num(bits) => {
                    rational_of(self.pool, f64::from_bits(bits))?;
                    0
                }
                Node::Sym(_) => match self.inputs.get(&n)? {
                    Input::Variable(_) => 1,
                    Input::Fixed(_) => 0,
                },
                Node::Add(ts) | Node::Mul(ts) => {
                    let mut total = 0u64;
                    for t in ts {
                        total = total.checked_add(*deg.get(t)?)?;
                    }
                    total
                }
                Node::Pow([b, e]) => {
                    let k = self.exponent(e)?;
                    deg.get(&b)?.checked_mul(k.unsigned_abs())?
                }
                Node::Const(_) | Node::Call(..) => return None,
            };
            deg.insert(n, d);
        }
        deg.get(&id).copied()
    }

    fn exponent(&self, e: ExprId) -> Option<i64> {
        let v = self.pool.node(e).as_num()?;
        let r = self.pool.exact(v)?;
        (r.denom() == 1 && r.numer().abs() <= MAX_EXPONENT).then(|| r.numer())
    }

    /// The values of `roots` at `point` (the variables' values), or `None` past a bound.
    fn eval(&self, roots: &[ExprId], point: &[Frac], budget: &Budget) -> Option<Vec<Value>> {
        let mut vals: HashMap<ExprId, Value> = HashMap::default();
        // The bits of every number made, bounded: a thousand terms of 3-million-bit powers
        // would each pass `MAX_BITS` and together take minutes.
        let mut work = 0u64;
        // A child's value: `Some(None)` where it is singular.
        let get = |vals: &HashMap<ExprId, Value>, c: &ExprId| -> Option<Option<Frac>> {
            match vals.get(c)? {
                Value::Num(r) => Some(Some(r.clone())),
                Value::Singular => Some(None),
            }
        };
        for &n in &self.order {
            let v = match self.pool.node(n) {
                Node::Num(b) => Value::Num(rational_of(self.pool, f64::from_bits(b))?),
                Node::Sym(_) => match self.inputs.get(&n)? {
                    Input::Variable(k) => Value::Num(point.get(*k)?.clone()),
                    Input::Fixed(r) => Value::Num(r.clone()),
                },
                Node::Add(ts) | Node::Mul(ts) => {
                    let add = matches!(self.pool.node(n), Node::Add(_));
                    let mut acc = Some(Frac::int(BigInt::from(u8::from(!add))));
                    for t in ts {
                        acc = match (acc, get(&vals, t)?) {
                            (Some(a), Some(b)) => {
                                // The size of the result, bounded before it is computed.
                                if a.bits().saturating_add(b.bits()) > 2 * MAX_BITS {
                                    return None;
                                }
                                Some(if add { a.add(&b) } else { a.mul(&b) })
                            }
                            _ => None,
                        };
                    }
                    acc.map_or(Value::Singular, Value::Num)
                }
                Node::Pow([b, e]) => {
                    let k = self.exponent(e)?;
                    match get(&vals, &b)? {
                        None => Value::Singular,
                        Some(x) => {
                            if x.bits().saturating_mul(k.unsigned_abs()) > MAX_BITS {
                                return None;
                            }
                            x.pow(k).map_or(Value::Singular, Value::Num)
                        }
                    }
                }
                Node::Const(_) | Node::Call(..) => return None,
            };
            if let Value::Num(r) = &v {
                work = work.saturating_add(r.bits());
                if r.bits() > MAX_BITS || work > MAX_WORK_BITS {
                    return None;
                }
            }
            // Between steps, so a step of the largest size is the most time overshot.
            budget.check().ok()?;
            vals.insert(n, v);
        }
        roots.iter().map(|r| vals.remove(r)).collect()
    }

    /// Decides whether `answer` equals `reference` as functions, with `variables`
    /// (their count) drawn from a generator seeded by `seed`.
    pub fn decide(
        &self,
        reference: ExprId,
        answer: ExprId,
        variables: usize,
        seed: u64,
        budget: &Budget,
    ) -> Decision {
        let (Some(dr), Some(da)) = (self.degree(reference), self.degree(answer)) else {
            return Decision::Unknown;
        };
        let d = dr.saturating_add(da).max(1) as f64;
        let s = 2f64.powi(SET_BITS as i32);
        if d >= s / 16.0 {
            return Decision::Unknown;
        }
        let k = (FAILURE.ln() / (d / s).ln()).ceil().max(1.0) as usize;
        let mut rng = Rng(seed ^ 0xe8ac_7a7e_0f1b_4d3d);
        let half = 1i64 << (SET_BITS - 1);
        let (mut equal, mut tried) = (0usize, 0usize);
        // (reference, answer) where they differ: compared by cross products, never
        // divided, since a quotient of two 240,000-bit numbers costs a gcd of that size.
        let mut differences: Vec<(Frac, Frac)> = Vec::new();
        while equal + differences.len() < k && tried < 8 * k + 8 {
            tried += 1;
            if budget.check().is_err() {
                return Decision::Unknown;
            }
            let point: Vec<Frac> = (0..variables)
                .map(|_| Frac::int(BigInt::from((rng.next() % (2 * half as u64)) as i64 - half)))
                .collect();
            let Some(mut v) = self.eval(&[reference, answer], &point, budget) else {
                return Decision::Unknown;
            };
            match (v.pop(), v.pop()) {
                (Some(Value::Num(a)), Some(Value::Num(r))) => {
                    if r == a {
                        equal += 1;
                    } else {
                        differences.push((r, a));
                    }
                }
                // The reference is not defined here, or the answer is not (that is for
                // sampling to show, where the reference is defined): draw again.
                _ => continue,
            }
        }
        if differences.is_empty() {
            return if equal >= k {
                Decision::Equal
            } else {
                Decision::Unknown
            };
        }
        // A constant difference or ratio only when it held at every point (points where
        // the two agreed have difference 0 and ratio 1, so none may have).
        let every = equal == 0 && differences.len() >= k;
        let (r0, a0) = &differences[0];
        let d0 = a0.sub(r0);
        let constant = every && differences.iter().all(|(r, a)| a.sub(r) == d0);
        let ratio = every
            && !r0.is_zero()
            && differences
                .iter()
                .all(|(r, a)| !r.is_zero() && a.mul(r0) == a0.mul(r));
        Decision::Differs { constant, ratio }
    }

    /// The exact values of `reference` and `answer` at `point` (small numbers, for a
    /// counterexample), when both are defined there.
    pub fn values_at(
        &self,
        reference: ExprId,
        answer: ExprId,
        point: &[f64],
        budget: &Budget,
    ) -> Option<(Frac, Frac)> {
        let point: Vec<Frac> = point
            .iter()
            .map(|&x| Frac::of_f64(x))
            .collect::<Option<_>>()?;
        let mut v = self.eval(&[reference, answer], &point, budget)?;
        match (v.pop()?, v.pop()?) {
            (Value::Num(a), Value::Num(r)) => Some((r, a)),
            _ => None,
        }
    }
}

/// A rational's nearest `f64`.
pub fn ratio_f64(r: &BigRational) -> f64 {
    r.to_f64().unwrap_or(f64::NAN)
}

/// Whether `r` is -1.
pub fn is_minus_one(r: &BigRational) -> bool {
    r.is_negative() && r.abs().is_one()
}

/// A rational as the language writes it: an integer or `p/q`.
pub fn text(r: &BigRational) -> String {
    if r.is_integer() {
        r.numer().to_string()
    } else {
        format!("{}/{}", r.numer(), r.denom())
    }
}
