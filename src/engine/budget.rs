//! How much work a request may still do: a node budget for what differentiation may build,
//! and a time budget that every long loop of the engine checks, so that work past its time
//! limit stops instead of running on after its request was answered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    /// The expression pool grew past its node budget.
    #[error("the derivative grew past the limit of {limit} nodes")]
    Nodes {
        /// The node budget that was exceeded.
        limit: usize,
    },
    /// The deadline passed, or the work was cancelled (its request was answered or gone).
    #[error("the work ran out of time")]
    Time,
}

/// A node budget, a deadline and a cancellation flag. Cheap to clone; the flag is shared.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Most nodes the pool may hold.
    pub max_nodes: usize,
    deadline: Option<Instant>,
    cancelled: Option<Arc<AtomicBool>>,
}

impl Default for Budget {
    /// No limit at all.
    fn default() -> Budget {
        Budget::nodes(usize::MAX)
    }
}

impl From<usize> for Budget {
    /// A node budget with no time limit.
    fn from(max_nodes: usize) -> Budget {
        Budget::nodes(max_nodes)
    }
}

/// How many iterations of a cheap loop pass between two looks at the clock: a look costs
/// several iterations, so it is made rarely, but often enough to stop within microseconds.
pub const CHECK_EVERY: usize = 256;

impl Budget {
    /// A node budget with no time limit.
    pub fn nodes(max_nodes: usize) -> Budget {
        Budget {
            max_nodes,
            deadline: None,
            cancelled: None,
        }
    }

    /// The same budget, ending at `deadline`.
    pub fn until(mut self, deadline: Instant) -> Budget {
        self.deadline = Some(deadline);
        self
    }

    /// The same budget, ending as soon as `flag` is set.
    pub fn cancelled_by(mut self, flag: Arc<AtomicBool>) -> Budget {
        self.cancelled = Some(flag);
        self
    }

    /// `Err(Time)` once the deadline has passed or the flag is set.
    pub fn check(&self) -> Result<(), Exhausted> {
        if let Some(flag) = &self.cancelled {
            if flag.load(Ordering::Relaxed) {
                return Err(Exhausted::Time);
            }
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(Exhausted::Time),
            _ => Ok(()),
        }
    }

    /// [`Budget::check`] on every [`CHECK_EVERY`]th call of a loop (`i` its counter).
    #[inline]
    pub fn check_every(&self, i: usize) -> Result<(), Exhausted> {
        if i % CHECK_EVERY == 0 {
            self.check()
        } else {
            Ok(())
        }
    }
}
