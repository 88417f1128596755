//! Native code for small programs: one-point evaluation without an interpreter's dispatch.
//!
//! A tape evaluated at one point pays the interpreter about a dozen machine operations per
//! instruction (its fields, the jump table, the operand loads) against one or two of
//! arithmetic. Here a tape becomes x86-64 machine code instead: each instruction its
//! operand loads, its arithmetic (the four operations, square root, negation, absolute
//! value and the fused products) or a call to the same Rust function the interpreter
//! applies, and a store. The results are bitwise the interpreter's: the same IEEE
//! operations in the same order, no fused multiply-add (`tests/it/native.rs` checks it on
//! random programs and every operation).
//!
//! A tape's code is made on its [`NATIVE_AFTER`]th evaluation at one point, and only for
//! tapes of at most [`MAX_INSTRUCTIONS`]: making it costs system calls worth hundreds of
//! evaluations, so a program evaluated a few times (a graded answer at its samples) stays
//! interpreted, and one evaluated again and again (a cached program, a loop) gets code
//! early in its life. Where the
//! platform is not x86-64 with the System V calling convention, where the system refuses
//! executable memory, past [`MAX_LIVE_PROGRAMS`] or [`MAX_LIVE_BYTES`], or when the
//! operator turned it off ([`set_enabled`], the service's `--native-code false`), there is
//! no native code and the interpreter serves: the same results, slower.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use super::tape::Tape;

#[cfg(all(target_arch = "x86_64", unix))]
mod memory;
#[cfg(all(target_arch = "x86_64", unix))]
mod x64;

/// The largest program made native, in instructions (its code is up to about 70 bytes an
/// instruction, 35 typically). The code is made on the thread that evaluates (the
/// service's async runtime, for one point), and at this size that takes about as long as
/// the work the service runs inline; larger programs gain less anyway, their code
/// outgrowing the processor's caches, and many points go to the batch evaluator
/// (figures in `benches/README.md`).
pub const MAX_INSTRUCTIONS: usize = 1 << 14;

/// One-point evaluations of a tape before its code is made (see the module docs).
pub const NATIVE_AFTER: u32 = 256;

/// Whether tapes are made native: on unless the operator turns it off.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns native code on or off for tapes not yet made native (those already native keep
/// their code). Call it at start-up.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether native code is on (see [`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether this platform can run native code at all (x86-64, System V calling convention).
pub const fn supported() -> bool {
    cfg!(all(target_arch = "x86_64", unix))
}

/// Whether this process can run machine code: the platform is [`supported`] and the
/// system maps executable memory for it (a policy may refuse: SELinux's `execmem`, a
/// hardened runtime). Tried once, with a page holding a bare `ret`.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(all(target_arch = "x86_64", unix))]
        return memory::Executable::new(&[0xC3]).is_some();
        #[cfg(not(all(target_arch = "x86_64", unix)))]
        false
    })
}

/// The programs holding machine code now in this process, and the bytes mapped for it.
/// At most [`MAX_LIVE_PROGRAMS`] and [`MAX_LIVE_BYTES`]: past them, programs are
/// interpreted.
pub fn live() -> (usize, usize) {
    #[cfg(all(target_arch = "x86_64", unix))]
    return memory::live();
    #[cfg(not(all(target_arch = "x86_64", unix)))]
    (0, 0)
}

/// The most programs holding machine code at once. Each program's code is a mapping of its
/// own, and the system allows a process some 65,000 in all (`vm.max_map_count`), the
/// allocator's included.
pub const MAX_LIVE_PROGRAMS: usize = 4096;

/// The most bytes mapped for machine code at once.
pub const MAX_LIVE_BYTES: usize = 256 << 20;

/// A tape's machine code, ready to run.
pub(crate) struct Native {
    #[cfg(all(target_arch = "x86_64", unix))]
    code: memory::Executable,
    /// The program's constants, which the code reads here rather than holding them.
    #[cfg(all(target_arch = "x86_64", unix))]
    consts: Box<[f64]>,
    /// Never constructed where there is no code generator.
    #[cfg(not(all(target_arch = "x86_64", unix)))]
    _none: std::convert::Infallible,
}

impl Native {
    /// The machine code of `tape`, or `None` where there can be none (see the module docs).
    #[cfg(all(target_arch = "x86_64", unix))]
    fn new(tape: &Tape) -> Option<Native> {
        if tape.len() > MAX_INSTRUCTIONS || !available() {
            return None;
        }
        let bytes = x64::generate(tape)?;
        Some(Native {
            code: memory::Executable::new(&bytes)?,
            consts: tape.consts().iter().map(|&(_, v)| v).collect(),
        })
    }

    #[cfg(not(all(target_arch = "x86_64", unix)))]
    fn new(_: &Tape) -> Option<Native> {
        None
    }

    /// Runs the program once.
    ///
    /// # Safety
    /// `slots` points at the tape's `slots()` numbers, `inputs` at its `inputs()` numbers
    /// and `out` at its `outputs()` numbers, `inputs` not overlapping the others.
    #[cfg(all(target_arch = "x86_64", unix))]
    pub(crate) unsafe fn run(&self, slots: *mut f64, inputs: *const f64, out: *mut f64) {
        // SAFETY: the code was generated for this calling convention and signature (see
        // `x64::generate`); it reads and writes only within the buffers the caller vouches
        // for, at the slots `Tape::new` checked.
        unsafe {
            let f: unsafe extern "C" fn(*mut f64, *const f64, *mut f64, *const f64) =
                std::mem::transmute(self.code.entry());
            f(slots, inputs, out, self.consts.as_ptr())
        }
    }

    /// Never called: there is no `Native` here.
    ///
    /// # Safety
    /// None needed.
    #[cfg(not(all(target_arch = "x86_64", unix)))]
    pub(crate) unsafe fn run(&self, _: *mut f64, _: *const f64, _: *mut f64) {
        match self._none {}
    }

    /// The machine code.
    pub(crate) fn code(&self) -> &[u8] {
        #[cfg(all(target_arch = "x86_64", unix))]
        return self.code.code();
        #[cfg(not(all(target_arch = "x86_64", unix)))]
        match self._none {}
    }
}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Native({} bytes)", self.code().len())
    }
}

/// A tape's native code, made on its [`NATIVE_AFTER`]th one-point evaluation (see the
/// module docs); an [`Executable`](super::Executable) keeps it beside its tape. Clones
/// share the code.
#[derive(Default)]
pub(crate) struct Lazy {
    /// One-point evaluations before the code was made (counts to [`NATIVE_AFTER`]).
    calls: AtomicU32,
    /// The code once made: `None` if it cannot be.
    code: OnceLock<Option<Arc<Native>>>,
}

impl Lazy {
    /// The code of `tape` (the one this is kept beside), making it on the
    /// [`NATIVE_AFTER`]th call.
    #[inline]
    pub(crate) fn get(&self, tape: &Tape) -> Option<&Native> {
        if let Some(code) = self.code.get() {
            return code.as_deref();
        }
        if !supported() || !enabled() || tape.len() > MAX_INSTRUCTIONS {
            return None;
        }
        if self.calls.fetch_add(1, Ordering::Relaxed) + 1 < NATIVE_AFTER {
            return None;
        }
        self.make(tape)
    }

    /// The code of `tape`, made now if it is not yet (whatever [`enabled`] says).
    pub(crate) fn make(&self, tape: &Tape) -> Option<&Native> {
        self.code
            .get_or_init(|| Native::new(tape).map(Arc::new))
            .as_deref()
    }

    /// The code, if made.
    pub(crate) fn native(&self) -> Option<&Native> {
        self.code.get()?.as_deref()
    }
}

impl Clone for Lazy {
    fn clone(&self) -> Lazy {
        Lazy {
            calls: AtomicU32::new(self.calls.load(Ordering::Relaxed)),
            code: self.code.clone(),
        }
    }
}

impl fmt::Debug for Lazy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code.get() {
            Some(Some(n)) => n.fmt(f),
            Some(None) => f.write_str("Interpreted"),
            None => f.write_str("NotYetNative"),
        }
    }
}
