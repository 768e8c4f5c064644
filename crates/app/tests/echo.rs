//! A real echo path through a real sound server: peer B plays what it receives into a
//! PulseAudio room whose monitor is B's microphone ([`testkit::sound::SoundServer`]), as
//! a laptop's speaker reaches its microphone. A sends the test tone and counts its timing
//! marks in what comes back from B. This is the path echo cancellation has to close.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use clap::Parser;
use serde_json::Value;
use testkit::sound::SoundServer;
use tokio::sync::oneshot;

/// How long each peer stays connected, s.
const SECONDS: &str = "6";

/// A signaling server on 127.0.0.1 that stops when the returned sender fires (or drops).
async fn signaling_server() -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = signaling_server::Config::parse_from(["signaling-server"]);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(signaling_server::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// `peercall call` in `room` with `flags`, its sound on `sound`; its summary line.
async fn call(sound: &SoundServer, server: SocketAddr, room: &str, flags: &[&str]) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_peercall"));
    command
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args(["--bind", "127.0.0.1:0", "--duration", SECONDS])
        .args(["--width", "320", "--height", "240"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = sound.configure(&mut command).spawn().unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no summary line; stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Timing marks of A's own tone that came back to A, with B's microphone on `b_mic`.
async fn marks_back_at_a(sound: &SoundServer, room: &str, b_mic: &str) -> u64 {
    let (server, _stop) = signaling_server().await;
    let b_flags = ["--audio", b_mic, "--speaker", "pulse"];
    let a = call(
        sound,
        server,
        room,
        &["--audio", "test", "--speaker", "none"],
    );
    let b = call(sound, server, room, &b_flags);
    let (a, b) = tokio::join!(a, b);
    for (who, summary) in [("a", &a), ("b", &b)] {
        assert_eq!(summary["summary"]["connected"], true, "{who}: {summary}");
    }
    // B heard A's tone: it reached B's speaker.
    let b_heard = b["summary"]["last"]["audio_in"]["marks"].as_u64().unwrap();
    assert!(b_heard >= 10, "b: {b}");
    a["summary"]["last"]["audio_in"]["marks"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speaker_heard_by_its_own_microphone_sends_the_far_end_back() {
    let sound = SoundServer::start();
    // B's microphone hears nothing: none of A's marks come back.
    let quiet = marks_back_at_a(&sound, "echo-null", "mic:null").await;
    assert_eq!(quiet, 0, "marks came back without an echo path");
    // B's microphone is the room its speaker plays into: A's tone comes back.
    let echoed = marks_back_at_a(&sound, "echo-room", "mic:pulse").await;
    assert!(
        echoed >= 5,
        "only {echoed} of A's marks came back through B's room"
    );
}
