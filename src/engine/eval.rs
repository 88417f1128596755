//! Evaluation of a [`Tape`] at one point or at a batch of points.
//!
//! A non-finite result is a value like any other: nothing here fails on NaN or infinity.
//! The batch evaluator runs each instruction over [`LANES`] points at a time, so the cost
//! of dispatching an instruction is shared by the lanes and the arithmetic loops
//! vectorise. Neither loop allocates: the scratch space is the caller's (single point) or
//! allocated once per call (batch).

use super::func;
use super::tape::{Op, Tape};

/// The number of points a batch evaluates together.
pub const LANES: usize = 32;

/// The caller's buffers do not fit the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} numbers, got {got}")]
pub struct LengthMismatch {
    /// The length the program needs.
    pub expected: usize,
    /// The length given.
    pub got: usize,
}

fn check(expected: usize, got: usize) -> Result<(), LengthMismatch> {
    if expected == got {
        Ok(())
    } else {
        Err(LengthMismatch { expected, got })
    }
}

#[inline(always)]
fn apply(op: Op, a: f64, b: f64) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
        Op::Neg => -a,
        Op::Recip => 1.0 / a,
        Op::Sqrt => a.sqrt(),
        Op::Powf => a.powf(b),
        Op::SigmoidNeg => func::sigmoid(-a),
        Op::Call(f) => f.eval(a, b),
    }
}

impl Tape {
    /// Evaluates at one point: `inputs` in input order, results into `out` in root order.
    /// `scratch` is reused between calls to avoid allocating.
    pub fn eval_into(
        &self,
        inputs: &[f64],
        out: &mut [f64],
        scratch: &mut Vec<f64>,
    ) -> Result<(), LengthMismatch> {
        check(self.inputs, inputs.len())?;
        check(self.outputs.len(), out.len())?;
        scratch.clear();
        scratch.resize(self.slots, 0.0);
        let s = scratch.as_mut_slice();
        s[..self.inputs].copy_from_slice(inputs);
        for &(slot, v) in &self.consts {
            s[slot as usize] = v;
        }
        for ins in &self.instrs {
            let (a, b) = (s[ins.a as usize], s[ins.b as usize]);
            s[ins.dst as usize] = apply(ins.op, a, b);
        }
        for (o, &slot) in out.iter_mut().zip(&self.outputs) {
            *o = s[slot as usize];
        }
        Ok(())
    }

    /// Evaluates at one point and returns the outputs.
    pub fn eval(&self, inputs: &[f64]) -> Result<Vec<f64>, LengthMismatch> {
        let mut out = vec![0.0; self.outputs.len()];
        self.eval_into(inputs, &mut out, &mut Vec::new())?;
        Ok(out)
    }

    /// Evaluates at many points. `points` holds them row after row (`inputs()` numbers
    /// each), `out` receives the results the same way (`outputs()` numbers each).
    pub fn eval_batch(&self, points: &[f64], out: &mut [f64]) -> Result<(), LengthMismatch> {
        let n_in = self.inputs;
        let n_out = self.outputs.len();
        let n = if n_in == 0 {
            out.len() / n_out.max(1)
        } else {
            check(0, points.len() % n_in)?;
            points.len() / n_in
        };
        check(n * n_out, out.len())?;
        let mut lanes: Vec<[f64; LANES]> = vec![[0.0; LANES]; self.slots];
        for &(slot, v) in &self.consts {
            lanes[slot as usize] = [v; LANES];
        }
        let mut start = 0;
        while start < n {
            let width = LANES.min(n - start);
            for (k, lane) in lanes.iter_mut().take(n_in).enumerate() {
                for l in 0..width {
                    lane[l] = points[(start + l) * n_in + k];
                }
            }
            self.run_lanes(&mut lanes);
            for (k, &slot) in self.outputs.iter().enumerate() {
                let lane = &lanes[slot as usize];
                for l in 0..width {
                    out[(start + l) * n_out + k] = lane[l];
                }
            }
            start += width;
        }
        Ok(())
    }

    fn run_lanes(&self, s: &mut [[f64; LANES]]) {
        for ins in &self.instrs {
            let x = s[ins.a as usize];
            let y = s[ins.b as usize];
            s[ins.dst as usize] = match ins.op {
                Op::Add => std::array::from_fn(|l| x[l] + y[l]),
                Op::Sub => std::array::from_fn(|l| x[l] - y[l]),
                Op::Mul => std::array::from_fn(|l| x[l] * y[l]),
                Op::Div => std::array::from_fn(|l| x[l] / y[l]),
                Op::Neg => std::array::from_fn(|l| -x[l]),
                Op::Recip => std::array::from_fn(|l| 1.0 / x[l]),
                Op::Sqrt => std::array::from_fn(|l| x[l].sqrt()),
                op => std::array::from_fn(|l| apply(op, x[l], y[l])),
            };
        }
    }
}
