//! Compilation and evaluation: sharing, dead code, program sizes, non-finite values and
//! the stable evaluation of softplus and sigmoid shapes.

use nabla::engine::op::Op;
use nabla::engine::{compile, diff, Pool};

use crate::support::value_and_gradient_tape as value_and_gradient;
use crate::support::{chained, close, expr, syms, value_and_gradient_tape};

#[test]
fn common_subexpressions_are_computed_once() {
    let mut pool = Pool::new();
    let root = expr(&mut pool, "sin(x*y) + cos(x*y) + exp(sin(x*y))");
    let ids = syms(&mut pool, &["x", "y"]);
    let tape = compile(&pool, &[root], &ids).expect("inputs");
    // x*y, sin, cos, exp, two additions.
    assert_eq!(tape.len(), 6, "{:?}", tape.instrs());
}

#[test]
fn recognised_shapes_leave_their_spelling_dead() {
    let mut pool = Pool::new();
    let root = expr(&mut pool, "exp(u)/(1 + exp(u))");
    let ids = syms(&mut pool, &["u"]);
    let tape = compile(&pool, &[root], &ids).expect("inputs");
    // exp(-|u|) and the sigmoid from it: no exp(u), no division.
    let ops: Vec<Op> = tape.instrs().iter().map(|i| i.op).collect();
    assert_eq!(ops, [Op::ExpNegAbs, Op::SigmoidE]);
}

/// `src`'s value and derivative in `u` at each `(u, value, derivative)`.
fn check_stable(src: &str, cases: &[(f64, f64, f64)]) {
    let tape = value_and_gradient_tape(src, &["u"]);
    for &(u, v, d) in cases {
        let got = tape.eval(&[u]).expect("arity");
        assert!(
            close(got[0], v, 1e-15) && close(got[1], d, 1e-15),
            "{src} at {u}: {got:?}, want [{v}, {d}]"
        );
    }
}

/// Softplus takes `ln(1 + b)` for `b = exp(-|u|)` in `[0, 1]` from `ln` with a rounding
/// correction, not from `log1p`: it stays within an ulp of the standard library's
/// `ln_1p` (itself within 0.8 ulp of exact) over the whole range, the tiny end included.
#[test]
fn softplus_logarithm_is_within_an_ulp_of_log1p() {
    let mut worst = 0.0f64;
    for k in 0..=200_000 {
        for b in [k as f64 / 200_000.0, (k as f64 / 200_000.0 * -38.0).exp()] {
            let (got, want) = (nabla::engine::func::ln_1p_unit(b), b.ln_1p());
            let ulp = f64::from_bits(want.to_bits() + 1) - want;
            worst = worst.max((got - want).abs() / ulp);
        }
    }
    assert!(worst <= 1.0, "{worst} ulp");
    assert!(nabla::engine::func::ln_1p_unit(f64::NAN).is_nan());
}

#[test]
fn softplus_and_sigmoid_shapes_are_stable() {
    let s = |u: f64| 1.0 / (1.0 + (-u).exp());
    check_stable(
        "ln(1 + exp(u))",
        &[
            (800.0, 800.0, 1.0),
            (-800.0, 0.0, 0.0),
            (0.0, 2f64.ln(), 0.5),
        ],
    );
    check_stable(
        "exp(u)/(1 + exp(u))",
        &[
            (800.0, 1.0, 0.0),
            (-800.0, 0.0, 0.0),
            (1.0, s(1.0), s(1.0) * s(-1.0)),
        ],
    );
    check_stable(
        "1/(1 + exp(-u))",
        &[
            (800.0, 1.0, 0.0),
            (-800.0, 0.0, 0.0),
            (2.0, s(2.0), s(2.0) * s(-2.0)),
        ],
    );
    check_stable("ln(1 + e^u)", &[(1000.0, 1000.0, 1.0)]);
    check_stable(
        "softplus(u) + sigmoid(u)",
        &[(900.0, 901.0, 1.0), (-900.0, 0.0, 0.0)],
    );
}

#[test]
fn softplus_and_sigmoid_share_one_exponential() {
    let tape = value_and_gradient("softplus(u) + sigmoid(u) + 1/(1 + exp(-u))", &["u"]);
    let exps = tape
        .instrs()
        .iter()
        .filter(|i| matches!(i.op, Op::Exp | Op::ExpNegAbs))
        .count();
    assert_eq!(exps, 1, "{:?}", tape.instrs());
}

/// A product used once by a sum or difference is one fused instruction, rounded as the
/// two it replaces: `(source, operation, multiplications left, the value computed
/// unfused in Rust)`.
#[test]
fn products_fuse_into_sums_with_the_same_roundings() {
    type Unfused = fn(f64, f64, f64) -> f64;
    let cases: [(&str, Op, usize, Unfused); 4] = [
        ("a + b*c", Op::MulAdd, 0, |a, b, c| a + b * c),
        ("a - b*c", Op::MulSub, 0, |a, b, c| a - b * c),
        ("b*c - a", Op::MulRsub, 0, |a, b, c| b * c - a),
        // Two products, one sum: one product is fused, the other stays.
        ("b*c + a*a", Op::MulAdd, 1, |a, b, c| a * a + b * c),
    ];
    let points = [
        [0.1, 0.2, 0.3],
        [1e16, 1.0 + 1e-15, 3.0],
        [-2.5, 1e-300, 1e300],
    ];
    for (src, op, muls, unfused) in cases {
        let mut pool = Pool::new();
        let root = expr(&mut pool, src);
        let ids = syms(&mut pool, &["a", "b", "c"]);
        let tape = compile(&pool, &[root], &ids).expect("inputs");
        assert!(
            tape.instrs().iter().any(|i| i.op == op),
            "{src}: {:?}",
            tape.instrs()
        );
        let left = tape.instrs().iter().filter(|i| i.op == Op::Mul).count();
        assert_eq!(left, muls, "{src}: {:?}", tape.instrs());
        for p in points {
            let got = tape.eval(&p).expect("arity")[0];
            let want = unfused(p[0], p[1], p[2]);
            assert_eq!(got.to_bits(), want.to_bits(), "{src} at {p:?}");
            let mut batch = [0.0; 3];
            let three: Vec<f64> = (0..3).flat_map(|_| p).collect();
            tape.eval_batch(&three, &mut batch).expect("lengths");
            assert!(
                batch.iter().all(|b| b.to_bits() == want.to_bits()),
                "{src} batch"
            );
        }
    }
}

/// A product used once by a product is one `Mul3`; a product that absorbed one is not
/// absorbed in turn (its operands are no longer its definition's). Points with exact
/// products, so the order of the multiplications does not matter: `(source, Mul3s,
/// Muls left)`.
#[test]
fn products_fuse_into_products() {
    let cases = [
        ("a*b*c", 1, 0),
        ("a*b*c*d", 1, 1),
        ("a*b*c*d*a*b", 2, 1),
        ("sin(a*b*c) + d*a*b*c", 1, 2),
    ];
    for (src, mul3s, muls) in cases {
        let mut pool = Pool::new();
        let root = expr(&mut pool, src);
        let ids = syms(&mut pool, &["a", "b", "c", "d"]);
        let tape = compile(&pool, &[root], &ids).expect("inputs");
        let count = |op| tape.instrs().iter().filter(|i| i.op == op).count();
        assert_eq!(
            (count(Op::Mul3), count(Op::Mul)),
            (mul3s, muls),
            "{src}: {:?}",
            tape.instrs()
        );
        let p: [f64; 4] = [3.0, -5.0, 0.5, 7.0];
        let [a, b, c, d] = p;
        let want = match src {
            "a*b*c" => a * b * c,
            "a*b*c*d" => a * b * c * d,
            "a*b*c*d*a*b" => a * b * c * d * a * b,
            _ => (a * b * c).sin() + d * a * b * c,
        };
        assert_eq!(tape.eval(&p).expect("arity")[0], want, "{src}");
        let mut batch = [0.0; 2];
        let two: Vec<f64> = (0..2).flat_map(|_| p).collect();
        tape.eval_batch(&two, &mut batch).expect("lengths");
        assert_eq!(batch, [want; 2], "{src} batch");
    }
}

#[test]
fn a_shared_product_is_not_fused() {
    // b*c feeds two sums: computing it once beats computing it in both.
    let mut pool = Pool::new();
    let root = expr(&mut pool, "sin(a + b*c) + cos(d + b*c)");
    let ids = syms(&mut pool, &["a", "b", "c", "d"]);
    let tape = compile(&pool, &[root], &ids).expect("inputs");
    let muls = tape.instrs().iter().filter(|i| i.op == Op::Mul).count();
    assert_eq!(muls, 1, "{:?}", tape.instrs());
    assert!(tape.instrs().iter().all(|i| i.op != Op::MulAdd));
}

#[test]
fn non_finite_results_are_values() {
    let tape = value_and_gradient_tape("ln(x) + 1/y", &["x", "y"]);
    let got = tape.eval(&[-1.0, 0.0]).expect("arity");
    assert!(got[0].is_nan());
    assert_eq!(got[2], f64::NEG_INFINITY);
    let got = tape.eval(&[f64::INFINITY, f64::NAN]).expect("arity");
    assert!(got[0].is_nan() && got[2].is_nan());
}

#[test]
fn wrong_lengths_are_errors() {
    let tape = value_and_gradient_tape("x*y", &["x", "y"]);
    assert!(tape.eval(&[1.0]).is_err());
    let mut out = vec![0.0; 5];
    assert!(tape.eval_batch(&[1.0, 2.0, 3.0], &mut out).is_err());
    assert!(tape.eval_batch(&[1.0, 2.0, 3.0, 4.0], &mut out).is_err());
}

#[test]
fn gradient_of_a_long_product_does_not_swell() {
    // d/dx_i of x1*...*xn is the product of the others: n products of n - 1 factors, but
    // content-defined chunking shares their partial products.
    let n = 1000;
    let names: Vec<String> = (1..=n).map(|i| format!("x{i}")).collect();
    let src = names.join("*");
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let tape = value_and_gradient_tape(&src, &vars);
    assert!(
        tape.len() < 40 * n,
        "{} instructions for n = {n}",
        tape.len()
    );
    let p: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64 * 1e-3).collect();
    let got = tape.eval(&p).expect("arity");
    let value: f64 = p.iter().product();
    assert!(close(got[0], value, 1e-12));
    for k in [0, 1, n / 2, n - 1] {
        assert!(close(got[k + 1], value / p[k], 1e-12), "d/dx{}", k + 1);
    }
}

#[test]
fn nested_sin_does_not_swell() {
    let src = (0..50).fold("x*y".to_string(), |acc, _| format!("sin({acc})"));
    let tape = value_and_gradient_tape(&src, &["x", "y"]);
    assert!(tape.len() < 4 * 50 + 10, "{} instructions", tape.len());
}

#[test]
fn gradient_program_is_a_small_multiple_of_the_value_program() {
    let n = 1000;
    let src = crate::rosenbrock(n);
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut pool = Pool::new();
    let root = expr(&mut pool, &src);
    let ids = syms(&mut pool, &vars);
    let value = compile(&pool, &[root], &ids).expect("inputs");
    let mut roots = vec![root];
    roots.extend(diff::gradient(&mut pool, root, &ids, 10_000_000).expect("small"));
    let both = compile(&pool, &roots, &ids).expect("inputs");
    assert!(
        both.len() <= 4 * value.len(),
        "{} vs {}",
        both.len(),
        value.len()
    );
}

#[test]
fn a_huge_product_fails_its_budget_instead_of_filling_memory() {
    let names: Vec<String> = (0..5_000).map(|i| format!("x{i}")).collect();
    let mut pool = Pool::new();
    let root = expr(&mut pool, &names.join("*"));
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = syms(&mut pool, &vars);
    assert!(diff::gradient(&mut pool, root, &ids, 1_000_000).is_err());
    assert!(
        pool.operands() < 1_000_000,
        "refused before building the partials"
    );
}

#[test]
fn the_hessian_of_a_long_product_fails_its_budget() {
    // 1,000 factors: a Hessian of a million products of 998 factors, ~4 GB if built.
    let names: Vec<String> = (0..1_000).map(|i| format!("x{i}")).collect();
    let mut pool = Pool::new();
    let root = expr(&mut pool, &names.join("*"));
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = syms(&mut pool, &vars);
    assert!(diff::hessian(&mut pool, root, &ids, 1_000_000).is_err());
    assert!(pool.operands() < 20_000_000, "{} operands", pool.operands());
}

#[test]
fn outputs_leave_as_they_are_made_so_their_slots_are_reused() {
    // Rosenbrock in 300 dimensions: 301 outputs, each term's share of the value and of the
    // gradient computed together, so a handful of slots beyond the inputs suffice.
    let n = 300;
    let src = (0..n - 1)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect::<Vec<_>>()
        .join(" + ");
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let tape = value_and_gradient_tape(&src, &vars);
    assert!(tape.slots() < n + 64, "{} slots", tape.slots());
    let x: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.3 - 0.8).collect();
    let (mut f, mut grad) = (0.0, vec![0.0; n]);
    for i in 0..n - 1 {
        let (a, b) = (x[i + 1] - x[i] * x[i], 1.0 - x[i]);
        f += 100.0 * a * a + b * b;
        grad[i] += -400.0 * a * x[i] - 2.0 * b;
        grad[i + 1] += 200.0 * a;
    }
    let got = tape.eval(&x).expect("arity");
    assert!(close(got[0], f, 1e-12), "{} vs {f}", got[0]);
    for (i, (g, want)) in got[1..].iter().zip(&grad).enumerate() {
        assert!(close(*g, *want, 1e-12), "d/dx{i}: {g} vs {want}");
    }
    // Three points in a batch: the same numbers.
    let points: Vec<f64> = (0..3).flat_map(|_| x.iter().copied()).collect();
    let mut out = vec![0.0; 3 * (n + 1)];
    tape.eval_batch(&points, &mut out).expect("lengths");
    for row in out.chunks(n + 1) {
        assert_eq!(row, &got[..]);
    }
}

#[test]
fn an_output_shared_by_several_roots_and_an_input_output_are_read_out() {
    // x*y is the value and two partials of a Hessian-like root list; x is an output too.
    let mut pool = Pool::new();
    let xy = expr(&mut pool, "x*y");
    let s = expr(&mut pool, "sin(x*y)");
    let ids = syms(&mut pool, &["x", "y"]);
    let roots = [xy, s, ids[0], xy, s, ids[1]];
    let tape = compile(&pool, &roots, &ids).expect("inputs");
    let got = tape.eval(&[0.5, 3.0]).expect("arity");
    let want = [1.5, 1.5f64.sin(), 0.5, 1.5, 1.5f64.sin(), 3.0];
    assert_eq!(got, want);
    let mut out = vec![0.0; 12];
    tape.eval_batch(&[0.5, 3.0, 0.5, 3.0], &mut out)
        .expect("lengths");
    assert_eq!(out[..6], want);
    assert_eq!(out[6..], want);
}

#[test]
fn reading_outputs_out_early_changes_no_value() {
    // Twenty variables: 21 outputs, enough for outputs to give their slots back. Each
    // output compiled alone keeps its slot to the end; the numbers must be the same.
    let n = 20;
    let src = chained(n, |i, j| format!("sin(x{i}*x{j}) + exp(x{i})/(1 + x{j}^2)"));
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut pool = Pool::new();
    let root = expr(&mut pool, &src);
    let ids = syms(&mut pool, &vars);
    let mut roots = vec![root];
    roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).expect("no limit"));
    let all = compile(&pool, &roots, &ids).expect("inputs");
    assert!(all.emits().iter().any(|e| e.at < all.len() as u32));
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let got = all.eval(&x).expect("arity");
    for (k, &r) in roots.iter().enumerate() {
        let alone = compile(&pool, &[r], &ids).expect("inputs");
        assert_eq!(
            got[k].to_bits(),
            alone.eval(&x).expect("arity")[0].to_bits(),
            "output {k}"
        );
    }
}

/// A batch feeds the inputs of a program with many of them in blocks, as its
/// instructions come to need them: the values are those of one point at a time, also for
/// outputs that are inputs (the partials at the ends of a chain), and for a last chunk of
/// points narrower than the lanes.
/// Batches keep a ring of input blocks where the program reads its inputs in order, and
/// every input in its own lane where it does not; either way each point of a batch is
/// bitwise what one point gives. Cases: (function of x0..x299, outputs besides the
/// gradient, whether the ring is smaller than the inputs).
#[test]
fn a_ring_of_input_lanes_gives_the_values_of_one_point() {
    let n = 300;
    let cases: [(String, &[usize], bool); 5] = [
        // Each input read in the terms beside it: a ring of a few blocks.
        (
            chained(n, |i, j| format!("x{i}*x{j} + cos(x{i} - x{j})^2")),
            &[],
            true,
        ),
        // Terms reaching 70 inputs back: blocks stay until the block after next is read.
        (
            chained(n, |i, _| format!("sin(x{i} * x{})", (i + 70).min(n - 1))),
            &[],
            true,
        ),
        // x0 read again at the very end (a term is computed with the last input it
        // depends on): its block keeps its lanes to the end.
        (
            chained(n, |i, j| format!("x{i}*x{j}")) + " + x0*x299",
            &[],
            false,
        ),
        // An input that is an output keeps its lanes to the end too.
        (chained(n, |i, j| format!("x{i}*x{j}")), &[7], false),
        // Both.
        (
            chained(n, |i, j| format!("x{i}*x{j} + cos(x{i} - x{j})^2")) + " + x0*x299",
            &[7],
            false,
        ),
    ];
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    for (src, extra, ring) in cases {
        let mut pool = Pool::new();
        let root = expr(&mut pool, &src);
        let ids = syms(&mut pool, &vars);
        let mut roots: Vec<_> = extra.iter().map(|&k| ids[k]).collect();
        roots.push(root);
        roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).expect("no limit"));
        let tape = compile(&pool, &roots, &ids).expect("inputs");
        assert_eq!(
            tape.batch_input_lanes() < n,
            ring,
            "{src:.40}: {} lanes",
            tape.batch_input_lanes()
        );
        let points = 45;
        let xs: Vec<f64> = (0..points * n).map(|k| (k as f64 * 0.37).cos()).collect();
        let mut batch = vec![0.0; points * tape.outputs()];
        tape.eval_batch(&xs, &mut batch).expect("lengths");
        for (p, row) in batch.chunks_exact(tape.outputs()).enumerate() {
            let one = tape.eval(&xs[p * n..(p + 1) * n]).expect("arity");
            let same = one.iter().zip(row).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{src:.40}: point {p}");
            for (k, &input) in extra.iter().enumerate() {
                assert_eq!(
                    row[k],
                    xs[p * n + input],
                    "{src:.40}: input {input}, point {p}"
                );
            }
        }
    }
}
