//! A [`Tape`] with the machine code it may come to have: what the service caches and
//! evaluates. The tape stays a plain value; the code, made lazily, and the count of
//! evaluations that decides when live here, beside it.

use super::native;
use super::tape::{LengthMismatch, Tape};

/// A program ready to run: its tape, and its machine code once made (see [`native`]).
#[derive(Clone, Debug)]
pub struct Executable {
    tape: Tape,
    /// The machine code, made on the [`native::NATIVE_AFTER`]th one-point evaluation.
    /// Clones share it.
    native: native::Lazy,
}

impl From<Tape> for Executable {
    fn from(tape: Tape) -> Executable {
        Executable::new(tape)
    }
}

impl Executable {
    /// The program `tape`, interpreted until it has been evaluated often enough to be
    /// worth machine code.
    pub fn new(tape: Tape) -> Executable {
        Executable {
            tape,
            native: native::Lazy::default(),
        }
    }

    /// The program.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// Evaluates at one point: `inputs` in input order, results into `out` in root order.
    /// `scratch` is reused between calls to avoid allocating. After
    /// [`native::NATIVE_AFTER`] calls, the program runs as machine code where the platform
    /// allows (see [`native`]), with the interpreter's results bit for bit.
    pub fn eval_into(
        &self,
        inputs: &[f64],
        out: &mut [f64],
        scratch: &mut Vec<f64>,
    ) -> Result<(), LengthMismatch> {
        let tape = &self.tape;
        if inputs.len() == tape.inputs() && out.len() == tape.outputs() {
            if let Some(code) = self.native.get(tape) {
                scratch.resize(tape.slots(), 0.0);
                // SAFETY: `scratch` holds `slots` numbers, `inputs` and `out` were checked
                // against the program's lengths, and `inputs` is a shared borrow, so it
                // does not overlap the others.
                unsafe { code.run(scratch.as_mut_ptr(), inputs.as_ptr(), out.as_mut_ptr()) };
                return Ok(());
            }
        }
        tape.eval_into(inputs, out, scratch)
    }

    /// Evaluates at one point and returns the outputs.
    pub fn eval(&self, inputs: &[f64]) -> Result<Vec<f64>, LengthMismatch> {
        let mut out = vec![0.0; self.tape.outputs()];
        self.eval_into(inputs, &mut out, &mut Vec::new())?;
        Ok(out)
    }

    /// Makes the program's machine code now rather than on its
    /// [`native::NATIVE_AFTER`]th one-point evaluation (whether or not native code is
    /// [`native::enabled`]); returns whether one-point evaluation runs it (false where the
    /// platform cannot, see [`native`]).
    pub fn make_native(&self) -> bool {
        self.native.make(&self.tape).is_some()
    }

    /// The program's machine code once made (x86-64, System V; see [`native`]), for
    /// inspection: disassembled, it reads as the tape does.
    pub fn native_code(&self) -> Option<&[u8]> {
        self.native.native().map(|n| n.code())
    }

    /// An estimate of the memory the program holds, in bytes (for cache weights),
    /// counting the machine code it may come to have: a page and 32 bytes an instruction.
    pub fn weight_bytes(&self) -> usize {
        let len = self.tape.len();
        let code = if native::supported() && len <= native::MAX_INSTRUCTIONS {
            4096 + 32 * len
        } else {
            0
        };
        code + self.tape.weight_bytes() + std::mem::size_of::<native::Lazy>()
    }
}
