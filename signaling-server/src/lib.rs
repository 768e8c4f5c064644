//! The peercall signaling relay (protocol v1, see `protocol.md`).
//!
//! A pure relay state machine ([`relay::Relay`]) inside a thin shell ([`serve`]) that
//! owns sockets, WebSocket framing, limits, a bounded outbox per peer and keepalive.
//! The same port serves the browser client (`GET /`) and `GET /healthz`.
//!
//! Embedding: bind a listener, pick a [`Config`] and a shutdown future:
//!
//! ```no_run
//! # async fn run() -> Result<(), signaling_server::ServerError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("ws://{}/ws", listener.local_addr()?);
//! signaling_server::serve(listener, signaling_server::Config::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

pub mod auth;
pub mod cluster;
pub mod config;
pub mod ice;
pub mod limits;
pub mod origin;
pub mod relay;
mod server;
mod tls;

pub use config::Config;
pub use server::serve;

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The flags do not make a working configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The TLS certificate or key could not be loaded.
    #[error("cannot load TLS {what} from {path}: {reason}")]
    Tls {
        /// "certificate" or "key".
        what: &'static str,
        /// The file named on the command line.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A socket operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
