//! peercall's call engine.
//!
//! [`run_call`] is a call from join to hang-up, as [`CallOptions`] ask for it. Its
//! decisions (who offers, what a peer leaving or rejoining means, timeouts, why the call
//! ended) are made by a plain state machine ([`machine`]) with typed outcomes
//! ([`state`]); the [`engine`] is the shell that runs the machine's actions against: the
//! signaling client ([`signaling`], reconnecting with [`backoff`]); peer connections on
//! webrtc 0.21 ([`peer`], with the [`feedback`] tap and [`rtx`] unwrapping in their
//! interceptor chain, codecs checked with [`sdp`]); and the call's media
//! ([`media_session`]): the video and audio pipelines ([`video`], [`audio`]: four
//! specialisations of one shape, [`pipeline`]) with frame assembly and the jitter buffer
//! ([`jitter`]) and keyframe requests ([`keyframe`]), adaptation ([`adapt`]) and the
//! statistics ([`stats`]). RTP's wrapping counters are unwrapped in one place
//! ([`sequence`]). TURN servers reached over TCP or TLS go through a bridge of ours
//! ([`turn_stream`]), since the stack speaks TURN over UDP only. Chat lines ([`chat`]) and
//! files ([`file`]) travel on the connection's data channel, once both sides have said
//! it is open ([`channel`]).

pub mod adapt;
pub mod audio;
pub mod backoff;
pub mod channel;
pub mod chat;
pub mod doctor;
pub mod dtls_repeats;
pub mod engine;
pub mod feedback;
pub mod file;
mod file_io;
pub mod jitter;
pub mod keyframe;
pub mod machine;
pub mod media_session;
pub mod network;
pub mod options;
pub mod peer;
pub mod pipeline;
pub mod rtx;
pub mod sdp;
pub mod sequence;
pub mod signaling;
pub mod state;
pub mod stats;
pub mod turn_stream;
pub mod verify;
pub mod video;

pub use chat::{ChatError, ChatMessage};
pub use engine::{CallCommand, CallEvent, ShareEvent, Summary, run_call, run_call_with};
pub use options::{
    AudioInput, AudioOutput, CallOptions, FrameSink, IceOptions, MediaSwitches, ProcessingOptions,
    TurnServer, VideoInput, open_audio, open_speaker, open_video,
};
pub use signaling::{SignalingClient, SignalingConfig, SignalingError, SignalingEvent};
pub use state::{CallState, EndReason, Failure};

/// Why setting up a part of the call failed (the call's own failures are
/// [`Failure`]s, which these become).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Signaling failed (unreachable server, full room...).
    #[error(transparent)]
    Signaling(#[from] SignalingError),
    /// The WebRTC stack refused something.
    #[error("WebRTC error: {0}")]
    WebRtc(String),
    /// Relay-only, but no TURN server to gather relayed candidates from.
    #[error("ICE failed: no relay candidate — check the TURN server and credentials")]
    NoRelayCandidate,
    /// A camera, microphone or speaker could not be used.
    #[error(transparent)]
    Media(#[from] media::MediaError),
    /// TURN over TCP or TLS cannot be set up (its CA file).
    #[error(transparent)]
    Turn(#[from] turn_stream::TurnFailure),
}

impl CallError {
    /// Wraps an error from the WebRTC stack.
    pub fn webrtc(err: impl std::fmt::Display) -> Self {
        CallError::WebRtc(err.to_string())
    }
}
