//! nabla: a gradient-serving HTTP microservice with its own symbolic engine.
//!
//! # Layout
//! - [`engine`]: parse, canonicalise, differentiate, print, compile and evaluate
//!   expressions; sans-IO, synchronous, no HTTP inside.
//!
//! # The engine in five lines
//!
//! ```
//! use nabla::engine::{compile, diff, expr::Scope, parse::ParseOptions, print, read, Pool};
//!
//! let mut pool = Pool::new();
//! let f = read(&mut pool, "x*sin(y)", Scope::default(), &ParseOptions::default()).unwrap();
//! let (x, y) = (pool.sym("x"), pool.sym("y"));
//! let grad = diff::gradient(&mut pool, f, &[x, y], 1_000_000).unwrap();
//! assert_eq!(print::text(&pool, grad[1]), "x*cos(y)");
//! let tape = compile(&pool, &grad, &[x, y]).unwrap();
//! assert_eq!(tape.eval(&[2.0, 0.0]).unwrap(), vec![0.0, 2.0]);
//! ```

pub mod engine;
