//! The one integration-test binary: the engine's tests as data, property tests with
//! independent oracles, the differential test against meval, and the HTTP service
//! through its router and on real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

mod architecture;
mod budget;
mod canon;
mod docs;
mod funcs;
mod grade;
mod hostile;
mod http;
mod matrices;
mod meval_diff;
mod native;
mod openapi;
mod parse;
mod print;
mod props;
mod server;
mod sheet;
mod spellings;
mod support;
mod tape;
mod tensor;
mod verdicts;

/// Rosenbrock's function in `n` dimensions as one expression over `x0 .. x{n-1}`.
pub fn rosenbrock(n: usize) -> String {
    (0..n - 1)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect::<Vec<_>>()
        .join(" + ")
}
