//! The engine's workloads, each beside a hand-written Rust baseline in the same criterion
//! group, so the ratio comes from one run. See benches/README.md for the figures.
//!
//! - W1: the sheet's 4a, value and gradient, at one point and at 100,000 points;
//! - W2: Rosenbrock in n dimensions as one expression string: parse + differentiate +
//!   compile, and evaluation of value and gradient;
//! - W3: swell: the gradient of x1*x2*...*x1000, and of sin nested 50 deep around x*y;
//! - W4: grading a class: 1,000 submissions of 4a's gradient in one `/v1/grade` request;
//!   and the exact-arithmetic path: 1,000 submissions of an expansion of a degree-13
//!   polynomial, and one `(x-a)^6000` against `(x-a)^5999` (numbers of 240,000 bits).

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
    let post = |body: &str| {
        let req = axum::http::Request::post("/v1/grade")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        rt.block_on(async {
            let r = app.clone().oneshot(req).await.unwrap();
            assert_eq!(r.status(), 200);
            r.into_body().collect().await.unwrap().to_bytes()
        })
    };
    // The exact path: a third of the class right (expanded), a third with the constant
    // term off by one, a third twice the reference; half spelled uniquely.
    let exact_class = serde_json::json!({
        "expression": EXPANSION_REFERENCE, "kind": "value",
        "answers": (0..1000).map(|i| {
            let a = match i % 3 {
                0 => EXPANSION.to_string(),
                1 => EXPANSION.replace("- 2680000000", "- 2680000001"),
                _ => format!("2*({EXPANSION})"),
            };
            if i % 2 == 0 { format!("{a} + 0*{i}") } else { a }
        }).collect::<Vec<_>>(),
    })
    .to_string();
    let shown = post(&exact_class);
    assert!(String::from_utf8_lossy(&shown).contains("\"exact\""));
    let big = r#"{"expression": "(x-a)^6000", "kind": "value", "answer": "(x-a)^5999"}"#;
    assert!(String::from_utf8_lossy(&post(big)).contains("\"exact\""));
    let mut g = c.benchmark_group("W4 grade");
    g.sample_size(10);
    g.bench_function("1000 submissions of 4a in one request", |b| {
        b.iter(|| post(&body).len())
    });
    // By hand: what grading a class numerically costs at the least, without reading a
    // formula: the distinct submissions evaluated by hand-written Rust at 24 points each.
    g.bench_function("by hand: 4a answers at 24 points", |b| {
        b.iter(|| black_box(w4_by_hand(black_box(502))))
    });
    g.bench_function("exact: 1000 expansions in one request", |b| {
        b.iter(|| post(&exact_class).len())
    });
    // By hand: the distinct submissions evaluated in big integers at two 40-bit points
    // (what the exact path does, without reading a formula).
    g.bench_function("by hand: expansions at 2 big-integer points", |b| {
        b.iter(|| black_box(exact_by_hand(black_box(502))))
    });
    g.bench_function("exact: (x-a)^6000 against (x-a)^5999", |b| {
        b.iter(|| post(big).len())
    });
    g.finish();
}

/// The reference of the exact-path class, and its expansion (multiplied out by hand).
const EXPANSION_REFERENCE: &str = "512*(2*x+5)^7*(5*x-1)^5*(70*x+67)";
const EXPANSION: &str = "14336000000*x^13 + 250265600000*x^12 + 1862860800000*x^11 + 7623925760000*x^10 + 18290677760000*x^9 + 24744757985280*x^8 + 14567212351488*x^7 - 3267871272960*x^6 - 6408053107200*x^5 + 670406720000*x^4 + 1179708800000*x^3 - 429244800000*x^2 + 56696000000*x - 2680000000";
const EXPANSION_COEFFICIENTS: [i64; 14] = [
    14336000000,
    250265600000,
    1862860800000,
    7623925760000,
    18290677760000,
    24744757985280,
    14567212351488,
    -3267871272960,
    -6408053107200,
    670406720000,
    1179708800000,
    -429244800000,
    56696000000,
    -2680000000,
];

/// `n` submissions checked by hand in big integers: the factored reference and the
/// expansion (Horner) at two 40-bit points; the count of those that agree.
fn exact_by_hand(n: usize) -> usize {
    use num_bigint::BigInt;
    let points = [
        BigInt::from(549_755_813_887i64),
        BigInt::from(-412_316_860_416i64),
    ];
    let mut agree = 0;
    for _ in 0..n {
        let ok = points.iter().all(|x| {
            let a: BigInt = BigInt::from(2) * x + 5;
            let b: BigInt = BigInt::from(5) * x - 1;
            let c: BigInt = BigInt::from(70) * x + 67;
            let f = BigInt::from(512) * a.pow(7u32) * b.pow(5u32) * c;
            let p = EXPANSION_COEFFICIENTS
                .iter()
                .fold(BigInt::from(0), |acc, &c| acc * x + c);
            f == p
        });
        agree += usize::from(ok);
    }
    agree
}

/// `n` submissions of 4a's gradient checked by hand at 24 points: the reference and the
/// sheet's printed answer (the incorrect third), compared within the tolerances.
fn w4_by_hand(n: usize) -> usize {
    let mut agree = 0;
    for s in 0..n {
        let mut ok = true;
        for i in 0..24 {
            let t = (i * 7 + s) as f64;
            let (x, y, z) = (
                (t * 0.37).sin() * 2.0,
                (t * 0.51).cos() * 2.0,
                (t * 0.23).sin() * 2.0,
            );
            let r = w1_by_hand(x, y, z);
            let u = x * x * y * y * y * z;
            let a = x - 2.0 * x * y * y * y * z / (1.0 + u.exp());
            ok &= (r[1] - a).abs() <= 1e-9 + 1e-6 * r[1].abs();
        }
        agree += usize::from(ok);
    }
    agree
}

criterion_group!(benches, w1, w2, w3, w4);

/// `criterion_main!`'s `main`, with the service's allocator settings applied first.
fn main() {
    nabla::allocator::configure();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
