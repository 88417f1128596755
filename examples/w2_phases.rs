//! Times the phases of W2 (Rosenbrock, n = 10,000): read, gradient, compile. For profiling
//! with `valgrind --tool=callgrind target/release/examples/w2_phases`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use nabla::engine::expr::Scope;
use nabla::engine::parse::ParseOptions;
use nabla::engine::{compile, diff, read, Pool};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |s| s.parse().expect("n"));
    let reps: usize = std::env::args()
        .nth(2)
        .map_or(5, |s| s.parse().expect("reps"));
    let src = (0..n - 1)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect::<Vec<_>>()
        .join(" + ");
    let vars: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let opts = ParseOptions {
        max_depth: 200,
        max_bytes: usize::MAX,
    };
    for _ in 0..reps {
        let t0 = Instant::now();
        let mut pool = Pool::new();
        let root = read(&mut pool, &src, Scope::default(), &opts).expect("parses");
        let t1 = Instant::now();
        let ids: Vec<_> = vars.iter().map(|v| pool.sym(v)).collect();
        let mut roots = vec![root];
        roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).expect("no limit"));
        let t2 = Instant::now();
        let tape = compile(&pool, &roots, &ids).expect("inputs");
        let t3 = Instant::now();
        let (nodes, instructions) = (pool.len(), tape.len());
        drop((pool, tape));
        let t4 = Instant::now();
        println!(
            "read {:.1} ms, gradient {:.1} ms, compile {:.1} ms, drop {:.1} ms, total {:.1} ms; {nodes} nodes, {instructions} instructions",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            (t3 - t2).as_secs_f64() * 1e3,
            (t4 - t3).as_secs_f64() * 1e3,
            (t4 - t0).as_secs_f64() * 1e3,
        );
    }
}
