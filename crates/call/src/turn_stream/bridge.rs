//! The async shell: a UDP socket on loopback per stream URL, and per stack TURN client
//! (UDP source address) a TCP or TLS connection to the real server, relayed both ways.
//!
//! It decides nothing: framing, inspection, refusals and failure kinds come from the
//! plain modules beside it. Its tasks are aborted when the [`TurnBridge`] is dropped:
//! each socket's task owns its connections' tasks, and aborting it drops them.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use signaling_proto::IceServer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::classify::{connect_failure, credentials_rejected, timed_out, tls_failure, unresolved};
use super::framing::{StreamSplitter, for_stream};
use super::inspect::{Inspector, Seen, refusal};
use super::url::{StreamTarget, rewrite, stream_targets};
use super::{RelayProtocol, RelayRegistry, TurnFailure};
use crate::CallError;

/// How long connecting to a TURN server (TCP, and TLS on top) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Datagrams from one stack TURN client waiting for its connection.
const QUEUE: usize = 256;

/// What the bridge calls with each failure it meets (on its own tasks: keep it quick).
pub type FailureSink = Arc<dyn Fn(TurnFailure) + Send + Sync>;

/// The bridge for one peer connection's ICE servers: what the stack gets in their place,
/// the relays learned, and the tasks doing the work (stopped on drop).
pub struct TurnBridge {
    servers: Vec<IceServer>,
    registry: RelayRegistry,
    listeners: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for TurnBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnBridge")
            .field("bridged", &self.listeners.len())
            .finish()
    }
}

/// What every connection of one stream URL shares.
struct Endpoint {
    target: StreamTarget,
    tls: Option<Arc<rustls::ClientConfig>>,
    registry: RelayRegistry,
    on_failure: FailureSink,
}

/// A connection to a TURN server, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl TurnBridge {
    /// Starts bridging every `turn:…?transport=tcp` and `turns:` URL of `servers`;
    /// `turn_ca` is trusted for TLS besides the system's roots. Failures go to
    /// `on_failure` as they happen.
    pub async fn start(
        servers: &[IceServer],
        turn_ca: Option<&Path>,
        on_failure: FailureSink,
    ) -> Result<Self, CallError> {
        let targets = stream_targets(servers);
        let registry = RelayRegistry::default();
        if targets.is_empty() {
            return Ok(Self {
                servers: servers.to_vec(),
                registry,
                listeners: Vec::new(),
            });
        }
        let tls = if targets.iter().any(|t| t.protocol == RelayProtocol::Tls) {
            Some(tls_config(turn_ca.map(Path::to_path_buf)).await?)
        } else {
            None
        };
        let mut bridge = Self {
            servers: Vec::new(),
            registry,
            listeners: Vec::new(),
        };
        let mut ports = Vec::with_capacity(targets.len());
        for target in targets {
            let socket = UdpSocket::bind("127.0.0.1:0").await.map_err(|err| {
                CallError::webrtc(format!("cannot bind the TURN bridge's socket: {err}"))
            })?;
            let local = socket.local_addr().map_err(CallError::webrtc)?;
            tracing::info!(
                server = %target.server(),
                protocol = %target.protocol,
                %local,
                "TURN over a stream: bridged through a local UDP socket"
            );
            ports.push(local.port());
            let endpoint = Arc::new(Endpoint {
                target,
                tls: tls.clone(),
                registry: bridge.registry.clone(),
                on_failure: Arc::clone(&on_failure),
            });
            bridge
                .listeners
                .push(tokio::spawn(listen(Arc::new(socket), endpoint)));
        }
        bridge.servers = rewrite(servers, &ports);
        Ok(bridge)
    }

    /// The ICE servers to give the stack: stream URLs replaced by the bridge's own.
    pub fn servers(&self) -> &[IceServer] {
        &self.servers
    }

    /// The relays learned so far, and how each is reached.
    pub fn registry(&self) -> &RelayRegistry {
        &self.registry
    }
}

impl Drop for TurnBridge {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

/// The TLS settings: the system's roots, and the certificates in `turn_ca`.
async fn tls_config(turn_ca: Option<PathBuf>) -> Result<Arc<rustls::ClientConfig>, CallError> {
    tokio::task::spawn_blocking(move || {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for err in &native.errors {
            tracing::debug!(%err, "a system root certificate could not be loaded");
        }
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = turn_ca {
            let ca_error = |reason: String| {
                CallError::Turn(TurnFailure::CaFile {
                    path: path.display().to_string(),
                    reason,
                })
            };
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|err| ca_error(err.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no certificate in it".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|err| ca_error(err.to_string()))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(CallError::webrtc)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Arc::new(config))
    })
    .await
    .map_err(CallError::webrtc)?
}

/// Receives what the stack's TURN clients send to one bridged URL, each source on its
/// own connection.
async fn listen(socket: Arc<UdpSocket>, endpoint: Arc<Endpoint>) {
    let mut sessions: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, source) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(%err, "TURN bridge socket");
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        let tx = match sessions.get(&source).filter(|tx| !tx.is_closed()) {
            Some(tx) => tx.clone(),
            None => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tasks.spawn(session(
                    Arc::clone(&endpoint),
                    Arc::clone(&socket),
                    source,
                    rx,
                ));
                sessions.insert(source, tx.clone());
                tx
            }
        };
        if tx.try_send(buf[..n].to_vec()).is_err() {
            tracing::trace!(%source, "TURN bridge: queue full, datagram dropped");
        }
    }
}

/// One stack TURN client: connects, then relays; or, when the server cannot be reached,
/// reports why and refuses the stack's Allocate in its place.
async fn session(
    endpoint: Arc<Endpoint>,
    socket: Arc<UdpSocket>,
    source: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut inspector = Inspector::default();
    let mut queued = Vec::new();
    let connecting = connect(&endpoint);
    tokio::pin!(connecting);
    let connected = loop {
        tokio::select! {
            connected = &mut connecting => break connected,
            datagram = rx.recv() => match datagram {
                Some(datagram) => {
                    inspector.outbound(&datagram);
                    if queued.len() < QUEUE {
                        queued.push(datagram);
                    }
                }
                None => return,
            },
        }
    };
    match connected {
        Ok(stream) => {
            let target = &endpoint.target;
            tracing::debug!(server = %target.server(), protocol = %target.protocol, %source, "TURN connection up");
            let mut link = Link {
                endpoint: &endpoint,
                socket: &socket,
                source,
                inspector,
                reported: false,
            };
            if let Err(err) = link.relay(stream, queued, &mut rx).await {
                tracing::warn!(server = %target.server(), protocol = %target.protocol, %err, "TURN connection lost");
            }
            for relayed in link.inspector.allocated() {
                endpoint.registry.remove(*relayed);
            }
        }
        Err(failure) => {
            tracing::warn!(%failure, "TURN over a stream: no relay from this server");
            // Said before the stack hears the refusal, so the failure comes before the
            // end of gathering it leads to.
            (endpoint.on_failure)(failure);
            let mut pending = inspector.last_allocate().map(<[u8]>::to_vec);
            loop {
                if let Some(reply) = pending.as_deref().and_then(refusal) {
                    let _ = socket.send_to(&reply, source).await;
                }
                match rx.recv().await {
                    Some(datagram) => pending = Some(datagram),
                    None => return,
                }
            }
        }
    }
}

/// Connects to the endpoint's server: TCP, and TLS when asked, within [`CONNECT_TIMEOUT`].
async fn connect(endpoint: &Endpoint) -> Result<Box<dyn Stream>, TurnFailure> {
    let target = &endpoint.target;
    let attempt = async {
        let addresses = tokio::net::lookup_host(target.server())
            .await
            .map_err(|err| unresolved(target, &err))?;
        let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
        let mut tcp = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(err) => last = err,
            }
        }
        let tcp = tcp.ok_or_else(|| connect_failure(target, &last))?;
        // TURN messages are small and latency matters: no Nagle.
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &endpoint.tls else {
            return Ok(Box::new(tcp) as Box<dyn Stream>);
        };
        let name =
            ServerName::try_from(target.host.clone()).map_err(|err| TurnFailure::TlsFailed {
                server: target.server(),
                reason: err.to_string(),
            })?;
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
            .connect(name, tcp)
            .await
            .map_err(|err| tls_failure(target, &err))?;
        Ok(Box::new(stream) as Box<dyn Stream>)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(timed_out(target, CONNECT_TIMEOUT)))
}

/// A connected stack TURN client.
struct Link<'a> {
    endpoint: &'a Endpoint,
    socket: &'a UdpSocket,
    source: SocketAddr,
    inspector: Inspector,
    /// Whether rejected credentials were reported already.
    reported: bool,
}

impl Link<'_> {
    /// Relays until the stream or the bridge ends.
    async fn relay(
        &mut self,
        stream: Box<dyn Stream>,
        queued: Vec<Vec<u8>>,
        rx: &mut mpsc::Receiver<Vec<u8>>,
    ) -> io::Result<()> {
        let (mut reader, mut writer) = tokio::io::split(stream);
        for datagram in queued {
            if let Some(bytes) = for_stream(&datagram) {
                writer.write_all(&bytes).await?;
            }
        }
        let mut splitter = StreamSplitter::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                datagram = rx.recv() => {
                    let Some(datagram) = datagram else { return Ok(()) };
                    self.inspector.outbound(&datagram);
                    match for_stream(&datagram) {
                        Some(bytes) => writer.write_all(&bytes).await?,
                        None => tracing::debug!("TURN bridge: a datagram that is not TURN, not sent"),
                    }
                }
                read = reader.read(&mut buf) => {
                    let n = read?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    splitter.push(&buf[..n]);
                    while let Some(message) = splitter.next_message().map_err(io::Error::other)? {
                        self.deliver(&message).await;
                    }
                }
            }
        }
    }

    /// One message from the server to the stack, noting what it tells.
    async fn deliver(&mut self, message: &[u8]) {
        match self.inspector.inbound(message) {
            Some(Seen::Allocated(relayed)) => {
                tracing::debug!(%relayed, protocol = %self.endpoint.target.protocol, "TURN relay allocated");
                self.endpoint
                    .registry
                    .insert(relayed, self.endpoint.target.protocol);
            }
            Some(Seen::CredentialsRejected) if !self.reported => {
                self.reported = true;
                let failure = credentials_rejected(&self.endpoint.target);
                tracing::warn!(%failure, "TURN over a stream");
                (self.endpoint.on_failure)(failure);
            }
            _ => {}
        }
        let _ = self.socket.send_to(message, self.source).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::net::TcpListener;

    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn no_failures() -> FailureSink {
        Arc::new(|failure| panic!("unexpected failure: {failure}"))
    }

    /// A bridge for `turn:127.0.0.1:PORT?transport=tcp`, and the stack's socket.
    async fn bridged(port: u16, on_failure: FailureSink) -> (TurnBridge, UdpSocket, SocketAddr) {
        let servers = [IceServer {
            urls: vec![format!("turn:127.0.0.1:{port}?transport=tcp")],
            username: Some("u".into()),
            credential: Some("c".into()),
        }];
        let bridge = TurnBridge::start(&servers, None, on_failure)
            .await
            .expect("bridge");
        let local = &bridge.servers()[0].urls[0];
        let local_port: u16 = local
            .trim_start_matches("turn:127.0.0.1:")
            .trim_end_matches("?transport=udp")
            .parse()
            .expect("a local port");
        let stack = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (
            bridge,
            stack,
            SocketAddr::from(([127, 0, 0, 1], local_port)),
        )
    }

    /// ChannelData on 0x4000 carrying `data`, unpadded (as a datagram may be).
    fn channel_data(data: &[u8]) -> Vec<u8> {
        let mut message = vec![0x40, 0x00];
        message.extend_from_slice(&(data.len() as u16).to_be_bytes());
        message.extend_from_slice(data);
        message
    }

    #[tokio::test]
    async fn datagrams_go_onto_the_stream_padded_and_the_stream_comes_back_as_datagrams() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = server.local_addr().unwrap().port();
        let (_bridge, stack, local) = bridged(port, no_failures()).await;
        stack.send_to(&channel_data(b"abcde"), local).await.unwrap();
        let (mut conn, _) = tokio::time::timeout(WAIT, server.accept())
            .await
            .expect("the bridge connects")
            .unwrap();
        let mut got = [0u8; 12];
        conn.read_exact(&mut got).await.unwrap();
        assert_eq!(
            got.as_slice(),
            [channel_data(b"abcde"), vec![0, 0, 0]].concat()
        );
        // Two messages in one write, each back as its own datagram (with its padding).
        let (a, b) = (
            [channel_data(b"xy"), vec![0, 0]].concat(),
            channel_data(b"1234"),
        );
        conn.write_all(&[a.clone(), b.clone()].concat())
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        for expected in [a, b] {
            let (n, from) = tokio::time::timeout(WAIT, stack.recv_from(&mut buf))
                .await
                .expect("a datagram back")
                .unwrap();
            assert_eq!(from, local);
            assert_eq!(&buf[..n], expected.as_slice());
        }
    }

    #[tokio::test]
    async fn dropping_the_bridge_closes_its_connections() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = server.local_addr().unwrap().port();
        let (bridge, stack, local) = bridged(port, no_failures()).await;
        stack.send_to(&channel_data(b"x"), local).await.unwrap();
        let (mut conn, _) = tokio::time::timeout(WAIT, server.accept())
            .await
            .expect("the bridge connects")
            .unwrap();
        let mut first = [0u8; 8];
        conn.read_exact(&mut first).await.unwrap();
        drop(bridge);
        let mut rest = [0u8; 8];
        let read = tokio::time::timeout(WAIT, conn.read(&mut rest))
            .await
            .expect("the connection closes when the bridge is dropped");
        assert_eq!(read.unwrap(), 0, "closed, not more data");
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_once_and_the_allocate_refused() {
        use rtc::stun::message::{
            CLASS_ERROR_RESPONSE, CLASS_REQUEST, METHOD_ALLOCATE, Message, MessageType,
            TransactionId,
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let failures = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&failures);
        let (_bridge, stack, local) = bridged(
            port,
            Arc::new(move |failure| seen.lock().unwrap().push(failure)),
        )
        .await;
        let mut allocate = Message::new();
        let tid = TransactionId::new();
        allocate
            .build(&[
                Box::new(tid),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
            ])
            .unwrap();
        stack.send_to(&allocate.raw, local).await.unwrap();
        let mut buf = [0u8; 512];
        let (n, _) = tokio::time::timeout(WAIT, stack.recv_from(&mut buf))
            .await
            .expect("the bridge answers in the server's place")
            .unwrap();
        let mut answer = Message::new();
        answer.unmarshal_binary(&buf[..n]).unwrap();
        assert_eq!(answer.transaction_id, tid);
        assert_eq!(
            answer.typ,
            MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)
        );
        assert_eq!(
            *failures.lock().unwrap(),
            [TurnFailure::Refused {
                server: format!("127.0.0.1:{port}"),
                protocol: RelayProtocol::Tcp,
            }]
        );
    }

    #[tokio::test]
    async fn udp_urls_pass_through_without_a_bridge() {
        let servers = [IceServer {
            urls: vec!["turn:127.0.0.1:3478".into(), "stun:127.0.0.1:3478".into()],
            username: Some("u".into()),
            credential: Some("c".into()),
        }];
        let bridge = TurnBridge::start(&servers, None, no_failures())
            .await
            .unwrap();
        assert_eq!(bridge.servers(), servers);
        assert!(bridge.listeners.is_empty());
    }

    #[tokio::test]
    async fn an_unreadable_ca_file_is_a_turn_ca_failure() {
        let servers = [IceServer {
            urls: vec!["turns:127.0.0.1:5349".into()],
            username: None,
            credential: None,
        }];
        let err = TurnBridge::start(
            &servers,
            Some(Path::new("/nonexistent/ca.pem")),
            no_failures(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, CallError::Turn(TurnFailure::CaFile { path, .. }) if path == "/nonexistent/ca.pem"),
            "{err:?}"
        );
    }
}
