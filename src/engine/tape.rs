//! The compiled program: a straight-line list of instructions over numbered slots.
//!
//! Invariants (established by `compile`, relied on by `eval`): every slot index is below
//! [`Tape::slots`]; slots `0..inputs` hold the inputs and are never written by an
//! instruction; constant slots are never written either; an instruction's destination is
//! never one of its operands; every output is read out once, by an [`Emit`] between
//! instructions, before its slot is written again.

use super::func::Func;
use super::native;

/// An instruction's operation: one flat set, so evaluation dispatches once. Unary
/// operations ignore their second operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `-a`.
    Neg,
    /// `1 / a`.
    Recip,
    /// `sqrt(a)`.
    Sqrt,
    /// `a.powf(b)`.
    Powf,
    /// `exp(-|a|)`: the one exponential that softplus and sigmoid of `a` share.
    ExpNegAbs,
    /// `softplus(a)` given `b = exp(-|a|)`: `max(a, 0) + ln(1 + b)` (see `func::ln_1p_unit`).
    SoftplusE,
    /// `softplus(-a)` given `b = exp(-|a|)`: `max(-a, 0) + ln(1 + b)`.
    SoftplusNegE,
    /// `sigmoid(a)` given `b = exp(-|a|)`.
    SigmoidE,
    /// `sigmoid(-a)` given `b = exp(-|a|)`.
    SigmoidNegE,
    /// A unary function of the language.
    Exp,
    /// `ln(a)`.
    Ln,
    /// `log2(a)`.
    Log2,
    /// `log10(a)`.
    Log10,
    /// `abs(a)`.
    Abs,
    /// `sign(a)`.
    Sign,
    /// `signum(a)`.
    Signum,
    /// `sin(a)`.
    Sin,
    /// `cos(a)`.
    Cos,
    /// `tan(a)`.
    Tan,
    /// `asin(a)`.
    Asin,
    /// `acos(a)`.
    Acos,
    /// `atan(a)`.
    Atan,
    /// `sinh(a)`.
    Sinh,
    /// `cosh(a)`.
    Cosh,
    /// `tanh(a)`.
    Tanh,
    /// `asinh(a)`.
    Asinh,
    /// `acosh(a)`.
    Acosh,
    /// `atanh(a)`.
    Atanh,
    /// `floor(a)`.
    Floor,
    /// `ceil(a)`.
    Ceil,
    /// `round(a)`.
    Round,
    /// `trunc(a)`.
    Trunc,
    /// `atan2(a, b)`.
    Atan2,
    /// `hypot(a, b)`.
    Hypot,
    /// `a % b`.
    Rem,
    /// `min(a, b)` (meval's NaN handling).
    Min,
    /// `max(a, b)` (meval's NaN handling).
    Max,
    /// `a + b * c`: a product absorbed by the sum that was its only use, rounded twice
    /// like the two instructions it replaces (no fused multiply-add), so the results are
    /// bitwise those of the unfused program.
    MulAdd,
    /// `a - b * c`, likewise.
    MulSub,
    /// `b * c - a`, likewise.
    MulRsub,
    /// `(a * b) * c`: a product absorbed by the product that was its only use, rounded
    /// twice like the two instructions it replaces.
    Mul3,
}

impl Op {
    /// The operation computing `f`. Sigmoid and softplus have no operation of their own:
    /// the compiler lowers them to the shared-exponential forms.
    pub fn of(f: Func) -> Op {
        match f {
            Func::Exp => Op::Exp,
            Func::Ln => Op::Ln,
            Func::Log2 => Op::Log2,
            Func::Log10 => Op::Log10,
            Func::Abs => Op::Abs,
            Func::Sign => Op::Sign,
            Func::Signum => Op::Signum,
            Func::Sin => Op::Sin,
            Func::Cos => Op::Cos,
            Func::Tan => Op::Tan,
            Func::Asin => Op::Asin,
            Func::Acos => Op::Acos,
            Func::Atan => Op::Atan,
            Func::Sinh => Op::Sinh,
            Func::Cosh => Op::Cosh,
            Func::Tanh => Op::Tanh,
            Func::Asinh => Op::Asinh,
            Func::Acosh => Op::Acosh,
            Func::Atanh => Op::Atanh,
            Func::Sigmoid => Op::SigmoidE,
            Func::Softplus => Op::SoftplusE,
            Func::Floor => Op::Floor,
            Func::Ceil => Op::Ceil,
            Func::Round => Op::Round,
            Func::Trunc => Op::Trunc,
            Func::Atan2 => Op::Atan2,
            Func::Hypot => Op::Hypot,
            Func::Rem => Op::Rem,
            Func::Min => Op::Min,
            Func::Max => Op::Max,
        }
    }

    /// The operation of the negated argument: `softplus(-a)` for `softplus(a)` and so on.
    pub fn mirrored(self) -> Op {
        match self {
            Op::SoftplusE => Op::SoftplusNegE,
            Op::SoftplusNegE => Op::SoftplusE,
            Op::SigmoidE => Op::SigmoidNegE,
            Op::SigmoidNegE => Op::SigmoidE,
            other => other,
        }
    }

    /// Whether the operation reads a third operand `c`.
    pub fn is_ternary(self) -> bool {
        self.operands() == 3
    }

    /// How many operands the operation reads: 1 (`a`), 2 (`a`, `b`) or 3.
    pub fn operands(self) -> usize {
        match self {
            Op::MulAdd | Op::MulSub | Op::MulRsub | Op::Mul3 => 3,
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Powf
            | Op::SoftplusE
            | Op::SoftplusNegE
            | Op::SigmoidE
            | Op::SigmoidNegE
            | Op::Atan2
            | Op::Hypot
            | Op::Rem
            | Op::Min
            | Op::Max => 2,
            Op::Neg
            | Op::Recip
            | Op::Sqrt
            | Op::ExpNegAbs
            | Op::Exp
            | Op::Ln
            | Op::Log2
            | Op::Log10
            | Op::Abs
            | Op::Sign
            | Op::Signum
            | Op::Sin
            | Op::Cos
            | Op::Tan
            | Op::Asin
            | Op::Acos
            | Op::Atan
            | Op::Sinh
            | Op::Cosh
            | Op::Tanh
            | Op::Asinh
            | Op::Acosh
            | Op::Atanh
            | Op::Floor
            | Op::Ceil
            | Op::Round
            | Op::Trunc => 1,
        }
    }

    /// Whether `a op b = b op a`, so hash-consing may order the operands.
    pub fn is_commutative(self) -> bool {
        matches!(self, Op::Add | Op::Mul | Op::Min | Op::Max | Op::Hypot)
    }
}

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
/// instead of being written all over once per chunk of points (2.5 MB at W2 n = 10,000,
/// as much again as the points themselves). `inputs` when a ring saves nothing.
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

/// A compiled program: inputs in, outputs out.
#[derive(Clone, Debug)]
pub struct Tape {
    pub(crate) instrs: Vec<Instr>,
    pub(crate) slots: usize,
    pub(crate) consts: Vec<(u32, f64)>,
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    /// Every output once, in `at` order.
    pub(crate) emits: Vec<Emit>,
    /// When the batch evaluator loads which inputs into their lanes (see [`Feed`]).
    pub(crate) feeds: Vec<Feed>,
    /// Every slot an instruction names is below `slots`: checked once by [`Tape::new`],
    /// the only constructor (nothing changes a tape's fields after), so one-point
    /// evaluation may skip the bounds checks. Always true of what `compile` makes.
    pub(crate) in_bounds: bool,
    /// How many inputs a batch keeps in its lanes at once: input `k` is in lane `k % ring`
    /// (see [`ring`]); `inputs` when every input has its own.
    pub(crate) ring: usize,
    /// The instructions with their input operands in the ring's lanes, for batches (empty
    /// when `ring == inputs`: then `instrs` serve).
    pub(crate) ring_instrs: Vec<Instr>,
    /// The program as machine code, made on its `NATIVE_AFTER`th one-point evaluation
    /// where the platform allows (see [`native`]).
    pub(crate) native: native::Lazy,
}

impl Tape {
    pub(crate) fn new(
        instrs: Vec<Instr>,
        slots: usize,
        consts: Vec<(u32, f64)>,
        inputs: usize,
        outputs: usize,
        emits: Vec<Emit>,
    ) -> Tape {
        debug_assert!(instrs.iter().all(|i| {
            let s = slots as u32;
            i.dst < s
                && i.a < s
                && i.b < s
                && i.c < s
                && i.dst >= inputs as u32
                && i.dst != i.a
                && i.dst != i.b
                && i.dst != i.c
        }));
        debug_assert_eq!(emits.len(), outputs);
        debug_assert!(emits.windows(2).all(|w| w[0].at <= w[1].at));
        debug_assert!(emits.iter().all(|e| {
            (e.slot as usize) < slots
                && (e.output as usize) < outputs
                && e.at as usize <= instrs.len()
        }));
        let in_bounds = instrs.iter().all(|i| {
            [i.dst, i.a, i.b, i.c]
                .iter()
                .all(|&slot| (slot as usize) < slots)
        });
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
        Tape {
            feeds,
            ring,
            ring_instrs,
            instrs,
            slots,
            consts,
            inputs,
            outputs,
            emits,
            in_bounds,
            native: native::Lazy::default(),
        }
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
    /// when the program reads its inputs in order (see `ring` in `tape.rs`), so a batch
    /// over thousands of inputs keeps a few blocks of them in the cache.
    pub fn batch_input_lanes(&self) -> usize {
        self.ring
    }

    /// When each output is read out of which slot, in execution order.
    pub fn emits(&self) -> &[Emit] {
        &self.emits
    }

    /// Makes the program's machine code now rather than on its
    /// [`native::NATIVE_AFTER`]th one-point evaluation (whether or not native code is
    /// [`native::enabled`]); returns whether one-point evaluation runs it (false where the
    /// platform cannot, see [`native`]).
    pub fn make_native(&self) -> bool {
        self.native.make(self).is_some()
    }

    /// The program's machine code once made (x86-64, System V; see [`native`]), for
    /// inspection: disassembled, it reads as the tape does.
    pub fn native_code(&self) -> Option<&[u8]> {
        self.native.native().map(|n| n.code())
    }

    /// An estimate of the memory the program holds, in bytes (for cache weights),
    /// counting the machine code it may come to have: a page and 32 bytes an instruction.
    pub fn weight_bytes(&self) -> usize {
        let native = if native::supported() && self.len() <= native::MAX_INSTRUCTIONS {
            4096 + 32 * self.len()
        } else {
            0
        };
        native
            + std::mem::size_of::<Tape>()
            + (self.instrs.len() + self.ring_instrs.len()) * std::mem::size_of::<Instr>()
            + self.consts.len() * std::mem::size_of::<(u32, f64)>()
            + self.emits.len() * std::mem::size_of::<Emit>()
            + self.feeds.len() * std::mem::size_of::<Feed>()
    }
}
