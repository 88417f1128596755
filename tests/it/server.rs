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
