//! The function table, entry by entry: every function's value and derivatives against the
//! test oracle's own definitions (dual numbers, `support.rs`), and its spellings reading
//! back. A function added to the table is tested here with no change to this file.

use nabla::engine::func::{lookup, Func, Spelling, NAMES};
use nabla::engine::print;
use nabla::engine::Pool;

use crate::support::{ast, close, dual_partial, env_f64, expr, reference, value_and_gradient_tape};

/// `f` applied to `x` (and `y`), as the language writes it.
pub fn call(f: Func) -> String {
    match (f.spelling(), f.arity()) {
        (Spelling::Infix { text, .. }, _) => format!("x {text} y"),
        (_, 1) => format!("{}(x)", f.name()),
        _ => format!("{}(x, y)", f.name()),
    }
}

#[test]
fn every_function_agrees_with_the_oracle_in_value_and_derivatives() {
    let grid: Vec<f64> = (-80..=80).map(|i| f64::from(i) * 0.0369 + 0.011).collect();
    for &f in Func::ALL {
        let src = call(f);
        let tape = value_and_gradient_tape(&src, &["x", "y"]);
        let a = ast(&src);
        let mut checked = 0;
        for (i, &x) in grid.iter().enumerate() {
            let y = grid[(i * 7 + 3) % grid.len()] * 1.3;
            let p = [x, y];
            let want = reference::<f64>(&a, &env_f64(&["x", "y"], &p));
            let got = tape.eval(&p).expect("lengths");
            if !want.is_finite() {
                continue;
            }
            assert!(
                close(got[0], want, 1e-12),
                "{src} at {p:?}: {} against {want}",
                got[0]
            );
            for k in 0..2 {
                let d = dual_partial(&a, &["x", "y"], &p, k);
                if d.is_finite() {
                    assert!(
                        close(got[k + 1], d, 1e-9),
                        "d/d{k} {src} at {p:?}: {} against {d}",
                        got[k + 1]
                    );
                }
            }
            checked += 1;
        }
        assert!(checked >= 20, "{src}: only {checked} points in the domain");
    }
}

#[test]
fn every_function_reads_back_as_printed_and_has_latex() {
    for &f in Func::ALL {
        let src = call(f);
        let mut pool = Pool::new();
        let id = expr(&mut pool, &src);
        let text = print::text(&pool, id);
        let again = expr(&mut pool, &text);
        assert_eq!(id, again, "{src} printed {text}");
        let latex = print::latex(&pool, id);
        assert!(
            latex.contains('x') && latex.contains('\\'),
            "{src}: {latex}"
        );
    }
}

#[test]
fn every_name_resolves_and_every_called_function_has_a_name() {
    for (name, builtin) in NAMES {
        assert_eq!(lookup(name), Some(builtin), "{name}");
    }
    for &f in Func::ALL {
        let named = NAMES.iter().any(|(n, _)| *n == f.name());
        assert_eq!(named, matches!(f.spelling(), Spelling::Call(_)), "{f:?}");
        assert_eq!(f.derivative().len(), f.arity(), "{f:?}");
    }
}
