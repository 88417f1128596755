//! Canonical forms: spellings of one function that must be one node.

use nabla::engine::Pool;

use nabla::engine::expr::Scope;
use nabla::engine::parse::ParseOptions;
use nabla::engine::{compile, read};

use crate::support::{canonical, expr, syms};

/// `a` and `b` are the same node of one pool, and have the same structural hash in two
/// pools built in different orders.
fn check_same(a: &str, b: &str) {
    let mut pool = Pool::new();
    let (x, y) = (expr(&mut pool, a), expr(&mut pool, b));
    assert_eq!(
        x,
        y,
        "{a} and {b} should be one node: {} vs {}",
        canonical(a),
        canonical(b)
    );
    let (mut p1, mut p2) = (Pool::new(), Pool::new());
    let (h1, h2) = (expr(&mut p1, a), expr(&mut p2, b));
    assert_eq!(
        p1.hash(h1),
        p2.hash(h2),
        "{a} / {b}: hash depends on construction order"
    );
}

fn check_different(a: &str, b: &str) {
    let mut pool = Pool::new();
    let (x, y) = (expr(&mut pool, a), expr(&mut pool, b));
    assert_ne!(x, y, "{a} and {b} are different functions");
}

#[test]
fn equal_spellings_are_one_node() {
    let cases = [
        ("x*y", "y*x"),
        ("a + sin(b)", "sin(b) + a"),
        ("x + x", "2*x"),
        ("x*x", "x^2"),
        ("x*x*x", "x^3"),
        ("x^2*x^3", "x^5"),
        ("x^a*x^b", "x^(a+b)"),
        ("x*1", "x"),
        ("x + 0", "x"),
        ("x^1", "x"),
        ("x^0", "1"),
        ("1^x", "1"),
        ("0*x", "0"),
        ("0*sin(x)*exp(y)", "0"),
        ("x - x", "0"),
        ("(x*y)^2", "x^2*y^2"),
        ("(x^3)^2", "x^6"),
        ("sqrt(x)", "x^0.5"),
        ("pow(x, 3)", "x^3"),
        ("log(x)", "ln(x)"),
        ("x/y", "x*y^-1"),
        ("x - y", "x + -1*y"),
        ("ln(exp(x))", "x"),
        ("ln(e)", "1"),
        ("2*3*x", "6*x"),
        ("sin(0) + x", "x"),
        ("max(x, y)", "max(y, x)"),
        ("min(x, y, z)", "min(min(x, y), z)"),
        ("hypot(x, y)", "hypot(y, x)"),
        ("x*y*z", "z*(y*x)"),
        ("(a+b)+(c+d)", "d+c+b+a"),
        ("1/(x*y)", "x^-1*y^-1"),
        ("x/x", "1"),
        ("  x   *y ", "y*x"),
        ("3*x - x - 2*x + y", "y"),
    ];
    for (a, b) in cases {
        check_same(a, b);
    }
}

#[test]
fn differences_of_spellings_of_one_sum_vanish() {
    // A multiple of a sum is a product, not multiplied out, but a sum takes it in
    // term by term: the difference of two spellings is 0.
    let cases = [
        ("2*(x + y)", "2*x + 2*y"),
        ("-(x - y)", "y - x"),
        ("3*(x - 2*y) - x", "2*x - 6*y"),
        ("200*(x1 - x0^2)", "200*x1 - 200*x0^2"),
        ("-(a + b)/2", "-a/2 - b/2"),
    ];
    for (a, b) in cases {
        let mut pool = Pool::new();
        let (x, y) = (expr(&mut pool, a), expr(&mut pool, b));
        let d = pool.sub(x, y);
        assert_eq!(pool.node(d).as_num(), Some(0.0), "{a} - ({b})");
        let d = pool.sub(y, x);
        assert_eq!(pool.node(d).as_num(), Some(0.0), "{b} - ({a})");
    }
}

#[test]
fn unsafe_identities_are_not_applied() {
    let cases = [
        ("0*ln(x)", "0"), // undefined for x <= 0
        ("ln(x) - ln(x)", "0"),
        ("(x^2)^0.5", "x"),  // that is abs(x)
        ("exp(ln(x))", "x"), // undefined for x <= 0
        ("x^y*x", "x^y"),
        ("e", "2.718281828459045"),
        ("max(x, y)", "min(x, y)"),
        ("x % y", "y % x"),
        ("atan2(y, x)", "atan2(x, y)"),
    ];
    for (a, b) in cases {
        check_different(a, b);
    }
}

#[test]
fn canonical_text() {
    let cases = [
        ("y*x + x + x", "2*x + x*y"),
        (
            "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))",
            "y*z + 0.5*x^2 - ln(1 + exp(x^2*y^3*z))",
        ),
        (
            "x - 2*x*y^3*z*exp(u)/(1 + exp(u))",
            "x - 2*x*y^3*z*exp(u)/(1 + exp(u))",
        ),
        ("x/(2*y)", "0.5*x/y"),
        ("1/(x*y)", "1/(x*y)"),
        ("-x^2", "-x^2"),
        ("(-2)^x", "(-2)^x"),
        ("x^(2*y)", "x^(2*y)"),
        ("x^y^z", "x^y^z"),
        ("(x^y)^z", "(x^y)^z"),
        ("x^(-y)", "x^(-y)"),
        ("sqrt(1 + x)", "sqrt(1 + x)"),
        ("1/sqrt(x)", "1/sqrt(x)"),
        ("x % (y + 1)", "x % (1 + y)"),
        ("(x + 1) % y * 2", "2*((1 + x) % y)"),
        ("2*pi*x", "2*x*pi"),
        ("1e-7*x + 3e300", "3e300 + 1e-7*x"),
        ("1/0", "0^(-1)"),
        ("-(x + y)", "-(x + y)"),
        ("2*(x + y)", "2*(x + y)"),
        ("x - (y + z)", "x - y - z"),
        ("2*(x + y) - 2*x", "2*y"),
    ];
    for (src, text) in cases {
        assert_eq!(canonical(src), text, "canonical text of {src}");
    }
}

/// Hash-consing holds in large pools, where the table has grown many times and, past
/// `filing::FILE_FROM` entries, files nodes by their newest child: a node met again is
/// found, whichever order its sum is spelled in, also when thousands of nodes share that
/// child (products of one late `y`). The compiler's instruction table files the same way
/// for such a pool: the compiled value is the sum computed directly.
#[test]
fn large_pools_find_every_node_again() {
    let n = 9000;
    let terms: Vec<String> = (0..n)
        .map(|i| format!("y*x{i} + sin(x{i} - x{}^2)", i + 1))
        .collect();
    let forward = terms.join(" + ");
    let backward = terms.iter().rev().cloned().collect::<Vec<_>>().join(" + ");
    let opts = ParseOptions {
        max_bytes: usize::MAX,
        ..ParseOptions::default()
    };
    let mut pool = Pool::new();
    let read_in =
        |pool: &mut Pool, src: &str| read(pool, src, Scope::default(), &opts).expect("parses");
    // Term by term first, so the table grows by doubling while it fills, switching to
    // filing (and rehashing) on the way.
    for t in &terms {
        read_in(&mut pool, t);
    }
    let size = pool.len();
    assert!(size > 1 << 15, "{size} nodes: too few to file by anchor");
    let a = read_in(&mut pool, &forward);
    assert_eq!(
        pool.len(),
        size + 1,
        "the terms should be found, only the sum is new"
    );
    assert_eq!(read_in(&mut pool, &forward), a);
    assert_eq!(read_in(&mut pool, &backward), a);
    assert_eq!(pool.len(), size + 1, "reading it again made new nodes");

    let names: Vec<String> = (0..=n)
        .map(|i| format!("x{i}"))
        .chain(["y".into()])
        .collect();
    let vars: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = syms(&mut pool, &vars);
    let tape = compile(&pool, &[a], &ids).expect("inputs");
    let x: Vec<f64> = (0..=n + 1).map(|i| (i as f64 * 0.37).cos()).collect();
    let y = x[n + 1];
    let want: f64 = (0..n)
        .map(|i| y * x[i] + (x[i] - x[i + 1] * x[i + 1]).sin())
        .sum();
    let got = tape.eval(&x).expect("arity")[0];
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{got} vs {want}"
    );
}

#[test]
fn exact_numbers_read_and_compute_exactly_within_their_bound() {
    use nabla::engine::expr::exact::Rational;
    let r = |n: i128, d: i128| Rational::new(n, d).unwrap();
    let cases: &[(&str, Option<Rational>)] = &[
        ("0.1", Some(r(1, 10))),
        ("2", Some(r(2, 1))),
        (".5", Some(r(1, 2))),
        ("1.", Some(r(1, 1))),
        ("6.02E+23", None),
        ("6.02E+3", Some(r(6020, 1))),
        ("1e-3", Some(r(1, 1000))),
        ("2.50e1", Some(r(25, 1))),
        ("0.000", Some(r(0, 1))),
        ("1e300", None),
        ("123456789012345678901", None),
    ];
    for (text, want) in cases {
        assert_eq!(Rational::from_literal(text), *want, "{text}");
        if let Some(w) = want {
            assert_eq!(w.to_f64(), text.parse::<f64>().unwrap(), "{text}");
        }
    }
    assert_eq!(r(4, 5).checked_add(r(-1, 1)), Some(r(-1, 5)));
    assert_eq!(r(2, 3).checked_mul(r(3, 4)), Some(r(1, 2)));
    assert_eq!(r(2, 3).powi(-2), Some(r(9, 4)));
    assert_eq!(
        r(1 << 40, 1).checked_mul(r(1 << 20, 1)),
        None,
        "past 2^53 a number is a float"
    );
    assert_eq!(Rational::from_f64(0.375), Some(r(3, 8)));
    assert_eq!(
        Rational::from_f64(0.1),
        None,
        "0.1 as an f64 is no small dyadic"
    );
}

proptest::proptest! {
    /// A decimal literal's rational rounds to the f64 the literal parses to, so exact
    /// numbers evaluate as before.
    #[test]
    fn a_literals_rational_rounds_to_its_f64(int in 0u64..1_000_000_000, frac in 0u64..1_000_000, digits in 0usize..7, exp in -12i32..12) {
        let text = format!("{int}.{:0digits$}e{exp}", frac % 10u64.pow(digits as u32), digits = digits);
        if let Some(r) = nabla::engine::expr::exact::Rational::from_literal(&text) {
            proptest::prop_assert_eq!(r.to_f64(), text.parse::<f64>().unwrap(), "{}", text);
        }
    }
}
