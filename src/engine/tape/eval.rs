//! Evaluation of a [`Tape`] by the interpreter, at one point or at a batch of points
//! (machine code for one point is an [`Executable`](crate::engine::Executable)'s).
//!
//! A non-finite result is a value like any other: nothing here fails on NaN or infinity.
//! The batch evaluator runs each instruction over [`LANES`] points at a time, so the cost
//! of dispatching an instruction is shared by the lanes and the arithmetic loops
//! vectorise, and feeds a program's inputs to the lanes in blocks as it comes to them
//! (`Tape::feeds`). Neither loop allocates per point: the scratch space is the caller's
//! (single point), or the thread's lanes kept between batches (up to `KEEP_LANES_BYTES`;
//! narrower lanes for larger programs are allocated once per call).

use std::cell::Cell;
use std::ops::Range;

use super::{Instr, Tape};
use crate::engine::budget::{Budget, Exhausted};
use crate::engine::op::{apply, dispatch, Known, Visit};

/// The number of points a batch evaluates together.
pub const LANES: usize = 32;

/// The most lane memory a thread keeps between batches (a program of 16,384 slots).
const KEEP_LANES_BYTES: usize = 4 << 20;

thread_local! {
    /// The lanes of this thread's last batch of `LANES` points.
    static LANES_SCRATCH: std::cell::RefCell<Vec<[f64; LANES]>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The caller's buffers do not fit the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} numbers, got {got}")]
pub struct LengthMismatch {
    /// The length the program needs.
    pub expected: usize,
    /// The length given.
    pub got: usize,
}

/// Why [`Tape::eval_batch_within`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The buffers do not fit the program.
    #[error(transparent)]
    Length(#[from] LengthMismatch),
    /// The budget's time ran out.
    #[error(transparent)]
    Exhausted(#[from] Exhausted),
}

/// Instruction-points evaluated between two looks at a budget.
const CHUNK_WORK: usize = 1 << 20;

fn check(expected: usize, got: usize) -> Result<(), LengthMismatch> {
    if expected == got {
        Ok(())
    } else {
        Err(LengthMismatch { expected, got })
    }
}

/// Runs `instrs` at one point whose slots are `s`, without bounds checks: one point runs
/// an instruction in a few nanoseconds, and the checks were a noticeable share of it.
///
/// # Safety
/// Every slot an instruction of `instrs` names (`dst`, `a`, `b`, `c`) is below `s.len()`.
/// [`Tape::new`] checks it of a tape's instructions against [`Tape::slots`].
#[inline(always)]
unsafe fn run_unchecked(s: &mut [f64], instrs: &[Instr]) {
    let p = s.as_mut_ptr();
    for ins in instrs {
        // SAFETY: the caller vouches that every slot named is below `s.len()`.
        unsafe {
            let (a, b) = (*p.add(ins.a as usize), *p.add(ins.b as usize));
            // Only the fused operations read a third operand.
            *p.add(ins.dst as usize) = apply(ins.op, a, b, || *p.add(ins.c as usize));
        }
    }
}

impl Tape {
    /// Evaluates at one point by the interpreter: `inputs` in input order, results into
    /// `out` in root order. `scratch` is reused between calls to avoid allocating.
    pub fn eval_into(
        &self,
        inputs: &[f64],
        out: &mut [f64],
        scratch: &mut Vec<f64>,
    ) -> Result<(), LengthMismatch> {
        check(self.inputs, inputs.len())?;
        check(self.outputs, out.len())?;
        self.interpret(inputs, out, scratch);
        Ok(())
    }

    /// The interpreter at one point, the lengths of `inputs` and `out` checked by the
    /// caller.
    fn interpret(&self, inputs: &[f64], out: &mut [f64], scratch: &mut Vec<f64>) {
        // Every slot an instruction reads is an input, a constant or written before: what
        // the scratch held before does not matter, so it is not cleared.
        scratch.resize(self.slots, 0.0);
        let s = &mut scratch[..self.slots];
        s[..self.inputs].copy_from_slice(inputs);
        for &(slot, v) in &self.consts {
            s[slot as usize] = v;
        }
        // The batch walks the emits the same way; a walker shared with it was slower on
        // this hot path of one point.
        let mut done = 0;
        for e in &self.emits {
            let at = e.at as usize;
            if at > done {
                // SAFETY: `Tape::new` checked every instruction's slots against
                // `self.slots`, the length of `s`.
                unsafe { run_unchecked(s, &self.instrs[done..at]) };
                done = at;
            }
            out[e.output as usize] = s[e.slot as usize];
        }
        // SAFETY: as above.
        unsafe { run_unchecked(s, &self.instrs[done..]) };
    }

    /// Evaluates at one point and returns the outputs.
    pub fn eval(&self, inputs: &[f64]) -> Result<Vec<f64>, LengthMismatch> {
        let mut out = vec![0.0; self.outputs];
        self.eval_into(inputs, &mut out, &mut Vec::new())?;
        Ok(out)
    }

    /// Evaluates at many points. `points` holds them row after row (`inputs()` numbers
    /// each), `out` receives the results the same way (`outputs()` numbers each).
    pub fn eval_batch(&self, points: &[f64], out: &mut [f64]) -> Result<(), LengthMismatch> {
        let n_in = self.inputs;
        let n_out = self.outputs;
        let n = if n_in == 0 {
            out.len() / n_out.max(1)
        } else {
            check(0, points.len() % n_in)?;
            points.len() / n_in
        };
        check(n * n_out, out.len())?;
        // Wide lanes amortise dispatch best, even past the cache; the bound keeps one
        // call's scratch memory (slots x lanes) under 32 MiB.
        let per_lane = self.slots * std::mem::size_of::<f64>();
        match (32 << 20) / per_lane.max(1) {
            w if w >= LANES => LANES_SCRATCH.with_borrow_mut(|lanes| {
                // Kept between calls (up to `KEEP_LANES_BYTES`): allocating and clearing
                // megabytes of lanes per call cost a large program's small batches more
                // than its instructions. Stale values are never read: every slot is an
                // input fed, a constant set below, or written before it is read.
                lanes.resize(self.slots, [0.0; LANES]);
                self.batch::<LANES>(lanes, points, out, n);
                if lanes.capacity() * std::mem::size_of::<[f64; LANES]>() > KEEP_LANES_BYTES {
                    *lanes = Vec::new();
                }
            }),
            w if w >= 8 => self.batch::<8>(&mut vec![[0.0; 8]; self.slots], points, out, n),
            _ => self.batch::<2>(&mut vec![[0.0; 2]; self.slots], points, out, n),
        }
        Ok(())
    }

    /// [`Tape::eval_batch`] in chunks of about a million instruction-points (a few
    /// milliseconds), looking at `budget` between them: a batch past its time limit stops
    /// within one chunk.
    pub fn eval_batch_within(
        &self,
        points: &[f64],
        out: &mut [f64],
        budget: &Budget,
    ) -> Result<(), BatchError> {
        let (n_in, n_out) = (self.inputs.max(1), self.outputs.max(1));
        let per_chunk = (CHUNK_WORK / self.len().max(1)).clamp(LANES, 1 << 20);
        let n = out.len() / n_out;
        check(n * self.outputs, out.len())?;
        if self.inputs > 0 {
            check(n * self.inputs, points.len())?;
        }
        let mut start = 0;
        while start < n {
            budget.check()?;
            let end = n.min(start + per_chunk);
            let pts = if self.inputs == 0 {
                &[][..]
            } else {
                &points[start * n_in..end * n_in]
            };
            self.eval_batch(pts, &mut out[start * n_out..end * n_out])?;
            start = end;
        }
        Ok(())
    }

    fn batch<const W: usize>(
        &self,
        lanes: &mut [[f64; W]],
        points: &[f64],
        out: &mut [f64],
        n: usize,
    ) {
        let (n_in, n_out) = (self.inputs, self.outputs);
        let lanes = &mut lanes[..self.slots];
        for &(slot, v) in &self.consts {
            lanes[slot as usize] = [v; W];
        }
        let mut start = 0;
        while start < n {
            let width = W.min(n - start);
            let rows = &points[start * n_in..(start + width) * n_in];
            let mut at = Cursor::default();
            for e in &self.emits {
                self.run_to(lanes, rows, e.at as usize, &mut at);
                let mut slot = e.slot as usize;
                if slot < n_in {
                    // An input that is also an output (the compiler reads those out at the
                    // end, after every feed, but nothing here depends on it), in its lane
                    // of the ring (which `ring` keeps for it until then).
                    at.fed = feed(lanes, rows, n_in, self.ring, at.fed, n_in);
                    slot %= self.ring;
                }
                let lane = &lanes[slot];
                for (l, &x) in lane.iter().take(width).enumerate() {
                    out[(start + l) * n_out + e.output as usize] = x;
                }
            }
            self.run_to(lanes, rows, self.instrs.len(), &mut at);
            start += width;
        }
    }

    /// Runs the instructions from `at.done` to `to` over the lanes, feeding the inputs of
    /// `rows` on the way as `Tape::feeds` says.
    fn run_to<const W: usize>(
        &self,
        lanes: &mut [[f64; W]],
        rows: &[f64],
        to: usize,
        at: &mut Cursor,
    ) {
        while at.done < to {
            while let Some(f) = self.feeds.get(at.feed).filter(|f| f.at as usize <= at.done) {
                at.fed = feed(lanes, rows, self.inputs, self.ring, at.fed, f.upto as usize);
                at.feed += 1;
            }
            let stop = self
                .feeds
                .get(at.feed)
                .map_or(to, |f| to.min(f.at as usize));
            self.run_lanes_best(lanes, at.done..stop);
            at.done = stop;
        }
    }

    /// Runs the lanes with the widest vector instructions this processor has: the same
    /// code compiled for AVX2 where it is detected at run time (the arithmetic is the
    /// same IEEE operations, so the results are bitwise the same; no FMA contraction).
    fn run_lanes_best<const W: usize>(&self, s: &mut [[f64; W]], range: Range<usize>) {
        let instrs = if self.ring_instrs.is_empty() {
            &self.instrs[range]
        } else {
            &self.ring_instrs[range]
        };
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: `run_lanes_avx2` only needs AVX2, which was just detected.
                unsafe { run_lanes_avx2(s, instrs) };
                return;
            }
        }
        run_lanes(s, instrs);
    }
}

/// Where a batch's chunk of points stands: instructions `0..done` have run, inputs
/// `0..fed` are in their lanes, `feeds[feed..]` are still to come.
#[derive(Default)]
struct Cursor {
    done: usize,
    fed: usize,
    feed: usize,
}

/// Copies inputs `from..to` of each point of `rows` (`n_in` numbers each) into the lanes
/// (lane `l` of slot `k % ring` is input `k` of point `l`, see `Tape::ring`); returns the
/// new `fed`. `from` and `ring` are multiples of the feed block, so a stretch of inputs
/// that does not wrap around the ring is a stretch of lanes.
fn feed<const W: usize>(
    lanes: &mut [[f64; W]],
    rows: &[f64],
    n_in: usize,
    ring: usize,
    from: usize,
    to: usize,
) -> usize {
    let mut k = from;
    while k < to {
        let end = to.min((k / ring + 1) * ring);
        let lane = k % ring;
        for (l, row) in rows.chunks_exact(n_in).enumerate() {
            for (slot, &x) in lanes[lane..lane + (end - k)].iter_mut().zip(&row[k..end]) {
                slot[l] = x;
            }
        }
        k = end;
    }
    to.max(from)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_lanes_avx2<const W: usize>(s: &mut [[f64; W]], instrs: &[Instr]) {
    run_lanes(s, instrs);
}

/// Runs `instrs` over the lanes of `s`, one instruction over all lanes at a time.
///
/// The slots are seen as cells, so that an instruction's destination and operands are
/// reached by index alone: no branch on where they lie relative to each other, which a
/// processor cannot predict (the compiler never makes a destination one of its operands,
/// but nothing here depends on it).
#[inline(always)]
fn run_lanes<const W: usize>(s: &mut [[f64; W]], instrs: &[Instr]) {
    let s = Cell::from_mut(s.as_flattened_mut()).as_slice_of_cells();
    for ins in instrs {
        let slot = |i: u32| &s[i as usize * W..][..W];
        let (d, x, y, z) = (slot(ins.dst), slot(ins.a), slot(ins.b), slot(ins.c));
        // Each operation is a loop of its own over the lanes: `apply` with a known
        // operation, so arithmetic, selects and divisions vectorise and no lane pays a call
        // to a dispatcher. The same `apply` as one point: bitwise the same results.
        dispatch(ins.op, Lanes::<W> { d, x, y, z });
    }
}

/// One instruction's lanes: its destination and operands.
struct Lanes<'s, const W: usize> {
    d: &'s [Cell<f64>],
    x: &'s [Cell<f64>],
    y: &'s [Cell<f64>],
    z: &'s [Cell<f64>],
}

impl<const W: usize> Visit for Lanes<'_, W> {
    type Output = ();
    #[inline(always)]
    fn visit<K: Known>(self) {
        let Lanes { d, x, y, z } = self;
        if K::TERNARY {
            lanes3::<W>(d, x, y, z, |a, b, c| apply(K::OP, a, b, || c));
        } else {
            lanes2::<W>(d, x, y, |a, b| apply(K::OP, a, b, || a));
        }
    }
}

#[inline(always)]
fn lanes2<const W: usize>(
    d: &[Cell<f64>],
    x: &[Cell<f64>],
    y: &[Cell<f64>],
    f: impl Fn(f64, f64) -> f64,
) {
    let (x, y): ([f64; W], [f64; W]) = (cells(x), cells(y));
    for l in 0..W {
        d[l].set(f(x[l], y[l]));
    }
}

#[inline(always)]
fn lanes3<const W: usize>(
    d: &[Cell<f64>],
    x: &[Cell<f64>],
    y: &[Cell<f64>],
    z: &[Cell<f64>],
    f: impl Fn(f64, f64, f64) -> f64,
) {
    let (x, y, z): ([f64; W], [f64; W], [f64; W]) = (cells(x), cells(y), cells(z));
    for l in 0..W {
        d[l].set(f(x[l], y[l], z[l]));
    }
}

/// The values of a slot's lanes.
#[inline(always)]
fn cells<const W: usize>(c: &[Cell<f64>]) -> [f64; W] {
    std::array::from_fn(|l| c[l].get())
}
