//! The numeric definitions the table's values call where a function is more than one
//! method of `f64`.

/// The real `n`-th root of `x`: `x^(1/n)`, and `-(-x)^(1/n)` for a negative `x` and an
/// odd integer `n`.
pub fn root(x: f64, n: f64) -> f64 {
    if x < 0.0 && n.fract() == 0.0 && n % 2.0 != 0.0 {
        -(-x).powf(1.0 / n)
    } else {
        x.powf(1.0 / n)
    }
}

/// The mathematical sign: -1, 0 or 1 (NaN for NaN).
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0 // 0 for ±0, NaN for NaN
    }
}

/// `1/(1 + exp(-x))` without overflow: finite and accurate for every finite `x`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + exp(x))` without overflow or cancellation.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + ln_1p_unit((-x).exp())
    } else {
        ln_1p_unit(x.exp())
    }
}

/// `ln(1 + b)` for `0 <= b <= 1` (NaN gives NaN), as softplus needs it: `ln(w)` of the
/// rounded `w = 1 + b`, plus `r / w` for the rounding error `r = b - (w - 1)` (exact: `w - 1`
/// is exact for `w` in `[1, 2]`), the first term of `ln(1 + r/w)`. About as accurate as
/// glibc's `log1p` and, unlike it, as fast for every `b` (figures in `benches/README.md`).
#[inline]
pub fn ln_1p_unit(b: f64) -> f64 {
    let w = 1.0 + b;
    w.ln() + (b - (w - 1.0)) / w
}
