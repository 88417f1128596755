//! The grammar and its errors, as data.

use nabla::engine::expr::Scope;
use nabla::engine::parse::{parse, ParseOptions};
use nabla::engine::{read, Pool};

use crate::support::{ast, env_f64, reference};

/// `src` evaluates (by the reference interpreter, x = 2, y = 3) to `expected`.
fn check_value(src: &str, expected: f64) {
    let v = reference::<f64>(&ast(src), &env_f64(&["x", "y"], &[2.0, 3.0]));
    assert!(
        v == expected || (v - expected).abs() < 1e-12 * expected.abs().max(1.0),
        "{src}: {v} != {expected}"
    );
}

#[test]
fn precedence_and_associativity() {
    let cases: &[(&str, f64)] = &[
        ("2^3^2", 512.0),
        ("2**3**2", 512.0),
        ("-x^2", -4.0),
        ("x^-2", 0.25),
        ("2^-x*3", 0.75),
        ("--x", 2.0),
        ("+-+x", -2.0),
        ("x - y - 1", -2.0),
        ("x / y / 2", 1.0 / 3.0),
        ("7 % 3 * 2", 2.0),
        ("-7 % 3", -1.0),
        ("x * y % 4", 2.0),
        ("1 + 2 * 3 ^ 2", 19.0),
        ("(1 + 2) * 3", 9.0),
        (".5 + 1. + 1e-3 + 6.02E+23", 0.5 + 1.0 + 1e-3 + 6.02e23),
        ("2.5e1", 25.0),
        ("sin (0)", 0.0),
        ("max(1, x, y)", 3.0),
        ("min(4)", 4.0),
        ("atan2(1, 1)", std::f64::consts::FRAC_PI_4),
        ("pow(x, y)", 8.0),
        ("hypot(3, 4)", 5.0),
        ("log(e)", 1.0),
        // Products as students write them.
        ("3x^2", 12.0),
        ("2(x+1)", 6.0),
        ("(x+1)(x-1)", 3.0),
        ("(x+1)2 + (x)(x)", 10.0),
        ("2pi - 2*pi", 0.0),
        ("x y - 2 x y + 2x y", 6.0),
        ("2x^2", 8.0),
        ("1/2x", 1.0),
        ("-2x", -4.0),
        ("x^2y", 12.0),
        ("2e3 - 2000", 0.0),
        ("2e - 2*e", 0.0),
        ("2e-x - (2*e - x)", 0.0),
        ("2sin(x)cos(x) - sin(2x)", 0.0),
        // Functions applied as textbooks write them, without parentheses.
        ("sec x - 1/cos(x)", 0.0),
        ("sin 2x - sin(2*x)", 0.0),
        ("sin x^2 - sin(x^2)", 0.0),
        ("sin x cos x - sin(x)*cos(x)", 0.0),
        ("sin x/2 - sin(x)/2", 0.0),
        ("2 sin x - 2*sin(x)", 0.0),
        ("ln x + 1 - (ln(x) + 1)", 0.0),
        ("sqrt 2 x", 2.0),
        ("sin x y - sin(x*y)", 0.0),
        ("log(8, 2) + log(100, 10)", 5.0),
        ("sec(0) + csc(pi/2) + sech(0)", 3.0),
        ("cbrt(-8) + root(-27, 3) + root(16, 4)", -3.0),
        ("arcsin(1) - asin(1) + arccos(1) + arctan(0)", 0.0),
        ("arsinh(0) + arcosh(1) + artanh(0) + sgn(-3)", -1.0),
        ("erf(0) + erfc(0)", 1.0),
        ("acot(1) - atan(1) + asec(1) + acsc(1) - pi/2", 0.0),
        ("log2(8) + log10(1000)", 6.0),
        ("signum(0) + sign(0)", 1.0),
        ("round(2.5) + round(-2.5)", 0.0),
        ("x\u{2212}1", 1.0),
        ("x\u{b7}y", 6.0),
        ("x\u{d7}y", 6.0),
        (" \t\nx\r\n", 2.0),
    ];
    for &(src, v) in cases {
        check_value(src, v);
    }
}

/// `src` fails with `code`, a message containing `message`, at `span`.
fn check_error(src: &str, code: &str, message: &str, span: (usize, usize)) {
    let mut pool = Pool::new();
    let opts = ParseOptions {
        max_depth: 50,
        max_bytes: 1000,
    };
    let err = read(
        &mut pool,
        src,
        Scope {
            bound: &["x".into()],
            closed: true,
        },
        &opts,
    )
    .expect_err(src);
    let answered = nabla::service::error::ApiError::expression(&err, None);
    assert_eq!(answered.code, code, "{src}: {err}");
    assert!(
        err.to_string().contains(message),
        "{src}: {err:?} lacks {message:?}"
    );
    assert_eq!((err.span().start, err.span().end), span, "{src}: {err}");
}

#[test]
fn errors_have_kind_span_and_a_readable_message() {
    let long = "x+".repeat(600) + "x";
    let cases: &[(&str, &str, &str, (usize, usize))] = &[
        ("", "parse_error", "empty", (0, 0)),
        ("   ", "parse_error", "empty", (0, 3)),
        (
            "sin(x + 1",
            "parse_error",
            "expected ')' to close '(' opened at 3",
            (3, 9),
        ),
        (
            "(x + 1",
            "parse_error",
            "expected ')' to close '(' opened at 0",
            (0, 6),
        ),
        ("x + 1)", "parse_error", "unmatched ')'", (5, 6)),
        (
            "sinn(x)",
            "unknown_function",
            "unknown function 'sinn'; did you mean 'sin'?",
            (0, 4),
        ),
        ("expp(x)", "unknown_function", "did you mean 'exp'?", (0, 4)),
        (
            "sinc(x)",
            "unknown_function",
            "'sinc' is not a function of the language; write sin(x)/x",
            (0, 4),
        ),
        (
            "gamma(x)",
            "unknown_function",
            "'gamma' is not a function of the language; the gamma function is not supported",
            (0, 5),
        ),
        ("f(x)", "unknown_function", "unknown function 'f'", (0, 1)),
        (
            "log(x, 2, 3)",
            "arity_mismatch",
            "'log' takes 1 or 2 arguments, found 3",
            (0, 12),
        ),
        (
            "frobnicate(x)",
            "unknown_function",
            "unknown function 'frobnicate'",
            (0, 10),
        ),
        (
            "atan2(x)",
            "arity_mismatch",
            "'atan2' takes 2 arguments, found 1",
            (0, 8),
        ),
        (
            "sin(x, x)",
            "arity_mismatch",
            "'sin' takes 1 argument, found 2",
            (0, 9),
        ),
        (
            "max()",
            "arity_mismatch",
            "'max' takes 1 or more arguments, found 0",
            (0, 5),
        ),
        (
            "2 3",
            "parse_error",
            "expected an operator or the end of the expression, found a number",
            (2, 3),
        ),
        (
            "x(x + 1)",
            "unknown_function",
            "unknown function 'x'; for a product, write x*(x + 1)",
            (0, 1),
        ),
        (
            "x +",
            "parse_error",
            "found the end of the expression",
            (3, 3),
        ),
        (
            "x * * x",
            "parse_error",
            "expected a number, a name or '(', found '*'",
            (4, 5),
        ),
        ("x2 3", "parse_error", "found a number", (3, 4)),
        ("x é", "parse_error", "unexpected character 'é'", (2, 4)),
        ("x + .", "parse_error", "'.' is not a number", (4, 5)),
        (
            "sin + 1",
            "parse_error",
            "'sin' is a function; call it as sin(...)",
            (0, 3),
        ),
        (
            "max x",
            "parse_error",
            "'max' is a function; call it as max(...)",
            (0, 3),
        ),
        ("x + q", "unknown_variable", "unknown variable 'q'", (4, 5)),
        (&long, "limit_exceeded", "over the limit of 1000", (0, 1201)),
    ];
    for &(src, code, message, span) in cases {
        check_error(src, code, message, span);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let opts = ParseOptions {
        max_depth: 200,
        max_bytes: 10_000_000,
    };
    for src in [
        "(".repeat(100_000) + "x" + &")".repeat(100_000),
        "-".repeat(100_000) + "x",
        "2^".repeat(100_000) + "x",
        "sin(".repeat(100_000) + "x" + &")".repeat(100_000),
        "(".repeat(100_000),
    ] {
        let err = parse(&src, &opts).expect_err("too deep");
        assert!(
            err.to_string().contains("deeper than the limit of 200"),
            "{err}"
        );
    }
    // Long flat chains are not deep: they parse, and lower without recursion.
    let sum = vec!["x"; 100_000].join(" + ");
    let mut pool = Pool::new();
    let id = read(&mut pool, &sum, Scope::default(), &opts).expect("flat");
    assert_eq!(nabla::engine::print::text(&pool, id), "100000*x");
    let rem = vec!["x"; 50_000].join(" % ");
    assert!(read(&mut pool, &rem, Scope::default(), &opts).is_ok());
}

#[test]
fn render_points_a_caret_at_the_span() {
    let src = "sin(x + 1";
    let err = parse(src, &ParseOptions::default()).expect_err("unclosed");
    assert_eq!(
        err.render(src),
        "sin(x + 1\n   ^^^^^^ expected ')' to close '(' opened at 3"
    );
}
