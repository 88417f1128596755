//! The engine's time budget: every long loop stops once the deadline has passed or the
//! flag is set, with `Exhausted::Time`, and an ample budget changes no result.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nabla::engine::compile::compile_within;
use nabla::engine::expr::Scope;
use nabla::engine::parse::ParseOptions;
use nabla::engine::print::{Printer, Text};
use nabla::engine::tape::BatchError;
use nabla::engine::{compile, diff, read, Budget, Exhausted, Pool};

fn setup(n: usize) -> (Pool, nabla::engine::ExprId, Vec<nabla::engine::ExprId>) {
    let mut pool = Pool::new();
    let opts = ParseOptions {
        max_bytes: usize::MAX,
        ..ParseOptions::default()
    };
    let f = read(&mut pool, &crate::rosenbrock(n), Scope::default(), &opts).unwrap();
    let xs = (0..n).map(|i| pool.sym(&format!("x{i}"))).collect();
    (pool, f, xs)
}

fn spent() -> Budget {
    Budget::nodes(usize::MAX).until(Instant::now() - Duration::from_millis(1))
}

fn cancelled() -> Budget {
    Budget::nodes(usize::MAX).cancelled_by(Arc::new(AtomicBool::new(true)))
}

#[test]
fn every_long_loop_stops_when_the_budget_is_spent() {
    for budget in [spent(), cancelled()] {
        let (mut pool, f, xs) = setup(300);
        assert_eq!(
            diff::gradient(&mut pool, f, &xs, budget.clone()),
            Err(Exhausted::Time)
        );
        assert_eq!(
            diff::hessian(&mut pool, f, &xs, budget.clone()).map(|_| ()),
            Err(Exhausted::Time)
        );
        let g = diff::gradient(&mut pool, f, &xs, usize::MAX).unwrap();
        assert!(compile_within(&pool, &g, &xs, &budget).is_err());
        assert_eq!(
            Printer::new(&pool, Text).print_within(f, &budget),
            Err(Exhausted::Time)
        );
        let tape = compile(&pool, &g, &xs).unwrap();
        let points = vec![0.5; 300 * 10];
        let mut out = vec![0.0; 300 * 10];
        assert_eq!(
            tape.eval_batch_within(&points, &mut out, &budget),
            Err(BatchError::Exhausted(Exhausted::Time))
        );
    }
}

#[test]
fn an_ample_budget_changes_nothing() {
    let ample = Budget::nodes(usize::MAX).until(Instant::now() + Duration::from_secs(3600));
    let (mut pool, f, xs) = setup(50);
    let g1 = diff::gradient(&mut pool, f, &xs, ample.clone()).unwrap();
    let g2 = diff::gradient(&mut pool, f, &xs, usize::MAX).unwrap();
    assert_eq!(g1, g2);
    let a = compile_within(&pool, &g1, &xs, &ample).unwrap();
    let b = compile(&pool, &g1, &xs).unwrap();
    let points: Vec<f64> = (0..50 * 70).map(|i| (i as f64 * 0.37).sin()).collect();
    let (mut oa, mut ob) = (vec![0.0; 50 * 70], vec![0.0; 50 * 70]);
    a.eval_batch_within(&points, &mut oa, &ample).unwrap();
    b.eval_batch(&points, &mut ob).unwrap();
    assert_eq!(
        oa.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        ob.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(
        Printer::new(&pool, Text)
            .print_within(g1[3], &ample)
            .unwrap(),
        nabla::engine::print::text(&pool, g1[3])
    );
}

#[test]
fn a_batch_with_a_wrong_length_is_a_length_error_not_a_panic() {
    let (mut pool, f, xs) = setup(5);
    let g = diff::gradient(&mut pool, f, &xs, usize::MAX).unwrap();
    let tape = compile(&pool, &g, &xs).unwrap();
    let mut out = vec![0.0; 5 * 2];
    assert!(matches!(
        tape.eval_batch_within(&[1.0; 7], &mut out, &Budget::default()),
        Err(BatchError::Length(_))
    ));
}
