//! The service on a real socket: a concurrent burst of distinct expressions, a slow client
//! that holds a connection while others are served, and graceful shutdown; and the
//! allocator settings it starts with.

use std::time::Duration;

use nabla::config::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Starts a server on a free port; returns its address and the shutdown trigger.
async fn start(
    config: Config,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(nabla::serve(listener, nabla::http::state(config), async {
        let _ = rx.await;
    }));
    (addr, tx, server)
}

/// A minimal HTTP/1.1 client: one POST, `Connection: close`, returns (status, body).
async fn post(addr: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let status = text[9..12].parse().unwrap();
    let (_, payload) = text.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_distinct_expressions_is_answered_correctly() {
    let (addr, stop, server) = start(Config::default()).await;
    let tasks: Vec<_> = (1..=64)
        .map(|k| {
            let addr = addr.clone();
            tokio::spawn(async move {
                // f = x^k/k + k*sin(y): df/dx = x^(k-1), df/dy = k*cos(y).
                let body = json!({"expression": format!("x^{k}/{k} + {k}*sin(y)"), "point": {"x": 1.5, "y": 0.25}});
                let (status, r) = post(&addr, "/v1/gradient", &body).await;
                assert_eq!(status, 200, "{r}");
                let (dx, dy) = (r["gradient"]["x"].as_f64().unwrap(), r["gradient"]["y"].as_f64().unwrap());
                let (wx, wy) = (1.5f64.powi(k - 1), k as f64 * 0.25f64.cos());
                assert!((dx - wx).abs() <= 1e-12 * wx.abs().max(1.0), "k={k}: {dx} vs {wx}");
                assert!((dy - wy).abs() <= 1e-12 * wy.abs().max(1.0), "k={k}: {dy} vs {wy}");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_does_not_hold_up_others() {
    let (addr, stop, server) = start(Config::default()).await;
    // Half a request, then silence.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/gradient HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"expr")
        .await
        .unwrap();
    for i in 0..20 {
        let body = json!({"expression": "x*y", "point": {"x": i, "y": 2}});
        let answer =
            tokio::time::timeout(Duration::from_secs(5), post(&addr, "/v1/gradient", &body)).await;
        let (status, r) = answer.expect("served while the slow client waits");
        assert_eq!((status, r["gradient"]["x"].as_f64()), (200, Some(2.0)));
    }
    drop(slow);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let (addr, stop, server) = start(Config::default()).await;
    let body = json!({"expression": crate::rosenbrock(1000), "points": []});
    let a = addr.clone();
    let in_flight = tokio::spawn(async move { post(&a, "/v1/hessian", &body).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    let (status, r) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{r}");
    server.await.unwrap().unwrap();
}

/// `allocator::configure` sets mimalloc's purge delay: the option at the index it uses has
/// the purge delay's default before (so a mimalloc whose options moved fails here), and the
/// service's value after.
#[test]
fn the_allocator_keeps_freed_memory_for_the_configured_delay() {
    use nabla::allocator::{configure, purge_delay_ms, PURGE_DELAY_MS};
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        assert_eq!(purge_delay_ms(), 1_000, "mimalloc 3's default purge delay");
    }
    configure();
    assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
}

/// A config whose connection timeouts are short enough to watch in a test.
fn quick(idle_ms: u64, header_ms: u64, body_ms: u64) -> Config {
    Config {
        idle_timeout_ms: idle_ms,
        header_read_timeout_ms: header_ms,
        body_read_timeout_ms: body_ms,
        ..Config::default()
    }
}

/// Reads until the server closes the connection; returns what it sent and how long that
/// took (or `None` if it was still open after `limit`).
async fn until_closed(s: &mut TcpStream, limit: Duration) -> Option<(String, Duration)> {
    let start = std::time::Instant::now();
    let mut buf = Vec::new();
    match tokio::time::timeout(limit, s.read_to_end(&mut buf)).await {
        Ok(_) => Some((String::from_utf8_lossy(&buf).into_owned(), start.elapsed())),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let (addr, stop, server) = start(quick(300, 5_000, 5_000)).await;
    // Never a byte.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    let (_, after) = until_closed(&mut idle, Duration::from_secs(3))
        .await
        .expect("closed");
    assert!(
        after >= Duration::from_millis(250),
        "closed after {after:?}"
    );
    // Idle between two requests of a keep-alive connection: the same.
    let mut ka = TcpStream::connect(&addr).await.unwrap();
    ka.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (text, after) = until_closed(&mut ka, Duration::from_secs(3))
        .await
        .expect("closed");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        after >= Duration::from_millis(250),
        "closed after {after:?}"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_sent_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    let (addr, stop, server) = start(quick(2_000, 400, 5_000)).await;
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let start = std::time::Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_at = None;
    for b in head.iter() {
        // Every byte well within the idle timeout, so only the header timeout can close it.
        if slow.write_all(&[*b]).await.is_err() {
            closed_at = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed_at = match closed_at {
        Some(t) => t,
        None => {
            let (text, _) = until_closed(&mut slow, Duration::from_secs(3))
                .await
                .expect("closed");
            assert!(
                !text.contains("200 OK"),
                "the slow head was answered: {text}"
            );
            start.elapsed()
        }
    };
    assert!(
        closed_at < Duration::from_millis(2_000),
        "closed after {closed_at:?}"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_limit_exceeded_and_holds_no_permit() {
    // One permit: if the slow body held it, the second request would get 503.
    let config = Config {
        max_in_flight: 1,
        ..quick(5_000, 5_000, 400)
    };
    let (addr, stop, server) = start(config).await;
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/gradient HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"expr")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = json!({"expression": "x*y", "point": {"x": 3, "y": 2}});
    let (status, r) = post(&addr, "/v1/gradient", &body).await;
    assert_eq!(
        (status, r["gradient"]["x"].as_f64()),
        (200, Some(2.0)),
        "{r}"
    );
    let (text, after) = until_closed(&mut slow, Duration::from_secs(3))
        .await
        .expect("closed");
    assert!(text.starts_with("HTTP/1.1 422"), "{text}");
    assert!(
        text.contains("\"limit\":\"body_read_timeout_ms\""),
        "{text}"
    );
    assert!(after < Duration::from_millis(1_500), "{after:?}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_the_longest_idle_connection_makes_room() {
    let config = Config {
        max_connections: 8,
        ..Config::default()
    };
    let (addr, stop, server) = start(config).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Twenty more requests, each on a new connection: all answered at once.
    for i in 0..20 {
        let body = json!({"expression": "x*y", "point": {"x": i, "y": 2}});
        let answer =
            tokio::time::timeout(Duration::from_secs(2), post(&addr, "/v1/gradient", &body)).await;
        let (status, _) = answer.expect("answered at the cap");
        assert_eq!(status, 200);
    }
    // The first idle connection was closed to make room.
    let closed = until_closed(&mut idle[0], Duration::from_secs(2)).await;
    assert!(closed.is_some(), "the oldest idle connection is still open");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_at_once_and_stuck_ones_after_the_grace_period() {
    let config = Config {
        shutdown_grace_ms: 500,
        ..Config::default()
    };
    let (addr, stop, server) = start(config.clone()).await;
    let _idle = TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = std::time::Instant::now();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );

    // A request in flight whose body never comes: shutdown waits the grace period only.
    let (addr, stop, server) = start(config).await;
    let mut stuck = TcpStream::connect(&addr).await.unwrap();
    stuck.write_all(b"POST /v1/gradient HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = std::time::Instant::now();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
}
