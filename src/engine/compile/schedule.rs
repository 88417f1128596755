//! Passes 2 to 4 of compilation: the order to compute in (which also drops dead code),
//! fusion of multiplications into sums, and slot allocation with the outputs' emits.

use super::{Def, VReg};
use crate::engine::op::Op;
use crate::engine::tape::{Emit, Instr, InvalidTape, Tape};

/// Pass 2: the order to compute in. Values are sorted (stably, in definition order, which
/// is topological) by bucket, where a value's bucket is the last input it depends on or
/// later (see below). Where a function is built along its inputs, as sums over terms in a
/// few neighbouring inputs are, a term, its share of the value and the partials it feeds
/// are then computed together and die together, instead of the whole value first with
/// every term kept for the partials: the live set, and so the memory a point (or a batch
/// of points) touches, stays small. The order stays topological: an operand's bucket is
/// at most its users'. Only what an output needs is kept: this is also the dead-code
/// elimination. `key` is `Lowering::keys` (at most `n_inputs`).
fn schedule(defs: &[Def], key: &[u32], n_inputs: usize, outputs: &[VReg]) -> Vec<u32> {
    // Each value goes in a bucket: one that frees its operands' slots (every operand that
    // is computed is used by it alone: a partial sum taking in a term) in the bucket of its
    // key, as early as it can be; any other in the bucket of its earliest user, as late as
    // it can be without delaying a user, so that a value used late (a product of the
    // first and the last input's terms, say) does not hold a slot meanwhile. Users come
    // after their operands in definition order; an operand's bucket is at most its users'.
    let mut users = vec![0u32; defs.len()];
    for d in defs {
        if let Def::Instr(_, a, b) = *d {
            users[a.0 as usize] += 1;
            if b != a {
                users[b.0 as usize] += 1;
            }
        }
    }
    const LATE: u32 = u32::MAX;
    let mut bucket = vec![LATE; defs.len()];
    for o in outputs {
        bucket[o.0 as usize] = key[o.0 as usize];
    }
    for i in (0..defs.len()).rev() {
        let (Def::Instr(_, a, b), true) = (defs[i], bucket[i] != LATE) else {
            continue;
        };
        let computed = |r: VReg| matches!(defs[r.0 as usize], Def::Instr(..));
        let frees = (computed(a) || computed(b))
            && [a, b]
                .iter()
                .all(|&r| !computed(r) || users[r.0 as usize] == 1);
        if frees {
            bucket[i] = key[i];
        }
        for c in [a.0 as usize, b.0 as usize] {
            bucket[c] = bucket[c].min(bucket[i]);
        }
    }
    // A counting sort by bucket of the instructions an output needs, in definition order.
    // Buckets are keys or LATE, and a key is at most the number of inputs.
    let needed = |i: usize| bucket[i] != LATE && matches!(defs[i], Def::Instr(..));
    let mut start = vec![0u32; n_inputs + 2];
    for i in (0..defs.len()).filter(|&i| needed(i)) {
        start[bucket[i] as usize + 1] += 1;
    }
    for k in 1..start.len() {
        start[k] += start[k - 1];
    }
    let mut sorted = vec![0u32; start[n_inputs + 1] as usize];
    for i in (0..defs.len()).filter(|&i| needed(i)) {
        let k = bucket[i] as usize;
        sorted[start[k] as usize] = i as u32;
        start[k] += 1;
    }
    sorted
}

/// Pass 3: fusion. A multiplication whose only use is an addition or a subtraction is
/// absorbed into it (`MulAdd`, `MulSub`, `MulRsub`), and one whose only use is another
/// multiplication into that (`Mul3`): one instruction to dispatch instead of two, with
/// the same two roundings. Returns the program in order: for each instruction, its
/// definition, operation and three operands (definitions too).
fn fuse(defs: &[Def], order: &[u32], outputs: &[VReg]) -> Vec<(u32, Op, [u32; 3])> {
    let mut uses = vec![0u32; defs.len()];
    for &i in order {
        if let Def::Instr(_, a, b) = defs[i as usize] {
            uses[a.0 as usize] += 1;
            uses[b.0 as usize] += 1;
        }
    }
    for o in outputs {
        uses[o.0 as usize] = u32::MAX; // an output is kept as it is
    }
    // Set for a multiplication that absorbed another: it is no longer a plain product to
    // absorb (its operands are not what its definition says). `order` is topological, so
    // an operand is settled before its users.
    let mut grown = vec![false; defs.len()];
    let mut absorbed = vec![false; defs.len()];
    let mut prog = Vec::with_capacity(order.len());
    for &i in order {
        let Def::Instr(op, a, b) = defs[i as usize] else {
            continue;
        };
        let product = |r: VReg| match defs[r.0 as usize] {
            Def::Instr(Op::Mul, x, y) if uses[r.0 as usize] == 1 && !grown[r.0 as usize] => {
                Some((r, x.0, y.0))
            }
            _ => None,
        };
        let fused = match op {
            Op::Add => product(b)
                .map(|(m, x, y)| (m, Op::MulAdd, [a.0, x, y]))
                .or_else(|| product(a).map(|(m, x, y)| (m, Op::MulAdd, [b.0, x, y]))),
            Op::Sub => product(b)
                .map(|(m, x, y)| (m, Op::MulSub, [a.0, x, y]))
                .or_else(|| product(a).map(|(m, x, y)| (m, Op::MulRsub, [b.0, x, y]))),
            // `a * (x*y)` is `(x*y) * a` bitwise: multiplication commutes exactly.
            Op::Mul => product(b)
                .map(|(m, x, y)| (m, Op::Mul3, [x, y, a.0]))
                .or_else(|| product(a).map(|(m, x, y)| (m, Op::Mul3, [x, y, b.0]))),
            _ => None,
        };
        match fused {
            Some((m, op, operands)) => {
                absorbed[m.0 as usize] = true;
                grown[i as usize] = true;
                prog.push((i, op, operands));
            }
            None => prog.push((i, op, [a.0, b.0, a.0])),
        }
    }
    prog.retain(|&(i, ..)| !absorbed[i as usize]);
    prog
}

/// Programs with at most this many outputs keep them in their slots to the end: the
/// slots saved would be few, and with every output read out at the end a point runs its
/// instructions in one stretch, which is faster.
const FEW_OUTPUTS: usize = 16;

/// Pass 4: slot allocation. Inputs take slots `0..n_inputs`, the constants used the next
/// ones; every instruction takes a free slot and frees its operands' slots after their
/// last use. An output is read out (an [`Emit`]) just before its slot is written again,
/// or at the end, so outputs free their slots like any other value (unless there are
/// few, see [`FEW_OUTPUTS`]). `numbers` are the values of the `Def::Const`s.
pub(super) fn allocate(
    defs: &[Def],
    keys: &[u32],
    numbers: &[f64],
    n_inputs: usize,
    outputs: &[VReg],
) -> Result<Tape, InvalidTape> {
    let order = schedule(defs, keys, n_inputs, outputs);
    let prog = fuse(defs, &order, outputs);
    let mut last_use = vec![NONE; defs.len()];
    for (pos, (_, _, operands)) in prog.iter().enumerate() {
        for &r in operands {
            last_use[r as usize] = pos as u32;
        }
    }
    let keep_outputs = outputs.len() <= FEW_OUTPUTS;
    let mut a = Allocator::new(defs.len(), outputs);
    a.n_slots = n_inputs as u32;
    let mut fixed = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        match *d {
            Def::Input(k) => a.slot[i] = k,
            Def::Const(k) if last_use[i] != NONE || a.first_out[i] != NONE => {
                a.slot[i] = a.n_slots;
                a.consts.push((a.n_slots, numbers[k as usize]));
                a.n_slots += 1;
            }
            _ => continue,
        }
        fixed.push(i);
    }
    let mut instrs = Vec::with_capacity(prog.len());
    for (pos, &(i, op, operands)) in prog.iter().enumerate() {
        let [sa, sb, sc] = operands.map(|r| a.slot[r as usize]);
        // The destination is never an operand's slot (operands are not free while they
        // are read); operands whose last use is here are freed after it is chosen.
        let dst = a.take(pos);
        a.hold(i as usize, dst);
        for r in operands.map(|r| r as usize) {
            let computed = matches!(defs[r], Def::Instr(..));
            let kept = keep_outputs && a.first_out[r] != NONE;
            if last_use[r] == pos as u32 && computed && !kept && a.slot[r] < FREED {
                a.free.push(a.slot[r]);
                a.slot[r] = FREED; // an operand read twice must not be freed twice
            }
        }
        if last_use[i as usize] == NONE && !keep_outputs {
            a.free.push(dst); // an output nothing reads: free once read out
        }
        instrs.push(Instr {
            op,
            dst,
            a: sa,
            b: sb,
            c: sc,
        });
    }
    let end = instrs.len();
    for s in 0..a.pending.len() {
        if a.pending[s] != NONE {
            a.emit(end, s as u32);
        }
    }
    for i in fixed {
        a.emit_def(end, i, a.slot[i]);
    }
    let Allocator {
        n_slots,
        consts,
        emits,
        ..
    } = a;
    Tape::new(
        instrs,
        n_slots as usize,
        consts,
        n_inputs,
        outputs.len(),
        emits,
    )
}

const NONE: u32 = u32::MAX;
const UNSET: u32 = u32::MAX;
const FREED: u32 = u32::MAX - 1;

/// Pass 4's state.
struct Allocator {
    /// The outputs of each definition, as linked lists: `first_out` by definition,
    /// `next_out` by output.
    first_out: Vec<u32>,
    next_out: Vec<u32>,
    /// The slot of each definition (`UNSET` before, `FREED` after).
    slot: Vec<u32>,
    n_slots: u32,
    free: Vec<u32>,
    /// By slot, the instruction whose outputs it holds, not yet read out (`NONE`: none).
    pending: Vec<u32>,
    consts: Vec<(u32, f64)>,
    emits: Vec<Emit>,
}

impl Allocator {
    fn new(n_defs: usize, outputs: &[VReg]) -> Self {
        let mut first_out = vec![NONE; n_defs];
        let mut next_out = vec![NONE; outputs.len()];
        for (k, o) in outputs.iter().enumerate().rev() {
            next_out[k] = first_out[o.0 as usize];
            first_out[o.0 as usize] = k as u32;
        }
        Allocator {
            first_out,
            next_out,
            slot: vec![UNSET; n_defs],
            n_slots: 0,
            free: Vec::new(),
            pending: Vec::new(),
            consts: Vec::new(),
            emits: Vec::with_capacity(outputs.len()),
        }
    }

    /// A slot to write at instruction `at`: a free one (its pending outputs read out
    /// first) or a new one.
    fn take(&mut self, at: usize) -> u32 {
        let s = self.free.pop().unwrap_or_else(|| {
            self.n_slots += 1;
            self.n_slots - 1
        });
        if self.pending.len() <= s as usize {
            self.pending.resize(s as usize + 1, NONE);
        }
        if self.pending[s as usize] != NONE {
            self.emit(at, s);
        }
        s
    }

    /// Instruction `i` now lives in slot `s`: its outputs are pending there.
    fn hold(&mut self, i: usize, s: u32) {
        self.slot[i] = s;
        self.pending[s as usize] = if self.first_out[i] != NONE {
            i as u32
        } else {
            NONE
        };
    }

    /// Reads out, before instruction `at`, the outputs pending in slot `s`.
    fn emit(&mut self, at: usize, s: u32) {
        let def = self.pending[s as usize] as usize;
        self.pending[s as usize] = NONE;
        self.emit_def(at, def, s);
    }

    /// Reads out, before instruction `at`, the outputs of definition `def` from slot `s`.
    fn emit_def(&mut self, at: usize, def: usize, s: u32) {
        let mut k = self.first_out[def];
        while k != NONE {
            self.emits.push(Emit {
                at: at as u32,
                output: k,
                slot: s,
            });
            k = self.next_out[k as usize];
        }
    }
}
