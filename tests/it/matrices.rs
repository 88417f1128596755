//! Vectors and matrices through the contract: the sheet's exercises 1–4 in vector form
//! against formulas derived by hand, Hessians and Jacobians against linear algebra
//! written out in loops (numpy-style), matrix-notation answers that parse back, shape
//! errors, and the matrix-level derivative against the scalarised one (every entry a
//! scalar variable, differentiated by the scalar engine) on random expressions.

use nabla::config::Config;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::http::{post, router};

/// A deterministic generator of numbers in [-1, 1].
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
    fn mat(&mut self, r: usize, c: usize) -> Vec<Vec<f64>> {
        (0..r).map(|_| self.vec(c)).collect()
    }
}

fn matvec(a: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    a.iter()
        .map(|row| row.iter().zip(x).map(|(p, q)| p * q).sum())
        .collect()
}

fn transpose(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    (0..a[0].len())
        .map(|j| a.iter().map(|row| row[j]).collect())
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(xs) => xs.iter().flat_map(nums).collect(),
        v => vec![v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))],
    }
}

fn assert_close(got: &Value, want: &[f64], what: &str) {
    let got = nums(got);
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-10 * (1.0 + w.abs()),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

fn app() -> axum::Router {
    router(Config::default())
}

#[tokio::test]
async fn the_sheets_vector_exercises_against_hand_derived_formulas() {
    let app = app();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for n in [1usize, 3, 5] {
        let (x, a, w) = (rng.vec(n), rng.vec(n), rng.vec(n));
        let big_a = rng.mat(n, n);
        let b = rng.mat(4, n);
        let ax = matvec(&big_a, &x);
        let atx = matvec(&transpose(&big_a), &x);

        // 3a: ∇ₓ⟨a, x⟩ = a.
        let r = post(&app, "/v1/gradient", json!({"expression": "dot(a, x)", "variables": {"x": [n]}, "parameters": {"a": a}, "point": {"x": x}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_close(&r.body["gradient"]["x"], &a, "3a");
        assert_close(&r.body["value"], &[dot(&a, &x)], "3a value");

        // 3b: J(Bx) = B, row by row.
        let r = post(&app, "/v1/jacobian", json!({"expression": "B*x", "variables": {"x": [n]}, "parameters": {"B": b}, "point": {"x": x}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let rows: Vec<f64> = r.body["jacobian"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| nums(&row["x"]))
            .collect();
        assert_close(&Value::from(rows), &b.concat(), "3b");
        assert_close(&r.body["value"], &matvec(&b, &x), "3b value");

        // 3c: ∇ₓ⟨x, Ax⟩ = (A + Aᵀ)x; 3d: ∇_A⟨x, Ax⟩ = xxᵀ.
        let r = post(&app, "/v1/gradient", json!({"expression": "x'*A*x", "variables": {"x": [n], "A": [n, n]}, "point": {"x": x, "A": big_a}, "symbolic": true})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let want: Vec<f64> = ax.iter().zip(&atx).map(|(p, q)| p + q).collect();
        assert_close(&r.body["gradient"]["x"], &want, "3c");
        let outer: Vec<f64> = x
            .iter()
            .flat_map(|xi| x.iter().map(move |xj| xi * xj))
            .collect();
        assert_close(&r.body["gradient"]["A"], &outer, "3d");
        if n > 1 {
            assert_eq!(r.body["symbolic"]["gradient"]["x"], "A*x + A'*x");
            assert_eq!(r.body["symbolic"]["gradient"]["A"], "x*x'");
        }

        // 4b: ∇ ½‖x‖² = x.
        let r = post(
            &app,
            "/v1/gradient",
            json!({"expression": "1/2*norm(x)^2", "point": {"x": x}, "symbolic": true}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_close(&r.body["gradient"]["x"], &x, "4b");
        assert_close(&r.body["value"], &[dot(&x, &x) / 2.0], "4b value");

        // 4c: ∇_w ln(1 + exp(-wᵀx)) = -exp(-xᵀw)/(1 + exp(-xᵀw)) x.
        let r = post(&app, "/v1/gradient", json!({"expression": "ln(1 + exp(-w'*x))", "variables": {"w": [n]}, "parameters": {"x": x}, "point": {"w": w}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e = (-dot(&x, &w)).exp();
        let want: Vec<f64> = x.iter().map(|xi| -e / (1.0 + e) * xi).collect();
        assert_close(&r.body["gradient"]["w"], &want, "4c");

        // 1a: ∇(fᵀg) = J_fᵀg + J_gᵀf with f = A x, g = exp(x).
        let r = post(&app, "/v1/gradient", json!({"expression": "(A*x)'*exp(x)", "variables": {"x": [n]}, "parameters": {"A": big_a}, "point": {"x": x}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let g: Vec<f64> = x.iter().map(|v| v.exp()).collect();
        let jt_g = matvec(&transpose(&big_a), &g);
        let want: Vec<f64> = (0..n).map(|i| jt_g[i] + g[i] * ax[i]).collect();
        assert_close(&r.body["gradient"]["x"], &want, "1a");

        // 2a: ∇(g∘f) = J_fᵀ∇g(f), with f = Bx and g = sum(exp(·)): Bᵀexp(Bx).
        let r = post(&app, "/v1/gradient", json!({"expression": "sum(exp(B*x))", "variables": {"x": [n]}, "parameters": {"B": b}, "point": {"x": x}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e: Vec<f64> = matvec(&b, &x).iter().map(|v| v.exp()).collect();
        assert_close(&r.body["gradient"]["x"], &matvec(&transpose(&b), &e), "2a");

        // 2c: ∇_w L(x(w), y(w), z(w)) = L_x∇x + L_y∇y + L_z∇z, with L = x*y + z², x = aᵀw,
        // y = wᵀw, z = sin(cᵀw) (c = the first row of A).
        let c = big_a[0].clone();
        let r = post(&app, "/v1/gradient", json!({"expression": "(a'*w)*(w'*w) + sin(c'*w)^2", "variables": {"w": [n]}, "parameters": {"a": a, "c": c}, "point": {"w": w}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (xw, yw, zw) = (dot(&a, &w), dot(&w, &w), dot(&c, &w).sin());
        let want: Vec<f64> = (0..n)
            .map(|i| yw * a[i] + xw * 2.0 * w[i] + 2.0 * zw * dot(&c, &w).cos() * c[i])
            .collect();
        assert_close(&r.body["gradient"]["w"], &want, "2c");

        // 2b: ∇ h₂(h₁(f(x))) = ∇f · h₂'(h₁(f)) · h₁'(f), with f = aᵀx, h₁ = exp, h₂ = sin.
        let r = post(&app, "/v1/gradient", json!({"expression": "sin(exp(a'*x))", "variables": {"x": [n]}, "parameters": {"a": a}, "point": {"x": x}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let f = dot(&a, &x);
        let want: Vec<f64> = a.iter().map(|ai| ai * f.exp().cos() * f.exp()).collect();
        assert_close(&r.body["gradient"]["x"], &want, "2b");
    }
}

#[tokio::test]
async fn the_sheets_symbolic_answers_are_in_matrix_notation() {
    let app = app();
    let cases = [
        (
            json!({"expression": "x'*A*x", "variables": {"x": ["n"]}, "shapes": {"A": ["n", "n"]}}),
            "gradient",
            "A*x + A'*x",
        ),
        (
            json!({"expression": "x'*A*x", "variables": {"A": ["n", "n"]}, "shapes": {"x": ["n"]}}),
            "gradient",
            "x*x'",
        ),
        (
            json!({"expression": "dot(a, x)", "variables": {"x": ["n"]}, "shapes": {"a": ["n"]}}),
            "gradient",
            "a",
        ),
        (
            json!({"expression": "1/2*norm(x)^2", "variables": {"x": ["d"]}}),
            "gradient",
            "x",
        ),
        (
            json!({"expression": "A*x", "variables": {"x": ["m"]}, "shapes": {"A": ["n", "m"]}}),
            "jacobian",
            "A",
        ),
        (
            json!({"expression": "1/2*norm(A*x - b)^2", "variables": {"x": ["n"]}, "shapes": {"A": ["m", "n"], "b": ["m"]}}),
            "gradient",
            "A'*(A*x - b)",
        ),
        (
            json!({"expression": "logdet(X)", "variables": {"X": ["n", "n"]}}),
            "gradient",
            "inv(X')",
        ),
        (
            json!({"expression": "tr(A*X)", "variables": {"X": ["n", "n"]}, "shapes": {"A": ["n", "n"]}}),
            "gradient",
            "A'",
        ),
    ];
    for (req, field, want) in cases {
        let r = post(&app, "/v1/differentiate", req.clone()).await;
        assert_eq!(r.status, 200, "{req}: {}", r.body);
        let var = r.body["variables"][0].as_str().unwrap().to_string();
        assert_eq!(r.body[field][&var], want, "{req}: {}", r.body);
    }
    // ∇ₓ xᵀAx in LaTeX, and its Hessian.
    let r = post(&app, "/v1/differentiate", json!({"expression": "x'*A*x", "variables": {"x": ["n"]}, "shapes": {"A": ["n", "n"]}, "order": 2})).await;
    assert_eq!(
        r.body["latex"]["gradient"]["x"], "A x + A^\\top x",
        "{}",
        r.body
    );
    assert_eq!(r.body["hessian"]["x"]["x"], "A + A'", "{}", r.body);
    let r = post(&app, "/v1/differentiate", json!({"expression": "tr(A*X)", "variables": {"X": ["n", "n"]}, "shapes": {"A": ["n", "n"]}})).await;
    assert_eq!(
        r.body["latex"]["expression"], "\\operatorname{tr}\\left(A X\\right)",
        "{}",
        r.body
    );
}

#[tokio::test]
async fn hessians_and_least_squares_against_loops() {
    let app = app();
    let mut rng = Rng(77);
    let (m, n) = (6, 4);
    let a = rng.mat(m, n);
    let b = rng.vec(m);
    let x = rng.vec(n);
    // ½‖Ax − b‖²: value, gradient Aᵀ(Ax − b), Hessian AᵀA.
    let r = post(&app, "/v1/hessian", json!({"expression": "0.5*norm(A*x - b)^2", "variables": {"x": [n]}, "parameters": {"A": a, "b": b}, "point": {"x": x}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let res: Vec<f64> = matvec(&a, &x).iter().zip(&b).map(|(p, q)| p - q).collect();
    assert_close(&r.body["value"], &[0.5 * dot(&res, &res)], "value");
    assert_close(
        &r.body["gradient"]["x"],
        &matvec(&transpose(&a), &res),
        "gradient",
    );
    let at = transpose(&a);
    let ata: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).map(|j| dot(&at[i], &at[j])).collect::<Vec<_>>())
        .collect();
    assert_close(&r.body["hessian"]["x"]["x"], &ata, "hessian");

    // Logistic loss over a data matrix: gradient Xᵀ(σ(z) − 1)∘y... written out per row.
    let (k, p) = (8, 3);
    let data = rng.mat(k, p);
    let y: Vec<f64> = (0..k)
        .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
        .collect();
    let w = rng.vec(p);
    let r = post(&app, "/v1/hessian", json!({"expression": "sum(ln(1 + exp(-y .* (X*w))))", "variables": {"w": [p]}, "parameters": {"X": data, "y": y}, "point": {"w": w}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut value = 0.0;
    let mut grad = vec![0.0; p];
    let mut hess = vec![0.0; p * p];
    for i in 0..k {
        let t = -y[i] * dot(&data[i], &w);
        value += (1.0 + t.exp()).ln();
        let s = 1.0 / (1.0 + (-t).exp()); // σ(t)
        for j in 0..p {
            grad[j] += s * -y[i] * data[i][j];
            for l in 0..p {
                hess[j * p + l] += s * (1.0 - s) * y[i] * y[i] * data[i][j] * data[i][l];
            }
        }
    }
    assert_close(&r.body["value"], &[value], "logistic value");
    assert_close(&r.body["gradient"]["w"], &grad, "logistic gradient");
    assert_close(&r.body["hessian"]["w"]["w"], &hess, "logistic hessian");

    // At a large margin the loss is ln(1 + e^800) = 800, not infinity, and its gradient
    // finite: ln(1 + exp(t)) is softplus(t), exp(t)/(1 + exp(t)) is sigmoid(t).
    let r = post(&app, "/v1/hessian", json!({"expression": "sum(ln(1 + exp(-y .* (X*w))))", "variables": {"w": [1]}, "parameters": {"X": [[800.0], [1.0]], "y": [-1, 1]}, "point": {"w": [1.0]}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let want = 800.0 + (1.0f64 + (-1.0f64).exp()).ln();
    assert_close(&r.body["value"], &[want], "large margin");
    let s1 = 1.0 / (1.0 + 1.0f64.exp()); // σ(-1)
    assert_close(
        &r.body["gradient"]["w"],
        &[800.0 - s1],
        "large margin gradient",
    );
    assert_close(
        &r.body["hessian"]["w"]["w"],
        &[s1 * (1.0 - s1)],
        "large margin Hessian",
    );
    // A Hessian block of one variable is symmetric to the last bit.
    let r = post(&app, "/v1/hessian", json!({"expression": "sum(ln(1 + exp(-y .* (X*w))))", "parameters": {"X": data, "y": y}, "point": {"w": w}})).await;
    let h = nums(&r.body["hessian"]["w"]["w"]);
    for i in 0..p {
        for j in 0..p {
            assert_eq!(h[i * p + j].to_bits(), h[j * p + i].to_bits(), "{h:?}");
        }
    }

    // A scalar and a vector together: the blocks have the shapes of both.
    let r = post(
        &app,
        "/v1/hessian",
        json!({"expression": "t^2*sum(x.^3)", "point": {"t": 2.0, "x": [1.0, 2.0]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_close(&r.body["hessian"]["t"]["t"], &[2.0 * 9.0], "tt");
    assert_close(
        &r.body["hessian"]["t"]["x"],
        &[2.0 * 2.0 * 3.0, 2.0 * 2.0 * 12.0],
        "tx",
    );
    assert_close(&r.body["hessian"]["x"]["t"], &[12.0, 48.0], "xt");
    assert_close(
        &r.body["hessian"]["x"]["x"],
        &[4.0 * 6.0, 0.0, 0.0, 4.0 * 12.0],
        "xx",
    );
}

/// Central differences of `f` over every entry of a matrix.
fn numeric_gradient(f: &dyn Fn(&[Vec<f64>]) -> f64, a: &[Vec<f64>]) -> Vec<f64> {
    let mut out = Vec::new();
    for i in 0..a.len() {
        for j in 0..a[0].len() {
            let h = 1e-6;
            let mut p = a.to_vec();
            p[i][j] += h;
            let mut m = a.to_vec();
            m[i][j] -= h;
            out.push((f(&p) - f(&m)) / (2.0 * h));
        }
    }
    out
}

fn det(a: &[Vec<f64>]) -> f64 {
    // Gaussian elimination with partial pivoting, written out.
    let n = a.len();
    let mut m = a.to_vec();
    let mut d = 1.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))
            .unwrap();
        if p != c {
            m.swap(p, c);
            d = -d;
        }
        d *= m[c][c];
        for r in c + 1..n {
            let f = m[r][c] / m[c][c];
            for k in c..n {
                m[r][k] -= f * m[c][k];
            }
        }
    }
    d
}

#[tokio::test]
async fn determinants_inverses_and_traces_against_finite_differences() {
    let app = app();
    let mut rng = Rng(5);
    let n = 3;
    let mut s = rng.mat(n, n);
    for i in 0..n {
        s[i][i] += 3.0; // well conditioned, positive determinant
    }
    let x = rng.vec(n);
    type Truth = Box<dyn Fn(&[Vec<f64>]) -> f64>;
    let cases: Vec<(&str, Truth)> = vec![
        ("det(S)", Box::new(det)),
        ("logdet(S)", Box::new(|m: &[Vec<f64>]| det(m).ln())),
        (
            "tr(S*S')",
            Box::new(|m: &[Vec<f64>]| m.iter().flatten().map(|v| v * v).sum()),
        ),
        ("x'*inv(S)*x", {
            let x = x.clone();
            Box::new(move |m: &[Vec<f64>]| {
                // Solve S y = x by Cramer's rule (n = 3), then xᵀy.
                let d = det(m);
                (0..3)
                    .map(|k| {
                        let mut mk = m.to_vec();
                        for i in 0..3 {
                            mk[i][k] = x[i];
                        }
                        x[k] * det(&mk) / d
                    })
                    .sum()
            })
        }),
        (
            "sum(diag(S).^2)",
            Box::new(|m: &[Vec<f64>]| (0..3).map(|i| m[i][i] * m[i][i]).sum()),
        ),
    ];
    for (src, f) in cases {
        let r = post(&app, "/v1/gradient", json!({"expression": src, "variables": {"S": [n, n]}, "parameters": {"x": x}, "point": {"S": s}})).await;
        assert_eq!(r.status, 200, "{src}: {}", r.body);
        assert_close(&r.body["value"], &[f(&s)], src);
        let got = nums(&r.body["gradient"]["S"]);
        let want = numeric_gradient(&*f, &s);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() < 1e-6 * (1.0 + w.abs()),
                "{src}: {got:?} vs {want:?}"
            );
        }
    }
    // logdet of a matrix whose determinant is negative is NaN, a 200 result.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "logdet(S)", "point": {"S": [[0.0, 1.0], [1.0, 0.0]]}}),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["value"]),
        (200, &json!("NaN")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn shape_errors_point_at_the_operator_and_name_both_shapes() {
    let app = app();
    let a32 = json!([[1, 2], [3, 4], [5, 6]]);
    let cases = [
        (
            json!({"expression": "A*x", "variables": {"x": [3]}, "parameters": {"A": a32}, "point": {"x": [1, 2, 3]}}),
            "shape_mismatch",
            Some((1, 2)),
            "cannot multiply 3x2 by 3x1",
        ),
        (
            json!({"expression": "x + y", "point": {"x": [1, 2], "y": [1, 2, 3]}}),
            "shape_mismatch",
            Some((2, 3)),
            "2x1 and 3x1",
        ),
        (
            json!({"expression": "x / y", "point": {"x": [1, 2], "y": [1, 2]}}),
            "shape_mismatch",
            Some((2, 3)),
            "./",
        ),
        (
            json!({"expression": "x^2", "point": {"x": [1, 2]}}),
            "shape_mismatch",
            Some((1, 2)),
            ".^",
        ),
        (
            json!({"expression": "tr(x)", "point": {"x": [1, 2]}}),
            "shape_mismatch",
            Some((0, 2)),
            "square",
        ),
        (
            json!({"expression": "x", "point": {"x": [1, 2]}}),
            "shape_mismatch",
            None,
            "/v1/jacobian",
        ),
        (
            json!({"expression": "sum(A)", "point": {"A": [[1, 2], [3]]}}),
            "invalid_request",
            None,
            "\"A\"",
        ),
        (
            json!({"expression": "sum(x)", "variables": {"x": [3]}, "point": {"x": [1, 2]}}),
            "invalid_request",
            None,
            "\"x\"",
        ),
        (
            json!({"expression": "sum(x)", "variables": {"x": [3]}, "point": {"y": [1, 2, 3]}}),
            "invalid_request",
            None,
            "\"y\"",
        ),
        (
            json!({"expression": "sum(x)", "variables": {"x": [3, 3]}, "point": {"x": [[1, 2, 3]]}}),
            "invalid_request",
            None,
            "\"x\"",
        ),
        (
            json!({"expression": "logdet(A)", "point": {"A": [[1, 2], [3, 4]]}, "variables": {"A": [2, 2]}}),
            "ok",
            None,
            "",
        ),
    ];
    for (req, code, span, detail) in cases {
        let r = post(&app, "/v1/gradient", req.clone()).await;
        if code == "ok" {
            assert_eq!(r.status, 200, "{req}: {}", r.body);
            continue;
        }
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (422, Some(code)),
            "{req}: {}",
            r.body
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains(detail),
            "{req}: {}",
            r.body
        );
        if let Some((s, e)) = span {
            assert_eq!(
                r.body["span"],
                json!({"start": s, "end": e}),
                "{req}: {}",
                r.body
            );
        }
    }
    // Hessians with respect to a matrix are not offered.
    let r = post(
        &app,
        "/v1/hessian",
        json!({"expression": "sum(A)", "point": {"A": [[1, 2], [3, 4]]}}),
    )
    .await;
    assert_eq!(r.body["code"], "invalid_request", "{}", r.body);
}

#[tokio::test]
async fn the_syntax_reads_the_same_among_scalars() {
    let app = app();
    // Among scalars the matrix syntax has its scalar meaning, on the scalar path.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "x'*y + x.^2 + tr(y) + 1./x", "point": {"x": 2, "y": 3}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!(6.0 + 4.0 + 3.0 + 0.5));
    assert_eq!(
        r.body["gradient"],
        json!({"x": 3.0 + 4.0 - 0.25, "y": 2.0 + 1.0})
    );
    // `1./x` is `1 ./ x` after a digit too; `-x'` is `-(x')`.
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "sum(1./x) + (-x')*x", "point": {"x": [1, 2]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!(1.5 - 5.0));
    assert_eq!(r.body["gradient"]["x"], json!([-1.0 - 2.0, -0.25 - 4.0]));
    // A matrix power; a vector squared is a shape error suggesting .^
    let r = post(
        &app,
        "/v1/gradient",
        json!({"expression": "sum(A^2) + sum(A^-1*A)", "point": {"A": [[1, 2], [3, 4]]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_close(&r.body["value"], &[7.0 + 10.0 + 15.0 + 22.0 + 2.0], "A^2");
}

#[tokio::test]
async fn batches_parameters_and_the_cache() {
    let app = app();
    let body = |x: Value| json!({"expression": "x'*A*x", "variables": {"x": [2]}, "parameters": {"A": [[1, 2], [3, 4]]}, "points": [{"x": x}, {"x": [0, 1]}]});
    let r = post(&app, "/v1/gradient", body(json!([1, 0]))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.cache.as_deref(), Some("miss"));
    assert_eq!(r.body["values"], json!([1.0, 4.0]));
    assert_eq!(
        r.body["gradients"],
        json!([{"x": [2.0, 5.0]}, {"x": [5.0, 8.0]}])
    );
    let r = post(&app, "/v1/gradient", body(json!([2, 0]))).await;
    assert_eq!(r.cache.as_deref(), Some("hit"));
    // Spellings the engine canonicalises share the entry: (A*x)'*x is x'*A'*x is x'*A*x.
    for spelling in ["(A*x)'*x", "x'*A'*x", "dot(x, A*x)", "x' * A * x"] {
        let mut req = body(json!([1, 0]));
        req["expression"] = json!(spelling);
        let r = post(&app, "/v1/gradient", req).await;
        assert_eq!(
            (r.cache.as_deref(), &r.body["values"]),
            (Some("hit"), &json!([1.0, 4.0])),
            "{spelling}"
        );
    }
    // Declared sizes are bounded before anything is allocated.
    let r = post(&app, "/v1/grade", json!({"expression": "sum(x)", "variables": {"x": [16777216], "y": [16777216, 16777216]}, "answer": {"x": "ones(16777216)", "y": "0"}})).await;
    assert_eq!(
        (r.status, r.body["limit"].as_str()),
        (422, Some("max_matrix_work")),
        "{}",
        r.body
    );
}

#[test]
fn the_program_of_xtax_does_not_grow_with_n() {
    use nabla::engine::parse::{parse, ParseOptions};
    use nabla::engine::tensor::{self, diff, eval, Dim, TPool, TShape};
    let size = |n: u32| {
        let mut pool = TPool::new(1 << 20);
        let ast = parse("x'*A*x", &ParseOptions::default()).unwrap();
        let shape = |name: &str| match name {
            "x" => Some(TShape::new(Dim::Known(n), Dim::Known(1))),
            "A" => Some(TShape::new(Dim::Known(n), Dim::Known(n))),
            _ => None,
        };
        let f = tensor::lower(&ast, &mut pool, &shape, true).unwrap();
        let vars = [
            pool.symbol_node("x").unwrap(),
            pool.symbol_node("A").unwrap(),
        ];
        let g = diff::gradient(&mut pool, f, &vars, &Default::default()).unwrap();
        let limits = eval::PlanLimits {
            max_entries: u128::MAX,
            max_flops: u128::MAX,
        };
        let plan = eval::Plan::new(&pool, &[f, g[0], g[1]], limits).unwrap();
        (pool.len(), plan.len())
    };
    let (small, large) = (size(3), size(1000));
    assert_eq!(small, large, "nodes and steps at n = 3 and n = 1000");
    assert!(small.0 < 20 && small.1 < 12, "{small:?}");
}

/// A random expression over `x` (a vector of n), `A` (n×n) and `b` (n), written in matrix
/// notation and scalarised (each entry a formula over x0.., A0_0.., b0..).
#[derive(Clone, Debug)]
struct Both {
    text: String,
    entries: Vec<String>,
}

fn leaf_vec(name: &str, n: usize) -> Both {
    Both {
        text: name.into(),
        entries: (0..n).map(|i| format!("{name}{i}")).collect(),
    }
}

fn vector_expr(n: usize) -> impl Strategy<Value = Both> {
    let leaf = prop_oneof![Just(leaf_vec("x", n)), Just(leaf_vec("b", n))];
    leaf.prop_recursive(3, 12, 2, move |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(p, q)| Both {
                text: format!("({} + {})", p.text, q.text),
                entries: p
                    .entries
                    .iter()
                    .zip(&q.entries)
                    .map(|(a, b)| format!("({a} + {b})"))
                    .collect(),
            }),
            (inner.clone(), inner.clone()).prop_map(|(p, q)| Both {
                text: format!("({} .* {})", p.text, q.text),
                entries: p
                    .entries
                    .iter()
                    .zip(&q.entries)
                    .map(|(a, b)| format!("({a})*({b})"))
                    .collect(),
            }),
            inner.clone().prop_map(move |p| Both {
                text: format!("(A*{})", p.text),
                entries: (0..n)
                    .map(|i| (0..n)
                        .map(|j| format!("A{i}_{j}*({})", p.entries[j]))
                        .collect::<Vec<_>>()
                        .join(" + "))
                    .collect(),
            }),
            inner.clone().prop_map(move |p| Both {
                text: format!("(A'*{})", p.text),
                entries: (0..n)
                    .map(|i| (0..n)
                        .map(|j| format!("A{j}_{i}*({})", p.entries[j]))
                        .collect::<Vec<_>>()
                        .join(" + "))
                    .collect(),
            }),
            inner.clone().prop_map(|p| Both {
                text: format!("sin({})", p.text),
                entries: p.entries.iter().map(|a| format!("sin({a})")).collect(),
            }),
            inner.prop_map(|p| Both {
                text: format!("exp(0.5*{})", p.text),
                entries: p
                    .entries
                    .iter()
                    .map(|a| format!("exp(0.5*({a}))"))
                    .collect(),
            }),
        ]
    })
}

/// A scalar of vector expressions.
fn scalar_expr(n: usize) -> impl Strategy<Value = Both> {
    (vector_expr(n), vector_expr(n), 0..4usize).prop_map(|(p, q, k)| {
        let dot = |p: &Both, q: &Both| {
            p.entries
                .iter()
                .zip(&q.entries)
                .map(|(a, b)| format!("({a})*({b})"))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        match k {
            0 => Both {
                text: format!("{}'*{}", p.text, q.text),
                entries: vec![dot(&p, &q)],
            },
            1 => Both {
                text: format!("sum({})", p.text),
                entries: vec![p.entries.join(" + ")],
            },
            2 => Both {
                text: format!("norm({})^2", p.text),
                entries: vec![dot(&p, &p)],
            },
            _ => Both {
                text: format!("ln(1 + exp({}'*{}))", p.text, q.text),
                entries: vec![format!("ln(1 + exp({}))", dot(&p, &q))],
            },
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The matrix-level gradient (in x and in A) equals the scalarised one, where every
    /// entry is a scalar variable differentiated by the scalar engine.
    #[test]
    fn matrix_derivatives_equal_the_scalarised_ones((n, f) in (1usize..4).prop_flat_map(|n| (Just(n), scalar_expr(n))), seed in 1u64..1000) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = app();
            let mut rng = Rng(seed * 7919);
            let (x, b, a) = (rng.vec(n), rng.vec(n), rng.mat(n, n));
            let r = post(&app, "/v1/gradient", json!({"expression": f.text, "variables": {"x": [n], "A": [n, n]}, "parameters": {"b": b}, "point": {"x": x, "A": a}})).await;
            prop_assert_eq!(r.status, 200, "{}: {}", f.text, r.body);
            let mut point = serde_json::Map::new();
            let mut vars = Vec::new();
            for i in 0..n {
                point.insert(format!("x{i}"), json!(x[i]));
                vars.push(format!("x{i}"));
            }
            for i in 0..n {
                for j in 0..n {
                    point.insert(format!("A{i}_{j}"), json!(a[i][j]));
                    vars.push(format!("A{i}_{j}"));
                }
            }
            let params: serde_json::Map<String, Value> = (0..n).map(|i| (format!("b{i}"), json!(b[i]))).collect();
            let s = post(&app, "/v1/gradient", json!({"expression": f.entries[0], "variables": vars, "parameters": params, "point": point})).await;
            prop_assert_eq!(s.status, 200, "{}: {}", f.entries[0], s.body);
            let (tv, sv) = (nums(&r.body["value"])[0], nums(&s.body["value"])[0]);
            prop_assert!((tv - sv).abs() <= 1e-9 * (1.0 + sv.abs()), "{}: value {} vs {}", f.text, tv, sv);
            let mut scalar: Vec<f64> = Vec::new();
            for v in &vars {
                scalar.push(nums(&s.body["gradient"][v])[0]);
            }
            let mut matrix = nums(&r.body["gradient"]["x"]);
            matrix.extend(nums(&r.body["gradient"]["A"]));
            prop_assert_eq!(matrix.len(), scalar.len());
            for (m, s) in matrix.iter().zip(&scalar) {
                prop_assert!((m - s).abs() <= 1e-8 * (1.0 + s.abs()), "{}: {:?} vs {:?}", f.text, matrix, scalar);
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn grading_answers_in_matrix_notation() {
    let app = app();
    let xtax = |answer: Value| json!({"expression": "x'*A*x", "variables": {"x": [3]}, "shapes": {"A": [3, 3]}, "answer": answer});
    // Proved: the canonical difference, multiplied out, is zero.
    for right in ["(A + A')*x", "A*x + A'*x", "A'*x + A*x", "(A' + A)*x"] {
        let r = post(&app, "/v1/grade", xtax(json!({"x": right}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["components"]["x"],
            json!({"verdict": "correct", "method": "symbolic"}),
            "{right}: {}",
            r.body
        );
    }
    // Right only for a symmetric A: the counterexample's A is not symmetric.
    let r = post(&app, "/v1/grade", xtax(json!({"x": "2*A*x"}))).await;
    let c = &r.body["components"]["x"];
    assert_eq!(
        (c["verdict"].as_str(), c["hint"].as_str()),
        (Some("incorrect"), Some("assumes_symmetric")),
        "{}",
        r.body
    );
    let a = nums(&c["counterexample"]["point"]["A"]);
    assert!(
        (0..3).any(|i| (0..3).any(|j| a[i * 3 + j] != a[j * 3 + i])),
        "{}",
        r.body
    );
    let (x, e, s) = (
        nums(&c["counterexample"]["point"]["x"]),
        nums(&c["counterexample"]["expected"]),
        nums(&c["counterexample"]["submitted"]),
    );
    let am: Vec<Vec<f64>> = a.chunks(3).map(<[f64]>::to_vec).collect();
    let want: Vec<f64> = matvec(&am, &x)
        .iter()
        .zip(matvec(&transpose(&am), &x))
        .map(|(p, q)| p + q)
        .collect();
    assert_close(&Value::from(e), &want, "expected, as a student checks it");
    assert_close(
        &Value::from(s),
        &matvec(&am, &x).iter().map(|v| 2.0 * v).collect::<Vec<_>>(),
        "submitted",
    );
    // A row where a column is due: invalid inside the result, not a failed request.
    let r = post(&app, "/v1/grade", xtax(json!({"x": "x'*A"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["verdict"], "invalid");
    assert_eq!(
        r.body["components"]["x"]["error"]["code"], "shape_mismatch",
        "{}",
        r.body
    );
    // Not type-checking, or not parsing: invalid with the code.
    let r = post(&app, "/v1/grade", xtax(json!({"x": "A*x'"}))).await;
    assert_eq!(
        r.body["components"]["x"]["error"]["code"], "shape_mismatch",
        "{}",
        r.body
    );
    let r = post(&app, "/v1/grade", xtax(json!({"x": "A*(x"}))).await;
    assert_eq!(
        r.body["components"]["x"]["error"]["code"], "parse_error",
        "{}",
        r.body
    );
    // A transposed answer: ∇_A tr(A*B) = B'.
    let r = post(&app, "/v1/grade", json!({"expression": "tr(A*B)", "variables": {"A": [2, 2]}, "shapes": {"B": [2, 2]}, "answer": {"A": "B"}})).await;
    assert_eq!(
        r.body["components"]["A"]["hint"], "transposed",
        "{}",
        r.body
    );
    // A class at once, with named dimensions; 4c and 3d among them.
    let r = post(
        &app,
        "/v1/grade",
        json!({"expression": "x'*A*x", "variables": {"x": ["n"], "A": ["n", "n"]}, "answers": [
            {"x": "A*x + A'*x", "A": "x*x'"},
            {"x": "-(A + A')*x", "A": "2*x*x'"},
            {"x": "(A + A')*x", "A": "x'*x"},
        ]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results[0]["verdict"], "correct");
    assert_eq!(
        results[1]["components"]["x"]["hint"], "sign_error",
        "{}",
        r.body
    );
    assert_eq!(
        results[1]["components"]["A"]["hint"], "constant_factor",
        "{}",
        r.body
    );
    assert_eq!(results[1]["components"]["A"]["factor"], 2.0, "{}", r.body);
    assert_eq!(
        results[2]["components"]["A"]["error"]["code"], "shape_mismatch",
        "{}",
        r.body
    );
    let r = post(&app, "/v1/grade", json!({"expression": "ln(1 + exp(-w'*x))", "variables": {"w": ["d"]}, "shapes": {"x": ["d"]},
        "answer": {"w": "-exp(-x'*w)/(1 + exp(-x'*w))*x"}})).await;
    assert_eq!(r.body["verdict"], "correct", "{}", r.body);
    // kind value: one answer for the whole (vector) expression.
    let value = |answer: &str| json!({"expression": "(A + A')*x", "kind": "value", "variables": {"x": [3], "A": [3, 3]}, "answer": answer});
    let r = post(&app, "/v1/grade", value("A*x + A'*x")).await;
    assert_eq!(
        r.body["components"]["value"],
        json!({"verdict": "correct", "method": "symbolic"}),
        "{}",
        r.body
    );
    let r = post(&app, "/v1/grade", value("2*A*x")).await;
    assert_eq!(
        r.body["components"]["value"]["hint"], "assumes_symmetric",
        "{}",
        r.body
    );
    // In /v1/differentiate a parameter's value gives its shape.
    let r = post(&app, "/v1/differentiate", json!({"expression": "x'*A*x", "variables": {"x": [2]}, "parameters": {"A": [[1, 2], [3, 4]]}})).await;
    assert_eq!(r.body["gradient"]["x"], "A*x + A'*x", "{}", r.body);
    // Parameters are held at their values; the same request gives the same response.
    let req = json!({"expression": "sum(exp(X*w))", "variables": {"w": [2]}, "parameters": {"X": [[1, 2], [3, 4], [5, 6]]}, "answer": {"w": "X*exp(X*w)"}});
    let (r1, r2) = (
        post(&app, "/v1/grade", req.clone()).await,
        post(&app, "/v1/grade", req).await,
    );
    assert_eq!(r1.body, r2.body);
    assert_eq!(
        r1.body["components"]["w"]["error"]["code"], "shape_mismatch",
        "{}",
        r1.body
    );
}

/// Tokens of hostile expressions over vectors and matrices.
const TOKENS: &[&str] = &[
    "x",
    "A",
    "t",
    "b",
    "'",
    "*",
    ".*",
    "./",
    ".^",
    "+",
    "-",
    "/",
    "^",
    "(",
    ")",
    "2",
    "0",
    "-1",
    "inv(",
    "det(",
    "logdet(",
    "tr(",
    "diag(",
    "sum(",
    "norm(",
    "norm1(",
    "dot(",
    ",",
    "eye(3)",
    "eye(2)",
    "ones(3)",
    "zeros(2, 3)",
    "exp(",
    "ln(",
    "sqrt(",
    "transpose(",
    "A^2",
    "A^-1",
    "x'*A*x",
    "max(",
    "%",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Whatever is written, every endpoint answers 200 or a documented 422: never a 500,
    /// a panic or a hang.
    #[test]
    fn hostile_matrix_expressions_get_documented_answers(
        tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 1..14),
        endpoint in 0usize..5,
    ) {
        let src: String = tokens.concat();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = app();
            let point = json!({"x": [1.0, -2.0, 0.5], "A": [[2, 1, 0], [1, 3, 1], [0, 1, 4]], "t": 0.3});
            let (path, body) = match endpoint {
                0 => ("/v1/gradient", json!({"expression": src, "point": point, "parameters": {"b": [1, 2]}, "symbolic": true})),
                1 => ("/v1/jacobian", json!({"expression": src, "point": point, "parameters": {"b": [1, 2]}})),
                2 => ("/v1/hessian", json!({"expression": src, "variables": {"x": [3], "t": []}, "parameters": {"A": [[2, 1, 0], [1, 3, 1], [0, 1, 4]], "b": [1, 2]}, "point": {"x": [1, 2, 3], "t": 1}})),
                3 => ("/v1/differentiate", json!({"expression": src, "variables": {"x": ["n"], "A": ["n", "n"]}, "shapes": {"b": ["m"]}, "order": 2})),
                _ => ("/v1/grade", json!({"expression": "x'*A*x", "variables": {"x": [3]}, "shapes": {"A": [3, 3]}, "answer": {"x": src}})),
            };
            let r = post(&app, path, body).await;
            prop_assert!(r.status == 200 || r.status == 422, "{path} {src:?}: {} {}", r.status, r.body);
            if r.status == 422 {
                let code = r.body["code"].as_str().unwrap_or("");
                prop_assert!(code != "internal", "{path} {src:?}: {}", r.body);
            }
            Ok(())
        })?;
    }
}
