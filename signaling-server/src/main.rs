//! `signaling-server`: the peercall signaling relay as a command.
//!
//! Parses flags, sets up logging, binds the listen address and runs
//! [`signaling_server::serve`] until SIGINT or SIGTERM.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The peercall signaling relay: relays offers, answers and ICE candidates between the
/// peers of a room over WebSocket (`/ws`), and serves the browser client at `/`.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on for HTTP and WebSocket (use 0.0.0.0:8080 to accept other machines).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    #[command(flatten)]
    server: signaling_server::Config,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    cli.server.validate()?;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(%err, "could not raise the open file limit"),
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: is another server using it? Pick another --listen",
                    cli.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let (http, ws) = if cli.server.tls_cert.is_some() {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        println!("peercall signaling server: {http}://{addr}/  (WebSocket: {ws}://{addr}/ws)");
        signaling_server::serve(listener, cli.server, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
