//! Times batch evaluation of W2 (value and gradient) per point, best of several runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use nabla::engine::expr::Scope;
use nabla::engine::parse::ParseOptions;
use nabla::engine::{compile, diff, read, Pool};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1000, |s| s.parse().expect("n"));
    let src = (0..n - 1)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect::<Vec<_>>()
        .join(" + ");
    let vars: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let opts = ParseOptions {
        max_depth: 200,
        max_bytes: usize::MAX,
    };
    let mut pool = Pool::new();
    let root = read(&mut pool, &src, Scope::default(), &opts).expect("parses");
    let ids: Vec<_> = vars.iter().map(|v| pool.sym(v)).collect();
    let mut roots = vec![root];
    roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).expect("no limit"));
    let tape = compile(&pool, &roots, &ids).expect("inputs");
    let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.1 - 0.3).collect();
    let pts = 320;
    let points: Vec<f64> = (0..pts).flat_map(|_| x.iter().copied()).collect();
    let mut outs = vec![0.0; pts * (n + 1)];
    let mut best = f64::MAX;
    for _ in 0..50 {
        let t = Instant::now();
        tape.eval_batch(&points, &mut outs).unwrap();
        best = best.min(t.elapsed().as_secs_f64() / pts as f64);
    }
    let mut grad = vec![0.0; n];
    let mut hand = f64::MAX;
    for _ in 0..50 {
        let t = Instant::now();
        for _ in 0..pts {
            std::hint::black_box(by_hand(std::hint::black_box(&x), &mut grad));
        }
        hand = hand.min(t.elapsed().as_secs_f64() / pts as f64);
    }
    println!("n={n}: {} instructions, {} slots; batch {:.3} us/point, by hand {:.3} us/point, ratio {:.2}",
        tape.len(), tape.slots(), best * 1e6, hand * 1e6, best / hand);
}

#[inline(never)]
fn by_hand(x: &[f64], grad: &mut [f64]) -> f64 {
    let mut f = 0.0;
    grad.fill(0.0);
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        f += 100.0 * a * a + b * b;
        grad[i] += -400.0 * a * x[i] - 2.0 * b;
        grad[i + 1] += 200.0 * a;
    }
    f
}
