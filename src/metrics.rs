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

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (c, &b) in self.counts.iter_mut().zip(&BUCKETS) {
            if seconds <= b {
                *c += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (c, b) in self.counts.iter().zip(&BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The service's metrics. Counters are atomics; the labelled families sit behind
/// `std::sync::Mutex`es held only to add a number (never across an await).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    compile: Mutex<Histogram>,
    /// Compiled programs served from the cache.
    pub cache_hits: AtomicU64,
    /// Compiled programs built because the cache did not have them.
    pub cache_misses: AtomicU64,
    /// Client connections open now.
    connections: AtomicU64,
    /// Requests answered 503 `overloaded`, and work stopped by its time limit.
    overloaded: AtomicU64,
}

impl Metrics {
    /// Counts a finished request of `route` (the matched route pattern) with `status`.
    pub fn record_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            m.entry(route).or_default().observe(elapsed.as_secs_f64());
        }
    }

    /// Records one compilation's duration.
    pub fn record_compile(&self, elapsed: Duration) {
        if let Ok(mut h) = self.compile.lock() {
            h.observe(elapsed.as_secs_f64());
        }
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
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "nabla_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP nabla_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE nabla_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                h.render(
                    &mut out,
                    "nabla_request_duration_seconds",
                    &format!("route=\"{route}\""),
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
        if let Ok(h) = self.compile.lock() {
            h.render(&mut out, "nabla_compile_duration_seconds", "");
        }
        out
    }
}
