//! The cache of compiled programs: bounded by memory (programs are weighed), concurrent,
//! and single-flight (many requests missing on one key at once compile it once).

use std::sync::Arc;
use std::time::Instant;

use moka::sync::Cache;

use super::error::ApiError;
use super::program::{build, Prepared, Program};
use super::spellings::{Spelled, Spellings};
use crate::config::Config;
use crate::engine::Budget;
use crate::metrics::Metrics;

/// Compiled programs by canonical key, and by exact spelling.
#[derive(Clone)]
pub struct ProgramCache {
    cache: Cache<String, Arc<Program>>,
    /// The fast path: a request spelled exactly like an earlier one (same expressions,
    /// variables, parameter names, endpoint) finds its program without being parsed
    /// (`spellings.rs`); an eighth of the capacity.
    spellings: Arc<Spellings>,
}

/// The exact-spelling key of a request: every part length-prefixed, so no two requests
/// share one.
pub fn spelling_key(
    kind: impl std::fmt::Debug,
    expressions: &[String],
    variables: Option<&[String]>,
    parameters: &[String],
) -> String {
    let parts = expressions.len() + variables.map_or(1, <[String]>::len) + parameters.len() + 3;
    let text: usize = expressions
        .iter()
        .chain(variables.unwrap_or_default())
        .chain(parameters)
        .map(String::len)
        .sum();
    let mut key = String::with_capacity(16 + text + parts * 8);
    key.push_str(&format!("{kind:?}"));
    // `|len:part`, written without the formatting machinery: this runs on every request.
    let mut part = |s: &str| {
        key.push('|');
        let mut digits = [0u8; 20];
        let (mut n, mut i) = (s.len(), digits.len());
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        key.extend(digits[i..].iter().map(|&d| char::from(d)));
        key.push(':');
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
            spellings: Arc::new(Spellings::new(
                usize::try_from(capacity_bytes / 8).unwrap_or(usize::MAX),
            )),
        }
    }

    /// The program last served for this exact spelling, if still cached.
    pub fn by_spelling(&self, key: &str, metrics: &Metrics) -> Option<Arc<Program>> {
        let spelled = self.spellings.get(key)?;
        let p = match spelled.program.upgrade() {
            Some(p) => p,
            None => self.cache.get(&*spelled.key)?,
        };
        metrics.record_cache(true);
        Some(p)
    }

    /// The program of `prepared` if it is cached (never blocks, never builds).
    pub fn cached(&self, prepared: &Prepared, metrics: &Metrics) -> Option<Arc<Program>> {
        let p = self.cache.get(&prepared.key)?;
        metrics.record_cache(true);
        Some(p)
    }

    /// Remembers that `spelling` is served by `program`, of canonical key `key`.
    pub fn remember_spelling(&self, spelling: String, key: &str, program: &Arc<Program>) {
        let spelled = Spelled {
            program: Arc::downgrade(program),
            key: Arc::from(key),
        };
        self.spellings.insert(spelling, spelled);
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
