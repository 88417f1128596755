//! W1, the sheet's 4a: what the benchmark (`benches/engine.rs`) and the profiling example
//! (`examples/w1.rs`) share.

/// f(x, y, z) = 0.5*x^2 + y*z - ln(1 + exp(x^2*y^3*z)).
pub const SOURCE: &str = "0.5*x^2 + y*z - ln(1+exp(x^2*y^3*z))";

/// The sheet's 4a by hand: value and gradient, as a person would write it.
#[inline(never)]
pub fn by_hand(x: f64, y: f64, z: f64) -> [f64; 4] {
    let y3 = y * y * y;
    let u = x * x * y3 * z;
    let e = u.exp();
    let s = e / (1.0 + e);
    [
        0.5 * x * x + y * z - (1.0 + e).ln(),
        x - 2.0 * x * y3 * z * s,
        z - 3.0 * x * x * y * y * z * s,
        y - x * x * y3 * s,
    ]
}
