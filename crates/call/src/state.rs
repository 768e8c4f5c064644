//! Where a call is, as the user sees it, and why it ended: [`CallState`] with typed
//! reasons.
//!
//! An [`EndReason`] is a normal end, a [`Failure`] is one a person may want to act on.
//! Both are `#[non_exhaustive]` kinds with a `Display` for people and a stable
//! [`code`](Failure::code) for machines (the CLI's `reason_code`); the desktop app's
//! banners and fixes are chosen by kind, never by searching the text.

use std::time::Duration;

use media::{DeviceKind, MediaError};
use serde::ser::SerializeMap;
use signaling_proto::{ErrorCode, RoomId};

use crate::{CallError, SignalingError};

/// Where a call is, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// Connecting to the signaling server and joining the room.
    Joining,
    /// In the room, alone: waiting for someone to call.
    Waiting,
    /// Someone is there: negotiating and connecting.
    Connecting,
    /// Media flows.
    Connected,
    /// The connection dropped; ICE is trying to get it back.
    Reconnecting,
    /// The call ended normally.
    Ended(EndReason),
    /// The call failed.
    Failed(Failure),
}

impl CallState {
    /// The state's name (`joining`, `connected`...).
    pub fn name(&self) -> &'static str {
        match self {
            CallState::Joining => "joining",
            CallState::Waiting => "waiting",
            CallState::Connecting => "connecting",
            CallState::Connected => "connected",
            CallState::Reconnecting => "reconnecting",
            CallState::Ended(_) => "ended",
            CallState::Failed(_) => "failed",
        }
    }

    /// Why the call ended or failed, for people (`None` while it runs).
    pub fn reason(&self) -> Option<String> {
        match self {
            CallState::Ended(reason) => Some(reason.to_string()),
            CallState::Failed(failure) => Some(failure.to_string()),
            _ => None,
        }
    }

    /// Why the call ended or failed, for machines (`None` while it runs).
    pub fn reason_code(&self) -> Option<&'static str> {
        match self {
            CallState::Ended(reason) => Some(reason.code()),
            CallState::Failed(failure) => Some(failure.code()),
            _ => None,
        }
    }
}

/// `{"state": "failed", "reason": "…", "reason_code": "room-full"}`; the reason
/// fields only for the end states.
impl serde::Serialize for CallState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("state", self.name())?;
        if let (Some(reason), Some(code)) = (self.reason(), self.reason_code()) {
            map.serialize_entry("reason", &reason)?;
            map.serialize_entry("reason_code", code)?;
        }
        map.end()
    }
}

/// Why a call ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndReason {
    /// The user hung up.
    #[error("hung up")]
    HungUp,
    /// The call ran for the duration it was given.
    #[error("the set duration passed")]
    DurationPassed,
    /// The other peer left the room.
    #[error("the other peer left")]
    PeerLeft,
    /// The other peer started over with a fresh offer (a new call follows).
    #[error("the other peer started a new call")]
    PeerStartedOver,
}

impl EndReason {
    /// A stable name for machines.
    pub fn code(&self) -> &'static str {
        match self {
            EndReason::HungUp => "hung-up",
            EndReason::DurationPassed => "duration-passed",
            EndReason::PeerLeft => "peer-left",
            EndReason::PeerStartedOver => "peer-started-over",
        }
    }
}

/// Why a call failed: what happened, for people, and [`Failure::advice`] on what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The signaling server URL cannot be used.
    #[error("invalid signaling server URL {url:?}: {reason}")]
    BadServerUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answered at the signaling server's address.
    #[error("cannot reach the signaling server at {url}: {reason}")]
    ServerUnreachable {
        /// The URL tried.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The signaling server did not complete the join in time.
    #[error("the signaling server at {url} did not answer within {after:?}")]
    ServerTimeout {
        /// The URL tried.
        url: String,
        /// How long we waited.
        after: Duration,
    },
    /// The room already has its two peers.
    #[error("room '{room}' is full")]
    RoomFull {
        /// The room.
        room: RoomId,
    },
    /// The signaling server needs an access token for the room, and ours (if any) did not
    /// do: missing, expired, for another room or name, or not signed by that server.
    #[error("not allowed into room '{room}': {message}")]
    Unauthorized {
        /// The room.
        room: RoomId,
        /// The server's explanation (what is wrong with the token).
        message: String,
    },
    /// The signaling server refused the join for another reason.
    #[error("the signaling server refused the join: {code}: {message}")]
    Refused {
        /// The server's error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The signaling connection was lost and could not be re-established.
    #[error("the connection to the signaling server was lost")]
    SignalingLost,
    /// Only relayed candidates are allowed, and none could be gathered.
    #[error("ICE failed: no relay candidate could be gathered")]
    NoRelayCandidate,
    /// ICE found no working path to the other peer.
    #[error("ICE failed: no network path to the other peer{}",
        if *.relay_candidates { " (not even through the TURN relay)" } else { " (and no TURN relay was available)" })]
    IceFailed {
        /// Whether we had relayed candidates to try.
        relay_candidates: bool,
    },
    /// The other peer's description offers no codec we decode.
    #[error("{0}")]
    NoCommonCodec(crate::sdp::Undecodable),
    /// Someone was there, but the call did not connect in time.
    #[error("the call did not connect within {0:?} of the other peer arriving")]
    ConnectTimeout(Duration),
    /// The connection broke during the call and did not come back.
    #[error("the connection to the other peer was lost and did not come back")]
    ConnectionLost,
    /// A camera, microphone or speaker could not be used.
    #[error("{detail}")]
    Device {
        /// Which kind of device (`None`: a codec or format problem).
        kind: Option<DeviceKind>,
        /// What went wrong, naming the device.
        detail: String,
    },
    /// A TURN server reached over TCP or TLS gave no relay: unreachable, certificate not
    /// trusted, credentials rejected (only relayed candidates were allowed, or there were
    /// none but from it).
    #[error("{0}")]
    Turn(crate::turn_stream::TurnFailure),
    /// The WebRTC stack refused something.
    #[error("WebRTC error: {0}")]
    WebRtc(String),
}

impl Failure {
    /// A stable name for machines.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::BadServerUrl { .. } => "bad-server-url",
            Failure::ServerUnreachable { .. } => "server-unreachable",
            Failure::ServerTimeout { .. } => "server-timeout",
            Failure::RoomFull { .. } => "room-full",
            Failure::Unauthorized { .. } => "unauthorized",
            Failure::Refused { .. } => "refused",
            Failure::SignalingLost => "signaling-lost",
            Failure::NoRelayCandidate => "no-relay-candidate",
            Failure::IceFailed { .. } => "ice-failed",
            Failure::NoCommonCodec(_) => "no-common-codec",
            Failure::ConnectTimeout(_) => "connect-timeout",
            Failure::ConnectionLost => "connection-lost",
            Failure::Device { .. } => "device",
            Failure::Turn(turn) => turn.code(),
            Failure::WebRtc(_) => "webrtc",
        }
    }

    /// What a person can do about it, where there is something to say.
    pub fn advice(&self) -> Option<&'static str> {
        Some(match self {
            Failure::BadServerUrl { .. } => "Give it as ws://HOST:PORT/ws or wss://HOST:PORT/ws.",
            Failure::ServerUnreachable { .. } | Failure::ServerTimeout { .. } => {
                "Is the server running, and is the address right?"
            }
            Failure::RoomFull { .. } => "A call has two people: pick another room.",
            Failure::Unauthorized { .. } => {
                "Ask whoever runs the server for an access token for this room, and join with it."
            }
            Failure::SignalingLost => "Check the network and the server, then call again.",
            Failure::NoRelayCandidate => "Check the TURN server's address and credentials.",
            Failure::IceFailed {
                relay_candidates: false,
            } => "A TURN server may be needed: give one with its credentials.",
            Failure::IceFailed {
                relay_candidates: true,
            }
            | Failure::ConnectTimeout(_)
            | Failure::ConnectionLost => "Check the network, the firewall and the TURN server.",
            Failure::NoCommonCodec(_) => "The other side needs a codec peercall has.",
            Failure::Turn(turn) => turn.advice(),
            Failure::Device {
                kind: Some(DeviceKind::Camera),
                ..
            } => "Pick another camera, or send the test pattern.",
            Failure::Device {
                kind: Some(DeviceKind::Microphone),
                ..
            } => "Pick another microphone, or send the test tone.",
            Failure::Device {
                kind: Some(DeviceKind::Speaker),
                ..
            } => "Pick another speaker, or play nowhere.",
            Failure::Refused { .. } | Failure::Device { kind: None, .. } | Failure::WebRtc(_) => {
                return None;
            }
        })
    }

    /// What happened and what to do, in one line.
    pub fn explained(&self) -> String {
        match self.advice() {
            Some(advice) => format!("{self}. {advice}"),
            None => self.to_string(),
        }
    }
}

impl From<CallError> for Failure {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Signaling(err) => err.into(),
            CallError::WebRtc(err) => Failure::WebRtc(err),
            CallError::Media(err) => err.into(),
            CallError::NoRelayCandidate => Failure::NoRelayCandidate,
            CallError::Turn(turn) => Failure::Turn(turn),
        }
    }
}

impl From<SignalingError> for Failure {
    fn from(err: SignalingError) -> Self {
        match err {
            SignalingError::InvalidUrl { url, reason } => Failure::BadServerUrl { url, reason },
            SignalingError::Unreachable { url, reason } => {
                Failure::ServerUnreachable { url, reason }
            }
            SignalingError::Timeout { url, after } => Failure::ServerTimeout { url, after },
            SignalingError::RoomFull { room, .. } => Failure::RoomFull { room },
            SignalingError::Unauthorized { room, message } => {
                Failure::Unauthorized { room, message }
            }
            SignalingError::Refused { code, message } => Failure::Refused { code, message },
            SignalingError::Closed => Failure::SignalingLost,
        }
    }
}

impl From<MediaError> for Failure {
    fn from(err: MediaError) -> Self {
        let kind = match &err {
            MediaError::DeviceNotFound { kind, .. }
            | MediaError::DeviceUnavailable { kind, .. } => Some(*kind),
            _ => None,
        };
        Failure::Device {
            kind,
            detail: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_states_serialize_with_their_reason_and_its_code() {
        let failed = serde_json::to_value(CallState::Failed(Failure::RoomFull {
            room: RoomId::new("r").expect("room"),
        }))
        .expect("json");
        assert_eq!(
            failed,
            serde_json::json!({"state": "failed", "reason": "room 'r' is full", "reason_code": "room-full"})
        );
        let ended = serde_json::to_value(CallState::Ended(EndReason::HungUp)).expect("json");
        assert_eq!(
            ended,
            serde_json::json!({"state": "ended", "reason": "hung up", "reason_code": "hung-up"})
        );
        let waiting = serde_json::to_value(CallState::Waiting).expect("json");
        assert_eq!(waiting, serde_json::json!({"state": "waiting"}));
    }

    #[test]
    fn a_device_failure_knows_its_device_and_advises_for_it() {
        let failure = Failure::from(CallError::Media(MediaError::DeviceNotFound {
            kind: DeviceKind::Microphone,
            wanted: "usb".into(),
            available: vec![],
        }));
        assert_eq!(failure.code(), "device");
        assert!(matches!(
            failure,
            Failure::Device {
                kind: Some(DeviceKind::Microphone),
                ..
            }
        ));
        assert_eq!(
            failure.explained(),
            "no microphone named \"usb\"; available: none found. Pick another microphone, or send the test tone."
        );
    }

    #[test]
    fn an_unreachable_server_says_what_to_do_once() {
        let failure = Failure::from(SignalingError::Unreachable {
            url: "ws://127.0.0.1:9/ws".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(failure.code(), "server-unreachable");
        let text = failure.explained();
        assert_eq!(text.matches("Is the server running").count(), 1, "{text}");
    }

    #[test]
    fn a_turn_failure_keeps_its_own_code_and_advice() {
        let failure = Failure::Turn(crate::turn_stream::TurnFailure::CertificateNotTrusted {
            server: "turn.example.com:5349".into(),
            reason: "invalid peer certificate: UnknownIssuer".into(),
        });
        assert_eq!(failure.code(), "turn-certificate");
        let text = failure.explained();
        assert!(
            text.starts_with("TURN server turn.example.com:5349: certificate not trusted"),
            "{text}"
        );
        assert!(text.contains("--turn-ca PEM"), "{text}");
    }

    #[test]
    fn a_refused_token_is_its_own_failure_that_says_what_to_do() {
        let failure = Failure::from(SignalingError::Unauthorized {
            room: RoomId::new("r").expect("room"),
            message: "the access token expired 5 s ago".into(),
        });
        assert_eq!(failure.code(), "unauthorized");
        assert_eq!(
            failure.explained(),
            "not allowed into room 'r': the access token expired 5 s ago. Ask whoever runs the server for an access token for this room, and join with it."
        );
    }

    #[test]
    fn ice_failures_tell_whether_a_relay_was_tried() {
        let without = Failure::IceFailed {
            relay_candidates: false,
        };
        let with = Failure::IceFailed {
            relay_candidates: true,
        };
        assert_ne!(without.to_string(), with.to_string());
        assert_ne!(without.advice(), with.advice());
        assert_eq!(without.code(), with.code());
    }
}
