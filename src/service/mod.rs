//! The service layer between HTTP and the engine: reading a request's expressions and
//! points, building and looking up programs through the cache, grading, and the error
//! type every request path answers with. It knows JSON values (points, answers) but
//! nothing of axum.

pub mod cache;
pub mod error;
pub mod evaluate;
pub mod grade;
pub mod point;
pub mod points;
pub mod program;
pub mod spellings;
pub mod tensor;
pub mod work;

pub use cache::ProgramCache;
pub use error::ApiError;
pub use work::{RequestBudget, Workers};

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::Config;
use crate::metrics::Metrics;

/// What every request shares: the configuration, the cache, the metrics, the admission
/// permits and the cores for CPU work.
pub struct Service {
    /// The configuration, limits included.
    pub config: Config,
    /// Compiled programs.
    pub cache: ProgramCache,
    /// Counters and histograms for `/metrics`.
    pub metrics: Metrics,
    /// Permits for compute requests in flight; none left means 503 `overloaded`. A
    /// tokio semaphore because a permit is held across awaits.
    pub in_flight: Arc<Semaphore>,
    /// The cores for CPU-heavy work (compiling, grading, large batches and answers).
    pub workers: Workers,
    /// Compiled programs of requests with vectors and matrices, by expressions and
    /// shapes (weighed in bytes, a quarter of the cache's capacity).
    pub tensors: moka::sync::Cache<String, Arc<tensor::TensorProgram>>,
}

impl Service {
    /// The service for `config`, shared by reference count.
    pub fn new(config: Config) -> Arc<Service> {
        Arc::new(Service {
            cache: ProgramCache::new(config.cache_capacity),
            metrics: Metrics::default(),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            workers: Workers::new(config.max_blocking, config.max_queued),
            tensors: moka::sync::Cache::builder()
                .max_capacity((config.cache_capacity / 4).max(1 << 20))
                .weigher(|k: &String, v: &Arc<tensor::TensorProgram>| {
                    u32::try_from(k.len() + v.weight_bytes()).unwrap_or(u32::MAX)
                })
                .build(),
            config,
        })
    }
}
