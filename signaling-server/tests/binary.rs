//! The `signaling-server` command: prints its URL, serves (on IPv6 too when asked), and on
//! SIGTERM or SIGINT closes every peer with a close frame and exits 0; `signaling-server
//! token` prints an access token the server accepts, which its logs never show.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Client;

/// Starts the binary on an ephemeral port of 127.0.0.1; returns the child and its
/// WebSocket URL.
fn start(extra: &[&str]) -> (std::process::Child, String) {
    start_on("127.0.0.1:0", extra, Stdio::null())
}

/// [`start`], its logs (at `info`) going to `stderr`.
fn start_logging(extra: &[&str], stderr: Stdio) -> (std::process::Child, String) {
    start_on("127.0.0.1:0", extra, stderr)
}

/// Starts the binary on `listen`, its logs (at `info`) going to `stderr`; returns the
/// child and the WebSocket URL it prints.
fn start_on(listen: &str, extra: &[&str], stderr: Stdio) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", listen])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(stderr)
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

/// `signaling-server token …`: its stdout's last line.
fn token(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .arg("token")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().to_string()
}

#[tokio::test]
async fn the_token_command_prints_a_token_the_server_takes_and_the_logs_never_show_it() {
    const SECRET: &str = "a secret for the command line";
    let good = token(&["--auth-secret", SECRET, "--room", "standup", "--ttl", "600"]);
    let named = token(&[
        "--auth-secret",
        SECRET,
        "--room",
        "standup",
        "--name",
        "ada",
        "--ttl",
        "600",
    ]);
    let foreign = token(&[
        "--auth-secret",
        "another secret, long enough",
        "--room",
        "standup",
    ]);
    let logs = tempfile::NamedTempFile::new().unwrap();
    let (child, url) = start_logging(
        &["--auth-secret", SECRET],
        Stdio::from(logs.reopen().unwrap()),
    );
    let mut a = Client::connect(&url).await;
    a.send(serde_json::json!({"type": "join", "room": "standup", "token": good}))
        .await;
    assert_eq!(a.recv_value().await["type"], "welcome");
    let mut b = Client::connect(&url).await;
    for refused in [&foreign, &good] {
        let room = if refused == &good { "other" } else { "standup" };
        b.send(serde_json::json!({"type": "join", "room": room, "token": refused}))
            .await;
        b.expect_error(signaling_proto::ErrorCode::Unauthorized)
            .await;
    }
    b.send(serde_json::json!({"type": "join", "room": "standup", "token": named}))
        .await;
    assert_eq!(b.recv_value().await["type"], "welcome");
    let joined = a.recv_value().await;
    assert_eq!(
        (&joined["type"], &joined["name"]),
        (&"peer-joined".into(), &"ada".into())
    );
    signal(&child, "TERM");
    let status = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert!(status.success());
    let logs = std::fs::read_to_string(logs.path()).unwrap();
    assert!(
        logs.contains("joined") && logs.contains("unauthorized"),
        "{logs}"
    );
    for secret in [&good, &named, &foreign] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token in the logs:\n{logs}");
    }
    assert!(!logs.contains(SECRET));

    // Bad input is refused naming the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["token", "--auth-secret", "short", "--room", "r"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auth-secret"));
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

    let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", "127.0.0.1:0", "--threads", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--threads") && err.contains("0"), "{err}");
}

#[tokio::test]
async fn listening_on_every_ipv6_address_serves_peers_over_ipv6() {
    let (mut child, url) = start_on("[::]:0", &[], Stdio::null());
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/ws");
    let mut peer = Client::connect(&format!("ws://[::1]:{port}/ws")).await;
    peer.join("room").await;
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn version_names_the_git_revision() {
    let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let revision = text
        .trim()
        .split_once(" (")
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no revision in {text:?}"));
    assert!(
        revision.len() >= 7 && revision != "unknown revision",
        "{text:?}"
    );
}
