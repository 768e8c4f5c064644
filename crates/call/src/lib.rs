//! peercall's call engine.
//!
//! [`engine::run_call`] is a call from join to hang-up. It is built from: the signaling
//! client ([`signaling`], reconnecting with [`backoff`]); peer connections on webrtc 0.21
//! ([`peer`], with the [`feedback`] tap and [`rtx`] unwrapping in their interceptor
//! chain); negotiation by the protocol's "Who offers" rules with trickle ICE
//! ([`session`], checking codecs with [`sdp`]); the video and audio pipelines ([`video`],
//! [`audio`]) with frame assembly and the jitter buffer ([`jitter`]) and keyframe
//! requests ([`keyframe`]); adaptation ([`adapt`]); and the statistics ([`stats`]).

pub mod adapt;
pub mod audio;
pub mod backoff;
pub mod engine;
pub mod feedback;
pub mod jitter;
pub mod keyframe;
pub mod peer;
pub mod rtx;
pub mod sdp;
pub mod session;
pub mod signaling;
pub mod stats;
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
    /// Relay-only, but no relayed candidate could be gathered.
    #[error("ICE failed: no relay candidate — check the TURN server and credentials")]
    NoRelayCandidate,
    /// The remote offered nothing we can decode.
    #[error("{0}")]
    NoCommonCodec(String),
    /// A camera, microphone or speaker could not be used.
    #[error(transparent)]
    Media(#[from] media::MediaError),
    /// The call did not come up in time.
    #[error("the call did not connect within {0:?} of the other peer arriving")]
    Timeout(std::time::Duration),
    /// The connection broke during the call and did not come back.
    #[error("the connection to the other peer was lost and did not come back")]
    ConnectionLost,
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
