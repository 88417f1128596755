//! The compiled program: a straight-line list of instructions over numbered slots.
//!
//! Invariants (established by `compile`, relied on by `eval`): every slot index is below
//! [`Tape::slots`]; slots `0..inputs` hold the inputs and are never written by an
//! instruction; constant slots are never written either; an instruction reads its
//! operands before writing its destination, which may be one of them.

use super::func::Func;

/// An instruction's operation. Unary operations ignore their second operand.
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
    /// `sigmoid(-a)`, stably (the `1/(1 + exp(u))` of a recognised shape).
    SigmoidNeg,
    /// A function of the language on `a` (and `b` for binary ones).
    Call(Func),
}

impl Op {
    /// Whether `a op b = b op a`, so hash-consing may order the operands.
    pub fn is_commutative(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Mul | Op::Call(Func::Min | Func::Max | Func::Hypot)
        )
    }
}

/// One instruction: `slots[dst] = op(slots[a], slots[b])`.
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
}

/// A compiled program: inputs in, outputs out.
#[derive(Clone, Debug)]
pub struct Tape {
    pub(crate) instrs: Vec<Instr>,
    pub(crate) slots: usize,
    pub(crate) consts: Vec<(u32, f64)>,
    pub(crate) inputs: usize,
    pub(crate) outputs: Vec<u32>,
}

impl Tape {
    pub(crate) fn new(
        instrs: Vec<Instr>,
        slots: usize,
        consts: Vec<(u32, f64)>,
        inputs: usize,
        outputs: Vec<u32>,
    ) -> Tape {
        debug_assert!(instrs.iter().all(|i| {
            let s = slots as u32;
            i.dst < s && i.a < s && i.b < s && i.dst >= inputs as u32
        }));
        debug_assert!(outputs.iter().all(|&o| (o as usize) < slots));
        Tape {
            instrs,
            slots,
            consts,
            inputs,
            outputs,
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
        self.outputs.len()
    }

    /// An estimate of the memory the program holds, in bytes (for cache weights).
    pub fn weight_bytes(&self) -> usize {
        std::mem::size_of::<Tape>()
            + self.instrs.len() * std::mem::size_of::<Instr>()
            + self.consts.len() * std::mem::size_of::<(u32, f64)>()
            + self.outputs.len() * 4
    }
}
