//! The cache of compiled programs: bounded by memory (programs are weighed), concurrent,
//! and single-flight (many requests missing on one key at once compile it once).

use std::sync::Arc;
use std::time::Instant;

use moka::sync::Cache;

use super::error::ApiError;
use super::program::{build, Prepared, Program};
use crate::config::Config;
use crate::engine::Budget;
use crate::metrics::Metrics;

/// Compiled programs by canonical key, and by exact spelling.
#[derive(Clone)]
pub struct ProgramCache {
    cache: Cache<String, Arc<Program>>,
    /// The fast path: a request spelled exactly like an earlier one (same expressions,
    /// variables, parameter names, endpoint) finds its program's canonical key without
    /// being parsed. It holds keys, never programs, so every program alive in the cache
    /// is weighed by `cache` (an entry here whose program was evicted finds nothing).
    /// Entries weigh both keys; an eighth of the capacity.
    spellings: Cache<String, Arc<str>>,
}

/// The exact-spelling key of a request: every part length-prefixed, so no two requests
/// share one.
pub fn spelling_key(
    kind: impl std::fmt::Debug,
    expressions: &[String],
    variables: Option<&[String]>,
    parameters: &[String],
) -> String {
    use std::fmt::Write;
    let mut key = format!("{kind:?}");
    let mut part = |s: &str| {
        let _ = write!(key, "|{}:", s.len());
        key.push_str(s);
    };
    for e in expressions {
        part(e);
    }
    match variables {
        Some(vs) => {
            part("variables");
            vs.iter().for_each(|v| part(v));
        }
        None => part("inferred"),
    }
    part("parameters");
    parameters.iter().for_each(|p| part(p));
    key
}

impl ProgramCache {
    /// A cache holding at most `capacity_bytes` of programs (by their weight).
    pub fn new(capacity_bytes: u64) -> ProgramCache {
        ProgramCache {
            cache: Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &String, p: &Arc<Program>| {
                    u32::try_from(key.len() + p.weight_bytes()).unwrap_or(u32::MAX)
                })
                .build(),
            spellings: Cache::builder()
                .max_capacity(capacity_bytes / 8)
                .weigher(|key: &String, canonical: &Arc<str>| {
                    u32::try_from(key.len() + canonical.len() + 64).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The program last served for this exact spelling, if still cached.
    pub fn by_spelling(&self, key: &str, metrics: &Metrics) -> Option<Arc<Program>> {
        let canonical = self.spellings.get(key)?;
        let p = self.cache.get(&*canonical)?;
        metrics.record_cache(true);
        Some(p)
    }

    /// The program of `prepared` if it is cached (never blocks, never builds).
    pub fn cached(&self, prepared: &Prepared, metrics: &Metrics) -> Option<Arc<Program>> {
        let p = self.cache.get(&prepared.key)?;
        metrics.record_cache(true);
        Some(p)
    }

    /// Remembers that `spelling` is served by the program of canonical key `key`.
    pub fn remember_spelling(&self, spelling: String, key: &str) {
        self.spellings.insert(spelling, Arc::from(key));
    }

    /// The program of `prepared`, from the cache or built (blocking: call it where
    /// blocking is fine). Returns whether it was a hit. Build errors are not cached.
    pub fn get_or_build(
        &self,
        prepared: Prepared,
        config: &Config,
        metrics: &Metrics,
        budget: &Budget,
    ) -> Result<(Arc<Program>, bool), ApiError> {
        if let Some(p) = self.cache.get(&prepared.key) {
            metrics.record_cache(true);
            return Ok((p, true));
        }
        let mut built = false;
        let key = prepared.key.clone();
        let program = self
            .cache
            .try_get_with(key, || {
                built = true;
                let start = Instant::now();
                let p = build(prepared, config, budget).map(Arc::new);
                metrics.record_compile(start.elapsed());
                p
            })
            .map_err(|e: Arc<ApiError>| (*e).clone())?;
        metrics.record_cache(!built);
        Ok((program, !built))
    }

    /// Entries and total weight, for `/metrics`.
    pub fn stats(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}
