//! Machine code against the interpreter: every operation, emits of every kind of slot,
//! programs past the short displacements, when the code is made, and random programs over
//! every function of the language (smooth ones also in `props`).

use nabla::engine::expr::Scope;
use nabla::engine::func::{Func, NAMES};
use nabla::engine::native;
use nabla::engine::op::Op;
use nabla::engine::parse::ParseOptions;
use nabla::engine::tape::{Emit, Instr};
use nabla::engine::{compile, diff, read, Executable, Pool, Tape};
use proptest::prelude::*;

use crate::support::value_and_gradient_tape;

/// The value and gradient of `src` in `vars`, ready to run as machine code.
fn exe(src: &str, vars: &[&str]) -> Executable {
    Executable::new(value_and_gradient_tape(src, vars))
}

/// Numbers that take every branch: signs, zeros, the edges of domains, huge, tiny,
/// infinite and NaN.
pub const SPECIAL: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.75,
    2.5,
    -3.25,
    800.0,
    -800.0,
    1e300,
    -1e-310,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    0.3,
];

/// Whether two results are the same number: the same bits, or both NaN (a NaN's payload
/// is not part of the contract, and JSON has no NaN).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Evaluates `tape` at `point` by machine code and by the interpreter and compares the
/// results bit for bit. The machine code is made first where the platform allows.
pub fn check_native(tape: &Executable, point: &[f64], what: &str) {
    assert_eq!(tape.make_native(), native::available(), "{what}");
    let mut scratch = Vec::new();
    let (mut by_code, mut by_interpreter) = (
        vec![0.0; tape.tape().outputs()],
        vec![0.0; tape.tape().outputs()],
    );
    tape.eval_into(point, &mut by_code, &mut scratch)
        .expect("lengths");
    tape.tape()
        .eval_into(point, &mut by_interpreter, &mut Vec::new())
        .expect("lengths");
    for (k, (a, b)) in by_code.iter().zip(&by_interpreter).enumerate() {
        assert!(
            same(*a, *b),
            "{what} at {point:?}, output {k}: machine code {a:e}, interpreter {b:e}"
        );
    }
}

#[test]
fn every_operation_gives_the_interpreters_bits() {
    let exprs = [
        "x + y",
        "x - y",
        "x*y",
        "x/y",
        "-x",
        "1/x",
        "sqrt(x)",
        "x^y",
        "x^2.5",
        "softplus(x)",
        "softplus(-x)",
        "sigmoid(x)",
        "sigmoid(-x)",
        "x*y + x",
        "x - y*sin(x)",
        "x*y - sin(x)",
        "x*y*sin(x)",
    ];
    // And every function of the table, called.
    let calls: Vec<String> = Func::ALL.iter().map(|&f| crate::funcs::call(f)).collect();
    let mut seen = Vec::new();
    for src in exprs.into_iter().chain(calls.iter().map(String::as_str)) {
        let tape = exe(src, &["x", "y"]);
        seen.extend(tape.tape().instrs().iter().map(|i| i.op));
        for &x in &SPECIAL {
            for &y in &SPECIAL {
                check_native(&tape, &[x, y], src);
            }
        }
    }
    // The compiler lowers sigmoid and softplus to their shared-exponential forms, so only
    // single instructions (below) run their own operations.
    let missing: Vec<Op> = Op::ALL
        .iter()
        .copied()
        .filter(|op| !seen.contains(op))
        .collect();
    assert_eq!(
        missing,
        [Op::Sigmoid, Op::Softplus],
        "no expression above runs them"
    );
}

#[test]
fn every_operation_alone_gives_the_interpreters_bits() {
    for &op in Op::ALL {
        // Inputs in slots 0 and 1, the result in slot 2.
        let instr = Instr {
            op,
            dst: 2,
            a: 0,
            b: if op.operands() >= 2 { 1 } else { 0 },
            c: if op.operands() == 3 { 1 } else { 0 },
        };
        let emit = Emit {
            at: 1,
            output: 0,
            slot: 2,
        };
        let tape = Tape::new(vec![instr], 3, vec![], 2, 1, vec![emit]).expect("valid");
        let tape = Executable::new(tape);
        for &x in &SPECIAL {
            for &y in &SPECIAL {
                check_native(&tape, &[x, y], &format!("{op:?}"));
            }
        }
    }
}

#[test]
fn outputs_that_are_inputs_or_constants_are_read_out() {
    // d/dx = y (an input), d/dy = x + 3, d/dz = 3 (a constant), value read out early.
    let tape = exe("x*y + 3*z + 3*y", &["x", "y", "z"]);
    check_native(&tape, &[1.5, -2.0, 0.25], "inputs and constants");
    let mut out = [0.0; 4];
    tape.eval_into(&[1.5, -2.0, 0.25], &mut out, &mut Vec::new())
        .expect("lengths");
    assert_eq!(out, [-8.25, -2.0, 4.5, 3.0]);
}

#[test]
fn programs_past_the_short_displacements_give_the_interpreters_bits() {
    // 60 inputs, 61 outputs, 78 slots: offsets past 127 bytes (slot 16 on) take the long
    // encoding.
    let n = 60;
    let tape = exe(
        &crate::rosenbrock(n),
        &(0..n)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(tape.tape().slots() > 16, "{} slots", tape.tape().slots());
    for k in 0..5 {
        let point: Vec<f64> = (0..n)
            .map(|i| ((i * 7 + k * 13) % 17) as f64 / 4.0 - 2.0)
            .collect();
        check_native(&tape, &point, "rosenbrock 60");
    }
}

#[test]
fn no_number_of_the_request_is_in_the_code() {
    // Constants are read from memory, never immediates: no eight bytes a request chose lie
    // in executable memory.
    let tape = exe("1234.5678*sin(x) + exp(-0.123456789*y)", &["x", "y"]);
    if !tape.make_native() {
        return;
    }
    let code = tape.native_code().expect("made");
    for v in [1234.5678f64, 0.123456789] {
        // The program has the constant (its value and its derivative multiply by it)...
        assert!(format!("{tape:?}").contains(&format!("{v:?}")), "{tape:?}");
        // ...and its code does not.
        let bits = v.to_bits().to_le_bytes();
        assert!(!code.windows(8).any(|w| w == bits), "{v} in the code");
    }
    check_native(&tape, &[0.5, -2.0], "constants");
}

#[test]
fn programs_past_the_limit_stay_interpreted() {
    // Rosenbrock in 1,700 dimensions: 16,988 instructions, a 68 KB expression (past the
    // test helpers' parse limit, so read here without one).
    let n = 1_700;
    let mut pool = Pool::new();
    let opts = ParseOptions {
        max_depth: 200,
        max_bytes: usize::MAX,
    };
    let root = read(&mut pool, &crate::rosenbrock(n), Scope::default(), &opts).expect("parses");
    let ids: Vec<_> = (0..n).map(|i| pool.sym(&format!("x{i}"))).collect();
    let mut roots = vec![root];
    roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).expect("no limit"));
    let tape = Executable::new(compile(&pool, &roots, &ids).expect("inputs"));
    assert!(
        tape.tape().len() > native::MAX_INSTRUCTIONS,
        "{}",
        tape.tape().len()
    );
    assert!(!tape.make_native());
    assert_eq!(tape.native_code(), None);
    let point: Vec<f64> = (0..n).map(|i| (i % 7) as f64 / 4.0).collect();
    let mut out = vec![0.0; n + 1];
    tape.eval_into(&point, &mut out, &mut Vec::new())
        .expect("lengths");
    assert_eq!(out[0], tape.eval(&point).expect("lengths")[0]);
}

#[test]
fn the_code_is_made_after_some_evaluations_at_one_point() {
    let tape = exe("x*sin(y)", &["x", "y"]);
    let mut out = [0.0; 3];
    for _ in 1..native::NATIVE_AFTER {
        tape.eval_into(&[1.0, 2.0], &mut out, &mut Vec::new())
            .expect("lengths");
    }
    assert_eq!(tape.native_code(), None);
    let first = out;
    tape.eval_into(&[1.0, 2.0], &mut out, &mut Vec::new())
        .expect("lengths");
    assert_eq!(tape.native_code().is_some(), native::available());
    assert_eq!(first.map(f64::to_bits), out.map(f64::to_bits));
    // A clone shares the code.
    let clone = tape.clone();
    assert_eq!(
        clone.native_code().map(<[u8]>::as_ptr),
        tape.native_code().map(<[u8]>::as_ptr)
    );
}

#[test]
fn wrong_lengths_are_errors_with_machine_code_too() {
    let tape = exe("x*y", &["x", "y"]);
    tape.make_native();
    let mut out = [0.0; 3];
    assert!(tape.eval_into(&[1.0], &mut out, &mut Vec::new()).is_err());
    assert!(tape
        .eval_into(&[1.0, 2.0], &mut out[..2], &mut Vec::new())
        .is_err());
    assert!(tape
        .eval_into(&[1.0, 2.0], &mut out, &mut Vec::new())
        .is_ok());
}

#[test]
fn threads_crossing_the_threshold_together_get_the_interpreters_bits() {
    let tape = exe("softplus(x*y) + atan2(y, x)*sqrt(abs(x))", &["x", "y"]);
    let point = |i: usize| [0.25 + i as f64 / 64.0, -1.5 + i as f64 / 128.0];
    let want: Vec<Vec<f64>> = (0..64)
        .map(|i| {
            let mut out = vec![0.0; 3];
            tape.tape()
                .eval_into(&point(i), &mut out, &mut Vec::new())
                .expect("lengths");
            out
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let (mut out, mut scratch) = (vec![0.0; 3], Vec::new());
                for k in 0..native::NATIVE_AFTER as usize {
                    let i = k % 64;
                    tape.eval_into(&point(i), &mut out, &mut scratch)
                        .expect("lengths");
                    assert!(out.iter().zip(&want[i]).all(|(a, b)| same(*a, *b)));
                }
            });
        }
    });
    assert_eq!(tape.native_code().is_some(), native::available());
}

/// Random expressions over x, y, z calling every function of the language (by its table,
/// so a function added later is drawn too) and every operator.
fn any_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => prop::sample::select(&["x", "y", "z"][..]).prop_map(str::to_string),
        1 => prop::sample::select(&["0", "1", "2", "0.5", "1e308", "pi"][..]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(4, 32, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["+", "-", "*", "/", "^", "%"][..]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (
                prop::sample::select(&NAMES[..]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|((name, f), a, b)| {
                    match f.arity() {
                        (1, Some(1)) => format!("{name}({a})"),
                        _ => format!("{name}({a}, {b})"),
                    }
                }),
        ]
    })
}

proptest! {
    // 400 cases by default; PROPTEST_CASES=N runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_program_gives_the_interpreters_bits(
        src in any_expr(),
        p in prop::collection::vec(prop_oneof![3 => -3.0f64..3.0, 1 => prop::sample::select(&SPECIAL[..])], 3),
    ) {
        let tape = exe(&src, &["x", "y", "z"]);
        check_native(&tape, &p, &src);
    }
}
