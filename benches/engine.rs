//! The engine's workloads, each beside a hand-written Rust baseline in the same criterion
//! group, so the ratio comes from one run. See benches/README.md for the figures.
//!
//! - W1: the sheet's 4a, value and gradient, at one point and at 100,000 points;
//! - W2: Rosenbrock in n dimensions as one expression string: parse + differentiate +
//!   compile, and evaluation of value and gradient;
//! - W3: swell: the gradient of x1*x2*...*x1000, and of sin nested 50 deep around x*y;
//! - W4: grading a class: 1,000 submissions of 4a's gradient in one `/v1/grade` request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

#[path = "common/rosenbrock.rs"]
mod rosenbrock;
#[path = "common/sheet4a.rs"]
mod sheet4a;

use rosenbrock::with_gradient;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use nabla::engine::{compile, Executable, Tape};

/// The service's allocator (see src/main.rs), with its settings (`main` below), so compile
/// times are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sheet4a::{by_hand as w1_by_hand, SOURCE as W1};

/// Parses, differentiates and compiles `[value, gradient...]` of `src`: the workload
/// "parse+differentiate+compile".
fn compile_value_and_gradient(src: &str, vars: &[String]) -> Tape {
    let (pool, roots, ids) = with_gradient(src, vars);
    compile(&pool, &roots, &ids).expect("inputs")
}

/// The value program and the value+gradient program of `src` (for their sizes).
fn value_and_gradient(src: &str, vars: &[String]) -> (Tape, Tape) {
    let (pool, roots, ids) = with_gradient(src, vars);
    let value = compile(&pool, &roots[..1], &ids).expect("inputs");
    (value, compile(&pool, &roots, &ids).expect("inputs"))
}

fn w1(c: &mut Criterion) {
    let vars: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
    let (_, tape) = value_and_gradient(W1, &vars);
    eprintln!("W1: value+gradient program: {} instructions", tape.len());
    // One point runs as machine code once evaluated often enough (as the service does).
    let exe = Executable::new(tape.clone());
    let mut g = c.benchmark_group("W1 4a single point");
    let mut out = [0.0; 4];
    let mut scratch = Vec::new();
    g.bench_function("nabla", |b| {
        b.iter(|| {
            exe.eval_into(black_box(&[0.7, -1.3, 0.4]), &mut out, &mut scratch)
                .unwrap();
            out[1]
        })
    });
    g.bench_function("by hand", |b| {
        b.iter(|| w1_by_hand(black_box(0.7), black_box(-1.3), black_box(0.4)))
    });
    g.finish();

    let n = 100_000;
    let points: Vec<f64> = (0..n * 3)
        .map(|i| ((i * 7919) % 2000) as f64 / 1000.0 - 1.0)
        .collect();
    let mut out = vec![0.0; n * 4];
    let mut g = c.benchmark_group("W1 4a batch 100k");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function("nabla", |b| {
        b.iter(|| tape.eval_batch(black_box(&points), &mut out).unwrap())
    });
    g.bench_function("by hand", |b| {
        b.iter(|| {
            for (p, o) in points.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
                o.copy_from_slice(&w1_by_hand(p[0], p[1], p[2]));
            }
        })
    });
    g.finish();
}

fn w2(c: &mut Criterion) {
    let mut g = c.benchmark_group("W2 rosenbrock parse+diff+compile");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    for n in [10, 100, 1_000, 10_000] {
        let src = rosenbrock::source(n);
        let vars = rosenbrock::variables(n);
        let (value, both) = value_and_gradient(&src, &vars);
        eprintln!(
            "W2 n={n}: value program {} instructions, value+gradient {} ({:.2}x)",
            value.len(),
            both.len(),
            both.len() as f64 / value.len() as f64
        );
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| compile_value_and_gradient(black_box(&src), &vars))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("W2 rosenbrock value+gradient");
    for n in [10, 100, 1_000, 10_000] {
        let vars = rosenbrock::variables(n);
        let (_, tape) = value_and_gradient(&rosenbrock::source(n), &vars);
        let exe = Executable::new(tape.clone());
        let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.1 - 0.3).collect();
        let mut out = vec![0.0; n + 1];
        let mut scratch = Vec::new();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("nabla", n), &n, |b, _| {
            b.iter(|| {
                exe.eval_into(black_box(&x), &mut out, &mut scratch)
                    .unwrap()
            })
        });
        let mut grad = vec![0.0; n];
        g.bench_with_input(BenchmarkId::new("by hand", n), &n, |b, _| {
            b.iter(|| rosenbrock::by_hand(black_box(&x), &mut grad))
        });
        // 32 points at once: the batch evaluator amortises dispatch over the lanes.
        let points: Vec<f64> = (0..32).flat_map(|_| x.iter().copied()).collect();
        let mut outs = vec![0.0; 32 * (n + 1)];
        // The hand loop over the same 32 points and into the same rows: the batch's
        // memory traffic (32 points in, 32 rows out), which at n = 10,000 outgrows the
        // caches where one point's does not.
        g.bench_with_input(
            BenchmarkId::new("by hand over a batch of 32, per point", n),
            &n,
            |b, _| {
                b.iter_custom(|iters| {
                    per_point_of_32(iters, || {
                        rosenbrock::by_hand_rows(black_box(&points), n, &mut outs)
                    })
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("nabla batch of 32, per point", n),
            &n,
            |b, _| {
                b.iter_custom(|iters| {
                    per_point_of_32(iters, || {
                        tape.eval_batch(black_box(&points), &mut outs).unwrap()
                    })
                })
            },
        );
    }
    g.finish();
}

/// The time of `iters` points run as batches of 32 by `batch`: criterion's time per
/// iteration is then the time per point.
fn per_point_of_32(iters: u64, mut batch: impl FnMut()) -> Duration {
    let t = std::time::Instant::now();
    for _ in 0..iters.div_ceil(32) {
        batch();
    }
    t.elapsed()
}

fn w3(c: &mut Criterion) {
    let n = 1000;
    let names: Vec<String> = (1..=n).map(|i| format!("x{i}")).collect();
    let product = names.join("*");
    let nested = (0..50).fold("x*y".to_string(), |acc, _| format!("sin({acc})"));
    let xy: Vec<String> = vec!["x".into(), "y".into()];
    let (v, t) = value_and_gradient(&product, &names);
    eprintln!(
        "W3 product n={n}: value {} instructions, value+gradient {}",
        v.len(),
        t.len()
    );
    let (v, t) = value_and_gradient(&nested, &xy);
    eprintln!(
        "W3 sin nested 50: value {} instructions, value+gradient {}",
        v.len(),
        t.len()
    );

    let mut g = c.benchmark_group("W3 swell parse+diff+compile");
    g.sample_size(10);
    g.bench_function("product of 1000", |b| {
        b.iter(|| compile_value_and_gradient(black_box(&product), &names))
    });
    g.bench_function("sin nested 50", |b| {
        b.iter(|| compile_value_and_gradient(black_box(&nested), &xy))
    });
    g.finish();
}

/// W4: a class of 1,000 submissions of 4a's gradient graded in one `/v1/grade` request,
/// through the router (JSON in and out included). A third are right, a third are the
/// sheet's printed mistake, a third use sigmoid; half are spelled uniquely.
fn w4(c: &mut Criterion) {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let right = [
        "x - 2*x*y^3*z*exp(x^2*y^3*z)/(1+exp(x^2*y^3*z))",
        "z - 3*x^2*y^2*z*exp(x^2*y^3*z)/(1+exp(x^2*y^3*z))",
        "y - x^2*y^3*exp(x^2*y^3*z)/(1+exp(x^2*y^3*z))",
    ];
    let sheet = [
        "x - 2*x*y^3*z/(1+exp(x^2*y^3*z))",
        "z - 3*y^2*x^2*z/(1+exp(x^2*y^3*z))",
        "y - x^2*y^3/(1+exp(x^2*y^3*z))",
    ];
    let sigm = [
        "x - 2*x*y^3*z*sigmoid(x^2*y^3*z)",
        "z - 3*x^2*y^2*z*sigmoid(x^2*y^3*z)",
        "y - x^2*y^3*sigmoid(x^2*y^3*z)",
    ];
    let answers: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let a = [right, sheet, sigm][i % 3];
            let tail = if i % 2 == 0 {
                format!(" + 0*{i}")
            } else {
                String::new()
            };
            serde_json::json!({"x": format!("{}{tail}", a[0]), "y": a[1], "z": a[2]})
        })
        .collect();
    let body =
        serde_json::json!({"expression": W1, "variables": ["x", "y", "z"], "answers": answers})
            .to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = nabla::http::app(nabla::http::state(nabla::config::Config::default()));
    let grade = || {
        let req = axum::http::Request::post("/v1/grade")
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .unwrap();
        rt.block_on(async {
            let r = app.clone().oneshot(req).await.unwrap();
            assert_eq!(r.status(), 200);
            r.into_body().collect().await.unwrap().to_bytes().len()
        })
    };
    let mut g = c.benchmark_group("W4 grade");
    g.sample_size(10);
    g.bench_function("1000 submissions of 4a in one request", |b| b.iter(grade));
    g.finish();
}

criterion_group!(benches, w1, w2, w3, w4);

/// `criterion_main!`'s `main`, with the service's allocator settings applied first.
fn main() {
    nabla::allocator::configure();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
