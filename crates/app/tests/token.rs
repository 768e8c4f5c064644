//! `peercall call` on a signaling server that needs access tokens: with `--token` (or
//! `PEERCALL_TOKEN`) two of them call each other; without one, or with one for another
//! room, the call fails at once with `unauthorized`, saying why.

#[allow(dead_code, reason = "only the signaling server is used here")]
mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::signaling_server;
use serde_json::Value;
use signaling_proto::RoomId;
use signaling_server::auth::TokenKey;

const SECRET: &str = "the server's secret, long enough";

fn token(room: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    TokenKey::new(SECRET).issue(
        &RoomId::new(room).unwrap(),
        None,
        Duration::from_secs(600),
        now,
    )
}

/// `peercall call` into room `guarded` on `server` for two seconds, small pictures.
fn call(server: std::net::SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_peercall"));
    command
        .args(["call", "--server", &format!("ws://{server}/ws")])
        .args([
            "--room",
            "guarded",
            "--bind",
            "127.0.0.1:0",
            "--duration",
            "2",
        ])
        .args(["--width", "320", "--height", "240"])
        .env_remove("PEERCALL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn summary(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "no summary line: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peercall_call_takes_a_token_and_fails_for_good_without_a_valid_one() {
    let (server, _stop) = signaling_server(&["--auth-secret", SECRET]).await;

    let started = Instant::now();
    let none = tokio::task::spawn_blocking(move || call(server).output().unwrap())
        .await
        .unwrap();
    let elsewhere = tokio::task::spawn_blocking(move || {
        call(server)
            .env("PEERCALL_TOKEN", token("elsewhere"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    for (out, why) in [
        (&none, "none was given"),
        (&elsewhere, "for room 'elsewhere'"),
    ] {
        assert!(!out.status.success());
        let line = summary(out);
        assert_eq!(line["reason_code"], "unauthorized", "{line}");
        assert!(line["reason"].as_str().unwrap().contains(why), "{line}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "no retrying");
    // The token never shows in what it prints.
    let secret = token("elsewhere");
    let signature = secret.rsplit('.').next().unwrap();
    assert!(!String::from_utf8_lossy(&elsewhere.stderr).contains(signature));

    // With a token each (flag or environment), they call each other.
    let first = call(server)
        .args(["--token", &token("guarded")])
        .spawn()
        .unwrap();
    let second = call(server)
        .env("PEERCALL_TOKEN", token("guarded"))
        .spawn()
        .unwrap();
    for child in [first, second] {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let line = summary(&out);
        assert_eq!(line["ok"], true, "{line}");
    }
}
