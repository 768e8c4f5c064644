//! peercall's call engine.
//!
//! So far: the signaling client ([`signaling`]) with reconnection ([`backoff`]), peer
//! connections on webrtc 0.21 ([`peer`]) and negotiation by the protocol's "Who offers"
//! rules with trickle ICE ([`session`]), keyframe requests both ways ([`keyframe`]), and
//! the video and audio send and receive pipelines ([`video`], [`audio`]). Media pipelines, recovery, adaptation and stats
//! build on them.

pub mod audio;
pub mod backoff;
pub mod engine;
pub mod jitter;
pub mod keyframe;
pub mod peer;
pub mod session;
pub mod signaling;
pub mod video;

pub use signaling::{SignalingClient, SignalingConfig, SignalingError, SignalingEvent};

/// Why a call could not be set up or went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Signaling failed (unreachable server, full room...).
    #[error(transparent)]
    Signaling(#[from] SignalingError),
    /// The WebRTC stack refused something.
    #[error("WebRTC error: {0}")]
    WebRtc(String),
    /// ICE found no working path between the peers.
    #[error(
        "ICE failed: no network path to the other peer (check the TURN server and credentials)"
    )]
    IceFailed,
    /// The call did not come up in time.
    #[error("the call did not connect within {0:?}")]
    Timeout(std::time::Duration),
    /// The other peer left.
    #[error("the other peer ({0}) left")]
    PeerLeft(signaling_proto::PeerId),
    /// The engine was shut down.
    #[error("the call engine stopped")]
    Closed,
}

impl CallError {
    /// Wraps an error from the WebRTC stack.
    pub fn webrtc(err: impl std::fmt::Display) -> Self {
        CallError::WebRtc(err.to_string())
    }
}
