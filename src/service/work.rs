//! CPU-heavy work off the async runtime, bounded: at most one task per core runs at once,
//! a bounded queue waits for a core, and past the queue a request is refused (503
//! `overloaded`). Each task carries its request's [`Budget`], so work past its time limit
//! stops; its core is given back only when it has stopped.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::config::Config;
use crate::engine::Budget;

/// The cores for CPU-heavy work and the queue in front of them.
pub struct Workers {
    /// One permit per task allowed to run; a running task holds its permit until it
    /// returns (not until its request is answered).
    cores: Arc<Semaphore>,
    /// Tasks waiting for a permit.
    queued: AtomicUsize,
    max_queued: usize,
}

/// Gives back a place in the queue however the wait ends (a permit, or the request gone).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Workers {
    /// `threads` tasks at once (0: one per core), `max_queued` waiting.
    pub fn new(threads: usize, max_queued: usize) -> Workers {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            threads
        };
        Workers {
            cores: Arc::new(Semaphore::new(threads)),
            queued: AtomicUsize::new(0),
            max_queued,
        }
    }

    /// Runs `f` on a blocking thread once a core is free. Refuses with 503 `overloaded`
    /// when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = match self.cores.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    return Err(ApiError::overloaded());
                }
                let _place = Queued(&self.queued);
                self.cores
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ApiError::internal("the worker pool is closed"))?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _core = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::internal(format!("a worker task failed: {e}")))?
    }
}

/// A request's budget: the node limit, its deadline, and a flag set when the request is
/// answered or dropped (the guard's drop), which stops the work it started.
pub struct RequestBudget {
    /// What the engine checks.
    pub budget: Budget,
    /// When the request's time is up (the budget's deadline, for the caller's timer).
    pub deadline: Instant,
    flag: Arc<AtomicBool>,
}

impl RequestBudget {
    /// The budget of a request starting now.
    pub fn start(config: &Config) -> RequestBudget {
        let flag = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_millis(config.request_timeout_ms);
        RequestBudget {
            budget: Budget::nodes(config.max_nodes)
                .until(deadline)
                .cancelled_by(flag.clone()),
            deadline,
            flag,
        }
    }
}

impl Drop for RequestBudget {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::Relaxed);
    }
}
