//! Where and how a grader samples: each variable's domain (a box and assumptions, and the
//! boxes the service chooses and moves), the seeded generator, and the tolerances of a
//! comparison scaled to the reference, with which samples are evidence.

use super::GradeOptions;

/// The default box: every variable in [-2, 2], so sign mistakes (`abs(x)` for `x`) show.
pub const DEFAULT_BOX: (f64, f64) = (-2.0, 2.0);

/// The default box of an integer variable: wide enough for parity mistakes to show.
pub const INTEGER_BOX: (f64, f64) = (-6.0, 6.0);

/// What a request says of one variable's values: a box, and assumptions that sampling
/// respects (and exact arithmetic needs not: a rational identity on the integers or a
/// half-line is one everywhere).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VarDomain {
    /// The box given by the request; `None`: the service chooses (and may move) it.
    pub range: Option<(f64, f64)>,
    /// Integers only.
    pub integer: bool,
    /// Values > 0.
    pub positive: bool,
    /// Values < 0.
    pub negative: bool,
    /// Values other than 0.
    pub nonzero: bool,
}

impl VarDomain {
    /// Whether `x` satisfies the assumptions (the box aside).
    pub fn admits(&self, x: f64) -> bool {
        (!self.integer || x.fract() == 0.0)
            && (!self.positive || x > 0.0)
            && (!self.negative || x < 0.0)
            && (!self.nonzero || x != 0.0)
    }

    /// The box of the `attempt`th try (0, 1, 2): the request's, else the service's
    /// defaults, which move from around 0 to the positive side (negative for a negative
    /// variable) to a wide box.
    pub fn bounds(&self, attempt: usize) -> (f64, f64) {
        if let Some(b) = self.range {
            return b;
        }
        let (lo, hi) = match (self.integer, attempt) {
            (false, 0) => DEFAULT_BOX,
            (false, 1) => (0.05, 3.0),
            (false, _) => (-10.0, 10.0),
            (true, 0) => INTEGER_BOX,
            (true, 1) => (1.0, 6.0),
            (true, _) => (-20.0, 20.0),
        };
        if self.negative {
            // `+ 0.0`: a bound of 0 is 0, not -0.
            (-hi.max(-lo), -lo.max(0.0) + 0.0)
        } else if self.positive {
            (lo.max(0.0), hi)
        } else {
            (lo, hi)
        }
    }

    /// Whether some value of `bounds` satisfies the assumptions.
    pub fn satisfiable(&self, (lo, hi): (f64, f64)) -> bool {
        if self.positive && self.negative {
            return false;
        }
        let (lo, hi) = (
            if self.positive { lo.max(0.0) } else { lo },
            if self.negative { hi.min(0.0) } else { hi },
        );
        if self.integer {
            let (a, b) = (lo.ceil(), hi.floor());
            let strict = |k: f64| self.admits(k);
            return a <= b && (strict(a) || strict(b) || b - a >= 2.0);
        }
        lo < hi || (lo == hi && self.admits(lo))
    }

    /// A value drawn from `bounds` that satisfies the assumptions, if one was found.
    pub(super) fn draw(&self, (lo, hi): (f64, f64), rng: &mut Rng) -> Option<f64> {
        for _ in 0..16 {
            let x = if self.integer {
                let (a, b) = (lo.ceil(), hi.floor());
                if a > b {
                    return None;
                }
                // The count of integers, capped where f64 stops telling them apart.
                let span = (b - a).min(9_007_199_254_740_992.0) as u64;
                a + (rng.next() % (span + 1)) as f64
            } else {
                lo + (hi - lo) * rng.unit()
            };
            if self.admits(x) {
                return Some(x);
            }
        }
        None
    }
}

/// The tolerances of one component, scaled to the reference: where the reference is
/// small everywhere (`1e-12*x`), `atol` shrinks with it (to `rtol` times its largest
/// magnitude), so its values are still compared. A sample is informative when either side
/// is above 16 times that absolute tolerance: below it, any small answer agrees
/// (`(x - a)^6000` against `(x - a)^5999` near `x = a`), so it is no evidence. A reference
/// that is 0 at every sample keeps `atol`: there, only an answer above it is evidence (of
/// a difference), unless the reference is the number 0.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scale {
    pub(super) atol: f64,
    pub(super) rtol: f64,
    /// The reference is 0 at every sample: every sample is evidence.
    zero: bool,
}

impl Scale {
    /// The scale of a reference with values `expected` at the samples; `zero`: the
    /// reference is the number 0 (not only 0 at every sample, as `exp(-1e6*x^2)` is once
    /// it underflows, where an answer of 0 is no evidence).
    pub(super) fn of(expected: &[f64], o: &GradeOptions, zero: bool) -> Scale {
        let max = expected
            .iter()
            .filter(|r| r.is_finite())
            .fold(0.0f64, |m, r| m.max(r.abs()));
        Scale {
            atol: if max > 0.0 {
                o.atol.min(o.rtol * max)
            } else {
                o.atol
            },
            rtol: o.rtol,
            zero,
        }
    }

    /// Whether reference `r` and answer `a` at one sample are evidence.
    pub(super) fn informative(self, r: f64, a: f64) -> bool {
        self.zero || r.abs().max(a.abs()) > 16.0 * self.atol
    }

    /// Whether `r` and `a` agree within the tolerances.
    pub(super) fn close(self, r: f64, a: f64) -> bool {
        (r - a).abs() <= self.atol + self.rtol * r.abs().max(a.abs())
    }
}

/// A splitmix64 generator: small, seedable, the same on every machine.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Whether `a` and `b` agree within the request's tolerances.
pub(super) fn close(a: f64, b: f64, o: &GradeOptions) -> bool {
    (a - b).abs() <= o.atol + o.rtol * a.abs().max(b.abs())
}
