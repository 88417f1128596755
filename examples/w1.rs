//! W1 (the sheet's 4a, value and gradient) at one point outside criterion: the
//! interpreter, the machine code and the hand-written function in turn, in nanoseconds a
//! call (best of `rounds` rounds of ten million calls each, at points that vary):
//! `cargo run --release --example w1 -- [rounds]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/common/rosenbrock.rs"]
#[allow(dead_code)]
mod rosenbrock;
#[path = "../benches/common/sheet4a.rs"]
mod sheet4a;

use std::hint::black_box;
use std::time::Instant;

use nabla::engine::{compile, Executable};

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("a number"));
    let vars: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
    let (pool, roots, ids) = rosenbrock::with_gradient(sheet4a::SOURCE, &vars);
    let tape = Executable::new(compile(&pool, &roots, &ids).expect("inputs"));
    println!(
        "{} instructions; machine code: {}",
        tape.tape().len(),
        tape.make_native()
    );
    let point = |i: usize| [0.7 + (i & 7) as f64 * 1e-3, -1.3, 0.4];
    let (mut out, mut scratch) = ([0.0; 4], Vec::new());
    let mut best = [f64::INFINITY; 3];
    let mut sum = 0.0;
    for _ in 0..rounds {
        let runs = [
            time(&mut sum, |i| {
                tape.tape()
                    .eval_into(black_box(&point(i)), &mut out, &mut scratch)
                    .unwrap();
                out[1]
            }),
            time(&mut sum, |i| {
                tape.eval_into(black_box(&point(i)), &mut out, &mut scratch)
                    .unwrap();
                out[1]
            }),
            time(&mut sum, |i| {
                let [x, y, z] = point(i);
                sheet4a::by_hand(black_box(x), black_box(y), black_box(z))[1]
            }),
        ];
        for (b, r) in best.iter_mut().zip(runs) {
            *b = b.min(r);
        }
    }
    let ns = best.map(|s| s * 1e9 / CALLS as f64);
    println!(
        "interpreter {:.1} ns, machine code {:.1} ns, by hand {:.1} ns: {:.2}x and {:.2}x \
         of the hand function ({sum:.3e})",
        ns[0],
        ns[1],
        ns[2],
        ns[0] / ns[2],
        ns[1] / ns[2]
    );
}

/// Calls of `call` in a row.
const CALLS: usize = 10_000_000;

/// Seconds for `CALLS` calls of `call` (inlined, no dynamic dispatch), whose results are
/// added to `sum` so that they are not optimised out.
fn time(sum: &mut f64, mut call: impl FnMut(usize) -> f64) -> f64 {
    let t = Instant::now();
    for i in 0..CALLS {
        *sum += call(i);
    }
    t.elapsed().as_secs_f64()
}
