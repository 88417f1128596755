//! An attacker holding idle connections open: `count` connections to `addr` that never
//! send a byte, each opened again as soon as the server closes it, for `seconds`. Used by
//! `scripts/attacks.sh` (a Python client could not reopen connections as fast as the
//! server closes them past its cap). Connects to the address given only (loopback in the
//! script), and stops by itself.
//!
//!     cargo run --release --example idle_connections -- 127.0.0.1:8080 20000 30

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let fds = nabla::server::raise_fd_limit();
    let count = count.min(fds.saturating_sub(64));
    let end = Instant::now() + Duration::from_secs(seconds);
    let (opened, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (addr, opened, closed) = (addr.clone(), opened.clone(), closed.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let Ok(mut s) = TcpStream::connect(&addr).await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    opened.fetch_add(1, Ordering::Relaxed);
                    let mut buf = [0u8; 64];
                    let left = end.saturating_duration_since(Instant::now());
                    if let Ok(Ok(_)) = tokio::time::timeout(left, s.read(&mut buf)).await {
                        closed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "{count} idle connections held for {seconds} s: {} opened, {} closed by the server",
        opened.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed)
    );
}
