//! Two `peercall call` connected to different signaling-server instances that share
//! rooms through a real Redis (`--cluster`) find each other, connect and exchange media
//! both ways: the cluster is invisible to clients.

use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser as _;
use testkit::redis::RedisServer;

/// Starts an in-process instance in cluster mode; its address, once /healthz says it is
/// registered with Redis.
async fn instance(redis: &str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = signaling_server::Config::parse_from(["signaling-server", "--cluster", redis]);
    tokio::spawn(signaling_server::serve(
        listener,
        config,
        std::future::pending(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut out = String::new();
        if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
            let _ = s
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let _ = s.read_to_string(&mut out).await;
        }
        if out.starts_with("HTTP/1.1 200") {
            return addr;
        }
        assert!(Instant::now() < deadline, "instance never came up: {out}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_on_different_instances_connect_and_exchange_media() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let first = instance(&redis.url()).await;
    let second = instance(&redis.url()).await;
    let peer = move |addr: std::net::SocketAddr| {
        move || {
            Command::new(env!("CARGO_BIN_EXE_peercall"))
                .args(["call", "--server", &format!("ws://{addr}/ws")])
                .args(["--room", "across-instances", "--bind", "127.0.0.1"])
                .args(["--duration", "3", "--width", "320", "--height", "240"])
                .output()
        }
    };
    let (a, b) = tokio::join!(
        tokio::task::spawn_blocking(peer(first)),
        tokio::task::spawn_blocking(peer(second))
    );
    for out in [a.unwrap().unwrap(), b.unwrap().unwrap()] {
        let text = String::from_utf8_lossy(&out.stdout);
        let summary: serde_json::Value = text
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("{text}\n{}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(summary["ok"], true, "{summary}");
        let last = &summary["summary"]["last"];
        let decoded = last["video_in"]["decoded"].as_u64().unwrap_or(0);
        assert!(decoded >= 30, "pictures decoded: {summary}");
        assert!(
            last["audio_in"]["marks"].as_u64().unwrap_or(0) >= 5,
            "test-tone marks heard: {summary}"
        );
    }
}
