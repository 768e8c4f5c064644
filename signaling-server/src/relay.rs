//! The relay: rooms, peers and held messages as a plain state machine.
//!
//! No sockets and no clock: the shell feeds it connects, parsed messages and
//! disconnects, and sends what it returns. Every input yields the list of
//! [`Outbound`] messages to deliver, in order; a refused request yields an
//! `error` to its sender. Invariants:
//! - a peer is in at most one room, and a room never holds more than `max_peers`;
//! - a room exists only while it has members;
//! - held messages come from the room's only member, are at most
//!   `max_held_messages` and `max_held_bytes`, and go, in order, to the next
//!   peer that joins, right after its `welcome`;
//! - outputs for one input are in the order they must be delivered, so a
//!   sender's messages reach each recipient in the order sent;
//! - a peer that reconnects and joins with the `resume` token of its previous
//!   connection takes that connection's place in the room: the old one leaves the room
//!   unannounced (it is left to close or time out on its own), and the others hear
//!   `peer-joined` with `replaces`. A token is an HMAC of the id under a key made for
//!   this relay, so it cannot be guessed and needs no storage;
//! - with an access key (`--auth-secret`, see [`crate::auth`]), a peer is in a room only
//!   if its `join` carried a token for that room (and its name, if the token names one)
//!   that checked out then, or took back the place of a peer that did (the resume
//!   carries the authorization forward, so a reconnect after the token expired keeps
//!   its place). Anything else is refused `unauthorized` before the room is looked at,
//!   so neither `welcome` nor its TURN credentials reach it.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use signaling_proto::{
    AccessToken, ClientMessage, ErrorCode, PeerId, PeerInfo, PeerName, Resume, RoomId,
    ServerMessage, Signal,
};

use crate::auth::{Grant, TokenError, TokenKey};
use crate::ice::IceConfig;

/// Room and hold limits of the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayLimits {
    /// Most peers in one room.
    pub max_peers: usize,
    /// Most messages a room holds for a peer yet to join.
    pub max_held_messages: usize,
    /// Most bytes (of the frames as received) a room holds.
    pub max_held_bytes: usize,
}

impl Default for RelayLimits {
    fn default() -> Self {
        Self {
            max_peers: 2,
            max_held_messages: 128,
            max_held_bytes: 1 << 20,
        }
    }
}

/// One message to deliver to one or more peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The recipients.
    pub to: Vec<PeerId>,
    /// The message.
    pub message: ServerMessage,
}

impl Outbound {
    fn one(to: &PeerId, message: ServerMessage) -> Self {
        Self {
            to: vec![to.clone()],
            message,
        }
    }
}

#[derive(Debug, Default)]
struct PeerState {
    room: Option<RoomId>,
}

#[derive(Debug)]
struct Member {
    id: PeerId,
    name: Option<PeerName>,
    /// The name its access token pinned it to, if any (kept when it resumes).
    token_name: Option<PeerName>,
}

#[derive(Debug, Default)]
struct Room {
    members: Vec<Member>,
    held: VecDeque<ServerMessage>,
    held_bytes: usize,
}

impl Room {
    fn others(&self, peer: &PeerId) -> Vec<PeerId> {
        self.members
            .iter()
            .filter(|m| &m.id != peer)
            .map(|m| m.id.clone())
            .collect()
    }
}

/// The relay state machine of protocol v1.
#[derive(Debug)]
pub struct Relay {
    limits: RelayLimits,
    ice: IceConfig,
    next_id: u64,
    peers: HashMap<PeerId, PeerState>,
    rooms: HashMap<RoomId, Room>,
    /// The key resume tokens are made with (none: no resuming).
    resume_key: Option<ResumeKey>,
    /// The key access tokens are checked with (none: anyone may join).
    auth: Option<TokenKey>,
}

impl Relay {
    /// An empty relay, with resume tokens made under `resume_key` (random per server
    /// run: tokens from another run are not honoured; none: peers cannot resume).
    pub fn new(limits: RelayLimits, ice: IceConfig, resume_key: Option<[u8; 32]>) -> Self {
        Self {
            limits,
            ice,
            next_id: 1,
            peers: HashMap::new(),
            rooms: HashMap::new(),
            resume_key: resume_key.map(ResumeKey::new),
            auth: None,
        }
    }

    /// Requires every `join` to carry an access token checked with `auth` (none: anyone
    /// may join, and tokens are ignored).
    pub fn with_auth(mut self, auth: Option<TokenKey>) -> Self {
        self.auth = auth;
        self
    }

    /// The resume token for `peer` (none when this relay does not resume).
    pub fn resume_token(&self, peer: &PeerId) -> Option<String> {
        Some(self.resume_key.as_ref()?.token(peer))
    }

    /// Whether `resume` is a genuine token for its id.
    fn genuine(&self, resume: &Resume) -> bool {
        self.resume_key
            .as_ref()
            .is_some_and(|key| key.genuine(resume))
    }

    /// Registers a new connection and returns its id, unique for this relay.
    pub fn connect(&mut self) -> PeerId {
        let id = PeerId::new(self.next_id.to_string());
        self.next_id += 1;
        self.peers.insert(id.clone(), PeerState::default());
        id
    }

    /// Handles one message from `from`; `size` is the frame's length in bytes and
    /// `now_unix` the wall-clock time in seconds (for TURN credentials).
    pub fn handle(
        &mut self,
        from: &PeerId,
        message: ClientMessage,
        size: usize,
        now_unix: u64,
    ) -> Vec<Outbound> {
        let Some(state) = self.peers.get(from) else {
            // Not connected: nothing to answer to.
            return Vec::new();
        };
        let room = state.room.clone();
        match (message, room) {
            (ClientMessage::Join { room: wanted, .. }, Some(current)) => refuse(
                from,
                ErrorCode::AlreadyJoined,
                format!("already in room '{current}' (asked for '{wanted}'): send leave first"),
            ),
            (
                ClientMessage::Join {
                    room,
                    name,
                    resume,
                    token,
                },
                None,
            ) => {
                let replaces = resume
                    .filter(|r| &r.id != from && self.genuine(r))
                    .map(|r| r.id)
                    .filter(|old| self.room_of(old) == Some(&room));
                match self.authorize(&room, name, token.as_ref(), replaces.as_ref(), now_unix) {
                    Ok((name, token_name)) => {
                        self.join(from, room, name, token_name, replaces, now_unix)
                    }
                    Err(why) => refuse(from, ErrorCode::Unauthorized, why.to_string()),
                }
            }
            (ClientMessage::Leave, Some(room)) => self.leave(from, &room),
            (ClientMessage::Leave, None) => refuse(from, ErrorCode::NotJoined, "not in a room"),
            (relayed, None) => refuse(
                from,
                ErrorCode::NotJoined,
                format!(
                    "join a room before sending {}",
                    kind(&relayed).unwrap_or("messages")
                ),
            ),
            (relayed, Some(room)) => match relayed.into_signal() {
                Some((signal, to)) => self.relay(from, &room, signal, to, size),
                None => Vec::new(),
            },
        }
    }

    /// Removes a closed connection; its room is told `peer-left`.
    pub fn disconnect(&mut self, peer: &PeerId) -> Vec<Outbound> {
        match self.peers.remove(peer) {
            Some(PeerState { room: Some(room) }) => self.leave_room(peer, &room),
            _ => Vec::new(),
        }
    }

    /// The room `peer` is in, if any.
    pub fn room_of(&self, peer: &PeerId) -> Option<&RoomId> {
        self.peers.get(peer)?.room.as_ref()
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Number of rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Number of messages held in `room`.
    pub fn held_count(&self, room: &RoomId) -> usize {
        self.rooms.get(room).map_or(0, |r| r.held.len())
    }

    /// Panics if the relay's invariants (see the module doc) do not hold; for tests and fuzzing.
    #[doc(hidden)]
    pub fn assert_invariants(&self) {
        for (id, room) in &self.rooms {
            assert!(!room.members.is_empty(), "room {id} exists with no members");
            assert!(
                room.members.len() <= self.limits.max_peers,
                "room {id} over max_peers"
            );
            for m in &room.members {
                let state = self.peers.get(&m.id).expect("member is connected");
                assert_eq!(
                    state.room.as_ref(),
                    Some(id),
                    "member {} points elsewhere",
                    m.id
                );
            }
            if !room.held.is_empty() {
                assert_eq!(room.members.len(), 1, "held messages in a shared room {id}");
            }
            assert!(room.held.len() <= self.limits.max_held_messages);
            assert!(room.held_bytes <= self.limits.max_held_bytes);
        }
        for (id, state) in &self.peers {
            if let Some(room) = &state.room {
                let members = &self.rooms.get(room).expect("peer's room exists").members;
                assert!(
                    members.iter().any(|m| &m.id == id),
                    "{id} missing from {room}"
                );
            }
        }
    }

    /// Whether a join of `room` may go ahead: the name to join under and the name its
    /// token pins (both `name` and none when this relay needs no token).
    fn authorize(
        &self,
        room: &RoomId,
        name: Option<PeerName>,
        token: Option<&AccessToken>,
        replaces: Option<&PeerId>,
        now_unix: u64,
    ) -> Result<(Option<PeerName>, Option<PeerName>), TokenError> {
        let old = replaces
            .and_then(|old| self.rooms.get(room)?.members.iter().find(|m| &m.id == old))
            .map(|m| m.token_name.clone());
        authorize(self.auth.as_ref(), room, name, token, old, now_unix)
    }

    fn join(
        &mut self,
        from: &PeerId,
        room_id: RoomId,
        name: Option<PeerName>,
        token_name: Option<PeerName>,
        replaces: Option<PeerId>,
        now_unix: u64,
    ) -> Vec<Outbound> {
        let resume = self.resume_token(from);
        if let Some(old) = &replaces {
            // The old connection leaves the room unannounced; it closes or times out on
            // its own, with no room to tell.
            if let Some(state) = self.peers.get_mut(old) {
                state.room = None;
            }
            if let Some(room) = self.rooms.get_mut(&room_id) {
                room.members.retain(|m| &m.id != old);
                // What it held was addressed from its old id: it offers afresh.
                room.held.clear();
                room.held_bytes = 0;
            }
            tracing::info!(peer = %from, replaces = %old, room = %room_id, "resumed");
        }
        let room = self.rooms.entry(room_id.clone()).or_default();
        if room.members.len() >= self.limits.max_peers {
            return refuse(
                from,
                ErrorCode::RoomFull,
                format!(
                    "room '{room_id}' is full ({} peers): pick another room",
                    self.limits.max_peers
                ),
            );
        }
        let peers = room
            .members
            .iter()
            .map(|m| PeerInfo {
                id: m.id.clone(),
                name: m.name.clone(),
            })
            .collect();
        let others = room.others(from);
        room.members.push(Member {
            id: from.clone(),
            name: name.clone(),
            token_name,
        });
        let held = std::mem::take(&mut room.held);
        room.held_bytes = 0;
        if let Some(state) = self.peers.get_mut(from) {
            state.room = Some(room_id.clone());
        }
        tracing::info!(peer = %from, room = %room_id, peers = others.len() + 1, "joined");

        let mut out = Vec::with_capacity(2 + held.len());
        out.push(Outbound::one(
            from,
            ServerMessage::Welcome {
                id: from.clone(),
                room: room_id,
                peers,
                ice_servers: self.ice.servers_for(from, now_unix),
                resume,
            },
        ));
        if !others.is_empty() {
            out.push(Outbound {
                to: others,
                message: ServerMessage::PeerJoined {
                    id: from.clone(),
                    name,
                    replaces,
                },
            });
        }
        out.extend(held.into_iter().map(|message| Outbound::one(from, message)));
        out
    }

    fn leave(&mut self, from: &PeerId, room: &RoomId) -> Vec<Outbound> {
        if let Some(state) = self.peers.get_mut(from) {
            state.room = None;
        }
        self.leave_room(from, room)
    }

    fn leave_room(&mut self, peer: &PeerId, room_id: &RoomId) -> Vec<Outbound> {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return Vec::new();
        };
        room.members.retain(|m| &m.id != peer);
        // Held messages come only from a lone member: if that was `peer`, drop them.
        room.held.clear();
        room.held_bytes = 0;
        tracing::info!(peer = %peer, room = %room_id, "left");
        if room.members.is_empty() {
            self.rooms.remove(room_id);
            return Vec::new();
        }
        vec![Outbound {
            to: room.others(peer),
            message: ServerMessage::PeerLeft { id: peer.clone() },
        }]
    }

    fn relay(
        &mut self,
        from: &PeerId,
        room_id: &RoomId,
        signal: Signal,
        to: Option<PeerId>,
        size: usize,
    ) -> Vec<Outbound> {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return Vec::new();
        };
        if let Some(target) = &to {
            if !room.members.iter().any(|m| &m.id == target) {
                return refuse(
                    from,
                    ErrorCode::UnknownPeer,
                    format!("no peer '{target}' in room '{room_id}'"),
                );
            }
            return vec![Outbound::one(
                target,
                signal.relayed(from.clone(), Some(target.clone())),
            )];
        }
        let others = room.others(from);
        if !others.is_empty() {
            return vec![Outbound {
                to: others,
                message: signal.relayed(from.clone(), None),
            }];
        }
        // Nobody else here: hold it for the next peer that joins.
        if room.held.len() >= self.limits.max_held_messages
            || room.held_bytes + size > self.limits.max_held_bytes
        {
            return refuse(
                from,
                ErrorCode::QueueFull,
                format!(
                    "room '{room_id}' already holds {} messages ({} bytes) for the next peer; limit is {} messages, {} bytes",
                    room.held.len(),
                    room.held_bytes,
                    self.limits.max_held_messages,
                    self.limits.max_held_bytes
                ),
            );
        }
        room.held_bytes += size;
        room.held.push_back(signal.relayed(from.clone(), None));
        Vec::new()
    }
}

/// The key resume tokens are made and checked with: a token is an HMAC of the peer's id,
/// so it needs no storage. One relay's, or one cluster's (shared through Redis).
#[derive(Clone)]
pub struct ResumeKey([u8; 32]);

impl ResumeKey {
    /// A key from 32 secret bytes.
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(&self, peer: &PeerId) -> Hmac<sha1::Sha1> {
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(peer.as_str().as_bytes());
        mac
    }

    /// The resume token for `peer`.
    pub fn token(&self, peer: &PeerId) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.mac(peer).finalize().into_bytes())
    }

    /// Whether `resume` is a genuine token for its id.
    pub fn genuine(&self, resume: &Resume) -> bool {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&resume.token)
            .is_ok_and(|tag| self.mac(&resume.id).verify_slice(&tag).is_ok())
    }
}

impl std::fmt::Debug for ResumeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeKey(..)")
    }
}

/// Whether a join of `room` may go ahead under `auth` (none: anyone may join): the name
/// to join under and the name its access token pins. `replaced` is, for a join that
/// takes back the place of a member still in the room, the name that member's token
/// pinned: a token that does not check out is then forgiven, since the place carries
/// forward what let it in.
pub fn authorize(
    auth: Option<&TokenKey>,
    room: &RoomId,
    name: Option<PeerName>,
    token: Option<&AccessToken>,
    replaced: Option<Option<PeerName>>,
    now_unix: u64,
) -> Result<(Option<PeerName>, Option<PeerName>), TokenError> {
    let Some(key) = auth else {
        return Ok((name, None));
    };
    match key.check(
        token.map(AccessToken::as_str),
        room,
        name.as_ref(),
        now_unix,
    ) {
        Ok(Grant { name: pinned }) => Ok((pinned.clone().or(name), pinned)),
        Err(refused) => match replaced {
            None => Err(refused),
            Some(None) => Ok((name, None)),
            Some(Some(pinned)) => match name {
                Some(name) if name != pinned => Err(TokenError::WrongName {
                    token_name: pinned.to_string(),
                }),
                _ => Ok((Some(pinned.clone()), Some(pinned))),
            },
        },
    }
}

/// The `type` of a client message, for error texts.
pub(crate) fn kind(message: &ClientMessage) -> Option<&'static str> {
    Some(match message {
        ClientMessage::Offer { .. } => "offer",
        ClientMessage::Answer { .. } => "answer",
        ClientMessage::Candidate { .. } => "candidate",
        ClientMessage::Join { .. } | ClientMessage::Leave => return None,
    })
}

fn refuse(to: &PeerId, code: ErrorCode, message: impl Into<String>) -> Vec<Outbound> {
    vec![Outbound::one(to, ServerMessage::error(code, message))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaling_proto::IceCandidateInit;

    fn relay() -> Relay {
        Relay::new(RelayLimits::default(), IceConfig::none(), Some([7; 32]))
    }

    fn join(room: &str) -> ClientMessage {
        ClientMessage::Join {
            room: RoomId::new(room).unwrap(),
            name: None,
            resume: None,
            token: None,
        }
    }

    fn rejoin(room: &str, id: &PeerId, token: String) -> ClientMessage {
        ClientMessage::Join {
            room: RoomId::new(room).unwrap(),
            name: None,
            resume: Some(Resume {
                id: id.clone(),
                token,
            }),
            token: None,
        }
    }

    fn token_in(out: &[Outbound]) -> String {
        match &out[0].message {
            ServerMessage::Welcome {
                resume: Some(token),
                ..
            } => token.clone(),
            other => panic!("no resume token: {other:?}"),
        }
    }

    #[test]
    fn a_peer_that_reconnects_with_its_token_takes_its_old_place_unannounced() {
        let mut r = relay();
        let [a, b] = [r.connect(), r.connect()];
        let token = token_in(&r.handle(&a, join("call"), 10, 0));
        r.handle(&b, join("call"), 10, 0);
        // a's network changed: a new connection joins with the old one's token, while
        // the old one still lingers (the server has not noticed it is dead).
        let a2 = r.connect();
        let out = r.handle(&a2, rejoin("call", &a, token), 10, 0);
        assert!(
            matches!(&out[0].message, ServerMessage::Welcome { peers, resume: Some(_), .. } if peers.len() == 1 && peers[0].id == b),
            "{out:?}"
        );
        assert_eq!(out[1].to, vec![b.clone()]);
        assert_eq!(
            out[1].message,
            ServerMessage::PeerJoined {
                id: a2.clone(),
                name: None,
                replaces: Some(a.clone())
            }
        );
        r.assert_invariants();
        // The old connection's end tells nobody anything.
        assert!(r.disconnect(&a).is_empty());
        r.assert_invariants();
        // b's messages reach a2.
        let out = r.handle(&b, offer("o", Some(&a2)), 10, 0);
        assert_eq!(out[0].to, vec![a2.clone()]);
    }

    #[test]
    fn a_wrong_or_foreign_token_is_an_ordinary_join() {
        let mut r = relay();
        let [a, b, c] = [r.connect(), r.connect(), r.connect()];
        r.handle(&a, join("call"), 10, 0);
        let b_token = token_in(&r.handle(&b, join("call"), 10, 0));
        // c presents b's token as a's, a forged one, and a's id with nothing valid: each
        // is a plain join, and the room is full.
        for token in [b_token.clone(), "AAAA".into(), "not base64!".into()] {
            assert_eq!(
                error_code(&r.handle(&c, rejoin("call", &a, token), 10, 0)),
                Some(ErrorCode::RoomFull)
            );
        }
        // b's token for another room does not take b's place there.
        let d = r.connect();
        let out = r.handle(&d, rejoin("other", &b, b_token), 10, 0);
        assert!(
            matches!(&out[0].message, ServerMessage::Welcome { peers, .. } if peers.is_empty())
        );
        assert_eq!(out.len(), 1, "nobody to tell: {out:?}");
        r.assert_invariants();
    }

    const NOW: u64 = 1_767_222_000;

    fn guarded() -> (Relay, TokenKey) {
        let key = TokenKey::new("a secret of some length");
        let ice = IceConfig {
            stun: vec!["stun:127.0.0.1:3478".into()],
            turn: vec!["turn:127.0.0.1:3478".into()],
            turn_auth: crate::ice::TurnAuth::Secret {
                secret: "turn secret".into(),
                ttl: std::time::Duration::from_secs(600),
            },
        };
        let relay =
            Relay::new(RelayLimits::default(), ice, Some([7; 32])).with_auth(Some(key.clone()));
        (relay, key)
    }

    fn join_with(room: &str, name: Option<&str>, token: Option<&str>) -> ClientMessage {
        ClientMessage::Join {
            room: RoomId::new(room).unwrap(),
            name: name.map(|n| PeerName::new(n).unwrap()),
            resume: None,
            token: token.map(AccessToken::new),
        }
    }

    fn ticket(key: &TokenKey, room: &str, name: Option<&str>, ttl: u64) -> String {
        key.issue(
            &RoomId::new(room).unwrap(),
            name.map(|n| PeerName::new(n).unwrap()).as_ref(),
            std::time::Duration::from_secs(ttl),
            NOW,
        )
    }

    #[test]
    fn with_a_key_only_a_token_for_the_room_gets_in_and_only_then_turn_credentials() {
        let (mut r, key) = guarded();
        let [a, b] = [r.connect(), r.connect()];
        let expired = key.issue(
            &RoomId::new("call").unwrap(),
            None,
            std::time::Duration::from_secs(60),
            NOW - 3600,
        );
        let forged = ticket(&TokenKey::new("not the server's secret"), "call", None, 60);
        for token in [
            None,
            Some(expired.as_str()),
            Some(forged.as_str()),
            Some(&ticket(&key, "elsewhere", None, 60)),
            Some("garbage"),
        ] {
            let out = r.handle(&a, join_with("call", None, token), 10, NOW);
            assert_eq!(error_code(&out), Some(ErrorCode::Unauthorized), "{out:?}");
            assert_eq!(r.room_of(&a), None);
            assert_eq!(r.room_count(), 0);
        }
        let out = r.handle(
            &a,
            join_with("call", None, Some(&ticket(&key, "call", None, 60))),
            10,
            NOW,
        );
        assert!(
            matches!(&out[0].message, ServerMessage::Welcome { ice_servers, .. } if ice_servers.len() == 2),
            "{out:?}"
        );
        // Refused before the room is looked at: a full room is not given away.
        r.handle(
            &b,
            join_with("call", None, Some(&ticket(&key, "call", None, 60))),
            10,
            NOW,
        );
        let c = r.connect();
        assert_eq!(
            error_code(&r.handle(&c, join_with("call", None, None), 10, NOW)),
            Some(ErrorCode::Unauthorized)
        );
        r.assert_invariants();
    }

    #[test]
    fn a_token_that_names_a_peer_sets_its_name_and_refuses_another() {
        let (mut r, key) = guarded();
        let [a, b] = [r.connect(), r.connect()];
        let ada = ticket(&key, "call", Some("ada"), 60);
        assert_eq!(
            error_code(&r.handle(&a, join_with("call", Some("eve"), Some(&ada)), 10, NOW)),
            Some(ErrorCode::Unauthorized)
        );
        r.handle(&a, join_with("call", None, Some(&ada)), 10, NOW);
        let out = r.handle(
            &b,
            join_with("call", None, Some(&ticket(&key, "call", None, 60))),
            10,
            NOW,
        );
        assert!(
            matches!(&out[0].message, ServerMessage::Welcome { peers, .. } if peers[0].name.as_ref().is_some_and(|n| n.as_str() == "ada")),
            "{out:?}"
        );
    }

    #[test]
    fn a_resumed_join_carries_its_authorization_forward_and_nothing_else_does() {
        let (mut r, key) = guarded();
        let [a, b] = [r.connect(), r.connect()];
        let out = r.handle(
            &a,
            join_with("call", None, Some(&ticket(&key, "call", Some("ada"), 60))),
            10,
            NOW,
        );
        let resume = token_in(&out);
        let b_resume = token_in(&r.handle(
            &b,
            join_with("call", None, Some(&ticket(&key, "call", None, 60))),
            10,
            NOW,
        ));
        // An hour later the token has expired; a's network changed and it comes back
        // with its resume token (and the stale access token, or none).
        let later = NOW + 3600;
        let a2 = r.connect();
        let mut comeback = rejoin("call", &a, resume.clone());
        if let ClientMessage::Join { token, .. } = &mut comeback {
            *token = Some(AccessToken::new(ticket(&key, "call", Some("ada"), 60)));
        }
        let out = r.handle(&a2, comeback, 10, later);
        assert!(
            matches!(&out[0].message, ServerMessage::Welcome { .. }),
            "{out:?}"
        );
        assert_eq!(
            out[1].message,
            ServerMessage::PeerJoined {
                id: a2.clone(),
                name: Some(PeerName::new("ada").unwrap()),
                replaces: Some(a.clone())
            }
        );
        r.assert_invariants();
        // A resume naming a peer no longer in the room is an ordinary join: refused.
        r.disconnect(&b);
        let c = r.connect();
        assert_eq!(
            error_code(&r.handle(&c, rejoin("call", &b, b_resume), 10, later)),
            Some(ErrorCode::Unauthorized)
        );
        // Nor does it lift the name the token pinned.
        let resume2 = token_in(&out);
        let a3 = r.connect();
        let mut renamed = rejoin("call", &a2, resume2);
        if let ClientMessage::Join { name, .. } = &mut renamed {
            *name = Some(PeerName::new("eve").unwrap());
        }
        assert_eq!(
            error_code(&r.handle(&a3, renamed, 10, later)),
            Some(ErrorCode::Unauthorized)
        );
        r.assert_invariants();
    }

    #[test]
    fn a_relay_without_a_key_issues_no_tokens() {
        let mut r = Relay::new(RelayLimits::default(), IceConfig::none(), None);
        let a = r.connect();
        let out = r.handle(&a, join("call"), 10, 0);
        assert!(matches!(
            &out[0].message,
            ServerMessage::Welcome { resume: None, .. }
        ));
    }

    fn offer(sdp: &str, to: Option<&PeerId>) -> ClientMessage {
        ClientMessage::Offer {
            sdp: sdp.into(),
            to: to.cloned(),
        }
    }

    fn error_code(out: &[Outbound]) -> Option<ErrorCode> {
        match out {
            [
                Outbound {
                    message: ServerMessage::Error { code, .. },
                    ..
                },
            ] => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn offer_from_a_lone_peer_is_held_and_delivered_after_the_next_welcome() {
        let mut r = relay();
        let a = r.connect();
        let b = r.connect();
        r.handle(&a, join("room"), 10, 0);
        assert!(r.handle(&a, offer("o1", None), 10, 0).is_empty());
        let cand = ClientMessage::Candidate {
            candidate: Some(IceCandidateInit {
                candidate: "c".into(),
                sdp_mid: None,
                sdp_m_line_index: Some(0),
                username_fragment: None,
            }),
            to: None,
        };
        assert!(r.handle(&a, cand, 10, 0).is_empty());
        let out = r.handle(&b, join("room"), 10, 0);
        assert_eq!(out.len(), 4);
        assert!(
            matches!(&out[0].message, ServerMessage::Welcome { peers, .. } if peers.len() == 1 && peers[0].id == a)
        );
        assert_eq!(out[1].to, vec![a.clone()]);
        assert!(matches!(&out[1].message, ServerMessage::PeerJoined { id, .. } if *id == b));
        assert!(
            matches!(&out[2].message, ServerMessage::Offer { from, sdp, .. } if *from == a && sdp == "o1")
        );
        assert!(matches!(&out[3].message, ServerMessage::Candidate { from, .. } if *from == a));
        assert!(out[2..].iter().all(|o| o.to == vec![b.clone()]));
        assert_eq!(r.held_count(&RoomId::new("room").unwrap()), 0);
    }

    #[test]
    fn held_messages_are_dropped_when_their_sender_leaves() {
        let mut r = relay();
        let a = r.connect();
        let b = r.connect();
        r.handle(&a, join("room"), 1, 0);
        r.handle(&a, offer("stale", None), 1, 0);
        r.disconnect(&a);
        let out = r.handle(&b, join("room"), 1, 0);
        assert_eq!(out.len(), 1, "only the welcome: {out:?}");
        assert_eq!(r.room_count(), 1);
    }

    #[test]
    fn the_hold_is_bounded_by_count_and_bytes() {
        let mut r = relay();
        let a = r.connect();
        r.handle(&a, join("room"), 1, 0);
        for _ in 0..128 {
            assert!(r.handle(&a, offer("x", None), 1, 0).is_empty());
        }
        assert_eq!(
            error_code(&r.handle(&a, offer("x", None), 1, 0)),
            Some(ErrorCode::QueueFull)
        );

        let mut r = relay();
        let a = r.connect();
        r.handle(&a, join("room"), 1, 0);
        assert!(r.handle(&a, offer("x", None), 1 << 20, 0).is_empty());
        assert_eq!(
            error_code(&r.handle(&a, offer("x", None), 1, 0)),
            Some(ErrorCode::QueueFull)
        );
    }

    #[test]
    fn addressed_messages_go_only_to_their_peer_and_unknown_peers_are_refused() {
        let mut r = Relay::new(
            RelayLimits {
                max_peers: 3,
                ..Default::default()
            },
            IceConfig::none(),
            Some([7; 32]),
        );
        let [a, b, c] = [r.connect(), r.connect(), r.connect()];
        for p in [&a, &b, &c] {
            r.handle(p, join("room"), 1, 0);
        }
        let out = r.handle(&a, offer("o", Some(&c)), 1, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].to, vec![c.clone()]);
        let out = r.handle(&a, offer("o", None), 1, 0);
        assert_eq!(out[0].to, vec![b.clone(), c.clone()]);
        let nobody = PeerId::new("999");
        assert_eq!(
            error_code(&r.handle(&a, offer("o", Some(&nobody)), 1, 0)),
            Some(ErrorCode::UnknownPeer)
        );
    }

    #[test]
    fn join_rules_room_full_already_joined_not_joined() {
        let mut r = relay();
        let [a, b, c] = [r.connect(), r.connect(), r.connect()];
        assert_eq!(
            error_code(&r.handle(&a, offer("o", None), 1, 0)),
            Some(ErrorCode::NotJoined)
        );
        assert_eq!(
            error_code(&r.handle(&a, ClientMessage::Leave, 1, 0)),
            Some(ErrorCode::NotJoined)
        );
        r.handle(&a, join("room"), 1, 0);
        assert_eq!(
            error_code(&r.handle(&a, join("other"), 1, 0)),
            Some(ErrorCode::AlreadyJoined)
        );
        r.handle(&b, join("room"), 1, 0);
        assert_eq!(
            error_code(&r.handle(&c, join("room"), 1, 0)),
            Some(ErrorCode::RoomFull)
        );
        assert_eq!(r.room_of(&c), None);
    }

    #[test]
    fn leave_tells_the_room_and_allows_joining_again() {
        let mut r = relay();
        let [a, b] = [r.connect(), r.connect()];
        r.handle(&a, join("one"), 1, 0);
        r.handle(&b, join("one"), 1, 0);
        let out = r.handle(&a, ClientMessage::Leave, 1, 0);
        assert_eq!(out[0].to, vec![b.clone()]);
        assert_eq!(out[0].message, ServerMessage::PeerLeft { id: a.clone() });
        let out = r.handle(&a, join("two"), 1, 0);
        assert!(matches!(out[0].message, ServerMessage::Welcome { .. }));
        assert_eq!(r.room_count(), 2);
        r.disconnect(&a);
        r.disconnect(&b);
        assert_eq!((r.room_count(), r.peer_count()), (0, 0));
    }

    #[test]
    fn ids_are_unique() {
        let mut r = relay();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| r.connect()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
