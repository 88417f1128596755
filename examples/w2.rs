//! W2 (Rosenbrock in n dimensions, value and gradient) outside criterion, for profiling:
//!
//! - `cargo run --release --example w2 -- phases 10000 [reps]` times read, gradient,
//!   compile and drop; under `valgrind --tool=callgrind` it gives the instruction counts
//!   quoted in benches/README.md (repeatable, unlike times on a shared machine);
//! - `cargo run --release --example w2 -- eval 1000` times batch evaluation per point
//!   against the hand-written loop (at one point, and over the batch's points), best of 50,
//!   over 320 points (`PTS=32` for one chunk of lanes, as the benchmark runs it);
//! - `cargo run --release --example w2 -- small 10 [reps]` times read, gradient and
//!   compile of a small n in microseconds (best of ten rounds of `reps`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/common/rosenbrock.rs"]
mod rosenbrock;

use std::hint::black_box;
use std::time::Instant;

use nabla::engine::expr::Scope;
use nabla::engine::{compile, diff, read, Pool};

/// The service's allocator (see src/main.rs), with its settings (`main`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    nabla::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let number = |k: usize, default: usize| {
        args.get(k)
            .map_or(default, |s| s.parse().expect("a number"))
    };
    match args.get(1).map(String::as_str) {
        Some("eval") => eval(number(2, 1000)),
        Some("small") => small(number(2, 10), number(3, 2000)),
        _ => phases(number(2, 10_000), number(3, 5)),
    }
}

fn phases(n: usize, reps: usize) {
    let (src, vars) = (rosenbrock::source(n), rosenbrock::variables(n));
    for _ in 0..reps {
        let t0 = Instant::now();
        let mut pool = Pool::new();
        let root = read(&mut pool, &src, Scope::default(), &rosenbrock::OPTIONS).expect("parses");
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
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        println!(
            "read {:.1} ms, gradient {:.1} ms, compile {:.1} ms, drop {:.1} ms, total {:.1} ms; \
             {nodes} nodes, {instructions} instructions",
            ms(t0, t1),
            ms(t1, t2),
            ms(t2, t3),
            ms(t3, t4),
            ms(t0, t4),
        );
    }
}

/// Read, gradient and compile of a small `n`, `reps` times: the best of ten rounds, in
/// microseconds per compile (the phases' milliseconds are too coarse for it).
fn small(n: usize, reps: usize) {
    let (src, vars) = (rosenbrock::source(n), rosenbrock::variables(n));
    let best = (0..10)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                let (pool, roots, ids) = rosenbrock::with_gradient(black_box(&src), &vars);
                black_box(compile(&pool, &roots, &ids).expect("inputs"));
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .fold(f64::MAX, f64::min);
    println!(
        "n={n}: total {:.2} us per read+gradient+compile",
        best * 1e6
    );
}

fn eval(n: usize) {
    let vars = rosenbrock::variables(n);
    let (pool, roots, ids) = rosenbrock::with_gradient(&rosenbrock::source(n), &vars);
    let tape = compile(&pool, &roots, &ids).expect("inputs");
    let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.1 - 0.3).collect();
    let pts: usize = std::env::var("PTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(320);
    let points: Vec<f64> = (0..pts).flat_map(|_| x.iter().copied()).collect();
    let mut outs = vec![0.0; pts * (n + 1)];
    let best = |f: &mut dyn FnMut()| {
        (0..50)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() / pts as f64
            })
            .fold(f64::MAX, f64::min)
    };
    let batch = best(&mut || {
        tape.eval_batch(black_box(&points), &mut outs)
            .expect("lengths")
    });
    let mut grad = vec![0.0; n];
    let hand = best(&mut || {
        for _ in 0..pts {
            black_box(rosenbrock::by_hand(black_box(&x), &mut grad));
        }
    });
    // By hand over the batch's points and into its rows: the same memory traffic.
    let hand_batch = best(&mut || rosenbrock::by_hand_rows(black_box(&points), n, &mut outs));
    println!(
        "n={n}: {} instructions, {} slots, {} input lanes; batch {:.3} us/point; by hand \
         {:.3} us/point (ratio {:.2}), over the batch {:.3} us/point (ratio {:.2})",
        tape.len(),
        tape.slots(),
        tape.batch_input_lanes(),
        batch * 1e6,
        hand * 1e6,
        batch / hand,
        hand_batch * 1e6,
        batch / hand_batch
    );
}
