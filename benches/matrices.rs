//! The matrix workloads, each beside a hand-written Rust baseline in the same criterion
//! group (see benches/README.md for the figures):
//!
//! - M1: ½‖Ax − b‖², value and gradient in x, A 1,000×1,000 (baseline: two matrix-vector
//!   products), and the same function written out in scalars at n = 100;
//! - M2: the logistic loss `sum(ln(1 + exp(-y .* (X*w))))` over X 10,000×100: value and
//!   gradient, and the Hessian in w;
//! - M3: `x'*A*x`, value and gradients in x and A, n = 1,000;
//! - the first answer of each: parse, differentiate and plan (the evaluation is the rest).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

use std::hint::black_box;

use criterion::{criterion_group, Criterion};
use nabla::engine::parse::{parse, ParseOptions};
use nabla::engine::tensor::eval::{Dense, Plan, PlanLimits};
use nabla::engine::tensor::{self, diff, Dim, TId, TPool, TShape};
use nabla::engine::Budget;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LIMITS: PlanLimits = PlanLimits {
    max_entries: u128::MAX,
    max_flops: u128::MAX,
};

fn shape(d: &[u32]) -> TShape {
    match d {
        [] => TShape::SCALAR,
        [n] => TShape::new(Dim::Known(*n), Dim::Known(1)),
        [r, c, ..] => TShape::new(Dim::Known(*r), Dim::Known(*c)),
    }
}

/// A compiled workload: the pool, the plan of `[value, gradients..., hessians...]`, and
/// the symbols' order.
struct Built {
    pool: TPool,
    plan: Plan,
    symbols: Vec<String>,
}

/// Parses, differentiates (gradient in `vars`, and the Hessian in `hessian` if given)
/// and plans `src`: the first answer's work before evaluation.
fn build(src: &str, shapes: &[(&str, &[u32])], vars: &[&str], hessian: Option<&str>) -> Built {
    let mut pool = TPool::new(1 << 20);
    let ast = parse(src, &ParseOptions::default()).unwrap();
    let lookup = |name: &str| {
        shapes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| shape(d))
    };
    let f = tensor::lower(&ast, &mut pool, &lookup, true).unwrap();
    let ids: Vec<TId> = vars.iter().map(|v| pool.symbol_node(v).unwrap()).collect();
    let budget = Budget::default();
    let mut roots = vec![f];
    let g = diff::gradient(&mut pool, f, &ids, &budget).unwrap();
    if let Some(h) = hessian {
        let k = vars.iter().position(|v| *v == h).unwrap();
        match diff::jacobian(&mut pool, g[k], ids[k], &budget).unwrap() {
            diff::Jacobian::Matrix(m) => roots = vec![m],
            other => panic!("no matrix Hessian: {other:?}"),
        }
    } else {
        roots.extend(g);
    }
    let plan = Plan::new(&pool, &roots, LIMITS).unwrap();
    let symbols = pool.symbols().map(|(n, _)| n.to_string()).collect();
    Built {
        pool,
        plan,
        symbols,
    }
}

impl Built {
    fn inputs<'a>(&self, values: &'a [(&str, Dense)]) -> Vec<Option<&'a Dense>> {
        self.symbols
            .iter()
            .map(|s| values.iter().find(|(n, _)| n == s).map(|(_, d)| d))
            .collect()
    }

    fn eval(&self, inputs: &[Option<&Dense>]) -> Vec<Dense> {
        self.plan
            .eval(&self.pool, inputs, &Budget::default())
            .unwrap()
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn dense(&mut self, rows: usize, cols: usize) -> Dense {
        Dense {
            rows,
            cols,
            data: (0..rows * cols).map(|_| self.next()).collect(),
        }
    }
}

/// `Σ a[i]*b[i]` with eight accumulators (one would serialise on the adder's latency).
#[inline]
fn dot8(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let chunks = a.len() / 8;
    for k in 0..chunks {
        for l in 0..8 {
            acc[l] += a[8 * k + l] * b[8 * k + l];
        }
    }
    let mut s: f64 = acc.iter().sum();
    for i in 8 * chunks..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// `y += s*x`.
#[inline]
fn axpy(y: &mut [f64], s: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += s * xi;
    }
}

fn m1(c: &mut Criterion) {
    let n = 1000;
    let mut rng = Rng(1);
    let (a, x, b) = (rng.dense(n, n), rng.dense(n, 1), rng.dense(n, 1));
    let built = build(
        "0.5*norm(A*x - b)^2",
        &[("x", &[1000]), ("A", &[1000, 1000]), ("b", &[1000])],
        &["x"],
        None,
    );
    let values = [("A", a.clone()), ("x", x.clone()), ("b", b.clone())];
    let inputs = built.inputs(&values);
    let mut g = c.benchmark_group("M1 least squares 1000x1000 value+gradient");
    g.bench_function("nabla", |bn| bn.iter(|| built.eval(black_box(&inputs))));
    g.bench_function("hand-written", |bn| {
        bn.iter(|| {
            // r = A x - b (row-wise dots), value = ½ r·r, gradient = Aᵀ r (row-wise axpy).
            let xs = black_box(&x.data);
            let mut r = vec![0.0; n];
            for i in 0..n {
                r[i] = dot8(&a.data[i * n..(i + 1) * n], xs) - b.data[i];
            }
            let value = 0.5 * dot8(&r, &r);
            let mut grad = vec![0.0; n];
            for i in 0..n {
                axpy(&mut grad, r[i], &a.data[i * n..(i + 1) * n]);
            }
            (value, grad)
        })
    });
    g.finish();

    // The same function at n = 100, matrix-level and written out in scalars (100
    // residuals of 100 terms, every entry a parameter of the scalar engine).
    let n = 100;
    let mut rng = Rng(2);
    let (a, x, b) = (rng.dense(n, n), rng.dense(n, 1), rng.dense(n, 1));
    let scalar_src: String = (0..n)
        .map(|i| {
            let row: Vec<String> = (0..n).map(|j| format!("a{i}_{j}*x{j}")).collect();
            format!("0.5*({} - b{i})^2", row.join(" + "))
        })
        .collect::<Vec<_>>()
        .join(" + ");
    let mut names: Vec<String> = (0..n).map(|j| format!("x{j}")).collect();
    let mut params: Vec<f64> = Vec::new();
    for i in 0..n {
        for j in 0..n {
            names.push(format!("a{i}_{j}"));
            params.push(a.data[i * n + j]);
        }
    }
    for i in 0..n {
        names.push(format!("b{i}"));
        params.push(b.data[i]);
    }
    let compile_scalar = || {
        let mut pool = nabla::engine::Pool::new();
        let opts = ParseOptions {
            max_bytes: 1 << 20,
            ..ParseOptions::default()
        };
        let f = nabla::engine::read(&mut pool, &scalar_src, Default::default(), &opts).unwrap();
        let ids: Vec<_> = names.iter().map(|v| pool.sym(v)).collect();
        let g = nabla::engine::diff::gradient(&mut pool, f, &ids[..n], Budget::default()).unwrap();
        let mut roots = vec![f];
        roots.extend(g);
        nabla::engine::compile(&pool, &roots, &ids).unwrap()
    };
    let tape = compile_scalar();
    let mut point: Vec<f64> = x.data.clone();
    point.extend(&params);
    let built = build(
        "0.5*norm(A*x - b)^2",
        &[("x", &[100]), ("A", &[100, 100]), ("b", &[100])],
        &["x"],
        None,
    );
    let values = [("A", a), ("x", x), ("b", b)];
    let inputs = built.inputs(&values);
    let mut g = c.benchmark_group("M1 least squares n=100: matrix-level vs scalarised");
    g.sample_size(20);
    g.bench_function("matrix-level first answer (parse+diff+plan+eval)", |bn| {
        bn.iter(|| {
            let b = build(
                "0.5*norm(A*x - b)^2",
                &[("x", &[100]), ("A", &[100, 100]), ("b", &[100])],
                &["x"],
                None,
            );
            b.eval(&inputs)
        })
    });
    g.bench_function("matrix-level eval", |bn| {
        bn.iter(|| built.eval(black_box(&inputs)))
    });
    g.bench_function("scalarised first answer (parse+diff+compile+eval)", |bn| {
        bn.iter(|| {
            let t = compile_scalar();
            t.eval(&point).unwrap()
        })
    });
    g.bench_function("scalarised eval", |bn| {
        bn.iter(|| tape.eval(black_box(&point)).unwrap())
    });
    g.finish();
}

fn m2(c: &mut Criterion) {
    let (k, p) = (10_000, 100);
    let mut rng = Rng(3);
    let xm = rng.dense(k, p);
    let w = Dense {
        rows: p,
        cols: 1,
        data: (0..p).map(|_| 0.1 * rng.next()).collect(),
    };
    let y = Dense {
        rows: k,
        cols: 1,
        data: (0..k)
            .map(|i| {
                if rng.next() > 0.0 || i == 0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect(),
    };
    let src = "sum(ln(1 + exp(-y .* (X*w))))";
    let shapes: &[(&str, &[u32])] = &[("X", &[10_000, 100]), ("w", &[100]), ("y", &[10_000])];
    let built = build(src, shapes, &["w"], None);
    let hess = build(src, shapes, &["w"], Some("w"));
    let values = [("X", xm.clone()), ("w", w.clone()), ("y", y.clone())];
    let inputs = built.inputs(&values);
    let h_inputs = hess.inputs(&values);
    let mut g = c.benchmark_group("M2 logistic 10000x100 value+gradient");
    g.bench_function("nabla", |bn| bn.iter(|| built.eval(black_box(&inputs))));
    g.bench_function("hand-written", |bn| {
        bn.iter(|| {
            let ws = black_box(&w.data);
            let mut value = 0.0;
            let mut grad = vec![0.0; p];
            for i in 0..k {
                let row = &xm.data[i * p..(i + 1) * p];
                let t = -y.data[i] * dot8(row, ws);
                let e = t.exp();
                value += (1.0 + e).ln();
                axpy(&mut grad, -y.data[i] * e / (1.0 + e), row);
            }
            (value, grad)
        })
    });
    g.finish();
    let mut g = c.benchmark_group("M2 logistic 10000x100 Hessian");
    g.sample_size(20);
    g.bench_function("nabla", |bn| bn.iter(|| hess.eval(black_box(&h_inputs))));
    g.bench_function("hand-written", |bn| {
        bn.iter(|| {
            // H = Σ s(1-s) y² xᵢxᵢᵀ: the upper triangle by rank-one updates, then mirrored.
            let ws = black_box(&w.data);
            let mut h = vec![0.0; p * p];
            for i in 0..k {
                let row = &xm.data[i * p..(i + 1) * p];
                let t = -y.data[i] * dot8(row, ws);
                let s = 1.0 / (1.0 + (-t).exp());
                let c = s * (1.0 - s) * y.data[i] * y.data[i];
                for a in 0..p {
                    let ca = c * row[a];
                    axpy(&mut h[a * p + a..(a + 1) * p], ca, &row[a..]);
                }
            }
            for a in 0..p {
                for b in 0..a {
                    h[a * p + b] = h[b * p + a];
                }
            }
            h
        })
    });
    g.finish();
}

fn m3(c: &mut Criterion) {
    let n = 1000;
    let mut rng = Rng(4);
    let (a, x) = (rng.dense(n, n), rng.dense(n, 1));
    let built = build(
        "x'*A*x",
        &[("x", &[1000]), ("A", &[1000, 1000])],
        &["x", "A"],
        None,
    );
    let values = [("A", a.clone()), ("x", x.clone())];
    let inputs = built.inputs(&values);
    let mut g = c.benchmark_group("M3 x'Ax n=1000 value+gradients in x and A");
    g.bench_function("nabla", |bn| bn.iter(|| built.eval(black_box(&inputs))));
    g.bench_function("hand-written", |bn| {
        bn.iter(|| {
            // Ax by rows, Aᵀx by row-wise axpy, value xᵀAx, ∇_A = xxᵀ.
            let x = black_box(&x.data);
            let mut ax = vec![0.0; n];
            let mut atx = vec![0.0; n];
            for i in 0..n {
                let row = &a.data[i * n..(i + 1) * n];
                ax[i] = dot8(row, x);
                axpy(&mut atx, x[i], row);
            }
            let value = dot8(x, &ax);
            let gx: Vec<f64> = ax.iter().zip(&atx).map(|(p, q)| p + q).collect();
            let mut ga = vec![0.0; n * n];
            for i in 0..n {
                axpy(&mut ga[i * n..(i + 1) * n], x[i], x);
            }
            (value, gx, ga)
        })
    });
    g.finish();
}

fn first_answer(c: &mut Criterion) {
    let mut g = c.benchmark_group("first answer: parse+differentiate+plan");
    g.bench_function("M1", |bn| {
        bn.iter(|| {
            build(
                "0.5*norm(A*x - b)^2",
                &[("x", &[1000]), ("A", &[1000, 1000]), ("b", &[1000])],
                &["x"],
                None,
            )
        })
    });
    g.bench_function("M2 gradient", |bn| {
        bn.iter(|| {
            build(
                "sum(ln(1 + exp(-y .* (X*w))))",
                &[("X", &[10_000, 100]), ("w", &[100]), ("y", &[10_000])],
                &["w"],
                None,
            )
        })
    });
    g.bench_function("M2 Hessian", |bn| {
        bn.iter(|| {
            build(
                "sum(ln(1 + exp(-y .* (X*w))))",
                &[("X", &[10_000, 100]), ("w", &[100]), ("y", &[10_000])],
                &["w"],
                Some("w"),
            )
        })
    });
    g.bench_function("M3", |bn| {
        bn.iter(|| {
            build(
                "x'*A*x",
                &[("x", &[1000]), ("A", &[1000, 1000])],
                &["x", "A"],
                None,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, m1, m2, m3, first_answer);

fn main() {
    nabla::allocator::configure();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
