//! The `signaling-server` command: prints its URL, serves (on IPv6 too when asked), and on
//! SIGTERM or SIGINT closes every peer with a close frame and exits 0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Client;

/// Starts the binary on an ephemeral port of 127.0.0.1; returns the child and its
/// WebSocket URL.
fn start(extra: &[&str]) -> (std::process::Child, String) {
    start_on("127.0.0.1:0", extra)
}

/// Starts the binary on `listen`; returns the child and the WebSocket URL it prints.
fn start_on(listen: &str, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", listen])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("peercall signaling server: http://"),
        "{line}"
    );
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    (child, url)
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(mut child: std::process::Child) -> std::process::ExitStatus {
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("signaling-server did not exit within 5 s");
}

#[tokio::test]
async fn sigterm_closes_every_peer_and_exits_zero() {
    for sig in ["TERM", "INT"] {
        let (child, url) = start(&[]);
        let mut a = Client::connect(&url).await;
        a.join("room").await;
        let mut lobby = Client::connect(&url).await;
        signal(&child, sig);
        for client in [&mut a, &mut lobby] {
            let (close, _) = client.expect_close().await;
            assert_eq!(
                close,
                Some((1001, "server shutting down".into())),
                "SIG{sig}"
            );
        }
        let status = tokio::task::spawn_blocking(move || wait_exit(child))
            .await
            .unwrap();
        assert!(status.success(), "SIG{sig}: {status}");
    }
}

#[test]
fn bad_flags_exit_non_zero_with_a_message_that_names_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", "127.0.0.1:0", "--turn", "turn:127.0.0.1:3478"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--turn-username") && err.contains("--turn-secret"),
        "{err}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on") && err.contains("--listen"),
        "{err}"
    );
}

#[tokio::test]
async fn listening_on_every_ipv6_address_serves_peers_over_ipv6() {
    let (mut child, url) = start_on("[::]:0", &[]);
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/ws");
    let mut peer = Client::connect(&format!("ws://[::1]:{port}/ws")).await;
    peer.join("room").await;
    let _ = child.kill();
    let _ = child.wait();
}
