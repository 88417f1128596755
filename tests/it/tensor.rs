//! The tensor engine: shapes, canonical forms, matrix-level derivatives in matrix
//! notation, and evaluation against numpy-style linear algebra written out by hand.

use nabla::engine::parse::{parse, ParseOptions};
use nabla::engine::tensor::{self, diff, print, Dim, TId, TPool, TShape};
use nabla::engine::Budget;

fn shape_of<'a>(spec: &'a [(&'a str, &'a [u32])]) -> impl Fn(&str) -> Option<TShape> + 'a {
    move |name| {
        spec.iter().find(|(n, _)| *n == name).map(|(_, d)| match d {
            [] => TShape::SCALAR,
            [n] => TShape::new(Dim::Known(*n), Dim::Known(1)),
            [r, c, ..] => TShape::new(Dim::Known(*r), Dim::Known(*c)),
        })
    }
}

pub fn lower(pool: &mut TPool, src: &str, spec: &[(&str, &[u32])]) -> TId {
    let ast = parse(src, &ParseOptions::default()).unwrap();
    tensor::lower(&ast, pool, &shape_of(spec), true).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn text(pool: &TPool, id: TId) -> String {
    print::print(pool, &[id], false, 1 << 20).unwrap().remove(0)
}

const SPEC: &[(&str, &[u32])] = &[
    ("x", &[3]),
    ("a", &[3]),
    ("b", &[4]),
    ("A", &[4, 3]),
    ("S", &[3, 3]),
    ("w", &[3]),
    ("X", &[5, 3]),
    ("y", &[5]),
    ("t", &[]),
];

/// Gradients (and Hessians with respect to vectors) in matrix notation: each a handful of
/// nodes, written as a textbook would.
#[test]
fn derivatives_in_matrix_notation() {
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("a'*x", "x", "a", Some("zeros(3, 3)")),
        ("dot(a, x)", "x", "a", None),
        ("x'*S*x", "x", "S*x + S'*x", Some("S + S'")),
        ("x'*S*x", "S", "x*x'", None),
        ("1/2*norm(x)^2", "x", "x", Some("eye(3)")),
        ("1/2*norm(A*x - b)^2", "x", "A'*(A*x - b)", Some("A'*A")),
        ("tr(S*S')", "S", "2*S", None),
        ("logdet(S)", "S", "inv(S')", None),
        ("det(S)", "S", "det(S)*inv(S')", None),
        ("tr(inv(S))", "S", "-(inv(S')*inv(S'))", None),
        (
            "x'*inv(S)*x",
            "x",
            "inv(S)*x + inv(S')*x",
            Some("inv(S) + inv(S')"),
        ),
        ("exp(t)*sum(x.^2)", "t", "sum(x.^2)*exp(t)", None),
        ("norm1(x)", "x", "sign(x)", Some("zeros(3, 3)")),
        ("sum(diag(S))", "S", "eye(3)", None),
        ("sum(exp(x))", "x", "exp(x)", Some("diag(exp(x))")),
    ];
    for &(src, var, want, hessian) in cases {
        let mut pool = TPool::new(100_000);
        let f = lower(&mut pool, src, SPEC);
        let x = pool.symbol_node(var).unwrap();
        let g = diff::gradient(&mut pool, f, &[x], &Budget::default()).unwrap()[0];
        assert_eq!(text(&pool, g), want, "∇_{var} {src}");
        // The text reads back, with the same shapes, to the same node.
        assert_eq!(lower(&mut pool, want, SPEC), g, "{want} reads back");
        let latex = print::print(&pool, &[g], true, 1 << 20).unwrap().remove(0);
        assert!(!latex.is_empty() && !latex.contains('?'), "{latex}");
        if let Some(h) = hessian {
            match diff::jacobian(&mut pool, g, x, &Budget::default()).unwrap() {
                diff::Jacobian::Matrix(m) => {
                    assert_eq!(text(&pool, m), h, "H {src}");
                    assert_eq!(lower(&mut pool, h, SPEC), m, "{h} reads back");
                }
                j => panic!("{src}: {j:?}"),
            }
        }
    }
    // The logistic loss's Hessian is one product X'*diag(c)*X, never n formulas.
    let mut pool = TPool::new(100_000);
    let f = lower(&mut pool, "sum(ln(1 + exp(-y .* (X*w))))", SPEC);
    let w = pool.symbol_node("w").unwrap();
    let g = diff::gradient(&mut pool, f, &[w], &Budget::default()).unwrap()[0];
    let diff::Jacobian::Matrix(h) = diff::jacobian(&mut pool, g, w, &Budget::default()).unwrap()
    else {
        panic!("no matrix form");
    };
    let h = text(&pool, h);
    assert_eq!(
        h,
        "X'*diag((1 - sigmoid(-(X*w) .* y)) .* sigmoid(-(X*w) .* y) .* y.^2)*X"
    );
    assert_eq!(text(&pool, g), "-(X'*(sigmoid(-(X*w) .* y) .* y))");
}

/// Jacobians of vector expressions in matrix notation.
#[test]
fn jacobians_in_matrix_notation() {
    for (src, want) in [
        ("A*x", "A"),
        ("exp(x)", "diag(exp(x))"),
        ("S*x .* x", "diag(x)*S + diag(S*x)"),
        ("x*x'*w", "(x'*w)*eye(3) + x*w'"),
        ("t*x", "t*eye(3)"),
    ] {
        let mut pool = TPool::new(100_000);
        let f = lower(&mut pool, src, SPEC);
        let x = pool.symbol_node("x").unwrap();
        match diff::jacobian(&mut pool, f, x, &Budget::default()).unwrap() {
            diff::Jacobian::Matrix(m) => assert_eq!(text(&pool, m), want, "J({src})"),
            j => panic!("{src}: {j:?}"),
        }
    }
}

/// Canonical forms: transposes pushed to the symbols, a scalar equal to its transpose,
/// products that do not commute.
#[test]
fn canonical_forms_know_matrix_products_do_not_commute() {
    let same = [
        ("(S*x)'", "x'*S'"),
        ("(x')'", "x"),
        ("x'*S*x", "x'*S'*x"),
        ("x'*S*x", "(S*x)'*x"),
        ("(S + S')'", "S' + S"),
        ("transpose(S*S)", "S'*S'"),
        ("inv(S)'", "inv(S')"),
        ("2*x + x", "3*x"),
        ("x .* x", "x.^2"),
        ("diag(diag(x))", "x"),
        ("tr(S')", "tr(S)"),
        ("dot(x, a)", "a'*x"),
    ];
    for (a, b) in same {
        let mut pool = TPool::new(10_000);
        let (p, q) = (lower(&mut pool, a, SPEC), lower(&mut pool, b, SPEC));
        assert_eq!(p, q, "{a} = {b}: {} vs {}", text(&pool, p), text(&pool, q));
    }
    let differ = [("S*S'", "S'*S"), ("A*x", "x'*A'")];
    for (a, b) in differ {
        let mut pool = TPool::new(10_000);
        let (p, q) = (lower(&mut pool, a, SPEC), lower(&mut pool, b, SPEC));
        assert_ne!(p, q, "{a} != {b}");
    }
}
