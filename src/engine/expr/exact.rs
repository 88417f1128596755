//! Exact numbers: the rationals an expression writes (`0.1` is 1/10, `4/5` is 4/5) and
//! what canonicalisation and differentiation make of them, kept beside the `f64` each
//! number node holds.
//!
//! A number node is still its `f64` (evaluation, hashing and the cache key are as before);
//! the pool also knows, for the numbers that came exact, which rational each `f64` stands
//! for ([`Pool::exact`]), so `4/5 - 1` is -1/5 and not `0.8 - 1 = -0.19999999999999996`,
//! and the printer writes `1/3` rather than `0.3333333333333333`. Numerator and
//! denominator stay within 2^53, where the `f64` of a rational (one division of two exact
//! `f64`s) is its correctly rounded value; past that, or for the value of a transcendental
//! function, a number is a float as before. A float that is a small dyadic (`0.5`, `3`) is
//! exact by its bits alone.

use super::Pool;

/// The bound on numerator and denominator (see the module docs).
const LIMIT: i128 = 1 << 53;

/// The largest power of two in the denominator of an `f64` taken as exact by its bits.
const SMALL_DYADIC_BITS: u32 = 16;

/// A rational `n/d`, `d > 0`, in lowest terms, both within 2^53.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rational {
    n: i64,
    d: i64,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Rational {
    /// `n/d` in lowest terms, if `d` is not 0 and both fit the bound once reduced.
    pub fn new(n: i128, d: i128) -> Option<Rational> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        let (mut n, mut d) = (n / g, d / g);
        if d < 0 {
            (n, d) = (-n, -d);
        }
        if n.abs() > LIMIT || d > LIMIT {
            return None;
        }
        Some(Rational {
            n: n as i64,
            d: d as i64,
        })
    }

    /// The integer `n`.
    pub fn int(n: i64) -> Option<Rational> {
        Rational::new(i128::from(n), 1)
    }

    /// The numerator.
    pub fn numer(self) -> i64 {
        self.n
    }

    /// The denominator (positive).
    pub fn denom(self) -> i64 {
        self.d
    }

    /// The nearest `f64` (both parts are exact `f64`s, so one division rounds correctly).
    pub fn to_f64(self) -> f64 {
        self.n as f64 / self.d as f64
    }

    /// The rational an `f64` is exactly, when it is a small dyadic (`0.5`, `-3`, `0.125`:
    /// a denominator of at most 2^16).
    pub fn from_f64(v: f64) -> Option<Rational> {
        if !v.is_finite() {
            return None;
        }
        if v == 0.0 {
            return Some(Rational { n: 0, d: 1 });
        }
        // v = m * 2^e exactly, m an integer below 2^53.
        let bits = v.abs().to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if exp == 0 {
            (frac as i128, -1074)
        } else {
            ((frac | (1 << 52)) as i128, exp - 1075)
        };
        let m = if v < 0.0 { -m } else { m };
        if e >= 0 {
            if e > 53 {
                return None;
            }
            return Rational::new(m.checked_mul(1i128 << e)?, 1);
        }
        if e < -110 {
            return None;
        }
        // m / 2^-e, reduced: the result must fit the bound.
        let tz = m.trailing_zeros().min((-e) as u32);
        let (m, shift) = (m >> tz, (-e) as u32 - tz);
        // A small dyadic only: 0.8 as an f64 is m/2^52, which stands for 4/5 when a
        // literal wrote it (the pool records that) and for nothing exact otherwise.
        if shift > SMALL_DYADIC_BITS {
            return None;
        }
        Rational::new(m, 1i128 << shift)
    }

    /// The rational a number literal stands for where its `f64` alone does not say it
    /// (`0.1` is 1/10; an integer or a small dyadic like 0.5 is exact by its bits):
    /// lowering records it beside the number.
    pub fn of_literal(v: f64, text: &str) -> Option<Rational> {
        if v.fract() == 0.0 || Rational::from_f64(v).is_some() {
            return None;
        }
        Rational::from_literal(text).filter(|r| r.to_f64() == v)
    }

    /// The rational a decimal literal writes (`2`, `0.1`, `.5`, `1.`, `6.02E+23`), if it fits.
    pub fn from_literal(text: &str) -> Option<Rational> {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (int, frac) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 17 {
            return None;
        }
        let n: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let scale = exponent - frac.len() as i32;
        if !(-38..=38).contains(&scale) {
            return if n == 0 { Rational::int(0) } else { None };
        }
        let p = 10i128.pow(scale.unsigned_abs());
        if scale >= 0 {
            Rational::new(n.checked_mul(p)?, 1)
        } else {
            Rational::new(n, p)
        }
    }

    /// `self + o`.
    pub fn checked_add(self, o: Rational) -> Option<Rational> {
        let (a, b, c, d) = (self.n as i128, self.d as i128, o.n as i128, o.d as i128);
        Rational::new(a * d + c * b, b * d)
    }

    /// `self * o`.
    pub fn checked_mul(self, o: Rational) -> Option<Rational> {
        Rational::new(self.n as i128 * o.n as i128, self.d as i128 * o.d as i128)
    }

    /// `self ^ k` for an integer `k` (`None` for 0^k with k < 0, or past the bound).
    pub fn powi(self, k: i64) -> Option<Rational> {
        if k.unsigned_abs() > 64 {
            return (self.n.abs() == self.d).then(|| {
                let odd = k % 2 != 0;
                Rational {
                    n: if self.n < 0 && odd { -1 } else { 1 },
                    d: 1,
                }
            });
        }
        let mut acc = Rational { n: 1, d: 1 };
        for _ in 0..k.unsigned_abs() {
            acc = acc.checked_mul(self)?;
        }
        if k < 0 {
            Rational::new(acc.d as i128, acc.n as i128)
        } else {
            Some(acc)
        }
    }

    /// Whether the rational is an integer.
    pub fn is_integer(self) -> bool {
        self.d == 1
    }

    /// Whether its decimal expansion ends (the denominator has no prime factor but 2 and 5).
    pub fn is_decimal(self) -> bool {
        let mut d = self.d;
        while d % 2 == 0 {
            d /= 2;
        }
        while d % 5 == 0 {
            d /= 5;
        }
        d == 1
    }
}

/// Whether `v` is an integer below 2^26 in magnitude: the sum and product of two such are
/// exact in f64, with no rational needed (the compiler's coefficients are mostly these).
#[inline]
fn small_integer(v: f64) -> bool {
    v.abs() < (1 << 26) as f64 && v == v.trunc()
}

impl Pool {
    /// The rational the number `v` of this pool stands for, if it is exact.
    pub fn exact(&self, v: f64) -> Option<Rational> {
        if let Some(&r) = self.exact.get(&v.to_bits()) {
            return Some(r);
        }
        // The printer asks for magnitudes: -2/3 is recorded, and 2/3 is its negation.
        if let Some(&r) = self.exact.get(&(-v).to_bits()) {
            return r.checked_mul(Rational { n: -1, d: 1 });
        }
        Rational::from_f64(v)
    }

    /// Records that `v` stands for `r` (the first record of a value stays), and returns
    /// `r`'s `f64`.
    pub fn remember_exact(&mut self, r: Rational) -> f64 {
        let v = r.to_f64();
        if Rational::from_f64(v) != Some(r) {
            self.exact.entry(v.to_bits()).or_insert(r);
        }
        v
    }

    /// `a + b`, exact where both are.
    #[inline]
    pub fn num_add(&mut self, a: f64, b: f64) -> f64 {
        // Small integers (most coefficients) add exactly in f64.
        if small_integer(a) && small_integer(b) {
            return a + b;
        }
        match (self.exact(a), self.exact(b)) {
            (Some(x), Some(y)) => match x.checked_add(y) {
                Some(r) => self.remember_exact(r),
                None => a + b,
            },
            _ => a + b,
        }
    }

    /// `a * b`, exact where both are.
    #[inline]
    pub fn num_mul(&mut self, a: f64, b: f64) -> f64 {
        if small_integer(a) && small_integer(b) {
            return a * b;
        }
        match (self.exact(a), self.exact(b)) {
            (Some(x), Some(y)) => match x.checked_mul(y) {
                Some(r) => self.remember_exact(r),
                None => a * b,
            },
            _ => a * b,
        }
    }

    /// `a ^ b`, exact where `a` is and `b` is an integer.
    pub fn num_pow(&mut self, a: f64, b: f64) -> f64 {
        let k = self
            .exact(b)
            .filter(|k| k.is_integer())
            .map(Rational::numer);
        match (self.exact(a), k) {
            (Some(x), Some(k)) => match x.powi(k) {
                Some(r) => self.remember_exact(r),
                None => a.powf(b),
            },
            _ => a.powf(b),
        }
    }
}
