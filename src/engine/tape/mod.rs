//! The compiled program: a straight-line list of instructions over numbered slots, a
//! plain value (no machine code, no counters: those are an
//! [`Executable`](super::Executable)'s), and its evaluation ([`eval`]).
//!
//! Invariants (checked by [`Tape::new`], the only constructor, and relied on by the
//! evaluators and the machine-code generator): every slot index is below [`Tape::slots`];
//! slots `0..inputs` hold the inputs and are never written by an instruction; constant
//! slots are never written either; an instruction's destination is never one of its
//! operands; every output is read out once, by an [`Emit`] between instructions, in
//! instruction order.

pub mod eval;

use super::op::Op;

pub use eval::{BatchError, LengthMismatch, LANES};

/// One instruction: `slots[dst] = op(slots[a], slots[b])`, or `op(slots[a], slots[b],
/// slots[c])` for the three-operand operations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instr {
    /// The operation.
    pub op: Op,
    /// The slot written.
    pub dst: u32,
    /// The first operand's slot.
    pub a: u32,
    /// The second operand's slot (equal to `a` for unary operations).
    pub b: u32,
    /// The third operand's slot (equal to `a` for operations with fewer operands).
    pub c: u32,
}

/// An output read out of its slot: after the first `at` instructions have run, before the
/// slot is written again. Outputs leave as they are made, so their slots are reused and a
/// program with many outputs (a gradient) needs few slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emit {
    /// How many instructions have run when the output is read.
    pub at: u32,
    /// The output's index.
    pub output: u32,
    /// The slot holding it then.
    pub slot: u32,
}

/// Before the instruction `at`, the inputs below `upto` must be in their slots. A batch
/// loads the inputs of its points in blocks as the program comes to need them, so that a
/// program with thousands of inputs (a gradient in many variables, computed along its
/// inputs, see `compile`) finds each input block in the cache when it reads it, rather
/// than all of them copied in up front and evicted again before use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Feed {
    pub at: u32,
    pub upto: u32,
}

/// Inputs are fed to a batch in blocks of this many.
const FEED_BLOCK: usize = 64;

/// The feeds of `instrs` over `inputs` inputs (which are slots `0..inputs`): one at the
/// first instruction that reads an input not yet fed, for the block it lies in and every
/// block before. The last feed covers all inputs, so what the emits read is fed too.
fn feeds(instrs: &[Instr], inputs: usize) -> Vec<Feed> {
    let mut feeds = Vec::new();
    let mut fed = 0;
    for (at, i) in instrs.iter().enumerate() {
        let need = [i.a, i.b, i.c]
            .iter()
            .map(|&s| s as usize + 1)
            .filter(|&s| s <= inputs)
            .max()
            .unwrap_or(0);
        if need > fed {
            fed = need.next_multiple_of(FEED_BLOCK).min(inputs);
            feeds.push(Feed {
                at: at as u32,
                upto: fed as u32,
            });
        }
    }
    if fed < inputs {
        // Inputs no instruction reads, only emits (an input that is also an output).
        feeds.push(Feed {
            at: instrs.len() as u32,
            upto: inputs as u32,
        });
    }
    feeds
}

/// How many inputs a batch keeps in its lanes at once: the inputs' lanes are a ring of
/// whole feed blocks, block `b` in the place of block `b - ring / FEED_BLOCK`, where every
/// instruction reading an input comes before the block that takes its place is fed, and
/// no block holding an input that is also an output gives its place up. A program built along its inputs (a
/// gradient in 10,000 variables reads each input in the few terms beside it) needs a few
/// blocks where it has thousands of inputs, so a batch's input lanes stay in the cache
/// instead of being written all over once per chunk of points (as many bytes as the points
/// themselves). `inputs` when a ring saves nothing.
fn ring(instrs: &[Instr], emits: &[Emit], feeds: &[Feed], inputs: usize) -> usize {
    let blocks = inputs.div_ceil(FEED_BLOCK);
    // Where each block is fed, and the last instruction reading it.
    let mut fed_at = vec![u32::MAX; blocks];
    let mut from = 0;
    for f in feeds {
        let to = (f.upto as usize).div_ceil(FEED_BLOCK);
        for b in fed_at.iter_mut().take(to).skip(from) {
            *b = f.at;
        }
        from = from.max(to);
    }
    let mut read_by = vec![None::<u32>; blocks];
    for (at, i) in instrs.iter().enumerate() {
        for s in [i.a, i.b, i.c]
            .map(|s| s as usize)
            .into_iter()
            .filter(|&s| s < inputs)
        {
            read_by[s / FEED_BLOCK] = Some(at as u32);
        }
    }
    // An input that is also an output is read out at the end, after a batch has fed
    // every input (`Tape::batch`): its block must keep its lanes to the end, so no later
    // block may take them. (An input read out earlier would make that feed early: no ring.)
    let mut emitted = vec![false; blocks];
    for e in emits.iter().filter(|e| (e.slot as usize) < inputs) {
        if e.at as usize != instrs.len() {
            return inputs;
        }
        emitted[e.slot as usize / FEED_BLOCK] = true;
    }
    // An instruction at `p` reads after the feeds at `p`.
    let fits = |r: usize| {
        (0..blocks.saturating_sub(r))
            .all(|b| !emitted[b] && read_by[b].is_none_or(|at| at < fed_at[b + r]))
    };
    (1..blocks)
        .find(|&r| fits(r))
        .map_or(inputs, |r| (r * FEED_BLOCK).min(inputs))
}

/// Why [`Tape::new`] refused its parts: they break an invariant of the module docs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a valid program: {0}")]
pub struct InvalidTape(&'static str);

/// A compiled program: inputs in, outputs out.
#[derive(Clone, Debug)]
pub struct Tape {
    instrs: Vec<Instr>,
    slots: usize,
    consts: Vec<(u32, f64)>,
    inputs: usize,
    outputs: usize,
    /// Every output once, in `at` order.
    emits: Vec<Emit>,
    /// When the batch evaluator loads which inputs into their lanes (see [`Feed`]).
    feeds: Vec<Feed>,
    /// How many inputs a batch keeps in its lanes at once: input `k` is in lane `k % ring`
    /// (see [`ring`]); `inputs` when every input has its own.
    ring: usize,
    /// The instructions with their input operands in the ring's lanes, for batches (empty
    /// when `ring == inputs`: then `instrs` serve).
    ring_instrs: Vec<Instr>,
}

impl Tape {
    /// A program of `instrs` over `slots` slots, the first `inputs` of them its inputs, the
    /// constants `consts` (slot, value) and `outputs` outputs read out by `emits`; refused
    /// unless it keeps every invariant of the module docs, which evaluation relies on.
    pub fn new(
        instrs: Vec<Instr>,
        slots: usize,
        consts: Vec<(u32, f64)>,
        inputs: usize,
        outputs: usize,
        emits: Vec<Emit>,
    ) -> Result<Tape, InvalidTape> {
        let n = slots as u64;
        if inputs > slots || u32::try_from(slots).is_err() {
            return Err(InvalidTape("more inputs than slots"));
        }
        // Which slots are read only: the inputs and the constants.
        let mut fixed = vec![false; slots];
        fixed[..inputs].fill(true);
        for &(c, _) in &consts {
            match fixed.get_mut(c as usize) {
                Some(f) if !*f => *f = true,
                _ => return Err(InvalidTape("a constant outside the slots after the inputs")),
            }
        }
        for i in &instrs {
            let used = if i.op.is_ternary() { 3 } else { 2 };
            if [i.dst, i.a, i.b, i.c].iter().any(|&s| u64::from(s) >= n) {
                return Err(InvalidTape("a slot out of bounds"));
            }
            if fixed[i.dst as usize] {
                return Err(InvalidTape("an instruction writes an input or a constant"));
            }
            if [i.a, i.b, i.c][..used].contains(&i.dst) {
                return Err(InvalidTape("an instruction writes one of its operands"));
            }
        }
        let mut seen = vec![false; outputs];
        for e in &emits {
            if u64::from(e.slot) >= n || e.at as usize > instrs.len() {
                return Err(InvalidTape("an emit out of bounds"));
            }
            match seen.get_mut(e.output as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(InvalidTape("an output not read out exactly once")),
            }
        }
        if emits.len() != outputs || !emits.windows(2).all(|w| w[0].at <= w[1].at) {
            return Err(InvalidTape("the emits are not every output in order"));
        }
        let feeds = feeds(&instrs, inputs);
        let ring = ring(&instrs, &emits, &feeds, inputs);
        let ring_instrs = if ring < inputs {
            let lane = |s: u32| {
                if (s as usize) < inputs {
                    s % ring as u32
                } else {
                    s
                }
            };
            instrs
                .iter()
                .map(|i| Instr {
                    a: lane(i.a),
                    b: lane(i.b),
                    c: lane(i.c),
                    ..*i
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Tape {
            feeds,
            ring,
            ring_instrs,
            instrs,
            slots,
            consts,
            inputs,
            outputs,
            emits,
        })
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    /// Whether the program has no instruction (its outputs are inputs or constants).
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// The instructions, in execution order.
    pub fn instrs(&self) -> &[Instr] {
        &self.instrs
    }

    /// The number of slots a point needs.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The number of inputs a point has.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of outputs a point gives.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// How many inputs a batch keeps in its lanes at once: fewer than [`Tape::inputs`]
    /// when the program reads its inputs in order (see `ring` in `tape/mod.rs`), so a batch
    /// over thousands of inputs keeps a few blocks of them in the cache.
    pub fn batch_input_lanes(&self) -> usize {
        self.ring
    }

    /// When each output is read out of which slot, in execution order.
    pub fn emits(&self) -> &[Emit] {
        &self.emits
    }

    /// The constants: (slot, value), in the order machine code keeps them.
    pub fn consts(&self) -> &[(u32, f64)] {
        &self.consts
    }

    /// An estimate of the memory the program holds, in bytes (for cache weights).
    pub fn weight_bytes(&self) -> usize {
        std::mem::size_of::<Tape>()
            + (self.instrs.len() + self.ring_instrs.len()) * std::mem::size_of::<Instr>()
            + self.consts.len() * std::mem::size_of::<(u32, f64)>()
            + self.emits.len() * std::mem::size_of::<Emit>()
            + self.feeds.len() * std::mem::size_of::<Feed>()
    }
}
