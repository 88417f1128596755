#![allow(clippy::unwrap_used)]
use nabla::engine::{
    compile, diff,
    expr::lower,
    expr::Scope,
    parse::{parse, ParseOptions},
    Pool,
};
use std::time::Instant;
fn main() {
    let n = 10000;
    let src = (0..n - 1)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect::<Vec<_>>()
        .join(" + ");
    let vars: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    for _ in 0..5 {
        let t = Instant::now();
        let ast = parse(
            &src,
            &ParseOptions {
                max_depth: 200,
                max_bytes: usize::MAX,
            },
        )
        .unwrap();
        let t1 = t.elapsed();
        let mut pool = Pool::new();
        let root = lower(&ast, &mut pool, Scope::default()).unwrap();
        let t2 = t.elapsed();
        let ids: Vec<_> = vars.iter().map(|v| pool.sym(v)).collect();
        let mut roots = vec![root];
        roots.extend(diff::gradient(&mut pool, root, &ids, usize::MAX).unwrap());
        let t3 = t.elapsed();
        let tape = compile(&pool, &roots, &ids).unwrap();
        let t4 = t.elapsed();
        drop(pool);
        let t5 = t.elapsed();
        println!(
            "parse {:?} lower {:?} diff {:?} compile {:?} drop {:?} total {:?}; tape {}",
            t1,
            t2 - t1,
            t3 - t2,
            t4 - t3,
            t5 - t4,
            t5,
            tape.len()
        );
    }
}
