//! Test helpers: a real server on 127.0.0.1 and a WebSocket client that speaks the protocol.
#![allow(dead_code, missing_docs)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use signaling_proto::{ErrorCode, PeerId, ServerMessage};
use signaling_server::Config;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(5);

/// A signaling server running in this process on an ephemeral port.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<Result<(), signaling_server::ServerError>>>,
}

impl TestServer {
    /// Starts a server with `flags` (as on the command line).
    pub async fn start(flags: &[&str]) -> Self {
        let mut args = vec!["signaling-server"];
        args.extend_from_slice(flags);
        Self::with_config(Config::parse_from(args)).await
    }

    pub async fn with_config(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(signaling_server::serve(listener, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.ws_url()).await
    }

    /// Connects and joins `room`; returns the client and its id.
    pub async fn joined(&self, room: &str) -> (Client, PeerId) {
        let mut client = self.client().await;
        let id = client.join(room).await;
        (client, id)
    }

    /// Stops the server as SIGTERM would and waits for `serve` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// A protocol client over a real WebSocket.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self { ws }
    }

    /// Connects from `local` (an address of this machine, such as 127.0.0.2: another
    /// host as the server counts them) with extra request `headers`; the handshake's
    /// error when the server refuses it.
    pub async fn connect_from(
        url: &str,
        local: IpAddr,
        headers: &[(&'static str, &str)],
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("a header value"));
        }
        let authority = request.uri().authority().expect("a host").as_str();
        let server: SocketAddr = authority.parse().expect("an ip:port URL");
        let socket = match local {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }?;
        socket.bind(SocketAddr::new(local, 0))?;
        let stream = socket.connect(server).await?;
        let (ws, _) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
        Ok(Self { ws })
    }

    pub async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::Text(value.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::Text(text.into().into()))
            .await
            .unwrap();
    }

    /// Next text frame as JSON (pings answered on the way).
    pub async fn recv_value(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message within the wait")
                .expect("connection open")
                .expect("frame readable");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(close) => panic!("connection closed: {close:?}"),
                _ => continue,
            }
        }
    }

    pub async fn recv(&mut self) -> ServerMessage {
        let value = self.recv_value().await;
        serde_json::from_value(value).unwrap()
    }

    /// Expects an `error` with `code`; returns its message.
    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error { code: got, message } => {
                assert_eq!(got, code, "error message: {message}");
                assert!(!message.is_empty());
                message
            }
            other => panic!("expected error {code}, got {other:?}"),
        }
    }

    /// Expects no text frame for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        match tokio::time::timeout(quiet, self.next_text()).await {
            Err(_) => {}
            Ok(text) => panic!("expected silence, got {text:?}"),
        }
    }

    async fn next_text(&mut self) -> Option<String> {
        while let Some(Ok(frame)) = self.ws.next().await {
            if let Message::Text(text) = frame {
                return Some(text.to_string());
            }
        }
        None
    }

    /// Sends `join` and returns the id from `welcome`.
    pub async fn join(&mut self, room: &str) -> PeerId {
        self.send(json!({"type": "join", "room": room})).await;
        match self.recv().await {
            ServerMessage::Welcome { id, room: r, .. } => {
                assert_eq!(r.as_str(), room);
                id
            }
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Reads until the server closes; returns the close frame's code and reason, and
    /// every text frame seen before it.
    pub async fn expect_close(&mut self) -> (Option<(u16, String)>, Vec<Value>) {
        let mut texts = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Err(_) => panic!("server did not close within the wait; saw {texts:?}"),
                Ok(None) | Ok(Some(Err(_))) => return (None, texts),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return (
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                        texts,
                    );
                }
                Ok(Some(Ok(Message::Text(text)))) => {
                    texts.push(serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// Two clients in `room` that can still call each other: proves a room is undisturbed.
pub async fn assert_call_works(a: &mut Client, b: &mut Client, b_id: &PeerId) {
    a.send(json!({"type": "offer", "sdp": "v=0 still here", "to": b_id}))
        .await;
    match b.recv().await {
        ServerMessage::Offer { sdp, .. } => assert_eq!(sdp, "v=0 still here"),
        other => panic!("expected the offer, got {other:?}"),
    }
}

/// Two clients joined to `room`, with `peer-joined` consumed.
pub async fn call(server: &TestServer, room: &str) -> (Client, PeerId, Client, PeerId) {
    let (mut a, a_id) = server.joined(room).await;
    let (b, b_id) = server.joined(room).await;
    match a.recv().await {
        ServerMessage::PeerJoined { id, .. } => assert_eq!(id, b_id),
        other => panic!("expected peer-joined, got {other:?}"),
    }
    (a, a_id, b, b_id)
}
