//! The signaling client: protocol v1 over tokio-tungstenite (`ws://` and `wss://`).
//!
//! [`SignalingClient::connect`] opens the connection and joins the room, failing fast
//! with a reason a person understands (server unreachable, room full, no answer in
//! time). After that a background task owns the socket: it turns server messages into
//! [`SignalingEvent`]s, sends what the call engine hands it, and when the connection
//! drops it reports [`SignalingEvent::Disconnected`] and reconnects with backoff,
//! joining the same room again. A peer connection that is already up does not depend
//! on any of this, so media keeps flowing through a signaling outage. A server that
//! refuses the join as `unauthorized` (no valid access token) is final, first time or
//! after a reconnect: retrying would not change its mind.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use signaling_proto::{
    AccessToken, ClientMessage, ErrorCode, IceServer, PeerId, PeerInfo, PeerName, Resume, RoomId,
    ServerMessage, Signal,
};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::backoff::Backoff;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SignalingConfig {
    /// `ws://HOST:PORT/ws` or `wss://HOST:PORT/ws`.
    pub url: String,
    /// The room to join.
    pub room: RoomId,
    /// The name to show the other peer.
    pub name: Option<PeerName>,
    /// The access token, for a server that needs one (sent with every join; its `Debug`
    /// form does not show it).
    pub token: Option<AccessToken>,
    /// Longest wait for the connection and the `welcome`.
    pub connect_timeout: Duration,
    /// Delays between reconnection attempts.
    pub backoff: Backoff,
    /// TLS settings for `wss://` (custom roots); `None` trusts the system's roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl SignalingConfig {
    /// Defaults: 10 s to connect, backoff from 250 ms to 5 s, system TLS roots.
    pub fn new(url: impl Into<String>, room: RoomId) -> Self {
        Self {
            url: url.into(),
            room,
            name: None,
            token: None,
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            tls: None,
        }
    }
}

/// The `welcome` of a (re)join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Our id in the room (a new one after each reconnection).
    pub id: PeerId,
    /// Who was already there.
    pub peers: Vec<PeerInfo>,
    /// ICE servers the server hands out.
    pub ice_servers: Vec<IceServer>,
    /// Whether this is a join after a reconnection.
    pub rejoined: bool,
    /// What to present to take this connection's place after the next reconnection.
    pub resume: Option<Resume>,
    /// How long the server took to answer the join.
    pub round_trip: std::time::Duration,
}

/// What happens on the signaling connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalingEvent {
    /// Joined the room (first, or again after reconnecting).
    Joined(Joined),
    /// Someone entered the room.
    PeerJoined {
        /// Their id.
        id: PeerId,
        /// Their name, if they gave one.
        name: Option<PeerName>,
        /// The id they had, when they came back over a new connection.
        replaces: Option<PeerId>,
    },
    /// Someone left the room.
    PeerLeft {
        /// Their id.
        id: PeerId,
    },
    /// An offer, answer or candidate from a peer.
    Signal {
        /// The sender.
        from: PeerId,
        /// What they sent.
        signal: Signal,
    },
    /// The server refused something we sent.
    Refused {
        /// Why, in short.
        code: ErrorCode,
        /// Why, for a person.
        message: String,
    },
    /// The connection dropped; the next attempt comes after `retry_in`.
    Disconnected {
        /// What happened.
        reason: String,
        /// When the client tries again.
        retry_in: Duration,
    },
    /// A reconnection was refused for good (`unauthorized`): the client has stopped, and
    /// no event follows.
    Failed(SignalingError),
}

/// Why signaling could not start or go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalingError {
    /// The URL is not a WebSocket URL.
    #[error(
        "invalid signaling server URL {url:?}: {reason} (expected ws://HOST:PORT/ws or wss://HOST:PORT/ws)"
    )]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answered at the URL.
    #[error(
        "cannot reach the signaling server at {url}: {reason}. Is it running, and is the address right?"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The server did not complete the join in time.
    #[error("the signaling server at {url} did not answer within {after:?}")]
    Timeout {
        /// The URL tried.
        url: String,
        /// How long we waited.
        after: Duration,
    },
    /// The room already has its peers.
    #[error("room '{room}' is full: {message}")]
    RoomFull {
        /// The room.
        room: RoomId,
        /// The server's explanation.
        message: String,
    },
    /// The server needs an access token for the room, and ours (if any) did not do.
    #[error("not allowed into room '{room}': {message}")]
    Unauthorized {
        /// The room.
        room: RoomId,
        /// The server's explanation (what is wrong with the token).
        message: String,
    },
    /// The server refused the join for another reason.
    #[error("the signaling server refused: {code}: {message}")]
    Refused {
        /// Why, in short.
        code: ErrorCode,
        /// Why, for a person.
        message: String,
    },
    /// The client has stopped.
    #[error("the signaling client has stopped")]
    Closed,
}

/// A connected signaling client; dropping it leaves the room and closes the connection.
#[derive(Debug)]
pub struct SignalingClient {
    outgoing: mpsc::Sender<ClientMessage>,
    events: mpsc::Receiver<SignalingEvent>,
    reconnect: Arc<Notify>,
    task: JoinHandle<()>,
}

impl SignalingClient {
    /// Connects, joins the room and starts the background task. The first event is
    /// [`SignalingEvent::Joined`].
    pub async fn connect(config: SignalingConfig) -> Result<Self, SignalingError> {
        if !(config.url.starts_with("ws://") || config.url.starts_with("wss://")) {
            return Err(SignalingError::InvalidUrl {
                url: config.url.clone(),
                reason: "the scheme must be ws:// or wss://".into(),
            });
        }
        let (ws, joined) = open_and_join(&config, None, false).await?;
        let (outgoing, outgoing_rx) = mpsc::channel(256);
        let (events_tx, events) = mpsc::channel(1024);
        let resume = joined.resume.clone();
        let _ = events_tx.send(SignalingEvent::Joined(joined)).await;
        let reconnect = Arc::new(Notify::new());
        let task = tokio::spawn(run(
            ws,
            resume,
            config,
            outgoing_rx,
            events_tx,
            Arc::clone(&reconnect),
        ));
        Ok(Self {
            outgoing,
            events,
            reconnect,
            task,
        })
    }

    /// Drops the connection and connects again at once (taking our place in the room
    /// back): after a network change, the old connection's path may be gone without
    /// either end noticing for a long while.
    pub fn reconnect_now(&self) {
        self.reconnect.notify_one();
    }

    /// Queues a message for the server. While disconnected, messages are dropped (they
    /// would address a session that no longer exists).
    pub fn send(&self, message: ClientMessage) -> Result<(), SignalingError> {
        self.outgoing
            .try_send(message)
            .map_err(|_| SignalingError::Closed)
    }

    /// The next event; `None` once the client has stopped.
    pub async fn next_event(&mut self) -> Option<SignalingEvent> {
        self.events.recv().await
    }

    /// Leaves the room, closes the connection and waits for the task to end.
    /// Dropping the client does the same without waiting.
    pub async fn close(self) {
        let Self { outgoing, task, .. } = self;
        drop(outgoing);
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
}

/// Opens the WebSocket and joins (after a reconnection, presenting `resume` to take the
/// old connection's place); returns the socket and the welcome.
async fn open_and_join(
    config: &SignalingConfig,
    resume: Option<Resume>,
    rejoined: bool,
) -> Result<(Ws, Joined), SignalingError> {
    let attempt = async {
        let connector = config.tls.clone().map(Connector::Rustls);
        let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            config.url.as_str(),
            None,
            true,
            connector,
        )
        .await
        .map_err(|e| SignalingError::Unreachable {
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
        let join = ClientMessage::Join {
            room: config.room.clone(),
            name: config.name.clone(),
            resume: resume.clone(),
            token: config.token.clone(),
        };
        let sent = std::time::Instant::now();
        ws.send(Message::Text(join.to_json().into()))
            .await
            .map_err(|e| SignalingError::Unreachable {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        while let Some(frame) = ws.next().await {
            let Ok(Message::Text(text)) = frame else {
                continue;
            };
            match ServerMessage::from_json(&text) {
                Ok(ServerMessage::Welcome {
                    id,
                    peers,
                    ice_servers,
                    resume: token,
                    ..
                }) => {
                    let joined = Joined {
                        resume: token.map(|token| Resume {
                            id: id.clone(),
                            token,
                        }),
                        id,
                        peers,
                        ice_servers,
                        rejoined,
                        round_trip: sent.elapsed(),
                    };
                    return Ok((ws, joined));
                }
                Ok(ServerMessage::Error {
                    code: ErrorCode::RoomFull,
                    message,
                }) => {
                    return Err(SignalingError::RoomFull {
                        room: config.room.clone(),
                        message,
                    });
                }
                Ok(ServerMessage::Error {
                    code: ErrorCode::Unauthorized,
                    message,
                }) => {
                    return Err(SignalingError::Unauthorized {
                        room: config.room.clone(),
                        message,
                    });
                }
                Ok(ServerMessage::Error { code, message }) => {
                    return Err(SignalingError::Refused { code, message });
                }
                _ => continue,
            }
        }
        Err(SignalingError::Unreachable {
            url: config.url.clone(),
            reason: "the server closed the connection before welcoming us".into(),
        })
    };
    tokio::time::timeout(config.connect_timeout, attempt)
        .await
        .map_err(|_| SignalingError::Timeout {
            url: config.url.clone(),
            after: config.connect_timeout,
        })?
}

/// Why a session ended.
enum SessionEnd {
    /// The call engine is done with us.
    Closed,
    /// The connection dropped.
    Dropped(String),
    /// The engine asked for a new connection.
    Asked,
}

/// The background task: sessions, and reconnection between them.
async fn run(
    mut ws: Ws,
    mut resume: Option<Resume>,
    config: SignalingConfig,
    mut outgoing: mpsc::Receiver<ClientMessage>,
    events: mpsc::Sender<SignalingEvent>,
    reconnect: Arc<Notify>,
) {
    let salt = u64::from(std::process::id());
    loop {
        let reason = match session(&mut ws, &mut outgoing, &events, &reconnect).await {
            SessionEnd::Closed => {
                let leave = ClientMessage::Leave.to_json();
                let _ = ws.send(Message::Text(leave.into())).await;
                let _ = ws.close(None).await;
                return;
            }
            SessionEnd::Dropped(reason) => (reason, false),
            SessionEnd::Asked => ("the network changed".to_string(), true),
        };
        let (reason, at_once) = reason;
        let mut attempt = 0;
        ws = loop {
            let retry_in = if at_once && attempt == 0 {
                Duration::ZERO
            } else {
                config
                    .backoff
                    .delay(attempt, salt.wrapping_add(u64::from(attempt)))
            };
            tracing::info!(%reason, ?retry_in, "signaling connection lost; reconnecting");
            let event = SignalingEvent::Disconnected {
                reason: reason.clone(),
                retry_in,
            };
            if events.send(event).await.is_err() {
                return;
            }
            // Wait, dropping what the engine sends meanwhile (it addresses the old session).
            let wait = tokio::time::sleep(retry_in);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    message = outgoing.recv() => match message {
                        Some(message) => tracing::debug!(?message, "signaling down: message dropped"),
                        None => return,
                    },
                }
            }
            match open_and_join(&config, resume.clone(), true).await {
                Ok((ws, joined)) => {
                    tracing::info!(id = %joined.id, "signaling reconnected");
                    resume = joined.resume.clone();
                    if events.send(SignalingEvent::Joined(joined)).await.is_err() {
                        return;
                    }
                    break ws;
                }
                Err(err @ SignalingError::Unauthorized { .. }) => {
                    // Our place was not kept (the server restarted, say) and the token
                    // no longer lets us in: asking again would not change that.
                    tracing::warn!(%err, "reconnection refused; giving up");
                    let _ = events.send(SignalingEvent::Failed(err)).await;
                    return;
                }
                Err(err) => {
                    tracing::debug!(%err, attempt, "reconnection failed");
                    attempt = attempt.saturating_add(1);
                }
            }
        };
    }
}

/// One connected session: relays both ways until the connection drops or we close.
async fn session(
    ws: &mut Ws,
    outgoing: &mut mpsc::Receiver<ClientMessage>,
    events: &mpsc::Sender<SignalingEvent>,
    reconnect: &Notify,
) -> SessionEnd {
    loop {
        tokio::select! {
            () = reconnect.notified() => return SessionEnd::Asked,
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(close))) => {
                        let why = close.map_or("closed by the server".into(), |c| format!("closed by the server: {}", c.reason));
                        return SessionEnd::Dropped(why);
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return SessionEnd::Dropped(e.to_string()),
                    None => return SessionEnd::Dropped("connection closed".into()),
                };
                let event = match ServerMessage::from_json(&text) {
                    Ok(message) => match to_event(message) {
                        Some(event) => event,
                        None => continue,
                    },
                    Err(err) => {
                        tracing::warn!(%err, "ignoring a message from the server");
                        continue;
                    }
                };
                if events.send(event).await.is_err() {
                    return SessionEnd::Closed;
                }
            }
            message = outgoing.recv() => {
                let Some(message) = message else {
                    return SessionEnd::Closed;
                };
                if let Err(e) = ws.send(Message::Text(message.to_json().into())).await {
                    return SessionEnd::Dropped(e.to_string());
                }
            }
        }
    }
}

fn to_event(message: ServerMessage) -> Option<SignalingEvent> {
    Some(match message {
        ServerMessage::PeerJoined { id, name, replaces } => {
            SignalingEvent::PeerJoined { id, name, replaces }
        }
        ServerMessage::PeerLeft { id } => SignalingEvent::PeerLeft { id },
        ServerMessage::Offer { sdp, from, .. } => SignalingEvent::Signal {
            from,
            signal: Signal::Offer(sdp),
        },
        ServerMessage::Answer { sdp, from, .. } => SignalingEvent::Signal {
            from,
            signal: Signal::Answer(sdp),
        },
        ServerMessage::Candidate {
            candidate, from, ..
        } => SignalingEvent::Signal {
            from,
            signal: Signal::Candidate(candidate),
        },
        ServerMessage::Error { code, message } => SignalingEvent::Refused { code, message },
        // A welcome comes only in answer to our join, which `open_and_join` reads.
        ServerMessage::Welcome { .. } => return None,
    })
}
