//! Property tests on random expressions, each against an oracle that shares no code with
//! canonicalisation, differentiation or compilation (see `support`).

use nabla::engine::{compile, diff, print, Pool};
use proptest::prelude::*;

use crate::support::{ast, close, dual_partial, env_f64, expr, reference, syms};

const VARS: [&str; 3] = ["x", "y", "z"];

/// Random expressions over x, y, z built from smooth functions and operators.
fn smooth_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => prop::sample::select(&VARS[..]).prop_map(str::to_string),
        1 => prop::sample::select(&["0.5", "2", "3", "1.5", "pi", "e"][..]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["+", "-", "*", "/"][..]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (
                prop::sample::select(
                    &[
                        "sin", "cos", "exp", "tanh", "atan", "sigmoid", "softplus", "ln", "sqrt",
                        "asinh"
                    ][..]
                ),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (
                inner.clone(),
                prop::sample::select(&["2", "3", "-1", "0.5", "-2"][..])
            )
                .prop_map(|(a, n)| format!("({a})^{n}")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("hypot({a}, {b})")),
        ]
    })
}

fn point() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-2.0f64..2.0, 3)
}

/// A point whose coordinates are ordinary or special (zeros, huge, infinite, NaN).
fn wild_point() -> impl Strategy<Value = Vec<f64>> {
    let coordinate = prop_oneof![
        3 => -2.0f64..2.0,
        1 => prop::sample::select(&crate::native::SPECIAL[..]),
    ];
    prop::collection::vec(coordinate, 3)
}

/// Value and gradient, compiled from the canonical DAG.
fn compiled(src: &str, p: &[f64]) -> Vec<f64> {
    crate::support::value_and_gradient_tape(src, &VARS)
        .eval(p)
        .expect("arity")
}

fn finite(xs: &[f64]) -> bool {
    xs.iter().all(|v| v.is_finite() && v.abs() < 1e8)
}

/// Whether a difference quotient of exactly 0 where the derivative is not 0 says only that
/// the step was absorbed: both sides rounded to the same value, as `x + e^(pi^3)` does for
/// any step below 0.004, or as the gradient `-1/sin(pi) + 2*x` (`sin(pi)` is 1.2e-16, not
/// 0) does: a large intermediate leaves no digits for the step.
fn absorbed(quotient: f64, derivative: f64) -> bool {
    quotient == 0.0 && derivative.abs() > 1e-6
}

/// Whether the function is well-conditioned at `p` (see `support::well_conditioned`), its
/// value there being `want`: where roundings can move the value by more than the
/// tolerances below, neither a canonical form nor a difference quotient can be held to them.
fn well_conditioned(a: &nabla::engine::parse::Ast, p: &[f64], want: f64) -> bool {
    crate::support::well_conditioned(a, &env_f64(&VARS, p), want, 1e-7)
}

proptest! {
    // 400 cases each by default; PROPTEST_CASES=N runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        // Points outside a random function's domain are rejected, not failures.
        max_global_rejects: 1_000_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn canonical_form_keeps_the_value(src in smooth_expr(), p in point()) {
        let a = ast(&src);
        let want = reference::<f64>(&a, &env_f64(&VARS, &p));
        prop_assume!(want.is_finite() && want.abs() < 1e8 && well_conditioned(&a, &p, want));
        let got = compiled(&src, &p)[0];
        prop_assert!(close(got, want, 1e-9), "{} = {} at {:?}, reference {}", src, got, p, want);
    }

    #[test]
    fn gradient_matches_dual_numbers(src in smooth_expr(), p in point()) {
        let a = ast(&src);
        let want: Vec<f64> = (0..3).map(|k| dual_partial(&a, &VARS, &p, k)).collect();
        let got = compiled(&src, &p);
        prop_assume!(finite(&want) && finite(&got));
        for k in 0..3 {
            prop_assert!(close(got[k + 1], want[k], 1e-8), "d/d{} {} = {} at {:?}, dual {}", VARS[k], src, got[k + 1], p, want[k]);
        }
    }

    #[test]
    fn gradient_matches_finite_differences(src in smooth_expr(), p in point()) {
        let a = ast(&src);
        let f = |q: &[f64]| reference::<f64>(&a, &env_f64(&VARS, q));
        let got = compiled(&src, &p);
        prop_assume!(finite(&got) && well_conditioned(&a, &p, f(&p)));
        for k in 0..3 {
            let fd = |h: f64| {
                let (mut hi, mut lo) = (p.clone(), p.clone());
                hi[k] += h;
                lo[k] -= h;
                (f(&hi) - f(&lo)) / (2.0 * h)
            };
            let (coarse, fine) = (fd(1e-4), fd(5e-5));
            // Skip where the difference quotient has not settled (a kink or a pole near), or
            // sees no slope at all where there is one (see `absorbed`).
            prop_assume!(coarse.is_finite() && fine.is_finite() && close(coarse, fine, 1e-5));
            prop_assume!(!absorbed(fine, got[k + 1]));
            prop_assert!(close(got[k + 1], fine, 1e-5), "d/d{} {} = {} at {:?}, fd {}", VARS[k], src, got[k + 1], p, fine);
        }
    }

    #[test]
    fn hessian_matches_differences_of_the_gradient(src in smooth_expr(), p in point()) {
        let mut pool = Pool::new();
        let root = expr(&mut pool, &src);
        let ids = syms(&mut pool, &VARS);
        let (_, h) = diff::hessian(&mut pool, root, &ids, 1_000_000).expect("small");
        let tape = compile(&pool, &h.concat(), &ids).expect("inputs");
        let got = tape.eval(&p).expect("arity");
        let a = ast(&src);
        let value = reference::<f64>(&a, &env_f64(&VARS, &p));
        prop_assume!(finite(&got) && well_conditioned(&a, &p, value));
        for i in 0..3 {
            for j in 0..3 {
                let g = |h: f64| {
                    let (mut hi, mut lo) = (p.clone(), p.clone());
                    hi[j] += h;
                    lo[j] -= h;
                    (dual_partial(&a, &VARS, &hi, i) - dual_partial(&a, &VARS, &lo, i)) / (2.0 * h)
                };
                let (coarse, fine) = (g(1e-4), g(5e-5));
                prop_assume!(coarse.is_finite() && fine.is_finite() && close(coarse, fine, 1e-5));
                prop_assume!(!absorbed(fine, got[3 * i + j]));
                prop_assert!(close(got[3 * i + j], fine, 1e-5), "H[{}][{}] of {} = {} at {:?}, fd {}", i, j, src, got[3 * i + j], p, fine);
            }
        }
        for i in 0..3 {
            for j in 0..3 {
                prop_assert_eq!(h[i][j], h[j][i]);
            }
        }
    }

    #[test]
    fn printed_text_parses_back(src in smooth_expr()) {
        let mut pool = Pool::new();
        let root = expr(&mut pool, &src);
        let ids = syms(&mut pool, &VARS);
        let mut all = vec![root];
        all.extend(diff::gradient(&mut pool, root, &ids, 1_000_000).expect("small"));
        for id in all {
            let text = print::text(&pool, id);
            let back = expr(&mut pool, &text);
            prop_assert_eq!(back, id, "{} printed {} parses to {}", src, text, print::text(&pool, back));
        }
    }

    /// The sign the engine knows of every node holds at every point where the node is
    /// defined (it removes `abs` and `sign` on the strength of it).
    #[test]
    fn known_signs_hold(src in smooth_expr(), p in point()) {
        use nabla::engine::expr::sign::Sign;
        let mut pool = Pool::new();
        let root = expr(&mut pool, &src);
        let ids = syms(&mut pool, &VARS);
        for id in pool.reachable(&[root]) {
            let sign = pool.sign(id);
            if sign == Sign::Unknown {
                continue;
            }
            let tape = nabla::engine::compile(&pool, &[id], &ids).expect("inputs");
            let v = tape.eval(&p).expect("arity")[0];
            // (A positive value may underflow to 0 in f64: `exp(-800)`.)
            let holds = v.is_nan() || match sign {
                Sign::Positive | Sign::NonNegative => v >= 0.0,
                Sign::Negative | Sign::NonPositive => v <= 0.0,
                Sign::Unknown => true,
            };
            prop_assert!(holds, "{} (node {}) is {:?} but {} at {:?}", src, print::text(&pool, id), sign, v, p);
        }
    }

    #[test]
    fn native_code_equals_the_interpreter(src in smooth_expr(), p in wild_point()) {
        let tape = nabla::engine::Executable::new(crate::support::value_and_gradient_tape(&src, &VARS));
        crate::native::check_native(&tape, &p, &src);
    }

    #[test]
    fn batch_equals_single_point(src in smooth_expr(), pts in prop::collection::vec(point(), 1..100)) {
        let tape = crate::support::value_and_gradient_tape(&src, &VARS);
        let flat: Vec<f64> = pts.concat();
        let mut out = vec![0.0; pts.len() * tape.outputs()];
        tape.eval_batch(&flat, &mut out).expect("lengths");
        for (i, p) in pts.iter().enumerate() {
            let single = tape.eval(p).expect("arity");
            for (k, v) in single.iter().enumerate() {
                let b = out[i * tape.outputs() + k];
                prop_assert!(v.to_bits() == b.to_bits() || (v.is_nan() && b.is_nan()), "point {}: {} vs {}", i, v, b);
            }
        }
    }
}
