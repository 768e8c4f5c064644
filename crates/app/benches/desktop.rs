//! The desktop app's UI path under load: `cargo bench -p peercall --bench desktop` (needs
//! Xvfb and Mesa; run it in a loopback-only network namespace, as scripts/test does).
//!
//! The app (1280x720 camera preview from the test pattern) calls a windowless
//! `peercall call` sending 1280x720@30, on a virtual display. Printed:
//! - CPU of the UI thread (eframe's, the process's main thread) and of the whole
//!   process, as a share of one core;
//! - time to turn each remote 720p picture into a texture (conversion and upload), as a
//!   distribution;
//! - remote pictures received, shown, and dropped by the UI path (dropped from the
//!   UI's frame queue before the UI took them), in all and after the warm-up.
//!
//! Flags: `--seconds S` (length of the measured call, default 20).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use testkit::screen::Xvfb;

/// CPU ticks (user + system) of thread `tid` of `pid`, or of the whole process.
fn ticks(pid: u32, tid: Option<u32>) -> Option<u64> {
    common::cpu_ticks(match tid {
        Some(tid) => format!("/proc/{pid}/task/{tid}/stat"),
        None => format!("/proc/{pid}/stat"),
    })
}

/// Seconds from the start of the call before measuring (first texture, shaders).
const WARM_UP_S: u64 = 4;
/// Pictures a second the peer sends.
const FPS: u64 = 30;

#[tokio::main]
async fn main() {
    let seconds: u64 = common::flag("--seconds", 20);
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let server = common::server().await;
    let url = format!("ws://{server}/ws");
    let settings = tempfile::tempdir().unwrap();
    let mut peer = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "call",
            "--server",
            &url,
            "--room",
            "ui",
            "--bind",
            "127.0.0.1:0",
        ])
        .args(["--width", "1280", "--height", "720"])
        .args(["--duration", &(seconds + 10).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("peercall");
    let app = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args(["--server", &url, "--room", "ui", "--bind", "127.0.0.1:0"])
        .args(["--video", "test", "--audio", "test", "--speaker", "none"])
        .args(["--duration", &seconds.to_string()])
        .env("DISPLAY", &xvfb.display)
        .env("XDG_DATA_HOME", settings.path())
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("peercall");
    let pid = app.id();
    // Measure the middle of the call: after the warm-up, for most of the rest.
    let span = seconds.saturating_sub(WARM_UP_S + 2).max(1);
    tokio::time::sleep(Duration::from_secs(WARM_UP_S)).await;
    let start = (ticks(pid, Some(pid)), ticks(pid, None));
    tokio::time::sleep(Duration::from_secs(span)).await;
    let end = (ticks(pid, Some(pid)), ticks(pid, None));
    let out = tokio::task::spawn_blocking(move || app.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let _ = peer.kill();
    let _ = peer.wait();
    let hz = 100.0; // USER_HZ
    let share = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.1}%", (b - a) as f64 / hz / span as f64 * 100.0),
        _ => "unknown (the app ended early)".into(),
    };
    println!(
        "UI thread CPU with 720p30 remote video and 720p preview: {} of one core (whole process: {}) over {span} s",
        share(start.0, end.0),
        share(start.1, end.1),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(summary) = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
    else {
        println!("the app printed no summary: {text}");
        return;
    };
    let ui = &summary["ui"];
    let ms = &ui["upload_ms"];
    println!(
        "720p picture to texture (convert + upload): p50 {:.2} ms, p95 {:.2}, p99 {:.2}, max {:.2}",
        ms["p50"].as_f64().unwrap_or(f64::NAN),
        ms["p95"].as_f64().unwrap_or(f64::NAN),
        ms["p99"].as_f64().unwrap_or(f64::NAN),
        ms["max"].as_f64().unwrap_or(f64::NAN),
    );
    // Pictures dropped in the warm-up came while the window was still setting up.
    let dropped_at: Vec<u64> =
        serde_json::from_value(ui["remote_dropped_at"].clone()).unwrap_or_default();
    let after_warm_up = dropped_at.iter().filter(|&&n| n > WARM_UP_S * FPS).count();
    println!(
        "remote pictures: {} received, {} shown, {} dropped by the UI path ({after_warm_up} after the {WARM_UP_S} s warm-up; dropped pictures {dropped_at:?})",
        ui["remote_received"], ui["remote_shown"], ui["remote_dropped"]
    );
}
