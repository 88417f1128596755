//! The binary: configuration, logs, bind, serve with graceful shutdown. Nothing else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nabla::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// mimalloc: the engine builds many small nodes and buffers, and glibc's allocator was a
/// large share of a big compile (see `benches/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    nabla::allocator::configure();
    let config = Config::parse();
    if config.healthcheck {
        return healthcheck(&config);
    }
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: log files and container logs get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nabla: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fds = nabla::server::raise_fd_limit();
    let code = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(addr = %config.addr, error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        nabla::engine::native::set_enabled(config.native_code);
        let limits = nabla::server::Limits::from_config(&config);
        tracing::info!(
            addr = %config.addr,
            native_code = config.native_code && nabla::engine::native::available(),
            max_connections = limits.max_connections,
            open_files_limit = fds,
            "nabla listening"
        );
        let state = nabla::http::state(config);
        match nabla::serve(listener, state, shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("nabla stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    });
    // Work still running was told to stop by its budget; do not wait on it for long.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// `nabla --healthcheck`: GET /healthz on the configured port of this machine.
fn healthcheck(config: &Config) -> ExitCode {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], config.addr.port()));
    let ok = (|| -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        Ok(buf.starts_with(b"HTTP/1.1 200"))
    })()
    .unwrap_or(false);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
