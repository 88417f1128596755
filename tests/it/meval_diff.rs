//! The differential test against meval 0.2, the grammar's reference: over generated
//! expressions, wherever meval parses and gives a finite value, nabla parses and gives the
//! same value.

use nabla::engine::{compile, Pool};

use crate::support::{close, expr, syms};

/// A small deterministic generator (xorshift), so the 10,000 expressions are the same on
/// every run and a failure can be replayed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn space(&mut self) -> &'static str {
        ["", "", " ", "  ", "\t"][self.below(5)]
    }

    fn number(&mut self) -> String {
        match self.below(6) {
            0 => format!("{}", self.below(10)),
            1 => format!("{}.{}", self.below(10), self.below(100)),
            2 => format!("{}.", self.below(5)),
            3 => format!("{}e{}", 1 + self.below(9), self.below(3)),
            4 => format!("{}.{}E-{}", self.below(9), self.below(9), self.below(3)),
            _ => self.pick(&["pi", "e"]).to_string(),
        }
    }

    fn expr(&mut self, depth: usize) -> String {
        if depth == 0 || self.below(4) == 0 {
            return match self.below(3) {
                0 => self.number(),
                _ => self.pick(&["x", "y"]).to_string(),
            };
        }
        let s = self.space();
        match self.below(9) {
            0..=3 => {
                let op = self.pick(&["+", "-", "*", "/", "%", "^"]);
                let (a, b) = (self.expr(depth - 1), self.expr(depth - 1));
                if self.below(3) == 0 {
                    format!("{a}{s}{op}{s}{b}")
                } else {
                    format!("({a}){s}{op}{s}({b})")
                }
            }
            4 => format!(
                "{}{}",
                self.pick(&["-", "+", "--", "-+"]),
                self.expr(depth - 1)
            ),
            5 => format!("({}{s})", self.expr(depth - 1)),
            6 => {
                let f = self.pick(&["max", "min"]);
                let n = 1 + self.below(3);
                let args: Vec<String> = (0..n).map(|_| self.expr(depth - 1)).collect();
                format!("{f}{s}({})", args.join(&format!(",{s}")))
            }
            7 => format!("atan2({}, {})", self.expr(depth - 1), self.expr(depth - 1)),
            _ => {
                let f = self.pick(&[
                    "sqrt", "exp", "ln", "abs", "sin", "cos", "tan", "asin", "acos", "atan",
                    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "round",
                    "signum",
                ]);
                format!("{f}({})", self.expr(depth - 1))
            }
        }
    }
}

#[test]
fn nabla_agrees_with_meval_on_ten_thousand_expressions() {
    let mut gen = Gen(0x2545_f491_4f6c_dd1d);
    let (mut compared, mut meval_rejected, mut signed_zero) = (0, 0, 0);
    for i in 0..10_000 {
        let src = gen.expr(4);
        let (x, y) = (
            0.25 + gen.below(40) as f64 / 8.0 - 2.5,
            gen.below(40) as f64 / 8.0 - 2.5,
        );
        let meval_value = std::panic::catch_unwind(|| {
            let e: meval::Expr = src.parse().ok()?;
            let mut ctx = meval::Context::new();
            ctx.var("x", x).var("y", y);
            e.eval_with_context(ctx).ok()
        });
        let Ok(Some(want)) = meval_value else {
            meval_rejected += 1;
            continue;
        };
        let mut pool = Pool::new();
        let root = expr(&mut pool, &src);
        let inputs = syms(&mut pool, &["x", "y"]);
        let got = compile(&pool, &[root], &inputs)
            .expect("x and y")
            .eval(&[x, y])
            .expect("arity")[0];
        if !want.is_finite() {
            continue;
        }
        compared += 1;
        // Canonical reordering changes rounding: compare to a tolerance, and near zero
        // (cancellation) absolutely.
        if close(got, want, 1e-7) {
            continue;
        }
        // Canonical forms do not keep the sign of a zero (`(-y)*(y - y)` is +0, meval
        // computes -0), and only atan2 and signum tell the two apart by a jump.
        assert!(
            src.contains("atan2") || src.contains("signum"),
            "#{i}: {src} at x={x}, y={y}: nabla {got}, meval {want}"
        );
        signed_zero += 1;
    }
    assert!(
        compared > 5_000,
        "only {compared} compared ({meval_rejected} rejected by meval)"
    );
    assert!(
        signed_zero * 500 < compared,
        "{signed_zero} of {compared} differ by a zero's sign"
    );
}
