//! The listener: accepts connections under a cap, serves each with hyper's HTTP/1.1 under
//! timeouts, and shuts down within a grace period whatever clients do.
//!
//! `axum::serve` gives a connection no timer: an idle or slow client holds its socket and
//! its buffers for ever. Here every connection is watched by its own task (`conn.rs`):
//! - **idle:** no request in flight and no byte received for `idle_timeout`: closed;
//! - **slow header:** a request head begun but not complete after `header_read_timeout`:
//!   closed (one byte every few seconds does not keep it open);
//! - **stuck:** a request in flight for longer than the body deadline, the request
//!   timeout and the idle timeout together (a client that never reads its answer): closed.
//!
//! The body itself is read under `body_read_timeout` by the compute routes' admission
//! (`http::admit`). At `max_connections`, a new connection closes the connection that has
//! been idle longest (a keep-alive client between requests, or an attacker's idle socket),
//! so the service keeps accepting; when every connection is busy, accepting waits. On
//! shutdown, idle connections close at once, busy ones answer their request and close, and
//! after `shutdown_grace` whatever is left is dropped.

mod conn;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustc_hash::FxHashMap as HashMap;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::http::AppState;
use conn::{Clock, ConnState};

/// The connection limits, from [`crate::config::Config`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// An idle keep-alive connection (no request in flight, no byte received) closes after this.
    pub idle_timeout: Duration,
    /// A request head must be complete this long after its first byte.
    pub header_read_timeout: Duration,
    /// Longest a request may be in flight, its answer's writing included.
    pub request_lifetime: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// The largest request head (and read buffer) of a connection, in bytes.
    pub max_header_bytes: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The limits of `config`, with `max_connections` kept below the file-descriptor limit.
    pub fn from_config(config: &crate::config::Config) -> Limits {
        let fds = fd_limit().saturating_sub(FD_RESERVE).max(16);
        Limits {
            idle_timeout: Duration::from_millis(config.idle_timeout_ms),
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
            request_lifetime: Duration::from_millis(
                config
                    .body_read_timeout_ms
                    .saturating_add(config.request_timeout_ms)
                    .saturating_add(config.idle_timeout_ms),
            ),
            max_connections: config.max_connections.min(fds),
            // hyper's read buffer cannot be smaller than 8 KiB.
            max_header_bytes: config.max_header_bytes.max(8192),
            shutdown_grace: Duration::from_millis(config.shutdown_grace_ms),
        }
    }
}

/// File descriptors kept for everything that is not a client connection (the listener,
/// logs, the runtime's own, and new connections accepted past the cap while an idle one
/// closes).
const FD_RESERVE: usize = 256;

/// Connections accepted past the cap while the idle ones they displace are closing.
const SLACK: usize = 64;

/// Raises the soft limit on open files to the hard limit (a service's sockets are files).
/// Returns the soft limit in force.
pub fn raise_fd_limit() -> usize {
    #[cfg(unix)]
    if let Some(lim) = nofile() {
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: setrlimit reads the one struct passed by pointer.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        }
    }
    fd_limit()
}

/// The soft limit on open files.
fn fd_limit() -> usize {
    #[cfg(unix)]
    if let Some(lim) = nofile() {
        return usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
    }
    1024
}

/// The process's limit on open files, if the system tells it.
#[cfg(unix)]
fn nofile() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the one struct passed by pointer.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}

/// The open connections: how many, and each one's state, so that the one idle longest can
/// be told to close.
struct Registry {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    /// Signalled whenever a connection closes (accepting may be waiting for one).
    closed: Notify,
}

impl Registry {
    fn len(&self) -> usize {
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn add(&self, conn: Arc<ConnState>) {
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(conn.id, conn);
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        self.closed.notify_waiters();
    }

    /// Tells the connection idle longest to close; false when none is idle.
    fn shed_one(&self) -> bool {
        let conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = conns
            .values()
            .filter(|c| c.is_idle() && !c.is_shed())
            .min_by_key(|c| c.last_activity());
        match oldest {
            Some(c) => {
                c.shed();
                true
            }
            None => false,
        }
    }
}

/// Serves `state`'s router on `listener` until `shutdown` resolves, then answers the
/// requests in flight (at most [`Limits::shutdown_grace`]) and returns. Tests pass their
/// own listener (port 0) and shutdown future.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::from_config(&state.config);
    let router = crate::http::app(state.clone());
    let registry = Arc::new(Registry {
        conns: Mutex::new(HashMap::default()),
        closed: Notify::new(),
    });
    let clock = Clock::new();
    let ids = AtomicU64::new(0);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // Past the cap and its slack (every connection busy): wait for one to close.
        while registry.len() >= limits.max_connections + SLACK {
            let closed = registry.closed.notified();
            tokio::select! {
                () = closed => {},
                () = &mut shutdown => return drain(registry, stop_tx, limits).await,
                () = tokio::time::sleep(Duration::from_millis(100)) => {},
            }
        }
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it was
                    // accepted: not fatal. Pause so a full table is not spun on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if registry.len() >= limits.max_connections && !registry.shed_one() {
            tracing::warn!(
                max_connections = limits.max_connections,
                "every connection is busy; accepting past the cap while one closes"
            );
        }
        let _ = stream.set_nodelay(true);
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(ConnState::new(id, clock));
        registry.add(conn.clone());
        state.metrics.set_connections(registry.len());
        let (router, registry, stop, st) = (
            router.clone(),
            registry.clone(),
            stop_rx.clone(),
            state.clone(),
        );
        tokio::spawn(async move {
            conn::run(stream, conn, router, limits, stop).await;
            registry.remove(id);
            st.metrics.set_connections(registry.len());
        });
    }
    drain(registry, stop_tx, limits).await
}

/// Shutdown: every connection told to stop (idle ones close at once, busy ones after their
/// answer), then a wait of at most the grace period.
async fn drain(
    registry: Arc<Registry>,
    stop: watch::Sender<bool>,
    limits: Limits,
) -> std::io::Result<()> {
    let _ = stop.send(true);
    let all_closed = async {
        while registry.len() > 0 {
            let closed = registry.closed.notified();
            tokio::select! {
                () = closed => {},
                () = tokio::time::sleep(Duration::from_millis(50)) => {},
            }
        }
    };
    if tokio::time::timeout(limits.shutdown_grace, all_closed)
        .await
        .is_err()
    {
        tracing::warn!(
            open = registry.len(),
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "shutdown grace period over: closing the connections left"
        );
    }
    Ok(())
}
