//! Several signaling-server instances sharing rooms through Redis (`--cluster
//! redis://HOST:PORT`).
//!
//! The single-process relay ([`crate::relay::Relay`]) keeps rooms in memory. In cluster mode
//! the rooms live in Redis instead, and every change to them is one Lua script, so Redis
//! runs it atomically and in one order for all instances:
//! - `join` adds the peer to the room (refusing `room-full` cluster-wide), takes the held
//!   messages, and publishes `peer-joined` to the instances of the others;
//! - a relayed message is, in one step, either published to the instance of each
//!   recipient or held for the next joiner (within the hold's limits): never lost, since
//!   a `join` either runs before it (and the message is published to the joiner's
//!   instance) or after it (and the joiner takes it from the hold);
//! - `leave` (and a close) removes the peer, drops what it held and publishes `peer-left`;
//! - each instance heartbeats into a sorted set; one that misses its heartbeats for
//!   [`DEAD_AFTER`] is reaped by whichever instance notices first: its peers leave their
//!   rooms, which hear `peer-left`.
//!
//! Each instance subscribes to a channel of its own and delivers what arrives there to its
//! connections. Peer ids are `INSTANCE.N`, so a script knows where to publish from the id
//! alone. A peer that is joining has what arrives for it buffered until its `welcome` and
//! held messages are out ([`LocalPeers`]): the script's reply and the pub/sub messages come
//! over different connections, in either order.
//!
//! The pure parts (key names, the envelope on the channels, script replies, the local
//! peers and their join buffers) are plain types tested here; [`ClusterNode`] is the thin
//! Redis shell around them. Redis keys and channels (prefix `peercall:`):
//! - `room:{room}:members` (hash: peer id to its [`MemberRecord`] JSON),
//!   `room:{room}:held` (list of relayed messages, JSON), `room:{room}:held-bytes`;
//! - `instance:{instance}:peers` (hash: peer id to room) and `instances` (sorted set of
//!   instances by their last heartbeat, in Redis's own clock);
//! - `resume-key` (the cluster's key for resume tokens);
//! - channel `to:{instance}`: [`Envelope`]s for that instance's peers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::Value;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use signaling_proto::{
    AccessToken, ErrorCode, PeerId, PeerInfo, PeerName, Resume, RoomId, ServerMessage, Signal,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::auth::TokenKey;
use crate::ice::IceConfig;
use crate::relay::{RelayLimits, ResumeKey, authorize};

/// How often an instance writes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long an instance may miss its heartbeats before the others reap it.
pub const DEAD_AFTER: Duration = Duration::from_millis(2000);
/// How long a heartbeat (or another request on the control connection) may take before
/// Redis counts as lost.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a peer's request (join, relay, leave) may take before its connection is
/// closed. Longer than [`REDIS_TIMEOUT`]: under a burst these queue behind each other,
/// while the heartbeat has a connection of its own.
const DATA_TIMEOUT: Duration = Duration::from_secs(5);
/// Command connections to Redis per instance for the peers' requests, used in turn. One:
/// requests from many peers queued at once then go out in one write (four split them
/// four ways, and relayed fewer messages per CPU second in `relay_load`). A sender's
/// order does not depend on this: each of its requests starts after the previous one's
/// reply.
const REDIS_CONNECTIONS: usize = 1;
/// The prefix of every key and channel.
const PREFIX: &str = "peercall:";

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// `--cluster` is not a Redis URL.
    #[error("--cluster {url:?} is not a Redis URL (redis://HOST:PORT): {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Redis could not be reached, or refused the request.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer in time.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// This instance is not connected to Redis now.
    #[error("this instance has lost Redis; it is reconnecting")]
    Down,
    /// A script answered something this version does not understand.
    #[error("unexpected reply from a cluster script: {0}")]
    Reply(String),
}

// ---------------------------------------------------------------------------------------
// Pure parts.

/// Redis key and channel names.
pub mod keys {
    use super::PREFIX;
    use signaling_proto::RoomId;

    /// The hash of a room's members (id to [`super::MemberRecord`] JSON).
    pub fn members(room: &RoomId) -> String {
        format!("{PREFIX}room:{room}:members")
    }

    /// The list of messages a room holds for its next joiner.
    pub fn held(room: &RoomId) -> String {
        format!("{PREFIX}room:{room}:held")
    }

    /// The bytes a room holds (the frames' sizes as received).
    pub fn held_bytes(room: &RoomId) -> String {
        format!("{PREFIX}room:{room}:held-bytes")
    }

    /// The hash of an instance's joined peers (id to room).
    pub fn instance_peers(instance: &str) -> String {
        format!("{PREFIX}instance:{instance}:peers")
    }

    /// The sorted set of instances by last heartbeat (ms).
    pub fn instances() -> String {
        format!("{PREFIX}instances")
    }

    /// The cluster's resume-token key.
    pub fn resume_key() -> String {
        format!("{PREFIX}resume-key")
    }

    /// The channel an instance listens on.
    pub fn channel(instance: &str) -> String {
        format!("{PREFIX}to:{instance}")
    }
}

/// The instance a peer id belongs to (ids are `INSTANCE.N`).
pub fn instance_of(peer: &PeerId) -> Option<&str> {
    peer.as_str().split_once('.').map(|(instance, _)| instance)
}

/// A fresh random instance id: 10 characters of `a-z0-9`.
fn new_instance_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 10];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy: the time and pid still keep instances apart.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            ^ u128::from(std::process::id());
        bytes = std::array::from_fn(|i| (seed >> (i * 8)) as u8);
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// What a room keeps about each member, besides its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Its name, if it gave one.
    #[serde(default)]
    pub name: Option<PeerName>,
    /// The name its access token pinned it to, if any (kept when it resumes).
    #[serde(default)]
    pub token_name: Option<PeerName>,
}

/// What one instance publishes to another's channel.
///
/// `m\nROOM\nID,ID\nJSON`: deliver the server message JSON, from `ROOM`, to these local
/// peers, in order. `e\nROOM\nID\n`: this local peer's place in `ROOM` was taken by a
/// resume; it is in no room any more. The room lets an instance drop what comes late
/// from a room its peer has left (the reply to `leave` and a message published before it
/// travel on different connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// A message for some of the instance's peers.
    Deliver {
        /// The room it comes from.
        room: RoomId,
        /// The recipients.
        to: Vec<PeerId>,
        /// The server message, as JSON.
        text: String,
    },
    /// A peer that left its room unannounced, its place taken by its resumed self.
    Evict {
        /// The room.
        room: RoomId,
        /// The peer.
        peer: PeerId,
    },
}

impl Envelope {
    /// Parses a channel message; `None` for anything else.
    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, rest) = payload.split_once('\n')?;
        let (room, rest) = rest.split_once('\n')?;
        let room = RoomId::new(room).ok()?;
        let (ids, text) = rest.split_once('\n')?;
        let mut ids = ids.split(',').filter(|id| !id.is_empty()).map(PeerId::new);
        match kind {
            "m" => Some(Envelope::Deliver {
                room,
                to: ids.collect(),
                text: text.to_string(),
            }),
            "e" => Some(Envelope::Evict {
                room,
                peer: ids.next()?,
            }),
            _ => None,
        }
    }

    /// The channel message (as the scripts write it).
    pub fn encode(&self) -> String {
        match self {
            Envelope::Deliver { room, to, text } => {
                let ids: Vec<&str> = to.iter().map(PeerId::as_str).collect();
                format!("m\n{room}\n{}\n{text}", ids.join(","))
            }
            Envelope::Evict { room, peer } => format!("e\n{room}\n{peer}\n"),
        }
    }
}

/// The reply of the join script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinReply {
    /// In: the members that were there before, whether it took back a member's place,
    /// and the held messages (JSON), in order.
    Joined {
        /// The members already there.
        members: Vec<(PeerId, MemberRecord)>,
        /// Whether it replaced its earlier connection.
        replaced: bool,
        /// The held messages to deliver after `welcome`.
        held: Vec<String>,
    },
    /// The room has its most peers, cluster-wide.
    RoomFull,
    /// It could join only by taking back a place that is no longer there.
    PlaceGone,
    /// This instance is not registered (it was reaped): it must start over.
    NotRegistered,
}

/// The reply of the relay script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayReply {
    /// Published to the recipients' instances.
    Sent,
    /// Held for the next joiner.
    Held,
    /// The sender is not in the room (its place was taken by a resume).
    NotJoined,
    /// `to` names nobody in the room.
    UnknownPeer,
    /// The hold is full.
    QueueFull {
        /// Messages held.
        held: usize,
        /// Bytes held.
        bytes: usize,
    },
}

/// The reply of the heartbeat script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatReply {
    /// Heartbeat written; these instances missed theirs for too long.
    Alive {
        /// Instances to reap.
        dead: Vec<String>,
    },
    /// This instance was reaped by another: it must start over.
    Reaped,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        other => text(other)?.parse().ok(),
    }
}

fn array(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) | Value::Set(items) => Some(items),
        Value::Nil => Some(&[]),
        _ => None,
    }
}

fn bad(value: &Value) -> ClusterError {
    ClusterError::Reply(format!("{value:?}"))
}

impl JoinReply {
    /// Reads the join script's reply.
    pub fn parse(value: &Value) -> Result<Self, ClusterError> {
        let items = array(value).ok_or_else(|| bad(value))?;
        let status = items.first().and_then(text).ok_or_else(|| bad(value))?;
        match status.as_str() {
            "ok" => {
                let replaced = items.get(1).and_then(int).ok_or_else(|| bad(value))? == 1;
                let flat = items.get(2).and_then(array).ok_or_else(|| bad(value))?;
                let mut members = Vec::with_capacity(flat.len() / 2);
                for pair in flat.chunks(2) {
                    let [id, record] = pair else {
                        return Err(bad(value));
                    };
                    let id = text(id).ok_or_else(|| bad(value))?;
                    let record = text(record)
                        .and_then(|r| serde_json::from_str(&r).ok())
                        .ok_or_else(|| bad(value))?;
                    members.push((PeerId::new(id), record));
                }
                let held = items
                    .get(3)
                    .and_then(array)
                    .ok_or_else(|| bad(value))?
                    .iter()
                    .map(|m| text(m).ok_or_else(|| bad(value)))
                    .collect::<Result<_, _>>()?;
                Ok(JoinReply::Joined {
                    members,
                    replaced,
                    held,
                })
            }
            "room-full" => Ok(JoinReply::RoomFull),
            "place-gone" => Ok(JoinReply::PlaceGone),
            "not-registered" => Ok(JoinReply::NotRegistered),
            _ => Err(bad(value)),
        }
    }
}

impl RelayReply {
    /// Reads the relay script's reply.
    pub fn parse(value: &Value) -> Result<Self, ClusterError> {
        let items = array(value).ok_or_else(|| bad(value))?;
        let status = items.first().and_then(text).ok_or_else(|| bad(value))?;
        let number = |i: usize| {
            items
                .get(i)
                .and_then(int)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| bad(value))
        };
        Ok(match status.as_str() {
            "sent" => RelayReply::Sent,
            "held" => RelayReply::Held,
            "not-joined" => RelayReply::NotJoined,
            "unknown-peer" => RelayReply::UnknownPeer,
            "queue-full" => RelayReply::QueueFull {
                held: number(1)?,
                bytes: number(2)?,
            },
            _ => return Err(bad(value)),
        })
    }
}

impl HeartbeatReply {
    /// Reads the heartbeat script's reply.
    pub fn parse(value: &Value) -> Result<Self, ClusterError> {
        let items = array(value).ok_or_else(|| bad(value))?;
        match items.first().and_then(text).as_deref() {
            Some("reaped") => Ok(HeartbeatReply::Reaped),
            Some("alive") => Ok(HeartbeatReply::Alive {
                dead: items
                    .get(1)
                    .and_then(array)
                    .ok_or_else(|| bad(value))?
                    .iter()
                    .filter_map(text)
                    .collect(),
            }),
            _ => Err(bad(value)),
        }
    }
}

/// The peers connected to this instance: the room each is in as far as this instance
/// knows, and, while one joins, what arrives for it before its `welcome` is out.
///
/// `T` is a message as the shell queues it.
#[derive(Debug)]
pub struct LocalPeers<T> {
    peers: HashMap<PeerId, LocalPeer<T>>,
}

#[derive(Debug)]
struct LocalPeer<T> {
    room: Option<RoomId>,
    /// `Some` while a join is under way: the room it joins, and what arrived for the
    /// peer from that room meanwhile.
    pending: Option<(RoomId, Vec<T>)>,
}

/// What to do with a message that arrived for a local peer.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<T> {
    /// Send it now.
    Now(T),
    /// Kept until the peer's join is answered.
    Buffered,
    /// No such peer here (it has gone), or it is no longer in the room the message
    /// comes from: drop it.
    Gone,
}

impl<T> Default for LocalPeers<T> {
    fn default() -> Self {
        Self {
            peers: HashMap::new(),
        }
    }
}

impl<T> LocalPeers<T> {
    /// Registers a new connection.
    pub fn connect(&mut self, peer: PeerId) {
        self.peers.insert(
            peer,
            LocalPeer {
                room: None,
                pending: None,
            },
        );
    }

    /// Removes a closed connection; the room it must leave, if any.
    pub fn disconnect(&mut self, peer: &PeerId) -> Option<RoomId> {
        self.peers.remove(peer)?.room
    }

    /// The room `peer` is in, as far as this instance knows.
    pub fn room(&self, peer: &PeerId) -> Option<&RoomId> {
        self.peers.get(peer)?.room.as_ref()
    }

    /// A join of `room` starts: from now on what arrives for `peer` from it is
    /// buffered. `Err` with the room it is already in.
    pub fn begin_join(&mut self, peer: &PeerId, room: &RoomId) -> Result<(), RoomId> {
        let Some(state) = self.peers.get_mut(peer) else {
            return Ok(());
        };
        if let Some(current) = &state.room {
            return Err(current.clone());
        }
        state.pending = Some((room.clone(), Vec::new()));
        Ok(())
    }

    /// The join was answered (`joined`: the room it is in now, none if refused or
    /// failed); returns what arrived meanwhile, to send right after the `welcome` and
    /// the held messages.
    pub fn finish_join(&mut self, peer: &PeerId, joined: Option<RoomId>) -> Vec<T> {
        let Some(state) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        let waiting = state.pending.take().map(|(_, waiting)| waiting);
        match joined {
            Some(room) => {
                state.room = Some(room);
                waiting.unwrap_or_default()
            }
            None => Vec::new(),
        }
    }

    /// A message from `room` arrived for `peer`.
    pub fn deliver(&mut self, peer: &PeerId, room: &RoomId, message: T) -> Delivery<T> {
        match self.peers.get_mut(peer) {
            Some(LocalPeer {
                pending: Some((joining, buffer)),
                ..
            }) if joining == room => {
                buffer.push(message);
                Delivery::Buffered
            }
            Some(LocalPeer {
                room: Some(current),
                ..
            }) if current == room => Delivery::Now(message),
            _ => Delivery::Gone,
        }
    }

    /// `peer` leaves its room; the room, if it was in one.
    pub fn leave(&mut self, peer: &PeerId) -> Option<RoomId> {
        self.peers.get_mut(peer)?.room.take()
    }

    /// `peer`'s place in `room` was taken by its resumed self: it is in no room any more.
    pub fn evict(&mut self, peer: &PeerId, room: &RoomId) {
        if let Some(state) = self.peers.get_mut(peer)
            && state.room.as_ref() == Some(room)
        {
            state.room = None;
        }
    }

    /// Redis was lost: nobody here is in a room any more (the instance reaps its old
    /// self when Redis is back). Returns how many were.
    pub fn forget_rooms(&mut self) -> usize {
        self.peers
            .values_mut()
            .filter_map(|p| p.room.take())
            .count()
    }

    /// Connected peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is connected.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

// ---------------------------------------------------------------------------------------
// The scripts. Each gets the prefix as ARGV[1]; keys of other rooms and instances (in
// the reap and the eviction) are built inside, so this needs one Redis (not Redis
// Cluster, which wants every key declared).

const PRELUDE: &str = r#"
local prefix = ARGV[1]
local function instance_of(id) return string.match(id, '^(.-)%.') end
local function publish(room, ids, text)
  local groups = {}
  for _, id in ipairs(ids) do
    local inst = instance_of(id)
    if inst then
      if groups[inst] == nil then groups[inst] = {} end
      table.insert(groups[inst], id)
    end
  end
  for inst, members in pairs(groups) do
    redis.call('PUBLISH', prefix .. 'to:' .. inst, 'm\n' .. room .. '\n' .. table.concat(members, ',') .. '\n' .. text)
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"#;

/// KEYS: members, held, held-bytes, this instance's peers, instances.
/// ARGV: prefix, id, member record, max peers, room, replaces (or ""), must replace
/// ("1"/"0"), peer-joined JSON, peer-joined-replacing JSON, this instance.
const JOIN: &str = r#"
if redis.call('ZSCORE', KEYS[5], ARGV[10]) == false then return {'not-registered'} end
local replaced = 0
local old = ARGV[6]
if old ~= '' and redis.call('HEXISTS', KEYS[1], old) == 1 then
  redis.call('HDEL', KEYS[1], old)
  local old_inst = instance_of(old)
  if old_inst then
    redis.call('HDEL', prefix .. 'instance:' .. old_inst .. ':peers', old)
    redis.call('PUBLISH', prefix .. 'to:' .. old_inst, 'e\n' .. ARGV[5] .. '\n' .. old .. '\n')
  end
  redis.call('DEL', KEYS[2], KEYS[3])
  replaced = 1
elseif ARGV[7] == '1' then
  return {'place-gone'}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return {'room-full'} end
local members = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #members, 2 do table.insert(others, members[i]) end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[5])
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2], KEYS[3])
if #others > 0 then
  if replaced == 1 then publish(ARGV[5], others, ARGV[9]) else publish(ARGV[5], others, ARGV[8]) end
end
return {'ok', replaced, members, held}
"#;

/// KEYS: members, held, held-bytes. ARGV: prefix, from, to (or ""), message JSON, size,
/// max held messages, max held bytes, room.
const RELAY: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return {'not-joined'} end
if ARGV[3] ~= '' then
  if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 0 then return {'unknown-peer'} end
  publish(ARGV[8], {ARGV[3]}, ARGV[4])
  return {'sent'}
end
local others = {}
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  if id ~= ARGV[2] then table.insert(others, id) end
end
if #others > 0 then
  publish(ARGV[8], others, ARGV[4])
  return {'sent'}
end
local n = redis.call('LLEN', KEYS[2])
local bytes = tonumber(redis.call('GET', KEYS[3]) or '0')
if n >= tonumber(ARGV[6]) or bytes + tonumber(ARGV[5]) > tonumber(ARGV[7]) then
  return {'queue-full', n, bytes}
end
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('INCRBY', KEYS[3], ARGV[5])
return {'held'}
"#;

/// KEYS: members, held, held-bytes, this instance's peers. ARGV: prefix, id, peer-left
/// JSON, room.
const LEAVE: &str = r#"
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
local others = redis.call('HKEYS', KEYS[1])
if #others > 0 then publish(ARGV[4], others, ARGV[3]) end
return 1
"#;

/// KEYS: instances. ARGV: prefix, this instance, dead after (ms), "1" to register.
const HEARTBEAT_SCRIPT: &str = r#"
local now = now_ms()
if ARGV[4] ~= '1' and redis.call('ZSCORE', KEYS[1], ARGV[2]) == false then return {'reaped'} end
redis.call('ZADD', KEYS[1], now, ARGV[2])
return {'alive', redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))}
"#;

/// KEYS: instances, the instance's peers. ARGV: prefix, instance, dead after (ms), "1" to
/// reap it even if its heartbeat is fresh or gone (an instance's own earlier self).
const REAP: &str = r#"
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if ARGV[4] ~= '1' and (score == false or tonumber(score) >= now_ms() - tonumber(ARGV[3])) then
  -- Alive after all, or already reaped by another instance.
  return -1
end
local peers = redis.call('HGETALL', KEYS[2])
local gone = 0
for i = 1, #peers, 2 do
  local id, room = peers[i], peers[i + 1]
  local base = prefix .. 'room:' .. room
  if redis.call('HDEL', base .. ':members', id) == 1 then
    gone = gone + 1
    redis.call('DEL', base .. ':held', base .. ':held-bytes')
    local others = redis.call('HKEYS', base .. ':members')
    if #others > 0 then publish(room, others, '{"type":"peer-left","id":"' .. id .. '"}') end
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[2])
return gone
"#;

struct Scripts {
    join: redis::Script,
    relay: redis::Script,
    leave: redis::Script,
    heartbeat: redis::Script,
    reap: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        let script = |body: &str| redis::Script::new(&format!("{PRELUDE}{body}"));
        Self {
            join: script(JOIN),
            relay: script(RELAY),
            leave: script(LEAVE),
            heartbeat: script(HEARTBEAT_SCRIPT),
            reap: script(REAP),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The shell.

/// What the Redis side tells the server.
#[derive(Debug)]
pub enum ClusterEvent {
    /// Deliver `text`, from `room`, to these local peers.
    Deliver {
        /// The room it comes from.
        room: RoomId,
        /// The recipients.
        to: Vec<PeerId>,
        /// The server message, as JSON.
        text: String,
    },
    /// This local peer's place in this room was taken by its resumed self.
    Evicted(PeerId, RoomId),
    /// Redis is lost: every connection must be closed, and joins refused until [`Up`].
    ///
    /// [`Up`]: ClusterEvent::Up
    Down,
    /// Redis is back (or reached for the first time): joins are taken.
    Up,
}

/// The outcome of a `join` in cluster mode.
#[derive(Debug)]
pub enum JoinOutcome {
    /// In: the `welcome` and then the held messages, as JSON, in order.
    Joined {
        /// The room joined.
        room: RoomId,
        /// What to send the peer, in order.
        texts: Vec<String>,
    },
    /// Refused with this error.
    Refused(ErrorCode, String),
}

/// The connection state, behind a lock never held across an `.await`.
struct State {
    /// This incarnation's id (a new one after every loss of Redis).
    instance: String,
    /// The cluster's resume key, once read.
    resume_key: Option<ResumeKey>,
}

/// One instance's connection to the cluster: scripts over a reconnecting connection,
/// a subscription to its own channel, and heartbeats.
pub struct ClusterNode {
    client: redis::Client,
    conns: Vec<ConnectionManager>,
    /// The heartbeat's, the reap's and the start's connection, kept apart so they never
    /// wait behind the peers' requests.
    control: ConnectionManager,
    next_conn: std::sync::atomic::AtomicUsize,
    scripts: Scripts,
    limits: RelayLimits,
    ice: IceConfig,
    auth: Option<TokenKey>,
    state: Mutex<State>,
    up: AtomicBool,
    next_peer: AtomicU64,
    stop: CancellationToken,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("instance", &self.instance())
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

/// Checks that `url` is a Redis URL (without connecting).
pub fn check_url(url: &str) -> Result<(), ClusterError> {
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|err| ClusterError::BadUrl {
            url: url.to_string(),
            reason: err.to_string(),
        })
}

impl ClusterNode {
    /// Starts connecting to Redis at `url` (in the background: until it answers, the
    /// node is down and joins are refused) and returns the node and its events.
    pub fn start(
        url: &str,
        limits: RelayLimits,
        ice: IceConfig,
        auth: Option<TokenKey>,
    ) -> Result<(Arc<Self>, mpsc::UnboundedReceiver<ClusterEvent>), ClusterError> {
        let bad_url = |err: redis::RedisError| ClusterError::BadUrl {
            url: url.to_string(),
            reason: err.to_string(),
        };
        // Small requests, one after another: without TCP_NODELAY each would wait for the
        // previous one's acknowledgement (Nagle).
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(bad_url)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info).map_err(bad_url)?;
        let config = |timeout| {
            ConnectionManagerConfig::new()
                .set_response_timeout(Some(timeout))
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_number_of_retries(1)
                .set_max_delay(HEARTBEAT)
        };
        let conns = (0..REDIS_CONNECTIONS)
            .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config(DATA_TIMEOUT)))
            .collect::<Result<_, _>>()?;
        let control =
            ConnectionManager::new_lazy_with_config(client.clone(), config(REDIS_TIMEOUT))?;
        let node = Arc::new(Self {
            client,
            conns,
            control,
            next_conn: std::sync::atomic::AtomicUsize::new(0),
            scripts: Scripts::new(),
            limits,
            ice,
            auth,
            state: Mutex::new(State {
                instance: new_instance_id(),
                resume_key: None,
            }),
            up: AtomicBool::new(false),
            next_peer: AtomicU64::new(1),
            stop: CancellationToken::new(),
        });
        let (events, rx) = mpsc::unbounded_channel();
        tokio::spawn(Arc::clone(&node).supervise(events));
        Ok((node, rx))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This incarnation's instance id.
    pub fn instance(&self) -> String {
        self.lock().instance.clone()
    }

    /// Whether Redis is reachable and this instance registered: joins are taken.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// A new peer id, unique in the cluster: `INSTANCE.N`.
    pub fn next_peer_id(&self) -> PeerId {
        let n = self.next_peer.fetch_add(1, Ordering::Relaxed);
        PeerId::new(format!("{}.{n}", self.instance()))
    }

    /// Stops heartbeating and takes this instance's peers out of their rooms (their
    /// rooms hear `peer-left`), as at shutdown.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let instance = self.instance();
        if let Err(err) = self.reap(&instance, true).await {
            warn!(%err, "could not take this instance's peers out of their rooms");
        }
    }

    /// The next command connection, in turn.
    fn conn(&self) -> ConnectionManager {
        let i = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.conns[i % self.conns.len()].clone()
    }

    /// Runs a peer's script on the next data connection.
    async fn call(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<Value, ClusterError> {
        Self::invoke(invocation, &mut self.conn(), DATA_TIMEOUT).await
    }

    /// Runs a heartbeat or reap script on the control connection.
    async fn call_control(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<Value, ClusterError> {
        Self::invoke(invocation, &mut self.control.clone(), REDIS_TIMEOUT).await
    }

    async fn invoke(
        invocation: &redis::ScriptInvocation<'_>,
        conn: &mut ConnectionManager,
        limit: Duration,
    ) -> Result<Value, ClusterError> {
        match tokio::time::timeout(limit, invocation.invoke_async(conn)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ClusterError::Timeout(limit)),
        }
    }

    /// `peer` (of this instance) joins `room`.
    #[allow(clippy::too_many_arguments)]
    pub async fn join(
        &self,
        peer: &PeerId,
        room: RoomId,
        name: Option<PeerName>,
        resume: Option<Resume>,
        token: Option<AccessToken>,
        now_unix: u64,
    ) -> Result<JoinOutcome, ClusterError> {
        let (instance, resume_key) = {
            let state = self.lock();
            (state.instance.clone(), state.resume_key.clone())
        };
        if !self.is_up() {
            return Err(ClusterError::Down);
        }
        let replaces = resume
            .filter(|r| &r.id != peer && resume_key.as_ref().is_some_and(|k| k.genuine(r)))
            .map(|r| r.id);
        // With access tokens, a resume that carries forward its place's authorization
        // needs that place's record.
        let replaced_record = match (&self.auth, &replaces) {
            (Some(_), Some(old)) => {
                let mut conn = self.conn();
                let record: Option<String> = tokio::time::timeout(
                    DATA_TIMEOUT,
                    redis::cmd("HGET")
                        .arg(keys::members(&room))
                        .arg(old.as_str())
                        .query_async(&mut conn),
                )
                .await
                .map_err(|_| ClusterError::Timeout(DATA_TIMEOUT))??;
                record.and_then(|r| serde_json::from_str::<MemberRecord>(&r).ok())
            }
            _ => None,
        };
        let token_ok = self.auth.is_none()
            || authorize(
                self.auth.as_ref(),
                &room,
                name.clone(),
                token.as_ref(),
                None,
                now_unix,
            )
            .is_ok();
        let (name, token_name) = match authorize(
            self.auth.as_ref(),
            &room,
            name,
            token.as_ref(),
            replaced_record.map(|r| r.token_name),
            now_unix,
        ) {
            Ok(granted) => granted,
            Err(why) => {
                return Ok(JoinOutcome::Refused(
                    ErrorCode::Unauthorized,
                    why.to_string(),
                ));
            }
        };
        let record = MemberRecord {
            name: name.clone(),
            token_name,
        };
        let joined = |replaces: Option<PeerId>| {
            ServerMessage::PeerJoined {
                id: peer.clone(),
                name: name.clone(),
                replaces,
            }
            .to_json()
        };
        let value = self
            .call(
                self.scripts
                    .join
                    .key(keys::members(&room))
                    .key(keys::held(&room))
                    .key(keys::held_bytes(&room))
                    .key(keys::instance_peers(&instance))
                    .key(keys::instances())
                    .arg(PREFIX)
                    .arg(peer.as_str())
                    .arg(serde_json::to_string(&record).unwrap_or_default())
                    .arg(self.limits.max_peers)
                    .arg(room.as_str())
                    .arg(replaces.as_ref().map_or("", PeerId::as_str))
                    .arg(if token_ok { "0" } else { "1" })
                    .arg(joined(None))
                    .arg(joined(replaces.clone()))
                    .arg(&instance),
            )
            .await?;
        Ok(match JoinReply::parse(&value)? {
            JoinReply::Joined {
                members,
                replaced,
                held,
            } => {
                if replaced && let Some(old) = &replaces {
                    info!(peer = %peer, replaces = %old, room = %room, "resumed");
                }
                info!(peer = %peer, room = %room, peers = members.len() + 1, "joined");
                let welcome = ServerMessage::Welcome {
                    id: peer.clone(),
                    room: room.clone(),
                    peers: members
                        .into_iter()
                        .map(|(id, record)| PeerInfo {
                            id,
                            name: record.name,
                        })
                        .collect(),
                    ice_servers: self.ice.servers_for(peer, now_unix),
                    resume: resume_key.map(|k| k.token(peer)),
                };
                let mut texts = Vec::with_capacity(1 + held.len());
                texts.push(welcome.to_json());
                texts.extend(held);
                JoinOutcome::Joined { room, texts }
            }
            JoinReply::RoomFull => JoinOutcome::Refused(
                ErrorCode::RoomFull,
                format!(
                    "room '{room}' is full ({} peers): pick another room",
                    self.limits.max_peers
                ),
            ),
            JoinReply::PlaceGone => JoinOutcome::Refused(
                ErrorCode::Unauthorized,
                "the place this join would take back is gone, and the access token does not check out".into(),
            ),
            JoinReply::NotRegistered => return Err(ClusterError::Down),
        })
    }

    /// Relays `signal` from `from` in `room` (to `to`, or everyone else, or the hold);
    /// the refusal to send back, if any.
    pub async fn relay(
        &self,
        from: &PeerId,
        room: &RoomId,
        signal: Signal,
        to: Option<PeerId>,
        size: usize,
    ) -> Result<Option<(ErrorCode, String)>, ClusterError> {
        let mut refusals = self
            .relay_many(from, room, vec![(signal, to, size)])
            .await?;
        Ok(refusals.pop().flatten())
    }

    /// Relays several messages of `from` in `room`, in order, as one pipeline of relay
    /// scripts (one round trip; Redis runs them in order); the refusal for each, if any.
    pub async fn relay_many(
        &self,
        from: &PeerId,
        room: &RoomId,
        items: Vec<(Signal, Option<PeerId>, usize)>,
    ) -> Result<Vec<Option<(ErrorCode, String)>>, ClusterError> {
        let (members, held, held_bytes) = (
            keys::members(room),
            keys::held(room),
            keys::held_bytes(room),
        );
        let mut pipe = redis::pipe();
        let mut targets = Vec::with_capacity(items.len());
        for (signal, to, size) in items {
            let message = signal.relayed(from.clone(), to.clone()).to_json();
            pipe.cmd("EVALSHA")
                .arg(self.scripts.relay.get_hash())
                .arg(3)
                .arg(&members)
                .arg(&held)
                .arg(&held_bytes)
                .arg(PREFIX)
                .arg(from.as_str())
                .arg(to.as_ref().map_or("", PeerId::as_str))
                .arg(message)
                .arg(size)
                .arg(self.limits.max_held_messages)
                .arg(self.limits.max_held_bytes)
                .arg(room.as_str());
            targets.push(to);
        }
        let mut conn = self.conn();
        let values: Vec<Value> = match self.query(&pipe, &mut conn).await {
            // Redis lost its scripts (it restarted): none of these ran, so load and
            // send them again.
            Err(ClusterError::Redis(err))
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.scripts.relay.load_async(&mut conn).await?;
                self.query(&pipe, &mut conn).await?
            }
            other => other?,
        };
        values
            .iter()
            .zip(targets)
            .map(|(value, to)| Ok(self.refusal(room, to.as_ref(), RelayReply::parse(value)?)))
            .collect()
    }

    async fn query(
        &self,
        pipe: &redis::Pipeline,
        conn: &mut ConnectionManager,
    ) -> Result<Vec<Value>, ClusterError> {
        match tokio::time::timeout(DATA_TIMEOUT, pipe.query_async(conn)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ClusterError::Timeout(DATA_TIMEOUT)),
        }
    }

    /// What to answer a relayed message the script answered with `reply`.
    fn refusal(
        &self,
        room: &RoomId,
        to: Option<&PeerId>,
        reply: RelayReply,
    ) -> Option<(ErrorCode, String)> {
        match reply {
            RelayReply::Sent | RelayReply::Held => None,
            RelayReply::NotJoined => Some((
                ErrorCode::NotJoined,
                "not in a room (another connection took this one's place): join first".into(),
            )),
            RelayReply::UnknownPeer => Some((
                ErrorCode::UnknownPeer,
                format!(
                    "no peer '{}' in room '{room}'",
                    to.map_or("", PeerId::as_str)
                ),
            )),
            RelayReply::QueueFull { held, bytes } => Some((
                ErrorCode::QueueFull,
                format!(
                    "room '{room}' already holds {held} messages ({bytes} bytes) for the next peer; limit is {} messages, {} bytes",
                    self.limits.max_held_messages, self.limits.max_held_bytes
                ),
            )),
        }
    }

    /// `peer` leaves `room` (by `leave` or close); the others hear `peer-left`.
    pub async fn leave(&self, peer: &PeerId, room: &RoomId) -> Result<(), ClusterError> {
        let Some(instance) = instance_of(peer) else {
            return Ok(());
        };
        let value = self
            .call(
                self.scripts
                    .leave
                    .key(keys::members(room))
                    .key(keys::held(room))
                    .key(keys::held_bytes(room))
                    .key(keys::instance_peers(instance))
                    .arg(PREFIX)
                    .arg(peer.as_str())
                    .arg(ServerMessage::PeerLeft { id: peer.clone() }.to_json())
                    .arg(room.as_str()),
            )
            .await?;
        if int(&value) == Some(1) {
            info!(peer = %peer, room = %room, "left");
        }
        Ok(())
    }

    /// Reaps `instance` if its heartbeat is stale (or, with `force`, anyway); how many
    /// peers it took out of their rooms (`None`: it was alive).
    async fn reap(&self, instance: &str, force: bool) -> Result<Option<i64>, ClusterError> {
        let value = self
            .call_control(
                self.scripts
                    .reap
                    .key(keys::instances())
                    .key(keys::instance_peers(instance))
                    .arg(PREFIX)
                    .arg(instance)
                    .arg(DEAD_AFTER.as_millis() as u64)
                    .arg(if force { "1" } else { "0" }),
            )
            .await?;
        let n = int(&value).ok_or_else(|| bad(&value))?;
        Ok((n >= 0).then_some(n))
    }

    async fn heartbeat(
        &self,
        instance: &str,
        register: bool,
    ) -> Result<HeartbeatReply, ClusterError> {
        let value = self
            .call_control(
                self.scripts
                    .heartbeat
                    .key(keys::instances())
                    .arg(PREFIX)
                    .arg(instance)
                    .arg(DEAD_AFTER.as_millis() as u64)
                    .arg(if register { "1" } else { "0" }),
            )
            .await?;
        HeartbeatReply::parse(&value)
    }

    /// Connects, subscribes and registers a fresh incarnation (reaping the previous one,
    /// whose peers were all closed when Redis was lost).
    async fn bring_up(
        &self,
        previous: Option<&str>,
    ) -> Result<(String, redis::aio::PubSub), ClusterError> {
        let instance = new_instance_id();
        let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| ClusterError::Timeout(REDIS_TIMEOUT))??;
        tokio::time::timeout(REDIS_TIMEOUT, pubsub.subscribe(keys::channel(&instance)))
            .await
            .map_err(|_| ClusterError::Timeout(REDIS_TIMEOUT))??;
        let mut conn = self.control.clone();
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|err| ClusterError::Reply(format!("no entropy: {err}")))?;
        let key: Vec<u8> = tokio::time::timeout(REDIS_TIMEOUT, async {
            let _: Value = redis::cmd("SET")
                .arg(keys::resume_key())
                .arg(&fresh[..])
                .arg("NX")
                .query_async(&mut conn)
                .await?;
            redis::cmd("GET")
                .arg(keys::resume_key())
                .query_async(&mut conn)
                .await
        })
        .await
        .map_err(|_| ClusterError::Timeout(REDIS_TIMEOUT))??;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| ClusterError::Reply("the cluster's resume key is not 32 bytes".into()))?;
        // The relay script goes out as a pipeline of EVALSHAs: loaded only when one fails,
        // another instance's load could land in the middle of a pipeline, its first
        // scripts failing and the later ones running, and the retry would send the
        // first ones after them. Loaded before any peer is taken, none fails.
        tokio::time::timeout(REDIS_TIMEOUT, self.scripts.relay.load_async(&mut conn))
            .await
            .map_err(|_| ClusterError::Timeout(REDIS_TIMEOUT))??;
        // The data connections may still hold sockets from before Redis went away: a
        // request on one fails once and it reconnects. Have that happen here, not to a
        // peer's join.
        for conn in &self.conns {
            let mut conn = conn.clone();
            let mut last = None;
            for _ in 0..5 {
                match tokio::time::timeout(
                    REDIS_TIMEOUT,
                    redis::cmd("PING").query_async::<Value>(&mut conn),
                )
                .await
                {
                    Ok(Ok(_)) => {
                        last = None;
                        break;
                    }
                    Ok(Err(err)) => last = Some(ClusterError::Redis(err)),
                    Err(_) => last = Some(ClusterError::Timeout(REDIS_TIMEOUT)),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Some(err) = last {
                return Err(err);
            }
        }
        if let Some(previous) = previous
            && let Some(n) = self.reap(previous, true).await?
        {
            info!(
                previous,
                peers = n,
                "took this instance's earlier peers out of their rooms"
            );
        }
        self.heartbeat(&instance, true).await?;
        let mut state = self.lock();
        state.instance = instance.clone();
        state.resume_key = Some(ResumeKey::new(key));
        Ok((instance, pubsub))
    }

    /// Keeps the instance connected: brings it up, delivers its channel, heartbeats and
    /// reaps dead instances, and on any loss of Redis reports `Down` and starts over.
    async fn supervise(self: Arc<Self>, events: mpsc::UnboundedSender<ClusterEvent>) {
        let mut previous: Option<String> = None;
        let mut warned = false;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let (instance, pubsub) = match self.bring_up(previous.as_deref()).await {
                Ok(up) => up,
                Err(err) => {
                    if !warned {
                        warn!(%err, "cannot reach Redis: refusing joins until it is back");
                        warned = true;
                    }
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(HEARTBEAT) => continue,
                    }
                }
            };
            warned = false;
            info!(instance, "cluster instance up");
            self.up.store(true, Ordering::Release);
            let _ = events.send(ClusterEvent::Up);
            let lost = CancellationToken::new();
            let reader = tokio::spawn(read_channel(pubsub, events.clone(), lost.clone()));
            let beat = tokio::spawn(Arc::clone(&self).beat(instance.clone(), lost.clone()));
            tokio::select! {
                () = self.stop.cancelled() => {
                    lost.cancel();
                    self.up.store(false, Ordering::Release);
                    let _ = tokio::join!(reader, beat);
                    return;
                }
                () = lost.cancelled() => {}
            }
            let _ = tokio::join!(reader, beat);
            self.up.store(false, Ordering::Release);
            warn!(
                instance,
                "lost Redis: closing every connection, refusing joins until it is back"
            );
            let _ = events.send(ClusterEvent::Down);
            previous = Some(instance);
        }
    }

    /// Heartbeats every [`HEARTBEAT`] and reaps the instances that stopped; cancels
    /// `lost` when Redis fails or this instance was reaped.
    async fn beat(self: Arc<Self>, instance: String, lost: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.heartbeat(&instance, false).await {
                Ok(HeartbeatReply::Alive { dead }) => {
                    for dead in dead {
                        match self.reap(&dead, false).await {
                            Ok(Some(n)) => warn!(
                                dead,
                                peers = n,
                                "reaped an instance that stopped heartbeating"
                            ),
                            Ok(None) => {}
                            Err(err) => debug!(%err, dead, "reap failed"),
                        }
                    }
                }
                Ok(HeartbeatReply::Reaped) => {
                    warn!(
                        instance,
                        "this instance was reaped by another (its heartbeats were late)"
                    );
                    lost.cancel();
                    return;
                }
                Err(err) => {
                    warn!(%err, "heartbeat failed");
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

/// Delivers this instance's channel until the subscription ends; then cancels `lost`.
async fn read_channel(
    pubsub: redis::aio::PubSub,
    events: mpsc::UnboundedSender<ClusterEvent>,
    lost: CancellationToken,
) {
    let mut stream = pubsub.into_on_message();
    loop {
        let msg = tokio::select! {
            () = lost.cancelled() => return,
            msg = stream.next() => msg,
        };
        let Some(msg) = msg else {
            lost.cancel();
            return;
        };
        let payload = String::from_utf8_lossy(msg.get_payload_bytes());
        let event = match Envelope::parse(&payload) {
            Some(Envelope::Deliver { room, to, text }) => ClusterEvent::Deliver { room, to, text },
            Some(Envelope::Evict { room, peer }) => ClusterEvent::Evicted(peer, room),
            None => {
                debug!(%payload, "ignored a channel message");
                continue;
            }
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PeerId {
        PeerId::new(s)
    }

    #[test]
    fn peer_ids_name_their_instance() {
        assert_eq!(instance_of(&id("k3f9q2ab01.17")), Some("k3f9q2ab01"));
        assert_eq!(instance_of(&id("17")), None);
        let a = new_instance_id();
        assert_eq!(a.len(), 10);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(a, new_instance_id());
    }

    #[test]
    fn envelopes_round_trip_and_junk_is_ignored() {
        let room = RoomId::new("r-1").unwrap();
        let deliver = Envelope::Deliver {
            room: room.clone(),
            to: vec![id("a.1"), id("a.2")],
            text: "{\"type\":\"peer-left\",\"id\":\"b.1\"}\nwith a newline".into(),
        };
        assert_eq!(Envelope::parse(&deliver.encode()), Some(deliver));
        let evict = Envelope::Evict {
            room,
            peer: id("a.3"),
        };
        assert_eq!(Envelope::encode(&evict), "e\nr-1\na.3\n");
        assert_eq!(Envelope::parse("e\nr-1\na.3\n"), Some(evict));
        for junk in [
            "",
            "m",
            "x\nr\na.1\n{}",
            "e\nr\n\n",
            "m\nbad room!\na.1\n{}",
        ] {
            assert_eq!(Envelope::parse(junk), None, "{junk:?}");
        }
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn script_replies_are_read() {
        let joined = Value::Array(vec![
            bulk("ok"),
            Value::Int(1),
            Value::Array(vec![
                bulk("a.1"),
                bulk(r#"{"name":"ada","token_name":null}"#),
            ]),
            Value::Array(vec![bulk("{\"type\":\"offer\"}")]),
        ]);
        assert_eq!(
            JoinReply::parse(&joined).unwrap(),
            JoinReply::Joined {
                members: vec![(
                    id("a.1"),
                    MemberRecord {
                        name: Some(PeerName::new("ada").unwrap()),
                        token_name: None
                    }
                )],
                replaced: true,
                held: vec!["{\"type\":\"offer\"}".into()],
            }
        );
        assert_eq!(
            JoinReply::parse(&Value::Array(vec![bulk("room-full")])).unwrap(),
            JoinReply::RoomFull
        );
        assert!(JoinReply::parse(&Value::Int(3)).is_err());
        assert_eq!(
            RelayReply::parse(&Value::Array(vec![
                bulk("queue-full"),
                Value::Int(128),
                Value::Int(900)
            ]))
            .unwrap(),
            RelayReply::QueueFull {
                held: 128,
                bytes: 900
            }
        );
        assert_eq!(
            RelayReply::parse(&Value::Array(vec![bulk("held")])).unwrap(),
            RelayReply::Held
        );
        assert!(RelayReply::parse(&Value::Array(vec![bulk("queue-full")])).is_err());
        assert_eq!(
            HeartbeatReply::parse(&Value::Array(vec![
                bulk("alive"),
                Value::Array(vec![bulk("x")])
            ]))
            .unwrap(),
            HeartbeatReply::Alive {
                dead: vec!["x".into()]
            }
        );
        assert_eq!(
            HeartbeatReply::parse(&Value::Array(vec![bulk("reaped")])).unwrap(),
            HeartbeatReply::Reaped
        );
    }

    #[test]
    fn what_arrives_while_a_peer_joins_waits_for_its_welcome() {
        let mut local = LocalPeers::default();
        let a = id("i.1");
        let room = RoomId::new("r").unwrap();
        let other = RoomId::new("elsewhere").unwrap();
        local.connect(a.clone());
        assert_eq!(local.deliver(&a, &room, "before"), Delivery::Gone);
        local.begin_join(&a, &room).unwrap();
        assert_eq!(local.deliver(&a, &room, "m1"), Delivery::Buffered);
        assert_eq!(local.deliver(&a, &other, "late"), Delivery::Gone);
        assert_eq!(local.deliver(&a, &room, "m2"), Delivery::Buffered);
        assert_eq!(local.finish_join(&a, Some(room.clone())), vec!["m1", "m2"]);
        assert_eq!(local.room(&a), Some(&room));
        assert_eq!(local.deliver(&a, &room, "m3"), Delivery::Now("m3"));
        // Already in a room: a second join is refused, nothing is buffered.
        assert_eq!(local.begin_join(&a, &other), Err(room.clone()));
        assert_eq!(local.deliver(&a, &room, "m4"), Delivery::Now("m4"));
        assert_eq!(local.deliver(&id("i.9"), &room, "x"), Delivery::Gone);
        assert_eq!(local.disconnect(&a), Some(room));
        assert!(local.is_empty());
    }

    #[test]
    fn what_comes_late_from_a_room_left_is_dropped_even_after_joining_another() {
        let mut local = LocalPeers::default();
        let a = id("i.1");
        let [first, second] = [
            RoomId::new("first").unwrap(),
            RoomId::new("second").unwrap(),
        ];
        local.connect(a.clone());
        local.begin_join(&a, &first).unwrap();
        local.finish_join(&a, Some(first.clone()));
        assert_eq!(local.leave(&a), Some(first.clone()));
        assert_eq!(local.deliver(&a, &first, "late"), Delivery::Gone);
        local.begin_join(&a, &second).unwrap();
        assert_eq!(local.deliver(&a, &first, "later"), Delivery::Gone);
        assert_eq!(local.deliver(&a, &second, "new"), Delivery::Buffered);
        assert_eq!(local.finish_join(&a, Some(second.clone())), vec!["new"]);
        // An eviction from the room it left does not take it out of the new one.
        local.evict(&a, &first);
        assert_eq!(local.room(&a), Some(&second));
        local.evict(&a, &second);
        assert_eq!(local.room(&a), None);
    }

    #[test]
    fn a_refused_join_leaves_the_peer_outside_and_loss_empties_rooms() {
        let mut local: LocalPeers<&str> = LocalPeers::default();
        let [a, b] = [id("i.1"), id("i.2")];
        let room = RoomId::new("r").unwrap();
        local.connect(a.clone());
        local.connect(b.clone());
        local.begin_join(&a, &room).unwrap();
        assert_eq!(local.deliver(&a, &room, "x"), Delivery::Buffered);
        assert!(local.finish_join(&a, None).is_empty());
        assert_eq!(local.room(&a), None);
        assert_eq!(local.leave(&a), None);
        for p in [&a, &b] {
            local.begin_join(p, &room).unwrap();
            local.finish_join(p, Some(room.clone()));
        }
        local.evict(&a, &room);
        assert_eq!(local.room(&a), None);
        assert_eq!(local.disconnect(&a), None, "an evicted peer leaves nothing");
        assert_eq!(local.forget_rooms(), 1);
        assert_eq!(local.room(&b), None);
        assert_eq!(local.len(), 1);
    }
}
