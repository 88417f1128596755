//! Configuration: every limit of the service, named, documented, and set by an
//! environment variable or the command-line flag of the same meaning.

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};

use crate::engine::parse::ParseOptions;

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The service's configuration. The defaults serve a classroom from a laptop without
/// tuning.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "nabla",
    version,
    about = "Serves gradients, Jacobians and Hessians over HTTP"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "NABLA_ADDR", default_value = "0.0.0.0:8080")]
    pub addr: SocketAddr,

    /// Memory the cache of compiled programs may hold, in bytes (programs are weighed by
    /// their size, so this bounds memory, not only entries).
    #[arg(long, env = "NABLA_CACHE_CAPACITY", default_value_t = 256 * 1024 * 1024)]
    pub cache_capacity: u64,

    /// Largest request body, in bytes; larger ones get 413 `payload_too_large`.
    #[arg(long, env = "NABLA_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Longest expression, in bytes.
    #[arg(long, env = "NABLA_MAX_EXPRESSION_BYTES", default_value_t = 256 * 1024)]
    pub max_expression_bytes: usize,

    /// Deepest nesting of parentheses, calls, signs and powers in an expression. It
    /// bounds the parser's recursion, so it also keeps the stack safe.
    #[arg(long, env = "NABLA_MAX_DEPTH", default_value_t = 200)]
    pub max_depth: usize,

    /// Most expression nodes a request may build, derivatives included: the work and
    /// memory of one compilation.
    #[arg(long, env = "NABLA_MAX_NODES", default_value_t = 2_000_000)]
    pub max_nodes: usize,

    /// Most instructions of a compiled derivative program.
    #[arg(
        long,
        env = "NABLA_MAX_PROGRAM_INSTRUCTIONS",
        default_value_t = 2_000_000
    )]
    pub max_program_instructions: usize,

    /// Largest symbolic answer, as the size of its expression trees together (every entry
    /// of a gradient, Jacobian or Hessian counted): printing costs that.
    #[arg(long, env = "NABLA_MAX_SYMBOLIC_NODES", default_value_t = 200_000)]
    pub max_symbolic_nodes: u64,

    /// Most numbers one answer may hold (points times outputs: values, gradient,
    /// Jacobian and Hessian entries), checked before anything is computed; the memory of
    /// an answer. Symbolic answers are bounded by `max_symbolic_nodes` in all.
    #[arg(long, env = "NABLA_MAX_ANSWER_VALUES", default_value_t = 1_500_000)]
    pub max_answer_values: usize,

    /// Most points in one batch (`points`).
    #[arg(long, env = "NABLA_MAX_POINTS", default_value_t = 100_000)]
    pub max_points: usize,

    /// Longest a compute request may take before it is answered `limit_exceeded`.
    #[arg(long, env = "NABLA_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,

    /// Most compute requests in flight at once (their bodies read); more get 503
    /// `overloaded`.
    #[arg(long, env = "NABLA_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,

    /// Most CPU-heavy tasks (compiling, grading, large batches and answers) running at
    /// once; 0 means one per core. More wait in a queue.
    #[arg(long, env = "NABLA_MAX_BLOCKING", default_value_t = 0)]
    pub max_blocking: usize,

    /// Most CPU-heavy tasks waiting for a core; more get 503 `overloaded`.
    #[arg(long, env = "NABLA_MAX_QUEUED", default_value_t = 64)]
    pub max_queued: usize,

    /// Most client connections open at once (kept below the process's file-descriptor
    /// limit, whose soft value is raised to the hard one at start). At the cap a new
    /// connection closes the one idle longest; when none is idle, accepting waits.
    #[arg(long, env = "NABLA_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// A connection with no request in flight that receives nothing for this long is
    /// closed (keep-alive idle timeout).
    #[arg(long, env = "NABLA_IDLE_TIMEOUT_MS", default_value_t = 15_000)]
    pub idle_timeout_ms: u64,

    /// A request head must arrive whole within this long of its first byte, or the
    /// connection is closed (slow-header clients).
    #[arg(long, env = "NABLA_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// Largest request head (request line and headers), in bytes; larger ones get 431.
    #[arg(long, env = "NABLA_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// A request body must arrive whole within this long, or the request is answered
    /// `limit_exceeded` (`body_read_timeout_ms`) and the connection closed.
    #[arg(long, env = "NABLA_BODY_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_read_timeout_ms: u64,

    /// On SIGTERM or SIGINT, how long requests in flight may take to finish before the
    /// process exits anyway. Idle connections are closed at once.
    #[arg(long, env = "NABLA_SHUTDOWN_GRACE_MS", default_value_t = 25_000)]
    pub shutdown_grace_ms: u64,

    /// A tracing filter, e.g. `info` or `nabla=debug,tower_http=info`.
    #[arg(long, env = "NABLA_LOG", default_value = "info")]
    pub log: String,

    /// Log format.
    #[arg(long, env = "NABLA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Run small programs at one point as machine code (x86-64 only; the same results as
    /// the interpreter, bit for bit). `false` for systems whose policy forbids executable
    /// memory; where the system refuses it anyway, the interpreter serves.
    #[arg(
        long,
        env = "NABLA_NATIVE_CODE",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub native_code: bool,

    /// Check that a server answers on `--addr` (its `/healthz`), then exit: 0 if it does.
    /// For a container's HEALTHCHECK, where there is no curl.
    #[arg(long)]
    pub healthcheck: bool,
}

impl Default for Config {
    fn default() -> Self {
        // The same defaults as the command line with no flags and no environment.
        Config::parse_from(["nabla"])
    }
}

impl Config {
    /// The parser's limits.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            max_depth: self.max_depth,
            max_bytes: self.max_expression_bytes,
        }
    }
}
