//! Shared helpers: reading expressions, and independent oracles.
//!
//! The oracles never touch the canonical DAG, the differentiation rules or the compiler:
//! [`reference`] walks the parser's syntax arena directly, over plain `f64` or over
//! forward-mode [`Dual`] numbers written out here, so a wrong canonicalisation, derivative
//! rule or instruction shows up as a disagreement.

use std::ops::{Add, Div, Mul, Neg, Sub};

use nabla::engine::expr::{Scope, Shape};
use nabla::engine::func::{self, Builtin, Func};
use nabla::engine::parse::{parse, Ast, AstKind, ElemOp, ParseOptions};
use nabla::engine::{compile, diff, print, read, ExprId, Pool, Tape};

/// Parses and lowers `src` with every name a symbol.
pub fn expr(pool: &mut Pool, src: &str) -> ExprId {
    read(pool, src, Scope::default(), &ParseOptions::default())
        .unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
}

/// The canonical text of `src`.
pub fn canonical(src: &str) -> String {
    let mut pool = Pool::new();
    let id = expr(&mut pool, src);
    assert_eq!(pool.shape(id), Shape::Scalar);
    print::text(&pool, id)
}

/// `term(0, 1) + term(1, 2) + … + term(n - 2, n - 1)`: a function of `n` variables built
/// along them, as the Rosenbrock function is.
pub fn chained(n: usize, term: impl Fn(usize, usize) -> String) -> String {
    (0..n - 1)
        .map(|i| term(i, i + 1))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Symbol nodes for `names`.
pub fn syms(pool: &mut Pool, names: &[&str]) -> Vec<ExprId> {
    names.iter().map(|n| pool.sym(n)).collect()
}

/// The gradient of `src` with respect to `vars`, compiled: evaluating it at a point gives
/// `[value, d/dvars[0], ...]`.
pub fn value_and_gradient_tape(src: &str, vars: &[&str]) -> Tape {
    let mut pool = Pool::new();
    let root = expr(&mut pool, src);
    let ids = syms(&mut pool, vars);
    let mut roots = vec![root];
    roots.extend(diff::gradient(&mut pool, root, &ids, 10_000_000).expect("small"));
    compile(&pool, &roots, &ids).expect("all symbols are inputs")
}

/// The gradient's entries as canonical text.
pub fn gradient_text(src: &str, vars: &[&str]) -> Vec<String> {
    let mut pool = Pool::new();
    let root = expr(&mut pool, src);
    let ids = syms(&mut pool, vars);
    let g = diff::gradient(&mut pool, root, &ids, 10_000_000).expect("small");
    g.iter().map(|&d| print::text(&pool, d)).collect()
}

/// Whether two numbers agree to `rtol` relative to their size (with an absolute floor of
/// `rtol`), treating two NaNs and equal infinities as equal.
pub fn close(a: f64, b: f64, rtol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rtol * (1.0 + a.abs().max(b.abs()))
}

/// A forward-mode dual number `v + d*ε`, `ε² = 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual {
    pub v: f64,
    pub d: f64,
}

/// The arithmetic the reference interpreter needs.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    fn c(v: f64) -> Self;
    /// The value (without any derivative part).
    fn value(self) -> f64;
    /// A function of one argument, given its value and derivative.
    fn lift(self, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self;
    fn powf(self, e: Self) -> Self;
    fn rem(self, b: Self) -> Self;
    fn atan2(self, x: Self) -> Self;
    fn hypot(self, y: Self) -> Self;
    fn select_max(self, b: Self, max: bool) -> Self;
}

impl Scalar for f64 {
    fn c(v: f64) -> Self {
        v
    }
    fn value(self) -> f64 {
        self
    }
    fn lift(self, f: fn(f64) -> f64, _: fn(f64) -> f64) -> Self {
        f(self)
    }
    fn powf(self, e: Self) -> Self {
        f64::powf(self, e)
    }
    fn rem(self, b: Self) -> Self {
        self % b
    }
    fn atan2(self, x: Self) -> Self {
        f64::atan2(self, x)
    }
    fn hypot(self, y: Self) -> Self {
        f64::hypot(self, y)
    }
    fn select_max(self, b: Self, max: bool) -> Self {
        if max {
            self.max(b)
        } else {
            self.min(b)
        }
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}
impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            v: self.v - o.v,
            d: self.d - o.d,
        }
    }
}
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}
impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        Dual {
            v: self.v / o.v,
            d: (self.d * o.v - self.v * o.d) / (o.v * o.v),
        }
    }
}
impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual {
            v: -self.v,
            d: -self.d,
        }
    }
}

impl Scalar for Dual {
    fn c(v: f64) -> Self {
        Dual { v, d: 0.0 }
    }
    fn value(self) -> f64 {
        self.v
    }
    fn lift(self, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self {
        Dual {
            v: f(self.v),
            d: if self.d == 0.0 {
                0.0
            } else {
                df(self.v) * self.d
            },
        }
    }
    fn powf(self, e: Self) -> Self {
        let v = self.v.powf(e.v);
        let mut d = 0.0;
        if self.d != 0.0 {
            d += e.v * self.v.powf(e.v - 1.0) * self.d;
        }
        if e.d != 0.0 {
            d += v * self.v.ln() * e.d;
        }
        Dual { v, d }
    }
    fn rem(self, b: Self) -> Self {
        Dual {
            v: self.v % b.v,
            d: self.d - (self.v / b.v).trunc() * b.d,
        }
    }
    fn atan2(self, x: Self) -> Self {
        let r2 = self.v * self.v + x.v * x.v;
        Dual {
            v: self.v.atan2(x.v),
            d: (x.v * self.d - self.v * x.d) / r2,
        }
    }
    fn hypot(self, y: Self) -> Self {
        let h = self.v.hypot(y.v);
        Dual {
            v: h,
            d: (self.v * self.d + y.v * y.d) / h,
        }
    }
    fn select_max(self, b: Self, max: bool) -> Self {
        // f64::max/min ignore a NaN argument; the derivative follows the chosen one.
        let first = b.v.is_nan() || if max { self.v >= b.v } else { self.v <= b.v };
        if first {
            self
        } else {
            b
        }
    }
}

/// An `f64` whose every operation is off by a relative 1e-13 (about 450 ulps): an
/// expression evaluated with it and with `f64` tells how far roundings move its value.
/// Where they move it by more than a test's tolerance, two correct evaluations in different
/// orders (a canonical form against the syntax tree) need not agree to that tolerance:
/// `sin(pi^18)` and `sin(2*y + exp(e^3))` take the sine of numbers near 1e9, where an ulp of
/// the argument moves the sine by 1e-7.
#[derive(Clone, Copy, Debug)]
pub struct Noisy(pub f64);

const NOISE: f64 = 1.0 + 1e-13;

impl Add for Noisy {
    type Output = Noisy;
    fn add(self, o: Noisy) -> Noisy {
        Noisy((self.0 + o.0) * NOISE)
    }
}
impl Sub for Noisy {
    type Output = Noisy;
    fn sub(self, o: Noisy) -> Noisy {
        Noisy((self.0 - o.0) * NOISE)
    }
}
impl Mul for Noisy {
    type Output = Noisy;
    fn mul(self, o: Noisy) -> Noisy {
        Noisy(self.0 * o.0 * NOISE)
    }
}
impl Div for Noisy {
    type Output = Noisy;
    fn div(self, o: Noisy) -> Noisy {
        // A division by zero is a singularity, where no tolerance holds: its infinity's sign
        // is the sign of a zero (`x/(y - y)`), which canonical forms need not keep.
        if o.0 == 0.0 {
            return Noisy(f64::NAN);
        }
        Noisy(self.0 / o.0 * NOISE)
    }
}
impl Neg for Noisy {
    type Output = Noisy;
    fn neg(self) -> Noisy {
        Noisy(-self.0) // exact
    }
}

impl Scalar for Noisy {
    fn value(self) -> f64 {
        self.0
    }
    fn c(v: f64) -> Self {
        Noisy(v) // exact: a literal exponent must stay an integer
    }
    fn lift(self, f: fn(f64) -> f64, _: fn(f64) -> f64) -> Self {
        Noisy(f(self.0) * NOISE)
    }
    fn powf(self, e: Self) -> Self {
        Noisy(self.0.powf(e.0) * NOISE)
    }
    fn rem(self, b: Self) -> Self {
        Noisy(self.0 % b.0 * NOISE)
    }
    fn atan2(self, x: Self) -> Self {
        Noisy(self.0.atan2(x.0) * NOISE)
    }
    fn hypot(self, y: Self) -> Self {
        Noisy(self.0.hypot(y.0) * NOISE)
    }
    fn select_max(self, b: Self, max: bool) -> Self {
        Noisy(self.0.select_max(b.0, max))
    }
}

/// Whether `ast` at the point `env` describes is well-conditioned to `rtol`: rounding every
/// operation 1e-13 off moves its value (`want`) by less than `rtol` (see [`Noisy`]).
pub fn well_conditioned(ast: &Ast, env: &dyn Fn(&str) -> f64, want: f64, rtol: f64) -> bool {
    let noisy = reference::<Noisy>(ast, &|n| Noisy(env(n)));
    close(noisy.0, want, rtol)
}

fn unary<T: Scalar>(f: Func, a: T) -> T {
    match f {
        Func::Exp => a.lift(f64::exp, f64::exp),
        Func::Ln => a.lift(f64::ln, |x| 1.0 / x),
        Func::Log2 => a.lift(f64::log2, |x| 1.0 / (x * std::f64::consts::LN_2)),
        Func::Log10 => a.lift(f64::log10, |x| 1.0 / (x * std::f64::consts::LN_10)),
        Func::Abs => a.lift(f64::abs, func::sign),
        Func::Sign => a.lift(func::sign, |_| 0.0),
        Func::Signum => a.lift(f64::signum, |_| 0.0),
        Func::Sin => a.lift(f64::sin, f64::cos),
        Func::Cos => a.lift(f64::cos, |x| -x.sin()),
        Func::Tan => a.lift(f64::tan, |x| 1.0 / (x.cos() * x.cos())),
        Func::Cot => a.lift(|x| x.cos() / x.sin(), |x| -1.0 / (x.sin() * x.sin())),
        Func::Sec => a.lift(|x| 1.0 / x.cos(), |x| x.sin() / (x.cos() * x.cos())),
        Func::Csc => a.lift(|x| 1.0 / x.sin(), |x| -x.cos() / (x.sin() * x.sin())),
        Func::Sech => a.lift(|x| 1.0 / x.cosh(), |x| -x.sinh() / (x.cosh() * x.cosh())),
        Func::Csch => a.lift(|x| 1.0 / x.sinh(), |x| -x.cosh() / (x.sinh() * x.sinh())),
        Func::Coth => a.lift(|x| x.cosh() / x.sinh(), |x| -1.0 / (x.sinh() * x.sinh())),
        Func::Asec => a.lift(
            |x| (1.0 / x).acos(),
            |x| 1.0 / (x * x * (1.0 - 1.0 / (x * x)).sqrt()),
        ),
        Func::Acsc => a.lift(
            |x| (1.0 / x).asin(),
            |x| -1.0 / (x * x * (1.0 - 1.0 / (x * x)).sqrt()),
        ),
        Func::Acot => a.lift(|x| (1.0 / x).atan(), |x| -1.0 / (1.0 + x * x)),
        Func::Asech => a.lift(
            |x| (1.0 / x).acosh(),
            |x| -1.0 / (x * x * (1.0 / (x * x) - 1.0).sqrt()),
        ),
        Func::Acsch => a.lift(
            |x| (1.0 / x).asinh(),
            |x| -1.0 / (x * x * (1.0 + 1.0 / (x * x)).sqrt()),
        ),
        Func::Acoth => a.lift(|x| (1.0 / x).atanh(), |x| -1.0 / (x * x - 1.0)),
        Func::Cbrt => a.lift(f64::cbrt, |x| x.abs().powf(-2.0 / 3.0) / 3.0),
        Func::Erf => a.lift(erf_series, |x| {
            2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp()
        }),
        Func::Erfc => a.lift(
            |x| 1.0 - erf_series(x),
            |x| -2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
        ),
        Func::Asin => a.lift(f64::asin, |x| 1.0 / (1.0 - x * x).sqrt()),
        Func::Acos => a.lift(f64::acos, |x| -1.0 / (1.0 - x * x).sqrt()),
        Func::Atan => a.lift(f64::atan, |x| 1.0 / (1.0 + x * x)),
        Func::Sinh => a.lift(f64::sinh, f64::cosh),
        Func::Cosh => a.lift(f64::cosh, f64::sinh),
        Func::Tanh => a.lift(f64::tanh, |x| 1.0 / (x.cosh() * x.cosh())),
        Func::Asinh => a.lift(f64::asinh, |x| 1.0 / (x * x + 1.0).sqrt()),
        Func::Acosh => a.lift(f64::acosh, |x| 1.0 / (x * x - 1.0).sqrt()),
        Func::Atanh => a.lift(f64::atanh, |x| 1.0 / (1.0 - x * x)),
        Func::Sigmoid => a.lift(
            |x| 1.0 / (1.0 + (-x).exp()),
            |x| {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 - s)
            },
        ),
        // ln(1 + e^x) without overflow: x + ln(1 + e^-x) for positive x.
        Func::Softplus => a.lift(
            |x| {
                if x > 0.0 {
                    x + (-x).exp().ln_1p()
                } else {
                    x.exp().ln_1p()
                }
            },
            |x| 1.0 / (1.0 + (-x).exp()),
        ),
        Func::Floor => a.lift(f64::floor, |_| 0.0),
        Func::Ceil => a.lift(f64::ceil, |_| 0.0),
        Func::Round => a.lift(f64::round, |_| 0.0),
        Func::Trunc => a.lift(f64::trunc, |_| 0.0),
        other => panic!("{other:?} is not unary"),
    }
}

/// `erf(x)` by its Taylor series, `2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))`: an
/// oracle of its own (nabla uses libm's), to within 1e-13 for `|x| <= 3`; NaN beyond.
pub fn erf_series(x: f64) -> f64 {
    if x.abs() > 3.0 {
        return f64::NAN;
    }
    let (mut sum, mut term) = (0.0, x);
    for n in 0..120 {
        sum += term / (2 * n + 1) as f64;
        term *= -x * x / (n + 1) as f64;
    }
    2.0 / std::f64::consts::PI.sqrt() * sum
}

/// The real `n`-th root, from the scalar operations: `x^(1/n)`, or `-(-x)^(1/n)` for a
/// negative `x` and an odd integer `n`.
fn root<T: Scalar>(x: T, n: T) -> T {
    let (xv, nv) = (x.value(), n.value());
    if xv < 0.0 && nv.fract() == 0.0 && nv % 2.0 != 0.0 {
        -((-x).powf(T::c(1.0) / n))
    } else {
        x.powf(T::c(1.0) / n)
    }
}

/// Evaluates the syntax tree of `ast` directly, with `env` giving each name's value.
pub fn reference<T: Scalar>(ast: &Ast, env: &dyn Fn(&str) -> T) -> T {
    let mut vals: Vec<T> = Vec::with_capacity(ast.nodes.len());
    for node in &ast.nodes {
        let v = match node.kind {
            AstKind::Num(v) => T::c(v),
            AstKind::Ident => env(ast.name(node)),
            AstKind::Neg(a) => -vals[a.index()],
            AstKind::Sum(items) => {
                let mut acc = T::c(0.0);
                for (i, &(minus, t)) in ast.items(items).iter().enumerate() {
                    let t = vals[t.index()];
                    acc = match (i, minus) {
                        (0, false) => t,
                        (0, true) => -t,
                        (_, false) => acc + t,
                        (_, true) => acc - t,
                    };
                }
                acc
            }
            AstKind::Product(items) => {
                let mut acc = T::c(1.0);
                for (i, &(divide, f)) in ast.items(items).iter().enumerate() {
                    let f = vals[f.index()];
                    acc = match (i, divide) {
                        (0, _) => f,
                        (_, false) => acc * f,
                        (_, true) => acc / f,
                    };
                }
                acc
            }
            AstKind::Rem(a, b) => vals[a.index()].rem(vals[b.index()]),
            AstKind::Pow(a, b) | AstKind::Elem(ElemOp::Pow, a, b) => {
                vals[a.index()].powf(vals[b.index()])
            }
            AstKind::Elem(ElemOp::Mul, a, b) => vals[a.index()] * vals[b.index()],
            AstKind::Elem(ElemOp::Div, a, b) => vals[a.index()] / vals[b.index()],
            AstKind::Transpose(a) => vals[a.index()],
            AstKind::Call(b, args) => {
                let a: Vec<T> = ast
                    .items(args)
                    .iter()
                    .map(|&(_, x)| vals[x.index()])
                    .collect();
                match b {
                    Builtin::Sqrt => a[0].lift(f64::sqrt, |x| 0.5 / x.sqrt()),
                    Builtin::Pow => a[0].powf(a[1]),
                    Builtin::Variadic(f) => {
                        let mut acc = a[0];
                        for &x in &a[1..] {
                            acc = acc.select_max(x, f == Func::Max);
                        }
                        acc
                    }
                    Builtin::Log if a.len() == 1 => unary(Func::Ln, a[0]),
                    Builtin::Log | Builtin::Func(Func::LogBase) => {
                        let ln = |v: T| v.lift(f64::ln, |x| 1.0 / x);
                        ln(a[0]) / ln(a[1])
                    }
                    Builtin::Func(Func::Root) => root(a[0], a[1]),
                    Builtin::Func(Func::Atan2) => a[0].atan2(a[1]),
                    Builtin::Func(Func::Hypot) => a[0].hypot(a[1]),
                    Builtin::Func(f) => unary(f, a[0]),
                    Builtin::Tensor(f) => panic!("the scalar reference has no {f:?}"),
                }
            }
        };
        vals.push(v);
    }
    *vals.last().expect("non-empty ast")
}

/// The syntax tree of `src` (for the reference interpreter).
pub fn ast(src: &str) -> Ast<'_> {
    parse(src, &ParseOptions::default()).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
}

/// `pi`/`e` or the value of variable `k` of `names` at `point`.
pub fn env_f64<'a>(names: &'a [&'a str], point: &'a [f64]) -> impl Fn(&str) -> f64 + 'a {
    move |n| match names.iter().position(|v| *v == n) {
        Some(k) => point[k],
        None if n == "pi" => std::f64::consts::PI,
        None if n == "e" => std::f64::consts::E,
        None => panic!("no value for {n}"),
    }
}

/// The derivative of the reference with respect to variable `wrt`, by dual numbers.
pub fn dual_partial(ast: &Ast, names: &[&str], point: &[f64], wrt: usize) -> f64 {
    let env = |n: &str| match names.iter().position(|v| *v == n) {
        Some(k) => Dual {
            v: point[k],
            d: if k == wrt { 1.0 } else { 0.0 },
        },
        None if n == "pi" => Dual::c(std::f64::consts::PI),
        None if n == "e" => Dual::c(std::f64::consts::E),
        None => panic!("no value for {n}"),
    };
    reference::<Dual>(ast, &env).d
}
