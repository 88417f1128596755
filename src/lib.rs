//! nabla: a gradient-serving HTTP microservice with its own symbolic engine.
//!
//! # Layout
//! - [`engine`]: parse, canonicalise, differentiate, print, compile and evaluate
//!   expressions; sans-IO, synchronous, no HTTP inside;
//! - [`service`]: between HTTP and the engine: the shared state, programs from requests
//!   and the cache, evaluation at points, grading, the error type and its codes;
//! - [`http`]: routes, extractors, problem+json errors, middleware; `http::app` is the
//!   router;
//! - [`config`]: every setting and limit;
//! - [`allocator`]: the allocator's settings (the service runs on mimalloc);
//! - [`metrics`]: Prometheus counters and histograms;
//! - [`server`]: connections under a cap and timeouts, and shutdown with a grace period;
//! - [`serve`]: run the router on a listener until a shutdown future resolves.
//!
//! # The engine in five lines
//!
//! ```
//! use nabla::engine::{compile, diff, expr::Scope, parse::ParseOptions, print, read, Pool};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut pool = Pool::new();
//! let f = read(&mut pool, "x*sin(y)", Scope::default(), &ParseOptions::default())?;
//! let (x, y) = (pool.sym("x"), pool.sym("y"));
//! let grad = diff::gradient(&mut pool, f, &[x, y], 1_000_000)?;
//! assert_eq!(print::text(&pool, grad[1]), "x*cos(y)");
//! let tape = compile(&pool, &grad, &[x, y])?;
//! assert_eq!(tape.eval(&[2.0, 0.0])?, vec![0.0, 2.0]);
//! # Ok(())
//! # }
//! ```

pub mod allocator;
pub mod config;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod server;
pub mod service;

use std::future::Future;

use tokio::net::TcpListener;

/// Serves `state`'s router on `listener` until `shutdown` resolves, then lets requests
/// in flight finish within the configured grace period. Tests pass their own listener
/// (port 0) and shutdown future. See [`server`] for the connection limits.
pub async fn serve(
    listener: TcpListener,
    state: http::AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, state, shutdown).await
}
