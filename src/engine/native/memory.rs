//! Executable memory: pages mapped writable, filled with code, then made read-and-execute
//! (never writable and executable at once), unmapped on drop.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{MAX_LIVE_BYTES, MAX_LIVE_PROGRAMS as MAX_LIVE};

/// Mappings of code alive now, and their bytes.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Counts a mapping of `len` bytes in, unless that would pass a limit.
fn reserve(len: usize) -> bool {
    if LIVE.fetch_add(1, Ordering::Relaxed) >= MAX_LIVE {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        return false;
    }
    if LIVE_BYTES.fetch_add(len, Ordering::Relaxed) + len > MAX_LIVE_BYTES {
        release(len);
        return false;
    }
    true
}

/// Counts a mapping of `len` bytes out.
fn release(len: usize) {
    LIVE.fetch_sub(1, Ordering::Relaxed);
    LIVE_BYTES.fetch_sub(len, Ordering::Relaxed);
}

/// The mappings of code alive now, and their bytes.
pub(super) fn live() -> (usize, usize) {
    (
        LIVE.load(Ordering::Relaxed),
        LIVE_BYTES.load(Ordering::Relaxed),
    )
}

/// Pages holding machine code, readable and executable, not writable.
pub(super) struct Executable {
    /// The start of the mapping: the code's entry point.
    ptr: NonNull<u8>,
    /// The mapping's length (whole pages).
    len: usize,
    /// The code's length.
    code_len: usize,
}

// SAFETY: the pages are never written after `new`; running and reading them from any
// thread is fine, and only `drop` (with the value owned) unmaps them.
unsafe impl Send for Executable {}
// SAFETY: as above: shared access only reads.
unsafe impl Sync for Executable {}

impl Executable {
    /// `code` in executable pages, or `None` if the system refuses them (memory limits,
    /// a policy against executable mappings).
    pub(super) fn new(code: &[u8]) -> Option<Executable> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|&p| p > 0)?;
        let len = code.len().max(1).checked_next_multiple_of(page)?;
        if !reserve(len) {
            return None;
        }
        // SAFETY: an anonymous private mapping at an address of the system's choosing
        // touches no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        let Some(ptr) = NonNull::new(ptr.cast::<u8>()).filter(|_| ptr != libc::MAP_FAILED) else {
            release(len);
            return None;
        };
        let mapped = Executable {
            ptr,
            len,
            code_len: code.len(),
        };
        // SAFETY: the mapping is `len >= code.len()` bytes, writable, and fresh, so it does
        // not overlap `code`.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), ptr.as_ptr(), code.len()) };
        // SAFETY: the whole mapping, ours, made read-and-execute.
        let ok =
            unsafe { libc::mprotect(ptr.as_ptr().cast(), len, libc::PROT_READ | libc::PROT_EXEC) };
        // On failure `mapped` is dropped, which unmaps it.
        (ok == 0).then_some(mapped)
    }

    /// The address of the first byte of code.
    pub(super) fn entry(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The code.
    pub(super) fn code(&self) -> &[u8] {
        // SAFETY: the mapping is readable, at least `code_len` bytes long, never written
        // after `new`, and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.code_len) }
    }
}

impl Drop for Executable {
    fn drop(&mut self) {
        // SAFETY: the mapping `new` made, unmapped once; no code runs in it, since running
        // needs a borrow of the `Native` that owns it.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        release(self.len);
    }
}
