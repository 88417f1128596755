//! The cache of compiled programs: bounded by memory (programs are weighed), concurrent,
//! and single-flight (many requests missing on one key at once compile it once).

use std::sync::Arc;
use std::time::Instant;

use moka::sync::Cache;

use super::error::ApiError;
use super::program::{build, Prepared, Program};
use crate::config::Config;
use crate::metrics::Metrics;

/// Compiled programs by canonical key.
#[derive(Clone)]
pub struct ProgramCache {
    cache: Cache<String, Arc<Program>>,
}

impl ProgramCache {
    /// A cache holding at most `capacity_bytes` of programs (by their weight).
    pub fn new(capacity_bytes: u64) -> ProgramCache {
        ProgramCache {
            cache: Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|_key: &String, p: &Arc<Program>| {
                    u32::try_from(p.weight_bytes()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The program of `prepared`, from the cache or built (blocking: call it where
    /// blocking is fine). Returns whether it was a hit. Build errors are not cached.
    pub fn get_or_build(
        &self,
        prepared: Prepared,
        config: &Config,
        metrics: &Metrics,
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
                let p = build(prepared, config).map(Arc::new);
                metrics.record_compile(start.elapsed());
                p
            })
            .map_err(|e: Arc<ApiError>| (*e).clone())?;
        metrics.record_cache(!built);
        Ok((program, !built))
    }

    /// Whether `key` is cached now (without touching its recency).
    pub fn contains(&self, key: &str) -> bool {
        self.cache.contains_key(key)
    }

    /// Entries and total weight, for `/metrics`.
    pub fn stats(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}
