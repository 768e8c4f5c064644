//! peercall's call engine.
//!
//! So far: the signaling client ([`signaling`]) with reconnection ([`backoff`]). The peer
//! connection, media pipelines, recovery, adaptation and stats build on it.

pub mod backoff;
pub mod signaling;

pub use signaling::{SignalingClient, SignalingConfig, SignalingError, SignalingEvent};
