//! Prometheus metrics, kept in memory and rendered as text exposition at `/metrics`:
//! requests by route and status, request latency, cache hits, misses, entries and
//! weight, compile times, and the machine code held.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency and compile-time histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A histogram of seconds: one atomic counter per bucket (not cumulative: an observation
/// is one addition; `render` adds them up), so recording takes no lock.
#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    /// The sum, in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (c, b) in self.counts.iter().zip(&BUCKETS) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = cumulative + self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The statuses the service answers with, each with its own counter per route; any other
/// status is counted in a map behind a lock (none is expected).
const STATUSES: [u16; 10] = [200, 400, 404, 405, 408, 413, 415, 422, 500, 503];

/// A route's requests by status and their latency.
#[derive(Debug, Default)]
struct RouteStats {
    by_status: [AtomicU64; STATUSES.len()],
    latency: Histogram,
}

/// The service's metrics. Recording a request takes no lock: every route of
/// [`crate::http::ROUTES`] (and "unmatched") has its own atomic counters, so the two
/// workers answering requests never wait on each other here.
#[derive(Debug)]
pub struct Metrics {
    routes: [RouteStats; crate::http::ROUTES.len() + 1],
    /// Statuses outside `STATUSES`, by route.
    other: Mutex<BTreeMap<(&'static str, u16), u64>>,
    compile: Histogram,
    /// Compiled programs served from the cache.
    pub cache_hits: AtomicU64,
    /// Compiled programs built because the cache did not have them.
    pub cache_misses: AtomicU64,
    /// Client connections open now.
    connections: AtomicU64,
    /// Requests answered 503 `overloaded`, and work stopped by its time limit.
    overloaded: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            routes: std::array::from_fn(|_| RouteStats::default()),
            other: Mutex::default(),
            compile: Histogram::default(),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            overloaded: AtomicU64::new(0),
        }
    }
}

/// The route names, in the order of `Metrics::routes`.
fn route_name(i: usize) -> &'static str {
    crate::http::ROUTES.get(i).map_or("unmatched", |(_, p)| *p)
}

impl Metrics {
    /// Counts a finished request of route `route` (its index in [`crate::http::ROUTES`];
    /// any other index is "unmatched") with `status`.
    pub fn record_request(&self, route: usize, status: u16, elapsed: Duration) {
        let i = route.min(self.routes.len() - 1);
        let stats = &self.routes[i];
        match STATUSES.iter().position(|&s| s == status) {
            Some(k) => {
                stats.by_status[k].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                if let Ok(mut m) = self.other.lock() {
                    *m.entry((route_name(i), status)).or_default() += 1;
                }
            }
        }
        stats.latency.observe(elapsed);
    }

    /// Records one compilation's duration.
    pub fn record_compile(&self, elapsed: Duration) {
        self.compile.observe(elapsed);
    }

    /// Sets the number of open client connections.
    pub fn set_connections(&self, n: usize) {
        self.connections.store(n as u64, Ordering::Relaxed);
    }

    /// Counts a request refused with 503 `overloaded`.
    pub fn record_overloaded(&self) {
        self.overloaded.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a cache lookup.
    pub fn record_cache(&self, hit: bool) {
        let c = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with the cache's current `entries` and `bytes`.
    pub fn render(&self, entries: u64, bytes: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP nabla_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE nabla_requests_total counter\n");
        let mut counts: BTreeMap<(&str, u16), u64> = BTreeMap::new();
        for (i, stats) in self.routes.iter().enumerate() {
            for (c, &status) in stats.by_status.iter().zip(&STATUSES) {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    counts.insert((route_name(i), status), n);
                }
            }
        }
        if let Ok(m) = self.other.lock() {
            counts.extend(m.iter().map(|(&k, &n)| (k, n)));
        }
        for ((route, status), n) in counts {
            let _ = writeln!(
                out,
                "nabla_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP nabla_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE nabla_request_duration_seconds histogram\n");
        for (i, stats) in self.routes.iter().enumerate() {
            if stats
                .by_status
                .iter()
                .any(|c| c.load(Ordering::Relaxed) > 0)
            {
                stats.latency.render(
                    &mut out,
                    "nabla_request_duration_seconds",
                    &format!("route=\"{}\"", route_name(i)),
                );
            }
        }
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "nabla_cache_hits_total",
            "Compiled programs served from the cache.",
            self.cache_hits.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "nabla_cache_misses_total",
            "Compiled programs built on a cache miss.",
            self.cache_misses.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "nabla_overloaded_total",
            "Requests refused with 503 overloaded.",
            self.overloaded.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP nabla_connections Client connections open.\n# TYPE nabla_connections gauge\nnabla_connections {}", self.connections.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP nabla_cache_entries Compiled programs in the cache.\n# TYPE nabla_cache_entries gauge\nnabla_cache_entries {entries}");
        let _ = writeln!(out, "# HELP nabla_cache_bytes Estimated memory held by the cache.\n# TYPE nabla_cache_bytes gauge\nnabla_cache_bytes {bytes}");
        let (programs, code) = crate::engine::native::live();
        let _ = writeln!(out, "# HELP nabla_native_programs Programs holding machine code (the process's, cached or not).\n# TYPE nabla_native_programs gauge\nnabla_native_programs {programs}");
        let _ = writeln!(out, "# HELP nabla_native_code_bytes Memory mapped for machine code.\n# TYPE nabla_native_code_bytes gauge\nnabla_native_code_bytes {code}");
        out.push_str(
            "# HELP nabla_compile_duration_seconds Time to differentiate and compile a program.\n",
        );
        out.push_str("# TYPE nabla_compile_duration_seconds histogram\n");
        self.compile
            .render(&mut out, "nabla_compile_duration_seconds", "");
        out
    }
}
