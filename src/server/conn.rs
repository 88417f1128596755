//! One connection: hyper's HTTP/1.1 over a socket that records when bytes arrive, a
//! service that records when a request is in flight (until its answer's body is written
//! or dropped), and a watchdog that closes the connection when a timeout of
//! [`Limits`] has passed.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tower::Service;

use super::Limits;

/// Milliseconds since the server started: connection times fit in atomics.
#[derive(Clone, Copy)]
pub(super) struct Clock(Instant);

impl Clock {
    pub(super) fn new() -> Clock {
        Clock(Instant::now())
    }

    fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn instant(&self, ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.0 + Duration::from_millis(ms))
    }
}

/// What the watchdog and the registry know of a connection. Times are [`Clock`] millis;
/// `NONE` where there is none.
pub(super) struct ConnState {
    pub(super) id: u64,
    /// Requests in flight (0 or 1: HTTP/1.1 answers one at a time).
    in_flight: AtomicU32,
    /// When the last byte arrived.
    last_read: AtomicU64,
    /// When the connection last became idle (accepted, or an answer finished).
    idle_since: AtomicU64,
    /// When the first byte of a request head arrived since then (`NONE`: none yet).
    head_started: AtomicU64,
    /// When the request in flight began.
    busy_since: AtomicU64,
    /// The registry asked this connection to close (the cap was reached).
    shed: AtomicBool,
    /// Wakes the watchdog: the connection was shed.
    wake: Notify,
    /// The server's clock, to stamp reads.
    clock: Clock,
}

const NONE: u64 = u64::MAX;

impl ConnState {
    pub(super) fn new(id: u64, clock: Clock) -> ConnState {
        let now = clock.now();
        ConnState {
            id,
            in_flight: AtomicU32::new(0),
            last_read: AtomicU64::new(now),
            idle_since: AtomicU64::new(now),
            head_started: AtomicU64::new(NONE),
            busy_since: AtomicU64::new(NONE),
            shed: AtomicBool::new(false),
            wake: Notify::new(),
            clock,
        }
    }

    /// No request in flight.
    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    pub(super) fn is_shed(&self) -> bool {
        self.shed.load(Ordering::Relaxed)
    }

    /// Asks the connection to close (it is idle: nothing is lost).
    pub(super) fn shed(&self) {
        self.shed.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// When the connection was last active: its last byte, or the end of its last answer.
    pub(super) fn last_activity(&self) -> u64 {
        self.last_read
            .load(Ordering::Relaxed)
            .max(self.idle_since.load(Ordering::Relaxed))
    }

    fn on_read(&self) {
        let now = self.clock.now();
        self.last_read.store(now, Ordering::Relaxed);
        if self.is_idle() {
            // The first byte of a head. The watchdog is not woken: it already looks again
            // within a header timeout of now (see `check`), so a request costs it nothing.
            let _ =
                self.head_started
                    .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        // The read that completed the head was just now: no second look at the clock.
        let now = self.last_read.load(Ordering::Relaxed);
        self.busy_since.store(now, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// When the watchdog must look again, and whether a limit has passed now.
    fn check(&self, limits: &Limits, now: u64) -> Result<u64, &'static str> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut deadlines = [NONE; 2];
        let mut reasons = [""; 2];
        if self.is_idle() {
            deadlines[0] = self.last_activity().saturating_add(ms(limits.idle_timeout));
            reasons[0] = "idle";
            let head = self.head_started.load(Ordering::Relaxed);
            if head != NONE {
                deadlines[1] = head.saturating_add(ms(limits.header_read_timeout));
                reasons[1] = "request head not complete in time";
            }
        } else {
            let busy = self.busy_since.load(Ordering::Relaxed);
            deadlines[0] = busy.saturating_add(ms(limits.request_lifetime));
            reasons[0] = "request in flight too long";
        }
        for (d, why) in deadlines.iter().zip(reasons) {
            if *d <= now {
                return Err(why);
            }
        }
        // A head not begun yet may begin at any moment, and its deadline is then at least
        // a header timeout away: looking again by then catches it on time.
        let next_head = now.saturating_add(ms(limits.header_read_timeout));
        Ok(deadlines.into_iter().min().unwrap_or(NONE).min(next_head))
    }
}

/// A request in flight; dropped when its answer's body has been written (or dropped).
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let c = &self.0;
        c.idle_since.store(c.clock.now(), Ordering::Relaxed);
        c.head_started.store(NONE, Ordering::Relaxed);
        c.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its request in flight until hyper is done with it.
struct Guarded {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket that stamps its connection's state on every read.
struct Tracked {
    stream: TcpStream,
    conn: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.on_read();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves one connection until it ends, a limit closes it, or shutdown has let it finish.
pub(super) async fn run(
    stream: TcpStream,
    conn: Arc<ConnState>,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Tracked {
        stream,
        conn: conn.clone(),
    });
    let state = conn.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = state.begin();
        let mut router = router.clone();
        async move {
            let response = router.call(req).await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                Body::new(Guarded {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(http);
    let mut stopping = *stop.borrow();
    if stopping {
        return;
    }
    loop {
        let next = match conn.check(&limits, conn.clock.now()) {
            Ok(at) => at,
            Err(why) => {
                tracing::debug!(id = conn.id, why, "closing connection");
                return;
            }
        };
        let wake = conn.wake.notified();
        tokio::select! {
            _ = http.as_mut() => return,
            () = wake => {
                if conn.is_shed() && conn.is_idle() {
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || conn.is_idle() {
                    return;
                }
                // Answer the request in flight, then close.
                http.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(conn.clock.instant(next)) => {}
        }
        if stopping && conn.is_idle() {
            return;
        }
    }
}
