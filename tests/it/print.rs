//! Printing: text that parses back to the same node, and LaTeX.

use nabla::engine::{diff, print, Pool};

use crate::support::{expr, syms};

/// Prints `src` and its gradient, parses each back into the same pool, and checks it is
/// the same node.
fn check_round_trip(src: &str) {
    let mut pool = Pool::new();
    let root = expr(&mut pool, src);
    let vars = pool.free_symbols(&[root]);
    let names: Vec<&str> = vars.iter().map(String::as_str).collect();
    let ids = syms(&mut pool, &names);
    let mut all = vec![root];
    all.extend(diff::gradient(&mut pool, root, &ids, 1_000_000).expect("small"));
    for id in all {
        let text = print::text(&pool, id);
        let back = expr(&mut pool, &text);
        assert_eq!(
            back,
            id,
            "{src}: {text} parses to {}",
            print::text(&pool, back)
        );
    }
}

#[test]
fn printed_text_parses_back_to_the_same_node() {
    for src in [
        "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))",
        "x - 2*x*y^3*z*exp(u)/(1 + exp(u))",
        "x^y^z",
        "(x^y)^z",
        "x^(-y)",
        "(-x)^y",
        "(-2)^x",
        "-x^2",
        "-(x*y)^0.5",
        "x % y % z",
        "(x % y) * 2",
        "-x % -y",
        "x % (y*z)",
        "2^x % 3",
        "max(x, y, z) - min(x, 1)",
        "atan2(y, x) + hypot(x, y)",
        "sqrt(x*y)/sqrt(1 + x)",
        "1/(x*y*z^2)",
        "x/(y + z)",
        "x^-1.5*y",
        "1e-300*x + 1e300*y + 0.1*z",
        "1e999*x - 1e999",
        "0/0 + x",
        "1/0*x",
        "e^x + pi*x + exp(1)",
        "sigmoid(x) + softplus(-x)",
        "sign(x)*signum(y)*abs(z)*floor(x)*ceil(y)*round(z)*trunc(x)",
        "tan(x)*asin(x)*acos(x)*atan(x)*sinh(x)*cosh(x)*tanh(x)*asinh(x)*acosh(y)*atanh(x)",
        "log2(x) + log10(y)",
        "-0",
        "-0*x",
        "x - y - z",
        "-x - y",
        "-(1 + x)",
        "hypot(x, (y * sqrt((y)^2)))",
        "sqrt(y^2)*sqrt(y^2)*y",
        // A negative quotient right of `%` (found by fuzzing: `B % -1/B^9.98e100` read
        // back as `(B % -1)/B^...`).
        "x % (-1/y^2)",
        "x % (-y)",
        "8rB-B%-B**-998e98e",
        "x^(2/3) + 1/3 + 2x/3",
    ] {
        check_round_trip(src);
    }
}

#[test]
fn latex() {
    let cases = [
        (
            "exp(u)/(1 + exp(u))",
            r"\frac{\exp\left(u\right)}{1 + \exp\left(u\right)}",
        ),
        ("x^2*ln(y)", r"x^{2} \ln\left(y\right)"),
        ("sqrt(x + 1)", r"\sqrt{1 + x}"),
        ("2*x1*alpha", r"2 \alpha x_{1}"),
        ("-x/(y*z)", r"-\frac{x}{y z}"),
        ("abs(x) + pi", r"\pi + \left|x\right|"),
        ("(x + y)^2", r"\left(x + y\right)^{2}"),
        ("x^(2*y)", r"x^{2 y}"),
        ("3e300*x", r"3 \cdot 10^{300} x"),
        ("sigmoid(w_1)", r"\operatorname{sigmoid}\left(w_{1}\right)"),
    ];
    for (src, tex) in cases {
        let mut pool = Pool::new();
        let id = expr(&mut pool, src);
        assert_eq!(print::latex(&pool, id), tex, "latex of {src}");
    }
}
