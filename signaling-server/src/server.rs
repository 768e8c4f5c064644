//! The shell around the relay: TCP/TLS accept, HTTP routes, WebSocket framing, limits,
//! outboxes and keepalive.
//!
//! Invariants:
//! - one reader task per connection feeds the relay; the hub lock is taken only for
//!   `Relay` calls and non-blocking outbox pushes, never across an `.await`;
//! - every connection has a bounded outbox drained by its own writer task, so a slow
//!   reader never stalls anyone: past the bound it is dropped with a close reason and
//!   its room hears `peer-left`;
//! - all deliveries for one relay input are pushed under the same lock, so each
//!   recipient sees a sender's messages in the order sent, and `welcome` before the
//!   messages held for it;
//! - every way out of a connection ends in `Relay::disconnect`, and every connection
//!   let in by the per-host limits ([`PerHost`]) is counted out of them again;
//! - a browser page from an origin the [`OriginPolicy`] does not allow never gets past
//!   the upgrade (403);
//! - in cluster mode (`--cluster`, see [`crate::cluster`]) rooms live in Redis: a
//!   connection's messages go through [`ClusterNode`] in order, one request at a time
//!   (relayed messages that arrived together as one pipeline, [`RelayBatch`]), so each
//!   sender's order holds; every way out of a connection ends in a leave script instead
//!   of `Relay::disconnect`; what arrives on the instance's channel is pushed into outboxes under
//!   the hub lock, and a joining peer's arrivals wait in [`LocalPeers`] until its
//!   `welcome` and held messages are queued. While Redis is lost every connection is
//!   closed (1013) and upgrades get 503.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt as _, SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::server::conn::http1;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use signaling_proto::{ClientMessage, ErrorCode, PeerId, ServerMessage, WS_PATH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;
use tracing::{Instrument, debug, info, warn};

use crate::cluster::{ClusterEvent, ClusterNode, Delivery, JoinOutcome, LocalPeers};
use crate::limits::{Host, Keepalive, KeepaliveAction, PerHost, TokenBucket};
use crate::origin::OriginPolicy;
use crate::relay::{Outbound, Relay};
use crate::{Config, ServerError, tls};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// How long a TLS handshake or an HTTP request head may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing connections may take at shutdown, and a close frame to be sent.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Most outbox messages written before one flush.
const MAX_BATCH: usize = 64;
/// The close reason when a cluster instance loses Redis.
const CLUSTER_LOST: &str = "signaling store unreachable: reconnect shortly";

/// Serves HTTP and the signaling WebSocket on `listener` until `shutdown` completes,
/// then closes every connection with a close frame and returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let web_root = config.web_root();
    if !web_root.join("index.html").is_file() {
        warn!(dir = %web_root.display(), "no index.html in the web root: GET / will be 404 (set --web-root)");
    }
    let hard_frame_limit = (config.max_frame_bytes as usize * 4).max(1 << 20);
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(config.outbox_bytes.max(1 << 20) * 2)
        .max_message_size(Some(hard_frame_limit))
        .max_frame_size(Some(hard_frame_limit));
    if config.auth_secret.is_some() {
        info!("joins need an access token (--auth-secret)");
    }
    let (cluster, cluster_events) = match &config.cluster {
        Some(url) => {
            let (node, events) =
                ClusterNode::start(url, config.relay_limits(), config.ice(), config.token_key())
                    .map_err(|err| ServerError::Config(err.to_string()))?;
            info!(instance = %node.instance(), "cluster mode: rooms are shared through Redis");
            (Some(node), Some(events))
        }
        None => (None, None),
    };
    let shared = Arc::new(Shared {
        hub: Mutex::new(Hub {
            relay: Relay::new(config.relay_limits(), config.ice(), resume_key())
                .with_auth(config.token_key()),
            conns: HashMap::new(),
            hosts: PerHost::new(config.per_host_limits()),
            stopping: false,
            local: LocalPeers::default(),
        }),
        cluster,
        origins: config.origins()?,
        config,
        ws_config,
        connections: AtomicUsize::new(0),
        http_sockets: Arc::new(AtomicUsize::new(0)),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
    });
    let app = Router::new()
        .route(WS_PATH, get(ws_upgrade))
        .route("/healthz", get(healthz))
        .fallback_service(ServeDir::new(web_root))
        .with_state(Arc::clone(&shared));

    if let Some(events) = cluster_events {
        tokio::spawn(cluster_loop(Arc::clone(&shared), events));
    }
    let max_sockets =
        shared.config.max_connections + (shared.config.max_connections / 10).max(1024);
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(addr = %listener.local_addr()?, scheme, "signaling server listening");
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Sockets still speaking HTTP (before any upgrade) are bounded too, so idle or
        // half-open ones cannot use up the file descriptors the WebSockets need.
        let http_slot = Slot::take(Arc::clone(&shared.http_sockets));
        if http_slot.count() + shared.connections.load(Ordering::Relaxed) > max_sockets {
            debug!("refused socket: too many open");
            let _ = stream.try_write(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 12\r\n\r\nserver full\n");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let token = shared.shutdown.clone();
        let tls = tls.clone();
        shared.tasks.spawn(async move {
            let _http_slot = http_slot;
            let ip = PeerIp(peer.ip());
            match tls {
                None => serve_http(stream, ip, app, token).await,
                Some(acceptor) => match timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => serve_http(stream, ip, app, token).await,
                    Ok(Err(err)) => debug!(%err, "TLS handshake failed"),
                    Err(_) => debug!("TLS handshake timed out"),
                },
            }
        });
    }

    info!("shutting down: closing every connection");
    {
        let mut hub = shared.lock();
        hub.stopping = true;
        for conn in hub.conns.values() {
            conn.close(CloseCode::Away, "server shutting down");
        }
    }
    shared.shutdown.cancel();
    shared.tasks.close();
    if timeout(CLOSE_TIMEOUT * 2, shared.tasks.wait())
        .await
        .is_err()
    {
        warn!("some connections did not close in time");
    }
    if let Some(cluster) = &shared.cluster {
        cluster.shutdown().await;
    }
    Ok(())
}

/// `GET /healthz`: `ok`; in cluster mode 503 while Redis cannot be reached.
async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.cluster {
        Some(cluster) if !cluster.is_up() => {
            (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable\n").into_response()
        }
        Some(_) => "ok (redis reachable)".into_response(),
        None => "ok".into_response(),
    }
}

/// Carries out what the cluster reports: deliveries to local peers, evictions, and the
/// loss of Redis (every connection closed).
async fn cluster_loop(shared: Arc<Shared>, mut events: mpsc::UnboundedReceiver<ClusterEvent>) {
    let mut batch = Vec::with_capacity(256);
    while events.recv_many(&mut batch, 256).await > 0 {
        let mut hub = shared.lock();
        for event in batch.drain(..) {
            match event {
                ClusterEvent::Deliver { room, to, text } => {
                    hub.deliver(&room, to, Utf8Bytes::from(text));
                }
                ClusterEvent::Evicted(peer, room) => hub.local.evict(&peer, &room),
                ClusterEvent::Down => {
                    let rooms = hub.local.forget_rooms();
                    info!(
                        connections = hub.conns.len(),
                        rooms, "closing every connection: Redis lost"
                    );
                    for conn in hub.conns.values() {
                        conn.close(CloseCode::Again, CLUSTER_LOST);
                    }
                }
                ClusterEvent::Up => {}
            }
        }
    }
}

/// The address a request came from (a request extension).
#[derive(Debug, Clone, Copy)]
struct PeerIp(IpAddr);

/// State shared by every connection.
struct Shared {
    config: Config,
    /// Which browser pages may open the WebSocket.
    origins: OriginPolicy,
    ws_config: WebSocketConfig,
    hub: Mutex<Hub>,
    /// The Redis side, in cluster mode.
    cluster: Option<Arc<ClusterNode>>,
    /// Open WebSocket connections.
    connections: AtomicUsize,
    /// Accepted sockets still in their HTTP phase (TLS handshake, requests, upgrade).
    http_sockets: Arc<AtomicUsize>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Hub> {
        // A panic elsewhere must not take the relay down with it.
        self.hub
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The relay plus each connected peer's outbox.
struct Hub {
    relay: Relay,
    conns: HashMap<PeerId, Arc<Conn>>,
    /// Each host's connections and joins.
    hosts: PerHost,
    /// Shutting down: nobody is told that the others leave (they did not; the server
    /// did), so calls in progress are not ended by the server going away.
    stopping: bool,
    /// In cluster mode: the room each local peer is in, and what waits for a joining one.
    local: LocalPeers<Utf8Bytes>,
}

impl Hub {
    /// Pushes `outbound` into outboxes; a peer whose outbox is full is dropped.
    fn dispatch(&mut self, outbound: Vec<Outbound>) {
        if self.stopping {
            return;
        }
        let mut slow = Vec::new();
        for Outbound { to, message } in outbound {
            if let ServerMessage::Error { code, message } = &message {
                for peer in &to {
                    let room = self.relay.room_of(peer).map(|r| r.as_str());
                    info!(peer = %peer, room, %code, "refused: {message}");
                }
            }
            let text = Utf8Bytes::from(message.to_json());
            for peer in to {
                if let Some(conn) = self.conns.get(&peer)
                    && !conn.push(Out::Text(text.clone()))
                {
                    slow.push(peer);
                }
            }
        }
        for peer in slow {
            if let Some(conn) = self.conns.remove(&peer) {
                warn!(peer = %peer, "dropping a slow reader: outbox full");
                conn.close(CloseCode::Policy, "outbox full: reading too slowly");
                let left = self.relay.disconnect(&peer);
                self.dispatch(left);
            }
        }
    }
}

impl Hub {
    /// Cluster mode: pushes `text` (from the instance's channel) to local peers, or
    /// keeps it for one whose join is under way; a peer whose outbox is full is closed
    /// (its connection's end takes it out of its room).
    fn deliver(&mut self, room: &signaling_proto::RoomId, to: Vec<PeerId>, text: Utf8Bytes) {
        if self.stopping {
            return;
        }
        for peer in to {
            if let Delivery::Now(text) = self.local.deliver(&peer, room, text.clone())
                && let Some(conn) = self.conns.get(&peer)
                && !conn.push(Out::Text(text))
                && let Some(conn) = self.conns.remove(&peer)
            {
                warn!(peer = %peer, "dropping a slow reader: outbox full");
                conn.close(CloseCode::Policy, "outbox full: reading too slowly");
            }
        }
    }
}

/// An item of a connection's outbox.
enum Out {
    Text(Utf8Bytes),
    Ping,
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Text(text) => text.len(),
            Out::Ping => 0,
        }
    }

    fn into_message(self) -> Message {
        match self {
            Out::Text(text) => Message::Text(text),
            Out::Ping => Message::Ping(Default::default()),
        }
    }
}

/// One connection's outbox and its way to be closed.
struct Conn {
    tx: mpsc::Sender<Out>,
    queued_bytes: AtomicUsize,
    max_bytes: usize,
    /// Cancelled when the connection must end (a child of the server's shutdown token).
    closing: CancellationToken,
    /// The close frame to send, when the server ends the connection.
    close_frame: OnceLock<CloseFrame>,
}

impl Conn {
    /// Queues `out` without waiting; `false` when the outbox is full.
    fn push(&self, out: Out) -> bool {
        let len = out.len();
        if self.queued_bytes.fetch_add(len, Ordering::Relaxed) + len > self.max_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                false
            }
            // The writer is gone: the connection is ending anyway.
            Err(TrySendError::Closed(_)) => true,
        }
    }

    /// Ends the connection: what is queued is sent, then a close frame with `reason`.
    fn close(&self, code: CloseCode, reason: &'static str) {
        let _ = self.close_frame.set(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        });
        self.closing.cancel();
    }

    /// Queues an error for this connection's own peer. Best effort: when a flood of
    /// refusals has filled its outbox, further refusals are dropped rather than the
    /// connection (the refused messages are dropped either way).
    fn refuse(&self, code: ErrorCode, message: String) {
        if !self.push(Out::Text(
            ServerMessage::error(code, message).to_json().into(),
        )) {
            debug!(%code, "outbox full: refusal not sent");
        }
    }
}

/// Serves HTTP/1.1 (with upgrades) on one accepted stream from `ip`.
async fn serve_http<S>(stream: S, ip: PeerIp, app: Router, shutdown: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ip);
        hyper::service::Service::call(&app, req)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                debug!(%err, "HTTP connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = timeout(CLOSE_TIMEOUT, conn).await;
        }
    }
}

/// `GET /ws`: validates the upgrade request and hands the socket to a connection task.
async fn ws_upgrade(State(shared): State<Arc<Shared>>, mut req: Request) -> Response {
    let headers = req.headers();
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let valid = has_token(headers, header::CONNECTION, "upgrade")
        && has_token(headers, header::UPGRADE, "websocket")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
    let on_upgrade = req.extensions_mut().remove::<OnUpgrade>();
    let (true, Some(key), Some(on_upgrade)) = (valid, key, on_upgrade) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade (version 13) at /ws; see the signaling protocol\n",
        )
            .into_response();
    };
    if shared.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "server shutting down\n").into_response();
    }
    if shared.cluster.as_ref().is_some_and(|c| !c.is_up()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "signaling store (Redis) unreachable: try again shortly\n",
        )
            .into_response();
    }
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !shared.origins.allows(origin, host) {
        let origin = origin.unwrap_or_default();
        info!(origin, "refused WebSocket upgrade: origin not allowed");
        return (
            StatusCode::FORBIDDEN,
            format!(
                "pages from {origin} may not open this signaling server's WebSocket (the server allows them with --allowed-origin)\n"
            ),
        )
            .into_response();
    }
    let Some(&PeerIp(ip)) = req.extensions().get::<PeerIp>() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no peer address\n").into_response();
    };
    let accept = derive_accept_key(key.as_bytes());
    let task_shared = Arc::clone(&shared);
    shared.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(task_shared.ws_config),
                )
                .await;
                run_connection(task_shared, ws, Host::of(ip)).await;
            }
            Err(err) => debug!(%err, "WebSocket upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Whether a comma-separated header contains `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// One unit of a counter, held for as long as what it counts is alive.
struct Slot<C: std::ops::Deref<Target = AtomicUsize>> {
    counter: C,
    count: usize,
}

impl<C: std::ops::Deref<Target = AtomicUsize>> Slot<C> {
    fn take(counter: C) -> Self {
        let count = counter.fetch_add(1, Ordering::Relaxed) + 1;
        Self { counter, count }
    }

    /// The counter's value when this slot was taken (this one included).
    fn count(&self) -> usize {
        self.count
    }
}

impl<C: std::ops::Deref<Target = AtomicUsize>> Drop for Slot<C> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs one WebSocket connection from `host`, from upgrade to close.
async fn run_connection(shared: Arc<Shared>, ws: Ws, host: Host) {
    let config = &shared.config;
    let slot = Slot::take(&shared.connections);
    let open = slot.count();
    let (sink, stream) = ws.split();
    let (tx, rx) = mpsc::channel(config.outbox_messages as usize);
    let conn = Arc::new(Conn {
        tx,
        queued_bytes: AtomicUsize::new(0),
        max_bytes: config.outbox_bytes,
        closing: shared.shutdown.child_token(),
        close_frame: OnceLock::new(),
    });
    shared.tasks.spawn(write_loop(sink, rx, Arc::clone(&conn)));

    if open > config.max_connections {
        info!(open, "refused connection: server full");
        conn.refuse(
            ErrorCode::ServerFull,
            format!(
                "server has its maximum of {} connections: try again later",
                config.max_connections
            ),
        );
        conn.close(CloseCode::Again, "server full");
        return;
    }

    let id = {
        let mut hub = shared.lock();
        if !hub.hosts.connect(host, Instant::now().into_std()) {
            drop(hub);
            info!(%host, "refused connection: too many from one host");
            conn.refuse(
                ErrorCode::TooManyConnections,
                format!(
                    "your address already has the most connections this server allows one host ({}): close some, or try again later",
                    config.max_connections_per_ip
                ),
            );
            conn.close(CloseCode::Again, "too many connections from one host");
            return;
        }
        let id = match &shared.cluster {
            Some(cluster) => {
                let id = cluster.next_peer_id();
                hub.local.connect(id.clone());
                id
            }
            None => hub.relay.connect(),
        };
        hub.conns.insert(id.clone(), Arc::clone(&conn));
        id
    };
    debug!(peer = %id, %host, "connected");
    read_loop(&shared, &id, host, &conn, stream)
        .instrument(tracing::info_span!("peer", id = %id))
        .await;
    let room = {
        let mut hub = shared.lock();
        hub.conns.remove(&id);
        hub.hosts.disconnect(host, Instant::now().into_std());
        if shared.cluster.is_some() {
            hub.local.disconnect(&id)
        } else {
            let left = hub.relay.disconnect(&id);
            hub.dispatch(left);
            None
        }
    };
    conn.closing.cancel();
    if let (Some(cluster), Some(room)) = (&shared.cluster, room)
        && let Err(err) = cluster.leave(&id, &room).await
    {
        // Redis lost: this instance's peers leave when it comes back (or when another
        // instance reaps this one).
        debug!(peer = %id, %err, "leave not recorded");
    }
    debug!(peer = %id, "disconnected");
}

/// Reads frames until the connection ends, enforcing limits and keepalive.
async fn read_loop(
    shared: &Shared,
    id: &PeerId,
    host: Host,
    conn: &Conn,
    mut stream: SplitStream<Ws>,
) {
    let config = &shared.config;
    let started = Instant::now();
    let join_deadline = started + config.join_timeout;
    let mut bucket = TokenBucket::new(config.rate, config.burst, started.into_std());
    let mut joined = false;
    let mut bad_in_row = 0;
    let mut rate_limited = false;
    let mut keepalive = Keepalive::new(
        config.ping_interval,
        config.pong_timeout,
        started.into_std(),
    );
    // Cluster mode: relayed messages that arrived together, sent to Redis as one
    // pipeline once no further frame is ready, or before anything else is answered (so
    // answers keep the order of what they answer). Always empty otherwise.
    let mut batch = RelayBatch::default();
    loop {
        let frame = if !batch.is_empty() {
            match stream.next().now_or_never() {
                Some(frame) => frame,
                None => {
                    batch.flush(shared, id, conn).await;
                    continue;
                }
            }
        } else {
            tokio::select! {
            biased;
            () = conn.closing.cancelled() => return,
            () = sleep_until(join_deadline), if !joined => {
                info!("closing: no join within {:?}", config.join_timeout);
                conn.close(CloseCode::Policy, "no join in time");
                return;
            }
            () = sleep_until(keepalive.deadline().into()) => {
                if keepalive.on_deadline(Instant::now().into_std()) == KeepaliveAction::Drop {
                    info!("dropping: no answer to keepalive ping");
                    conn.close(CloseCode::Away, "keepalive timeout");
                    return;
                }
                if !conn.push(Out::Ping) {
                    conn.close(CloseCode::Policy, "outbox full: reading too slowly");
                    return;
                }
                continue;
            }
            frame = stream.next() => frame,
            }
        };
        if !batch.is_empty() && !matches!(frame, Some(Ok(Message::Text(_)))) {
            batch.flush(shared, id, conn).await;
        }
        let message = match frame {
            None => return,
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                let (reason, code, close) = match &err {
                    WsError::Utf8(_) => (
                        "text frame is not valid UTF-8".to_string(),
                        CloseCode::Invalid,
                        "invalid UTF-8",
                    ),
                    WsError::Capacity(e) => (
                        format!(
                            "frame too large to read ({e}): the limit is {} bytes",
                            config.max_frame_bytes
                        ),
                        CloseCode::Size,
                        "frame too large",
                    ),
                    _ => {
                        debug!(%err, "connection failed");
                        return;
                    }
                };
                info!("refused: bad-message: {reason}; closing");
                conn.refuse(ErrorCode::BadMessage, reason);
                conn.close(code, close);
                return;
            }
        };
        let now = Instant::now().into_std();
        keepalive.heard(now);
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                if bad_message(
                    conn,
                    config,
                    &mut bad_in_row,
                    "binary frames are not part of the protocol: send JSON text".into(),
                ) {
                    return;
                }
                continue;
            }
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => continue,
        };

        if !bucket.try_take(now) {
            batch.flush(shared, id, conn).await;
            if !rate_limited {
                info!("refused: rate-limited (further drops logged at debug)");
            }
            rate_limited = true;
            conn.refuse(
                ErrorCode::RateLimited,
                format!(
                    "over {} messages/s (bursts of {}): message dropped",
                    config.rate, config.burst
                ),
            );
            continue;
        }
        rate_limited = false;
        if text.len() > config.max_frame_bytes as usize {
            batch.flush(shared, id, conn).await;
            let reason = format!(
                "frame of {} bytes is over the {}-byte limit: dropped",
                text.len(),
                config.max_frame_bytes
            );
            if bad_message(conn, config, &mut bad_in_row, reason) {
                return;
            }
            continue;
        }
        let message = match ClientMessage::from_json(&text) {
            Ok(message) => message,
            Err(err) => {
                batch.flush(shared, id, conn).await;
                if bad_message(conn, config, &mut bad_in_row, err.to_string()) {
                    return;
                }
                continue;
            }
        };
        bad_in_row = 0;
        let is_join = matches!(message, ClientMessage::Join { .. });
        if let Some(cluster) = &shared.cluster {
            let room = if is_join || matches!(message, ClientMessage::Leave) {
                None
            } else {
                shared.lock().local.room(id).cloned()
            };
            if let Some(room) = room {
                if let Some((signal, to)) = message.into_signal() {
                    batch.push(room, signal, to, text.len());
                    if batch.is_full() {
                        batch.flush(shared, id, conn).await;
                    }
                }
                continue;
            }
            batch.flush(shared, id, conn).await;
            if is_join && !shared.lock().hosts.try_join(host, now) {
                refuse_join_rate(conn, host, config);
                continue;
            }
            joined |= cluster_handle(shared, cluster, id, conn, message, text.len()).await;
            continue;
        }
        let mut hub = shared.lock();
        if is_join && !hub.hosts.try_join(host, now) {
            drop(hub);
            info!(%host, "refused: rate-limited: too many joins from one host");
            conn.refuse(
                ErrorCode::RateLimited,
                format!(
                    "too many joins from your address (over {}/s, bursts of {}): join dropped, try again shortly",
                    config.join_rate_per_ip, config.join_burst_per_ip
                ),
            );
            continue;
        }
        let outbound = hub.relay.handle(id, message, text.len(), unix_now());
        hub.dispatch(outbound);
        joined |= is_join && hub.relay.room_of(id).is_some();
    }
}

/// Most relayed messages of one connection sent to Redis in one pipeline.
const MAX_RELAY_BATCH: usize = 32;

/// Cluster mode: one connection's relayed messages waiting to go to Redis together, all
/// from the room the peer was in when they arrived (a join or leave flushes first).
#[derive(Default)]
struct RelayBatch {
    room: Option<signaling_proto::RoomId>,
    items: Vec<(signaling_proto::Signal, Option<PeerId>, usize)>,
}

impl RelayBatch {
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn is_full(&self) -> bool {
        self.items.len() >= MAX_RELAY_BATCH
    }

    fn push(
        &mut self,
        room: signaling_proto::RoomId,
        signal: signaling_proto::Signal,
        to: Option<PeerId>,
        size: usize,
    ) {
        self.room = Some(room);
        self.items.push((signal, to, size));
    }

    /// Sends what waits, in order, and answers each refusal in order.
    async fn flush(&mut self, shared: &Shared, id: &PeerId, conn: &Conn) {
        let (Some(cluster), Some(room)) = (&shared.cluster, self.room.take()) else {
            self.items.clear();
            return;
        };
        if self.items.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.items);
        match cluster.relay_many(id, &room, items).await {
            Ok(refusals) => {
                for (code, message) in refusals.into_iter().flatten() {
                    info!(peer = %id, room = %room, %code, "refused: {message}");
                    conn.refuse(code, message);
                }
            }
            Err(err) => {
                warn!(peer = %id, %err, "relay failed: closing");
                conn.close(CloseCode::Again, CLUSTER_LOST);
            }
        }
    }
}

/// Refuses a join over its host's join rate.
fn refuse_join_rate(conn: &Conn, host: Host, config: &Config) {
    info!(%host, "refused: rate-limited: too many joins from one host");
    conn.refuse(
        ErrorCode::RateLimited,
        format!(
            "too many joins from your address (over {}/s, bursts of {}): join dropped, try again shortly",
            config.join_rate_per_ip, config.join_burst_per_ip
        ),
    );
}

/// Cluster mode: carries out one message of `id` through Redis; `true` when the peer is
/// in a room afterwards. Arrivals for a joining peer wait until its `welcome` and held
/// messages are queued, under the same lock.
async fn cluster_handle(
    shared: &Shared,
    cluster: &ClusterNode,
    id: &PeerId,
    conn: &Conn,
    message: ClientMessage,
    size: usize,
) -> bool {
    match message {
        ClientMessage::Join {
            room,
            name,
            resume,
            token,
        } => {
            if let Err(current) = shared.lock().local.begin_join(id, &room) {
                conn.refuse(
                    ErrorCode::AlreadyJoined,
                    format!("already in room '{current}' (asked for '{room}'): send leave first"),
                );
                return true;
            }
            let outcome = cluster
                .join(id, room, name, resume, token, unix_now())
                .await;
            let mut hub = shared.lock();
            match outcome {
                Ok(JoinOutcome::Joined { room, texts }) => {
                    let waiting = hub.local.finish_join(id, Some(room));
                    for text in texts.into_iter().map(Utf8Bytes::from).chain(waiting) {
                        if !conn.push(Out::Text(text)) {
                            conn.close(CloseCode::Policy, "outbox full: reading too slowly");
                            break;
                        }
                    }
                    true
                }
                Ok(JoinOutcome::Refused(code, message)) => {
                    hub.local.finish_join(id, None);
                    info!(peer = %id, %code, "refused: {message}");
                    conn.refuse(code, message);
                    false
                }
                Err(err) => {
                    hub.local.finish_join(id, None);
                    warn!(peer = %id, %err, "join failed: closing");
                    conn.close(CloseCode::Again, CLUSTER_LOST);
                    false
                }
            }
        }
        ClientMessage::Leave => {
            let Some(room) = shared.lock().local.leave(id) else {
                conn.refuse(ErrorCode::NotJoined, "not in a room".into());
                return false;
            };
            if let Err(err) = cluster.leave(id, &room).await {
                warn!(peer = %id, %err, "leave failed: closing");
                conn.close(CloseCode::Again, CLUSTER_LOST);
            }
            false
        }
        relayed => {
            let Some(room) = shared.lock().local.room(id).cloned() else {
                conn.refuse(
                    ErrorCode::NotJoined,
                    format!(
                        "join a room before sending {}",
                        crate::relay::kind(&relayed).unwrap_or("messages")
                    ),
                );
                return false;
            };
            let Some((signal, to)) = relayed.into_signal() else {
                return true;
            };
            match cluster.relay(id, &room, signal, to, size).await {
                Ok(None) => {}
                Ok(Some((code, message))) => {
                    info!(peer = %id, room = %room, %code, "refused: {message}");
                    conn.refuse(code, message);
                }
                Err(err) => {
                    warn!(peer = %id, %err, "relay failed: closing");
                    conn.close(CloseCode::Again, CLUSTER_LOST);
                }
            }
            true
        }
    }
}

/// Answers a bad message; `true` when that was one too many in a row and the
/// connection is closing.
fn bad_message(conn: &Conn, config: &Config, bad_in_row: &mut u32, reason: String) -> bool {
    *bad_in_row += 1;
    info!(in_a_row = *bad_in_row, "refused: bad-message: {reason}");
    conn.refuse(ErrorCode::BadMessage, reason);
    if *bad_in_row >= config.max_bad_messages {
        info!("closing: too many bad messages in a row");
        conn.close(CloseCode::Policy, "too many bad messages");
        return true;
    }
    false
}

/// Drains the outbox into the socket, batching under load, until the connection ends.
async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Out>,
    conn: Arc<Conn>,
) {
    loop {
        let first = tokio::select! {
            biased;
            () = conn.closing.cancelled() => break,
            out = rx.recv() => match out {
                Some(out) => out,
                None => break,
            },
        };
        let sent = tokio::select! {
            biased;
            () = conn.closing.cancelled() => break,
            sent = send_batch(&mut sink, first, &mut rx, &conn) => sent,
        };
        if sent.is_err() {
            conn.closing.cancel();
            return;
        }
    }
    // Closing: send what is queued (an error that explains the close, say), then the frame.
    if let Some(frame) = conn.close_frame.get().cloned() {
        let _ = timeout(CLOSE_TIMEOUT, async {
            while let Ok(out) = rx.try_recv() {
                sink.feed(out.into_message()).await?;
            }
            sink.send(Message::Close(Some(frame))).await
        })
        .await;
    }
}

async fn send_batch(
    sink: &mut SplitSink<Ws, Message>,
    first: Out,
    rx: &mut mpsc::Receiver<Out>,
    conn: &Conn,
) -> Result<(), WsError> {
    let mut next = Some(first);
    let mut batch = 0;
    while let Some(out) = next {
        let len = out.len();
        sink.feed(out.into_message()).await?;
        conn.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        batch += 1;
        next = if batch < MAX_BATCH {
            rx.try_recv().ok()
        } else {
            None
        };
    }
    sink.flush().await
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh key for this run's resume tokens; none without an entropy source (a guessable
/// key would let anyone who knows a peer's id take its place).
fn resume_key() -> Option<[u8; 32]> {
    let mut key = [0; 32];
    match getrandom::fill(&mut key) {
        Ok(()) => Some(key),
        Err(err) => {
            tracing::error!(%err, "no entropy for resume tokens: reconnecting peers rejoin as new");
            None
        }
    }
}
