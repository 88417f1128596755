//! The course's first exercise sheet (gradients of scalar functions: its exercises 2b and
//! 4a–4c), each against a formula derived by hand and written out below in plain Rust.
//!
//! The sheet's printed answer to 4a is wrong: d/du ln(1 + e^u) = e^u/(1 + e^u), but the
//! sheet writes 1/(1 + e^u). The formulas here are derived afresh.

use nabla::engine::{compile, diff, Pool};

use crate::support::{close, expr, syms, value_and_gradient_tape};

/// A deterministic spread of points in [-1.5, 1.5]^n.
fn points(n: usize, count: usize) -> Vec<Vec<f64>> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|_| {
            (0..n)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 11) as f64 / (1u64 << 53) as f64 * 3.0 - 1.5
                })
                .collect()
        })
        .collect()
}

/// The compiled value and gradient of `src` match `truth(point) = (value, gradient)`.
fn check(src: &str, vars: &[&str], truth: impl Fn(&[f64]) -> (f64, Vec<f64>)) {
    let tape = value_and_gradient_tape(src, vars);
    for p in points(vars.len(), 200) {
        let got = tape.eval(&p).expect("arity");
        let (v, g) = truth(&p);
        assert!(
            close(got[0], v, 1e-12),
            "{src} at {p:?}: value {} != {v}",
            got[0]
        );
        for (k, gk) in g.iter().enumerate() {
            assert!(
                close(got[k + 1], *gk, 1e-11),
                "{src} at {p:?}: d/d{} = {} != {gk}",
                vars[k],
                got[k + 1]
            );
        }
    }
}

#[test]
fn ex_1b_product_rule() {
    // f = sin(x*y), g = exp(x + z): grad(fg) = grad(f) g + f grad(g).
    check("sin(x*y)*exp(x + z)", &["x", "y", "z"], |p| {
        let (x, y, z) = (p[0], p[1], p[2]);
        let (f, g) = ((x * y).sin(), (x + z).exp());
        let df = [y * (x * y).cos(), x * (x * y).cos(), 0.0];
        let dg = [g, 0.0, g];
        (f * g, (0..3).map(|i| df[i] * g + f * dg[i]).collect())
    });
}

#[test]
fn ex_2b_chain_of_scalar_functions() {
    // h2(h1(f(x))) with f = x^2 + y*z, h1 = sin, h2 = exp:
    // grad = grad(f) * h2'(h1(f)) * h1'(f).
    check("exp(sin(x^2 + y*z))", &["x", "y", "z"], |p| {
        let (x, y, z) = (p[0], p[1], p[2]);
        let f = x * x + y * z;
        let outer = f.sin().exp() * f.cos();
        (f.sin().exp(), vec![2.0 * x * outer, z * outer, y * outer])
    });
}

#[test]
fn ex_4a_corrected() {
    // u = x^2 y^3 z, s = e^u/(1 + e^u):
    // grad f = (x - 2xy^3z s, z - 3x^2y^2z s, y - x^2y^3 s).
    check(
        "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))",
        &["x", "y", "z"],
        |p| {
            let (x, y, z) = (p[0], p[1], p[2]);
            let u = x * x * y.powi(3) * z;
            let s = u.exp() / (1.0 + u.exp());
            let value = 0.5 * x * x + y * z - (1.0 + u.exp()).ln();
            let grad = vec![
                x - 2.0 * x * y.powi(3) * z * s,
                z - 3.0 * x * x * y * y * z * s,
                y - x * x * y.powi(3) * s,
            ];
            (value, grad)
        },
    );
}

#[test]
fn ex_4a_printed_solution_is_wrong() {
    // The sheet's x-component, x - 2xy^3z/(1 + e^u), differs from the true one.
    let tape = value_and_gradient_tape("0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))", &["x", "y", "z"]);
    let (x, y, z) = (1.0f64, 1.0f64, 1.0f64);
    let sheet = x - 2.0 * x * y.powi(3) * z / (1.0 + 1f64.exp());
    let got = tape.eval(&[x, y, z]).expect("arity")[1];
    assert!((got - sheet).abs() > 0.1, "{got} vs the sheet's {sheet}");
    assert!(close(
        got,
        1.0 - 2.0 * (1f64.exp() / (1.0 + 1f64.exp())),
        1e-14
    ));
}

#[test]
fn ex_4a_is_finite_where_exp_overflows() {
    // At u = x^2 y^3 z = 800, e^u overflows; the gradient is still finite and right:
    // s = 1, grad = (x - 2xy^3z, z - 3x^2y^2z, y - x^2y^3).
    let tape = value_and_gradient_tape("0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))", &["x", "y", "z"]);
    let (x, y, z) = (2.0f64, 1.0, 200.0);
    let got = tape.eval(&[x, y, z]).expect("arity");
    let want = [
        0.5 * x * x + y * z - 800.0,
        x - 2.0 * x * z,
        z - 3.0 * x * x * z,
        y - x * x,
    ];
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, w, 1e-14), "{got:?} vs {want:?}");
    }
}

#[test]
fn ex_4c_logistic_loss_gradient_in_w() {
    // h = ln(1 + exp(-w.x)); grad_w h = -x e^{-w.x}/(1 + e^{-w.x}) (the sheet is right).
    let src = "ln(1 + exp(-(w1*x1 + w2*x2 + w3*x3)))";
    let vars = ["w1", "w2", "w3", "x1", "x2", "x3"];
    check(src, &vars, |p| {
        let (w, x) = (&p[..3], &p[3..]);
        let t: f64 = (0..3).map(|i| w[i] * x[i]).sum();
        let s = (-t).exp() / (1.0 + (-t).exp());
        let mut g: Vec<f64> = x.iter().map(|xi| -xi * s).collect();
        g.extend(w.iter().map(|wi| -wi * s));
        ((1.0 + (-t).exp()).ln(), g)
    });
}

#[test]
fn ex_4b_half_squared_norm() {
    // grad (1/2)|x|^2 = x, and symbolically so.
    check("0.5*(x1^2 + x2^2 + x3^2)", &["x1", "x2", "x3"], |p| {
        (0.5 * p.iter().map(|v| v * v).sum::<f64>(), p.to_vec())
    });
    assert_eq!(
        crate::support::gradient_text("0.5*(x1^2 + x2^2 + x3^2)", &["x1", "x2", "x3"]),
        ["x1", "x2", "x3"]
    );
}

#[test]
fn ex_3a_inner_product() {
    // grad_x <a, x> = a: exactly the symbols a_i.
    let g = crate::support::gradient_text("a1*x1 + a2*x2 + a3*x3", &["x1", "x2", "x3"]);
    assert_eq!(g, ["a1", "a2", "a3"]);
}

/// `<x, A x>` for n = 3 written out with scalar symbols.
fn quadratic_form() -> String {
    let mut terms = Vec::new();
    for i in 1..=3 {
        for j in 1..=3 {
            terms.push(format!("x{i}*a{i}{j}*x{j}"));
        }
    }
    terms.join(" + ")
}

#[test]
fn ex_3b_jacobian_of_a_linear_map_is_the_matrix() {
    let mut pool = Pool::new();
    let rows: Vec<_> = (1..=3)
        .map(|i| expr(&mut pool, &format!("a{i}1*x1 + a{i}2*x2 + a{i}3*x3")))
        .collect();
    let xs = syms(&mut pool, &["x1", "x2", "x3"]);
    let jac = diff::jacobian(&mut pool, &rows, &xs, 100_000).expect("small");
    for (i, row) in jac.iter().enumerate() {
        for (j, &entry) in row.iter().enumerate() {
            assert_eq!(entry, pool.sym(&format!("a{}{}", i + 1, j + 1)));
        }
    }
}

#[test]
fn ex_3c_gradient_of_quadratic_form() {
    // grad_x <x, A x> = (A + A^T) x; the Hessian is A + A^T.
    let mut names: Vec<String> = (1..=3).map(|i| format!("x{i}")).collect();
    for i in 1..=3 {
        for j in 1..=3 {
            names.push(format!("a{i}{j}"));
        }
    }
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let src = quadratic_form();
    check(&src, &vars, |p| {
        let (x, a) = (&p[..3], |i: usize, j: usize| p[3 + 3 * i + j]);
        let value: f64 = (0..3)
            .flat_map(|i| (0..3).map(move |j| (i, j)))
            .map(|(i, j)| x[i] * a(i, j) * x[j])
            .sum();
        let mut g: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| (a(i, j) + a(j, i)) * x[j]).sum())
            .collect();
        // 3d: grad_A <x, A x> = x x^T, row by row.
        for i in 0..3 {
            for j in 0..3 {
                g.push(x[i] * x[j]);
            }
        }
        (value, g)
    });
    let mut pool = Pool::new();
    let root = expr(&mut pool, &src);
    let xs = syms(&mut pool, &["x1", "x2", "x3"]);
    let (_, h) = diff::hessian(&mut pool, root, &xs, 100_000).expect("small");
    for i in 0..3 {
        for j in 0..3 {
            let want = expr(
                &mut pool,
                &format!("a{}{} + a{}{}", i + 1, j + 1, j + 1, i + 1),
            );
            assert_eq!(h[i][j], want, "H[{i}][{j}]");
        }
    }
    let tape = compile(&pool, &h.concat(), &xs);
    assert!(tape.is_err(), "the a_ij are not inputs");
}

#[test]
fn ex_3d_gradient_in_the_matrix_is_the_outer_product() {
    let mut pool = Pool::new();
    let root = expr(&mut pool, &quadratic_form());
    let mut a = Vec::new();
    for i in 1..=3 {
        for j in 1..=3 {
            a.push(pool.sym(&format!("a{i}{j}")));
        }
    }
    let g = diff::gradient(&mut pool, root, &a, 100_000).expect("small");
    for i in 1..=3 {
        for j in 1..=3 {
            let want = expr(&mut pool, &format!("x{i}*x{j}"));
            assert_eq!(g[3 * (i - 1) + (j - 1)], want);
        }
    }
}

#[test]
fn powers_of_constants() {
    // d/dx 0^x = 0 (for x > 0 the function is 0); d/dx 2^x = 2^x ln 2; d/dx e^x = e^x.
    for (src, x, want) in [
        ("0^x", 1.5, 0.0),
        ("2^x", 1.5, 2f64.powf(1.5) * 2f64.ln()),
        ("e^x", 1.5, 1.5f64.exp()),
        (
            "pi^x",
            0.5,
            std::f64::consts::PI.sqrt() * std::f64::consts::PI.ln(),
        ),
    ] {
        let got = value_and_gradient_tape(src, &["x"])
            .eval(&[x])
            .expect("arity")[1];
        assert!(
            close(got, want, 1e-14),
            "d/dx {src} at {x}: {got} vs {want}"
        );
    }
}
