//! What the benchmark (`benches/engine.rs`) and the profiling example (`examples/w2.rs`)
//! share: reading and differentiating a workload, and W2's Rosenbrock function in n
//! dimensions as one expression string, with its value and gradient written by hand.

use nabla::engine::expr::Scope;
use nabla::engine::parse::ParseOptions;
use nabla::engine::{diff, read, ExprId, Pool};

/// `src` read into a pool with its gradient: the pool, `[value, gradient...]`, the inputs.
pub fn with_gradient(src: &str, vars: &[String]) -> (Pool, Vec<ExprId>, Vec<ExprId>) {
    let mut pool = Pool::new();
    let root = read(&mut pool, src, Scope::default(), &OPTIONS).expect("parses");
    let ids: Vec<_> = vars.iter().map(|v| pool.sym(v)).collect();
    let mut roots = vec![root];
    roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).expect("no limit"));
    (pool, roots, ids)
}

/// The service's default depth limit, and no size limit.
pub const OPTIONS: ParseOptions = ParseOptions {
    max_depth: 200,
    max_bytes: usize::MAX,
};

/// `sum over i < n - 1 of 100*(x_{i+1} - x_i^2)^2 + (1 - x_i)^2`, spelled out.
pub fn source(n: usize) -> String {
    (0..n - 1)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The variable names `x0 … x{n-1}`.
pub fn variables(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("x{i}")).collect()
}

/// Rosenbrock's value and gradient by hand.
#[inline(never)]
pub fn by_hand(x: &[f64], grad: &mut [f64]) -> f64 {
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

/// Rosenbrock by hand at each of `points` (`n` numbers each), row after row into `outs`
/// (value, then gradient): the batch evaluator's memory traffic, by hand.
#[inline(never)]
pub fn by_hand_rows(points: &[f64], n: usize, outs: &mut [f64]) {
    for (p, row) in points.chunks_exact(n).zip(outs.chunks_exact_mut(n + 1)) {
        row[0] = by_hand(p, &mut row[1..]);
    }
}
