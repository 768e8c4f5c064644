//! Shared by the call tests: a real signaling server on 127.0.0.1 and call options
//! for peers on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use call::CallOptions;
use clap::Parser;
use signaling_proto::RoomId;
use tokio::sync::oneshot;

/// A signaling server on 127.0.0.1 that stops when the returned sender fires (or drops).
pub async fn signaling_server() -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = signaling_server::Config::parse_from(["signaling-server"]);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(signaling_server::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A call on 127.0.0.1 in `room`, sending 320x240@30, connected for `seconds` (if set).
pub fn options(server: SocketAddr, room: &str, seconds: Option<u64>) -> CallOptions {
    let mut options = CallOptions::new(format!("ws://{server}/ws"), RoomId::new(room).unwrap());
    options.bind = vec!["127.0.0.1:0".parse().unwrap()];
    options.format = media::VideoFormat {
        width: 320,
        height: 240,
        fps: 30.0,
    };
    options.duration = seconds.map(Duration::from_secs);
    options
}
