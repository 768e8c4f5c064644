//! Shared by the call tests: a real signaling server on 127.0.0.1, call options for
//! peers on loopback, and two peers calling each other within the 30 s bound.

#![allow(dead_code, reason = "each call test uses the helpers it needs")]

use std::net::SocketAddr;
use std::time::Duration;

use std::future::Future;

use call::{CallEvent, CallOptions, CallState, Summary, run_call};
use clap::Parser;
use signaling_proto::RoomId;
use tokio::sync::oneshot;

/// A signaling server on 127.0.0.1 that stops when the returned sender fires (or drops).
pub async fn signaling_server() -> (SocketAddr, oneshot::Sender<()>) {
    signaling_server_with(&[]).await
}

/// [`signaling_server`] with `flags`, as on its command line.
pub async fn signaling_server_with(flags: &[&str]) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut args = vec!["signaling-server"];
    args.extend_from_slice(flags);
    let config = signaling_server::Config::parse_from(args);
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

/// Waits for `call` to end, at most 30 s.
pub async fn within_the_bound(call: impl Future<Output = Summary>) -> Summary {
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the call ends within 30 s")
}

/// Two peers with `options` (the second joins once the first waits); their summaries.
pub async fn call_between_two(options: CallOptions) -> [Summary; 2] {
    let (waiting, is_waiting) = oneshot::channel();
    let mut waiting = Some(waiting);
    let first = tokio::spawn(run_call(
        options.clone(),
        move |event| {
            if let CallEvent::State(CallState::Waiting) = event
                && let Some(waiting) = waiting.take()
            {
                let _ = waiting.send(());
            }
        },
        std::future::pending(),
    ));
    tokio::time::timeout(Duration::from_secs(30), is_waiting)
        .await
        .expect("the first peer waits within 30 s")
        .expect("the first peer's call ended before it waited");
    let second = tokio::spawn(run_call(options, |_| {}, std::future::pending()));
    let first = within_the_bound(async { first.await.unwrap() }).await;
    let second = within_the_bound(async { second.await.unwrap() }).await;
    [first, second]
}
