//! Expression → derivative → program → evaluation, each step against an independent truth:
//! the value against the syntax tree evaluated directly, the gradient against dual numbers
//! (both from the integration tests' oracle, `tests/it/support.rs`, which shares no code
//! with the engine), machine code against the interpreter bit for bit, a batch against
//! single points, and printed text parsing back to the same node.
#![no_main]
#![allow(dead_code)]

#[path = "../../tests/it/support.rs"]
mod support;

use libfuzzer_sys::fuzz_target;
use nabla::engine::{compile, diff, print, Executable, Pool};
use support::{ast, close, dual_partial, env_f64, expr, reference, syms, Dual, Scalar};

const VARS: [&str; 3] = ["x", "y", "z"];

/// Reads bytes as choices: a smooth expression over x, y, z of bounded size and depth.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from[self.next() as usize % from.len()]
    }

    fn expression(&mut self, depth: u32) -> String {
        let b = self.next();
        if depth == 0 || self.0.is_empty() || b % 8 < 2 {
            return match b % 5 {
                0 => self.pick(&["0.5", "2", "3", "1.5", "pi", "e"]).to_string(),
                _ => self.pick(&VARS).to_string(),
            };
        }
        match b % 6 {
            0 | 1 => {
                let (a, op, c) = (
                    self.expression(depth - 1),
                    self.pick(&["+", "-", "*", "/"]),
                    self.expression(depth - 1),
                );
                format!("({a} {op} {c})")
            }
            2 => {
                let f = self.pick(&[
                    "sin", "cos", "exp", "tanh", "atan", "sigmoid", "softplus", "ln", "sqrt",
                    "asinh",
                ]);
                format!("{f}({})", self.expression(depth - 1))
            }
            3 => {
                let n = self.pick(&["2", "3", "-1", "0.5", "-2"]);
                format!("({})^{n}", self.expression(depth - 1))
            }
            4 => format!("-{}", self.expression(depth - 1)),
            _ => {
                let (a, c) = (self.expression(depth - 1), self.expression(depth - 1));
                format!("hypot({a}, {c})")
            }
        }
    }

    /// Coordinate `k`: now and then a special value (for the interpreter against the
    /// machine code), else an ordinary one off a grid by an irrational amount of its own,
    /// so two coordinates are never equal: at `x = y` a denominator like `x^3*y - x^4`
    /// is 0 in one evaluation order and a rounding error in another, and no oracle holds
    /// (the property tests draw their points from a continuum for the same reason).
    fn coordinate(&mut self, k: usize) -> f64 {
        let b = self.next();
        match b % 16 {
            0 => [
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                1e300,
                5e-324,
            ][self.next() as usize % 7],
            _ => {
                let offset = [2f64.sqrt(), 3f64.sqrt(), 5f64.sqrt()][k % 3] * 1e-3;
                (f64::from(self.next()) + f64::from(b) / 256.0) / 64.0 - 2.0 + offset
            }
        }
    }
}

thread_local! {
    /// Whether an evaluation with [`Finite`] met a value that is not finite.
    static OVERFLOWED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// An `f64` that notes when any step of an evaluation is not finite. The engine's
/// identities assume finite values (`x^0.5` is `sqrt(x)`, but `(-inf)^0.5` is `inf` and
/// `sqrt(-inf)` NaN), so the oracle is held to them only where every step was finite.
#[derive(Clone, Copy)]
struct Finite(f64);

fn noted(v: f64) -> Finite {
    if !v.is_finite() {
        OVERFLOWED.with(|o| o.set(true));
    }
    Finite(v)
}

impl std::ops::Add for Finite {
    type Output = Finite;
    fn add(self, o: Finite) -> Finite {
        noted(self.0 + o.0)
    }
}
impl std::ops::Sub for Finite {
    type Output = Finite;
    fn sub(self, o: Finite) -> Finite {
        noted(self.0 - o.0)
    }
}
impl std::ops::Mul for Finite {
    type Output = Finite;
    fn mul(self, o: Finite) -> Finite {
        noted(self.0 * o.0)
    }
}
impl std::ops::Div for Finite {
    type Output = Finite;
    fn div(self, o: Finite) -> Finite {
        noted(self.0 / o.0)
    }
}
impl std::ops::Neg for Finite {
    type Output = Finite;
    fn neg(self) -> Finite {
        Finite(-self.0)
    }
}
impl support::Scalar for Finite {
    fn value(self) -> f64 {
        self.0
    }
    fn c(v: f64) -> Self {
        noted(v)
    }
    fn lift(self, f: fn(f64) -> f64, _: fn(f64) -> f64) -> Self {
        noted(f(self.0))
    }
    fn powf(self, e: Self) -> Self {
        noted(self.0.powf(e.0))
    }
    fn rem(self, b: Self) -> Self {
        noted(self.0 % b.0)
    }
    fn atan2(self, x: Self) -> Self {
        noted(self.0.atan2(x.0))
    }
    fn hypot(self, y: Self) -> Self {
        noted(self.0.hypot(y.0))
    }
    fn select_max(self, b: Self, max: bool) -> Self {
        noted(if max {
            self.0.max(b.0)
        } else {
            self.0.min(b.0)
        })
    }
}

thread_local! {
    /// The largest derivative part any step of a [`Scaled`] evaluation reached.
    static LARGEST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// A dual number that notes the largest derivative any step of an evaluation reaches.
/// A symbolic derivative may cancel terms that large (`(1 - tanh(u)^2)*u'` multiplied out
/// is `u' - tanh(u)^2*u'`, two terms of 1e13 when `tanh(u)` rounds to 1), so its rounding
/// error is measured against them, not against the result.
#[derive(Clone, Copy)]
struct Scaled(Dual);

fn tracked(d: Dual) -> Scaled {
    if d.d.is_finite() {
        LARGEST.with(|l| l.set(l.get().max(d.d.abs())));
    }
    Scaled(d)
}

macro_rules! scaled_binary {
    ($($tr:ident $f:ident)*) => {$(
        impl std::ops::$tr for Scaled {
            type Output = Scaled;
            fn $f(self, o: Scaled) -> Scaled {
                tracked(std::ops::$tr::$f(self.0, o.0))
            }
        }
    )*};
}
scaled_binary!(Add add Sub sub Mul mul Div div);
impl std::ops::Neg for Scaled {
    type Output = Scaled;
    fn neg(self) -> Scaled {
        Scaled(-self.0)
    }
}
impl Scalar for Scaled {
    fn value(self) -> f64 {
        self.0.v
    }
    fn c(v: f64) -> Self {
        Scaled(Dual::c(v))
    }
    fn lift(self, f: fn(f64) -> f64, df: fn(f64) -> f64) -> Self {
        tracked(self.0.lift(f, df))
    }
    fn powf(self, e: Self) -> Self {
        tracked(self.0.powf(e.0))
    }
    fn rem(self, b: Self) -> Self {
        tracked(self.0.rem(b.0))
    }
    fn atan2(self, x: Self) -> Self {
        tracked(self.0.atan2(x.0))
    }
    fn hypot(self, y: Self) -> Self {
        tracked(self.0.hypot(y.0))
    }
    fn select_max(self, b: Self, max: bool) -> Self {
        tracked(self.0.select_max(b.0, max))
    }
}

/// The largest derivative part of any step of `a` at `p`, differentiating by variable `k`.
fn largest_step(a: &nabla::engine::parse::Ast, p: &[f64], k: usize) -> f64 {
    LARGEST.with(|l| l.set(0.0));
    let env = env_f64(&VARS, p);
    reference::<Scaled>(a, &|n| {
        let d = if VARS.get(k) == Some(&n) { 1.0 } else { 0.0 };
        Scaled(Dual { v: env(n), d })
    });
    LARGEST.with(|l| l.get())
}

/// Whether every step of `a` at `p` is finite.
fn finite_throughout(a: &nabla::engine::parse::Ast, p: &[f64]) -> bool {
    OVERFLOWED.with(|o| o.set(false));
    let env = env_f64(&VARS, p);
    reference::<Finite>(a, &|n| Finite(env(n)));
    !OVERFLOWED.with(|o| o.get())
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fuzz_target!(|data: &[u8]| {
    let mut c = Choices(data);
    let src = c.expression(5);
    let p: Vec<f64> = (0..3).map(|k| c.coordinate(k)).collect();

    let mut pool = Pool::new();
    let root = expr(&mut pool, &src);
    let ids = syms(&mut pool, &VARS);
    let grad = diff::gradient(&mut pool, root, &ids, 1_000_000).expect("small");
    let mut outputs = vec![root];
    outputs.extend(&grad);
    let tape = compile(&pool, &outputs, &ids).expect("inputs");

    // The interpreter, the machine code (where the system maps it) and a batch agree bit
    // for bit.
    let mut interpreted = vec![0.0; tape.outputs()];
    tape.eval_into(&p, &mut interpreted, &mut Vec::new())
        .expect("arity");
    let exe = Executable::new(tape.clone());
    if exe.make_native() {
        let mut native = vec![0.0; tape.outputs()];
        exe.eval_into(&p, &mut native, &mut Vec::new())
            .expect("arity");
        for (k, (a, b)) in interpreted.iter().zip(&native).enumerate() {
            assert!(
                same(*a, *b),
                "{src} at {p:?}: output {k} interpreted {a}, native {b}"
            );
        }
    }
    let mut batch = vec![0.0; 3 * tape.outputs()];
    tape.eval_batch(&[p.clone(), p.clone(), p.clone()].concat(), &mut batch)
        .expect("lengths");
    for (k, b) in batch.iter().enumerate() {
        let a = interpreted[k % tape.outputs()];
        assert!(
            same(a, *b),
            "{src} at {p:?}: batch output {k} {b}, single {a}"
        );
    }

    // Against the oracle, at ordinary points where the value is well-conditioned.
    let a = ast(&src);
    // Ordinary points, as in the property tests: special values (denormals, huge) are
    // held to the interpreter above, not to the oracle, since a canonical form may scale
    // differently (`y/(y + y^3)` against `1/(1 + y^2)` at y = 5e-324).
    let ordinary = p
        .iter()
        .all(|v| *v == 0.0 || (1e-3..=2.0).contains(&v.abs()));
    if ordinary && finite_throughout(&a, &p) {
        let want = reference::<f64>(&a, &env_f64(&VARS, &p));
        if want.is_finite()
            && want.abs() < 1e8
            && support::well_conditioned(&a, &env_f64(&VARS, &p), want, 1e-7)
        {
            assert!(
                close(interpreted[0], want, 1e-9),
                "{src} = {} at {p:?}, reference {want}",
                interpreted[0]
            );
        }
        for k in 0..3 {
            let d = dual_partial(&a, &VARS, &p, k);
            let got = interpreted[k + 1];
            // The oracle's own rounding, amplified (a division by `sin(pi)`, 1.2e-16, of
            // `(pi/y)/(pi/y) - 1`, which canonical forms cancel exactly), shows as a
            // partial that moves when the point moves by a trillionth.
            let steady = [1e-12, -2e-12].iter().all(|eps| {
                let moved: Vec<f64> = p.iter().map(|v| v * (1.0 + eps)).collect();
                close(dual_partial(&a, &VARS, &moved, k), d, 1e-9)
            });
            if steady && d.is_finite() && got.is_finite() && d.abs() < 1e8 && got.abs() < 1e8 {
                let cancelled = 64.0 * f64::EPSILON * largest_step(&a, &p, k);
                assert!(
                    close(got, d, 1e-8) || (got - d).abs() <= cancelled,
                    "d/d{} {src} = {got} at {p:?}, dual {d}",
                    VARS[k]
                );
            }
        }
    }

    // Printed text parses back to the same node.
    for id in outputs {
        let text = print::text(&pool, id);
        let back = expr(&mut pool, &text);
        assert_eq!(
            back,
            id,
            "{src} printed {text} parses to {}",
            print::text(&pool, back)
        );
    }
});
