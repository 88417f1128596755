//! The allocator's settings. The service (`src/main.rs`) runs on mimalloc with these, and
//! so do the benchmarks and profiling examples that stand for it.

use std::ffi::{c_int, c_long};

/// How long memory freed stays with the process before mimalloc returns it to the
/// operating system, in milliseconds: with mimalloc's default (one second) the megabytes a
/// large compile takes go back between requests and the next one faults them in again,
/// zeroed by the kernel (figures in `benches/README.md`).
pub const PURGE_DELAY_MS: c_long = 10_000;

/// `mi_option_purge_delay`'s index in mimalloc 3's `mimalloc.h`: libmimalloc-sys exports
/// no constant for it. A test checks that the option at this index has that option's
/// default (1,000 ms), so a mimalloc whose options moved fails it.
pub const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Applies the settings. Call it at start-up, before other threads exist: mimalloc's
/// options are not synchronised.
pub fn configure() {
    // SAFETY: a plain call into mimalloc with an option index and a value it accepts
    // for it; no other thread reads options yet (see above).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

/// The purge delay mimalloc uses now, in milliseconds.
pub fn purge_delay_ms() -> c_long {
    // SAFETY: a plain call into mimalloc that reads an option.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}
