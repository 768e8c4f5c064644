//! Typed messages of the peercall signaling protocol, version 1.
//!
//! This crate is the wire contract of `protocol.md` as Rust types, shared by the
//! signaling server and the call engine. It does no I/O: every frame is one UTF-8
//! JSON object whose `type` field selects a variant of [`ClientMessage`] (client to
//! server) or [`ServerMessage`] (server to client).
//!
//! Invariants kept by the types themselves:
//! - a [`RoomId`] is 1–64 characters of `A-Z a-z 0-9 _ -`;
//! - a [`PeerName`] is at most 64 characters;
//! - a `candidate` message always carries its `candidate` field, an
//!   [`IceCandidateInit`] or `null` (end of candidates).
//!
//! The server never looks inside SDP or candidate strings; it only checks shape.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest room name, in characters.
pub const MAX_ROOM_LEN: usize = 64;
/// Longest peer name, in characters.
pub const MAX_NAME_LEN: usize = 64;
/// Path of the WebSocket endpoint on the signaling server.
pub const WS_PATH: &str = "/ws";

/// A room name: 1–64 characters of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomId(String);

impl RoomId {
    /// Checks `room` against the protocol's rule for room names.
    pub fn new(room: impl Into<String>) -> Result<Self, InvalidField> {
        let room = room.into();
        let ok = (1..=MAX_ROOM_LEN).contains(&room.len())
            && room
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(room))
        } else {
            Err(InvalidField(format!(
                "room must be 1-{MAX_ROOM_LEN} characters of A-Z a-z 0-9 _ - (got {} bytes)",
                room.len()
            )))
        }
    }

    /// The room name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomId {
    type Error = InvalidField;
    fn try_from(room: String) -> Result<Self, Self::Error> {
        Self::new(room)
    }
}

impl From<RoomId> for String {
    fn from(room: RoomId) -> Self {
        room.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name chosen by a peer: at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeerName(String);

impl PeerName {
    /// Checks `name` against the protocol's length limit.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidField> {
        let name = name.into();
        if name.chars().count() <= MAX_NAME_LEN {
            Ok(Self(name))
        } else {
            Err(InvalidField(format!(
                "name must be at most {MAX_NAME_LEN} characters"
            )))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PeerName {
    type Error = InvalidField;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::new(name)
    }
}

impl From<PeerName> for String {
    fn from(name: PeerName) -> Self {
        name.0
    }
}

impl fmt::Display for PeerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A field value that breaks the protocol's rules; the text says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidField(String);

/// A peer's id, assigned by the server and unique for one server run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(String);

impl PeerId {
    /// Wraps an id as the server assigned it.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a reconnecting peer presents in `join` to take its previous connection's place
/// in the room (see `welcome.resume`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The id it had.
    pub id: PeerId,
    /// The `resume` token its `welcome` gave it.
    pub token: String,
}

/// An access token for `join`, on a server that requires one (`--auth-secret`): opaque to
/// clients, who get it from whoever runs the server. Its `Debug` form never shows it, so
/// a logged message does not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token as given (the server checks it).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token as text, for the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(<{} bytes>)", self.0.len())
    }
}

/// An ICE candidate in the browser's `RTCIceCandidateInit` JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidateInit {
    /// The `candidate:` attribute line (empty for an end-of-generation marker).
    pub candidate: String,
    /// The media stream id the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment of the generation the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// One ICE server in the browser's `RTCIceServer` JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs (a browser also accepts a single string).
    #[serde(deserialize_with = "one_or_many")]
    pub urls: Vec<String>,
    /// TURN username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential (password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A peer already in the room, as listed in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The peer's id.
    pub id: PeerId,
    /// The peer's name, if it gave one.
    #[serde(default)]
    pub name: Option<PeerName>,
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMessage {
    /// Enter a room; a connection is in at most one room at a time.
    Join {
        /// The room to enter.
        room: RoomId,
        /// An optional display name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<PeerName>,
        /// After a reconnect: the connection this one replaces in the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
        /// The access token, on a server that requires one (ignored by others).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<AccessToken>,
    },
    /// An SDP offer, relayed.
    Offer {
        /// The session description.
        sdp: String,
        /// The one peer to send it to; everyone else in the room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// An SDP answer, relayed.
    Answer {
        /// The session description.
        sdp: String,
        /// The one peer to send it to; everyone else in the room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A trickled ICE candidate, or `null` for end-of-candidates; relayed.
    Candidate {
        /// The candidate, or `None` (JSON `null`) for end-of-candidates.
        #[serde(deserialize_with = "required_nullable")]
        candidate: Option<IceCandidateInit>,
        /// The one peer to send it to; everyone else in the room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// Leave the room; the connection stays open and may join again.
    Leave,
}

/// The part of a relayed message the server forwards unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An SDP offer.
    Offer(String),
    /// An SDP answer.
    Answer(String),
    /// A candidate, or `None` for end-of-candidates.
    Candidate(Option<IceCandidateInit>),
}

impl Signal {
    /// The server message that carries this signal from `from`, addressed as sent.
    pub fn relayed(self, from: PeerId, to: Option<PeerId>) -> ServerMessage {
        match self {
            Signal::Offer(sdp) => ServerMessage::Offer { sdp, from, to },
            Signal::Answer(sdp) => ServerMessage::Answer { sdp, from, to },
            Signal::Candidate(candidate) => ServerMessage::Candidate {
                candidate,
                from,
                to,
            },
        }
    }
}

impl ClientMessage {
    /// Parses one text frame, naming what is wrong when it is not a valid message.
    pub fn from_json(text: &str) -> Result<Self, ParseError> {
        serde_json::from_str(text).map_err(ParseError::from)
    }

    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialize")
    }

    /// Splits a relayed message into its signal and its optional addressee;
    /// `None` for `join` and `leave`.
    pub fn into_signal(self) -> Option<(Signal, Option<PeerId>)> {
        match self {
            ClientMessage::Offer { sdp, to } => Some((Signal::Offer(sdp), to)),
            ClientMessage::Answer { sdp, to } => Some((Signal::Answer(sdp), to)),
            ClientMessage::Candidate { candidate, to } => Some((Signal::Candidate(candidate), to)),
            ClientMessage::Join { .. } | ClientMessage::Leave => None,
        }
    }
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// The answer to `join`.
    Welcome {
        /// This peer's id.
        id: PeerId,
        /// The room joined.
        room: RoomId,
        /// The peers already in the room.
        peers: Vec<PeerInfo>,
        /// ICE servers to use unless the peer's own settings override them.
        #[serde(rename = "iceServers", default)]
        ice_servers: Vec<IceServer>,
        /// A secret to present (with `id`) in a later `join` after a reconnect, to take
        /// this connection's place in the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// A peer entered the room.
    PeerJoined {
        /// The new peer's id.
        id: PeerId,
        /// Its name, if it gave one.
        #[serde(default)]
        name: Option<PeerName>,
        /// The peer that came back over a new connection: the id it had (no `peer-left`
        /// was sent for it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<PeerId>,
    },
    /// A peer left the room (by `leave`, close or time-out).
    PeerLeft {
        /// The id of the peer that left.
        id: PeerId,
    },
    /// A relayed offer.
    Offer {
        /// The session description.
        sdp: String,
        /// The sender.
        from: PeerId,
        /// The addressee, when the sender named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A relayed answer.
    Answer {
        /// The session description.
        sdp: String,
        /// The sender.
        from: PeerId,
        /// The addressee, when the sender named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A relayed candidate (`None`: end-of-candidates).
    Candidate {
        /// The candidate, or `None` (JSON `null`) for end-of-candidates.
        #[serde(deserialize_with = "required_nullable")]
        candidate: Option<IceCandidateInit>,
        /// The sender.
        from: PeerId,
        /// The addressee, when the sender named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
    },
    /// A request was refused.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
}

impl ServerMessage {
    /// An `error` message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }

    /// Parses one text frame from the server.
    pub fn from_json(text: &str) -> Result<Self, ParseError> {
        serde_json::from_str(text).map_err(ParseError::from)
    }

    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

/// Why the server refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not JSON, not an object, unknown `type`, missing or wrong field, frame too big, binary frame.
    BadMessage,
    /// A relayed message before `join`.
    NotJoined,
    /// `join` while already in a room.
    AlreadyJoined,
    /// The room has its maximum number of peers.
    RoomFull,
    /// `to` names nobody in the room.
    UnknownPeer,
    /// The room's held messages reached their limit.
    QueueFull,
    /// The connection sent faster than its rate limit.
    RateLimited,
    /// The server has its maximum number of connections.
    ServerFull,
    /// `join` without a valid access token on a server that requires one.
    Unauthorized,
    /// The connection's address already has its maximum number of connections.
    TooManyConnections,
    /// A code this version does not know (from a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad-message",
            ErrorCode::NotJoined => "not-joined",
            ErrorCode::AlreadyJoined => "already-joined",
            ErrorCode::RoomFull => "room-full",
            ErrorCode::UnknownPeer => "unknown-peer",
            ErrorCode::QueueFull => "queue-full",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::ServerFull => "server-full",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::TooManyConnections => "too-many-connections",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame that is not a valid protocol message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl From<serde_json::Error> for ParseError {
    fn from(err: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let what = match err.classify() {
            Category::Syntax | Category::Eof => "not valid JSON",
            Category::Data => "not a valid message",
            Category::Io => "unreadable",
        };
        ParseError(format!("{what}: {err}"))
    }
}

/// Deserializes a field that must be present but may be `null`.
fn required_nullable<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de)
}

/// Deserializes a string or an array of strings, as browsers accept for `urls`.
fn one_or_many<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(url) => vec![url],
        OneOrMany::Many(urls) => urls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_parses_with_and_without_name() {
        let msg = ClientMessage::from_json(r#"{"type":"join","room":"abc_1-2"}"#).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Join {
                room: RoomId::new("abc_1-2").unwrap(),
                name: None,
                resume: None,
                token: None,
            }
        );
        let msg = ClientMessage::from_json(r#"{"type":"join","room":"r","name":"Ada"}"#).unwrap();
        assert!(matches!(msg, ClientMessage::Join { name: Some(n), .. } if n.as_str() == "Ada"));
    }

    #[test]
    fn join_may_carry_a_resume_and_welcome_and_peer_joined_their_parts() {
        let msg = ClientMessage::from_json(
            r#"{"type":"join","room":"r","resume":{"id":"7","token":"t0k"}}"#,
        )
        .unwrap();
        assert!(matches!(
            msg,
            ClientMessage::Join { resume: Some(Resume { id, token }), .. }
                if id.as_str() == "7" && token == "t0k"
        ));
        let joined =
            ServerMessage::from_json(r#"{"type":"peer-joined","id":"8","replaces":"7"}"#).unwrap();
        assert!(matches!(
            joined,
            ServerMessage::PeerJoined { replaces: Some(old), .. } if old.as_str() == "7"
        ));
        // Without them, nothing about resuming goes on the wire (old clients see v1 as
        // it was).
        let plain = ServerMessage::PeerJoined {
            id: PeerId::new("2"),
            name: None,
            replaces: None,
        };
        assert!(!plain.to_json().contains("replaces"));
    }

    #[test]
    fn join_may_carry_a_token_that_debug_output_never_shows() {
        let msg = ClientMessage::from_json(r#"{"type":"join","room":"r","token":"s3cr3t.t0k3n"}"#)
            .unwrap();
        assert!(matches!(
            &msg,
            ClientMessage::Join { token: Some(t), .. } if t.as_str() == "s3cr3t.t0k3n"
        ));
        assert!(!format!("{msg:?}").contains("s3cr3t"), "{msg:?}");
        assert_eq!(ClientMessage::from_json(&msg.to_json()).unwrap(), msg);
        // Without one, nothing about tokens goes on the wire.
        let plain = ClientMessage::from_json(r#"{"type":"join","room":"r"}"#).unwrap();
        assert!(!plain.to_json().contains("token"));
        let err = ServerMessage::error(ErrorCode::Unauthorized, "no token");
        assert!(err.to_json().contains(r#""code":"unauthorized""#));
        assert_eq!(
            ErrorCode::TooManyConnections.to_string(),
            "too-many-connections"
        );
    }

    #[test]
    fn room_names_outside_the_alphabet_or_length_are_rejected() {
        for bad in ["", "has space", "ümlaut", "a/b", &"x".repeat(65)] {
            let json = serde_json::json!({"type": "join", "room": bad}).to_string();
            let err = ClientMessage::from_json(&json).unwrap_err();
            assert!(err.to_string().contains("room must be"), "{bad:?}: {err}");
        }
        assert!(RoomId::new("x".repeat(64)).is_ok());
    }

    #[test]
    fn names_longer_than_64_characters_are_rejected() {
        assert!(PeerName::new("é".repeat(64)).is_ok());
        let json = serde_json::json!({"type": "join", "room": "r", "name": "n".repeat(65)});
        assert!(ClientMessage::from_json(&json.to_string()).is_err());
    }

    #[test]
    fn candidate_must_be_present_but_may_be_null() {
        let end = ClientMessage::from_json(r#"{"type":"candidate","candidate":null}"#).unwrap();
        assert_eq!(
            end,
            ClientMessage::Candidate {
                candidate: None,
                to: None
            }
        );
        assert!(ClientMessage::from_json(r#"{"type":"candidate"}"#).is_err());
        assert!(ClientMessage::from_json(r#"{"type":"candidate","candidate":"x"}"#).is_err());
    }

    #[test]
    fn browser_candidate_json_round_trips() {
        let json = r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"},"to":"7"}"#;
        let msg = ClientMessage::from_json(json).unwrap();
        let (signal, to) = msg.clone().into_signal().unwrap();
        assert_eq!(to, Some(PeerId::new("7")));
        let relayed = signal.relayed(PeerId::new("3"), to);
        let out: serde_json::Value = serde_json::from_str(&relayed.to_json()).unwrap();
        assert_eq!(out["from"], "3");
        assert_eq!(out["candidate"]["sdpMLineIndex"], 0);
        assert_eq!(out["candidate"]["usernameFragment"], "abcd");
        assert_eq!(ClientMessage::from_json(&msg.to_json()).unwrap(), msg);
    }

    #[test]
    fn unknown_types_and_non_objects_are_errors_that_say_why() {
        let err = ClientMessage::from_json(r#"{"type":"hello"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err = ClientMessage::from_json("[1,2]").unwrap_err();
        assert!(err.to_string().starts_with("not a valid message"), "{err}");
        let err = ClientMessage::from_json("{nope").unwrap_err();
        assert!(err.to_string().starts_with("not valid JSON"), "{err}");
        let err = ClientMessage::from_json(r#"{"type":"offer","sdp":5}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(ClientMessage::from_json(&deep).is_err());
        let inner = format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
        let deep_field = format!(r#"{{"type":"leave","x":{inner}}}"#);
        assert!(ClientMessage::from_json(&deep_field).is_err());
    }

    #[test]
    fn server_messages_use_the_wire_names() {
        let welcome = ServerMessage::Welcome {
            id: PeerId::new("1"),
            room: RoomId::new("r").unwrap(),
            peers: vec![PeerInfo {
                id: PeerId::new("0"),
                name: None,
            }],
            ice_servers: vec![IceServer {
                urls: vec!["stun:127.0.0.1:3478".into()],
                username: None,
                credential: None,
            }],
            resume: Some("t0k".into()),
        };
        let v: serde_json::Value = serde_json::from_str(&welcome.to_json()).unwrap();
        assert_eq!(v["resume"], "t0k");
        assert_eq!(v["type"], "welcome");
        assert_eq!(v["iceServers"][0]["urls"][0], "stun:127.0.0.1:3478");
        assert_eq!(
            ServerMessage::from_json(&welcome.to_json()).unwrap(),
            welcome
        );

        let joined = ServerMessage::PeerJoined {
            id: PeerId::new("2"),
            name: None,
            replaces: None,
        };
        assert!(joined.to_json().contains(r#""type":"peer-joined""#));
        let err = ServerMessage::error(ErrorCode::RoomFull, "full");
        assert_eq!(
            err.to_json(),
            r#"{"type":"error","code":"room-full","message":"full"}"#
        );
    }

    #[test]
    fn ice_server_urls_accept_a_single_string() {
        let s: IceServer = serde_json::from_str(r#"{"urls":"stun:a"}"#).unwrap();
        assert_eq!(s.urls, vec!["stun:a".to_string()]);
    }

    #[test]
    fn unknown_error_codes_from_a_newer_server_still_parse() {
        let msg = ServerMessage::from_json(r#"{"type":"error","code":"brand-new","message":"m"}"#)
            .unwrap();
        assert!(matches!(
            msg,
            ServerMessage::Error {
                code: ErrorCode::Unknown,
                ..
            }
        ));
    }
}
