//! x86-64 machine code for a tape, System V calling convention.
//!
//! The code is `extern "C" fn(slots: *mut f64, inputs: *const f64, out: *mut f64,
//! consts: *const f64)`. It keeps `slots` in rbx, `inputs` in rbp, `consts` in r13 and
//! `out` in r14 (callee-saved registers, so the calls into Rust keep them), an
//! instruction's operands in xmm0, xmm1 and xmm2 and its result in xmm0, then in its slot.
//! Inputs are read where the caller has them, constants from the program's own array
//! (`Native::consts`, in the order of `Tape::consts`), never as immediates: no number a
//! request chose is ever in executable memory (a JIT-spraying precaution). A value still
//! in xmm0 from the instruction before is not loaded again.

use crate::engine::func::Machine;
use crate::engine::op::{apply, dispatch, Known, Op, Visit};
use crate::engine::tape::Tape;

/// rbx: the slots.
const SLOTS: u8 = 3;
/// rbp: the inputs.
const INPUTS: u8 = 5;
/// r13: the program's constants.
const CONSTS: u8 = 13;
/// r14: the outputs.
const OUT: u8 = 14;

/// The machine code of `tape` (its constants are `Tape::consts`' values, in order), or
/// `None` if a slot lies beyond a 32-bit displacement. The code reads and writes memory
/// without checks: it relies on `Tape::new` having checked every slot and output.
pub(super) fn generate(tape: &Tape) -> Option<Vec<u8>> {
    // Which constant, if any, each slot holds.
    let mut consts = vec![None; tape.slots()];
    for (k, &(slot, _)) in tape.consts().iter().enumerate() {
        *consts.get_mut(slot as usize)? = Some(u32::try_from(k).ok()?);
    }
    let disp = |index: u32| i32::try_from(u64::from(index) * 8).ok();
    // Where a slot's value is read: `[base + disp]`.
    let operand = |slot: u32| -> Option<(u8, i32)> {
        Some(if (slot as usize) < tape.inputs() {
            (INPUTS, disp(slot)?)
        } else if let Some(k) = *consts.get(slot as usize)? {
            (CONSTS, disp(k)?)
        } else {
            (SLOTS, disp(slot)?)
        })
    };
    let mut asm = Asm {
        code: Vec::with_capacity(32 + 32 * tape.len() + 16 * tape.emits().len()),
        held: None,
    };
    // push rbx; push rbp; push r13; push r14; sub rsp, 8 (the stack 16-byte aligned for
    // calls); mov rbx, rdi; mov rbp, rsi; mov r14, rdx; mov r13, rcx.
    asm.bytes(&[0x53, 0x55, 0x41, 0x55, 0x41, 0x56, 0x48, 0x83, 0xEC, 0x08]);
    asm.bytes(&[
        0x48, 0x89, 0xFB, 0x48, 0x89, 0xF5, 0x49, 0x89, 0xD6, 0x49, 0x89, 0xCD,
    ]);
    let mut emits = tape.emits().iter().peekable();
    for (at, ins) in tape.instrs().iter().enumerate() {
        while let Some(e) = emits.next_if(|e| e.at as usize <= at) {
            asm.operand(0, e.slot, operand(e.slot)?);
            asm.store(OUT, disp(e.output)?);
        }
        // The second and third operands first: they may be copied from xmm0.
        let n = ins.op.operands();
        if n >= 3 {
            asm.operand(2, ins.c, operand(ins.c)?);
        }
        if n >= 2 {
            asm.operand(1, ins.b, operand(ins.b)?);
        }
        asm.operand(0, ins.a, operand(ins.a)?);
        asm.op(ins.op);
        asm.store(SLOTS, disp(ins.dst)?);
        asm.held = Some(ins.dst);
    }
    for e in emits {
        asm.operand(0, e.slot, operand(e.slot)?);
        asm.store(OUT, disp(e.output)?);
    }
    // add rsp, 8; pop r14; pop r13; pop rbp; pop rbx; ret.
    asm.bytes(&[
        0x48, 0x83, 0xC4, 0x08, 0x41, 0x5E, 0x41, 0x5D, 0x5D, 0x5B, 0xC3,
    ]);
    Some(asm.code)
}

/// The code so far, and what xmm0 holds.
struct Asm {
    code: Vec<u8>,
    /// The slot whose current value xmm0 holds.
    held: Option<u32>,
}

/// `0x66`: packed-double and 64-bit-move prefix.
const P66: u8 = 0x66;
/// `0xF2`: scalar-double prefix.
const PF2: u8 = 0xF2;

impl Asm {
    fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }

    /// `prefix [REX.B] 0F opcode` with register `xmm` and memory `[base + disp]`.
    fn xmm_mem(&mut self, prefix: u8, opcode: u8, xmm: u8, base: u8, disp: i32) {
        self.code.push(prefix);
        if base >= 8 {
            self.code.push(0x41);
        }
        self.bytes(&[0x0F, opcode]);
        // rbx, rbp, r13 and r14 need no SIB byte with a displacement.
        let rm = base & 7;
        debug_assert!(rm != 4);
        match i8::try_from(disp) {
            Ok(d) => self.bytes(&[0x40 | xmm << 3 | rm, d as u8]),
            Err(_) => {
                self.code.push(0x80 | xmm << 3 | rm);
                self.bytes(&disp.to_le_bytes());
            }
        }
    }

    /// `prefix 0F opcode` with registers `dst` and `src`.
    fn xmm_xmm(&mut self, prefix: u8, opcode: u8, dst: u8, src: u8) {
        self.bytes(&[prefix, 0x0F, opcode, 0xC0 | dst << 3 | src]);
    }

    /// `mov rax, bits; movq xmm, rax`: for the code's own masks and ones, never a
    /// request's numbers (those are read from the constants' array).
    fn constant(&mut self, xmm: u8, bits: u64) {
        self.bytes(&[0x48, 0xB8]);
        self.bytes(&bits.to_le_bytes());
        self.bytes(&[P66, 0x48, 0x0F, 0x6E, 0xC0 | xmm << 3]);
    }

    /// Puts the value of `slot` (at `[base + disp]`) into register `xmm`.
    fn operand(&mut self, xmm: u8, slot: u32, (base, disp): (u8, i32)) {
        if self.held == Some(slot) {
            if xmm != 0 {
                self.xmm_xmm(P66, 0x28, xmm, 0); // movapd
            }
            return;
        }
        self.xmm_mem(PF2, 0x10, xmm, base, disp); // movsd
        if xmm == 0 {
            self.held = Some(slot);
        }
    }

    /// `movsd [base + disp], xmm0`.
    fn store(&mut self, base: u8, disp: i32) {
        self.xmm_mem(PF2, 0x11, 0, base, disp);
    }

    /// `xmm0 = op(xmm0, xmm1, xmm2)`, the same IEEE operations as `eval::apply`.
    fn op(&mut self, op: Op) {
        const ADD: u8 = 0x58;
        const MUL: u8 = 0x59;
        const SUB: u8 = 0x5C;
        const DIV: u8 = 0x5E;
        match op {
            Op::Add => self.xmm_xmm(PF2, ADD, 0, 1),
            Op::Sub => self.xmm_xmm(PF2, SUB, 0, 1),
            Op::Mul => self.xmm_xmm(PF2, MUL, 0, 1),
            Op::Div => self.xmm_xmm(PF2, DIV, 0, 1),
            Op::Sqrt => self.xmm_xmm(PF2, 0x51, 0, 0),
            Op::Neg => {
                self.constant(1, 1 << 63);
                self.xmm_xmm(P66, 0x57, 0, 1); // xorpd
            }
            Op::Recip => {
                self.constant(1, 1f64.to_bits());
                self.xmm_xmm(PF2, DIV, 1, 0);
                self.xmm_xmm(P66, 0x28, 0, 1);
            }
            // Two roundings, like the interpreter: no fused multiply-add.
            Op::MulAdd => {
                self.xmm_xmm(PF2, MUL, 1, 2);
                self.xmm_xmm(PF2, ADD, 0, 1);
            }
            Op::MulSub => {
                self.xmm_xmm(PF2, MUL, 1, 2);
                self.xmm_xmm(PF2, SUB, 0, 1);
            }
            Op::MulRsub => {
                self.xmm_xmm(PF2, MUL, 1, 2);
                self.xmm_xmm(PF2, SUB, 1, 0);
                self.xmm_xmm(P66, 0x28, 0, 1);
            }
            Op::Mul3 => {
                self.xmm_xmm(PF2, MUL, 0, 1);
                self.xmm_xmm(PF2, MUL, 0, 2);
            }
            _ => match op.machine() {
                Some(Machine::AndMask(mask)) => {
                    self.constant(1, mask);
                    self.xmm_xmm(P66, 0x54, 0, 1); // andpd
                }
                Some(Machine::Call) | None => {
                    // mov rax, f; call rax
                    self.bytes(&[0x48, 0xB8]);
                    self.bytes(&(dispatch(op, Callout) as usize as u64).to_le_bytes());
                    self.bytes(&[0xFF, 0xD0]);
                }
            },
        }
    }
}

/// The function computing an operation for the code to call: the interpreter's `apply`
/// with the operation known, one function per operation.
struct Callout;

impl Visit for Callout {
    type Output = extern "C" fn(f64, f64, f64) -> f64;
    fn visit<K: Known>(self) -> Self::Output {
        call::<K>
    }
}

extern "C" fn call<K: Known>(a: f64, b: f64, c: f64) -> f64 {
    apply(K::OP, a, b, || c)
}
