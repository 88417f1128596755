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

fn gradient(src: &str, spec: &[(&str, &[u32])], var: &str) -> String {
    let mut pool = TPool::new(100_000);
    let f = lower(&mut pool, src, spec);
    let x = pool.symbol_node(var).unwrap();
    let g = diff::gradient(&mut pool, f, &[x], &Budget::default()).unwrap()[0];
    text(&pool, g)
}

#[test]
fn sheet_gradients_in_matrix_notation() {
    let v3: &[u32] = &[3];
    let m33: &[u32] = &[3, 3];
    for (src, var, want) in [
        ("a'*x", "x", "a"),
        ("dot(a, x)", "x", "a"),
        ("x'*A*x", "x", "A*x + A'*x"),
        ("x'*A*x", "A", "x*x'"),
        ("1/2*norm(x)^2", "x", "x"),
    ] {
        let got = gradient(src, &[("x", v3), ("a", v3), ("A", m33)], var);
        println!("{src} d{var}: {got}");
        let _ = want;
    }
}

#[test]
fn explore() {
    let spec: &[(&str, &[u32])] = &[
        ("x", &[3]),
        ("b", &[4]),
        ("A", &[4, 3]),
        ("S", &[3, 3]),
        ("w", &[3]),
        ("X", &[5, 3]),
        ("y", &[5]),
        ("t", &[]),
    ];
    for (src, var) in [
        ("1/2*norm(A*x - b)^2", "x"),
        ("sum(ln(1 + exp(-y .* (X*w))))", "w"),
        ("tr(S*S')", "S"),
        ("logdet(S)", "S"),
        ("det(S)", "S"),
        ("tr(inv(S))", "S"),
        ("x'*inv(S)*x", "x"),
        ("exp(t)*sum(x.^2)", "t"),
        ("norm1(x)", "x"),
        ("sum(diag(S))", "S"),
        ("ln(1 + exp(-t*w'*x))", "w"),
    ] {
        let mut pool = TPool::new(100_000);
        let f = lower(&mut pool, src, spec);
        let x = pool.symbol_node(var).unwrap();
        let g = diff::gradient(&mut pool, f, &[x], &Budget::default()).unwrap()[0];
        println!("{src} | d{var}: {}", text(&pool, g));
        if pool.shape(x).is_column() {
            match diff::jacobian(&mut pool, g, x, &Budget::default()).unwrap() {
                diff::Jacobian::Matrix(h) => println!("   H = {}", text(&pool, h)),
                diff::Jacobian::Product { product, .. } => {
                    println!("   H via product {}", text(&pool, product))
                }
            }
        }
    }
    for (src, var) in [
        ("A*x", "x"),
        ("exp(x)", "x"),
        ("S*x .* x", "x"),
        ("x*x'*w", "x"),
    ] {
        let mut pool = TPool::new(100_000);
        let f = lower(&mut pool, src, spec);
        let x = pool.symbol_node(var).unwrap();
        match diff::jacobian(&mut pool, f, x, &Budget::default()).unwrap() {
            diff::Jacobian::Matrix(h) => println!("J({src}) = {}", text(&pool, h)),
            diff::Jacobian::Product { product, .. } => {
                println!("J({src}) via product {}", text(&pool, product))
            }
        }
    }
}
