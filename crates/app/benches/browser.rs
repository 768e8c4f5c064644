//! Chromium ↔ Chromium against Chromium ↔ native, side by side in one run:
//! `cargo bench -p peercall --bench browser` (needs chromium and chromium-driver; run
//! it in a loopback-only network namespace, as scripts/test does).
//!
//! In every call a headless Chromium running the web client is the callee: it joins a
//! room where the other peer (a second Chromium, or `peercall call`) already waits with
//! its held offer. Measured in the callee, from its own clock and `getStats`:
//! - time from pressing Join to the first remote video frame shown;
//! - the video jitter buffer's mean delay (`jitterBufferDelay / jitterBufferEmittedCount`)
//!   after five seconds of call.
//!
//! Flags: `--runs N` (calls per pairing, default 10).

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testkit::browser::Browser;
use testkit::report;

/// Seconds of call before the jitter buffer is read.
const SETTLE_SECONDS: u64 = 5;

fn page(server: SocketAddr, room: &str) -> String {
    format!("http://{server}/?room={room}&autojoin=1")
}

/// What the callee saw, in ms: join → connected, join → first frame, mean jitter-buffer
/// delay.
async fn callee_figures(callee: &Browser) -> Result<[f64; 3], String> {
    callee
        .wait_for(
            "return window.peercall?.call?.state === 'connected'",
            Duration::from_secs(20),
        )
        .await?;
    let timing = async |name: &str| {
        callee
            .wait_for(
                &format!("return window.peercall.timings.{name} ?? null"),
                Duration::from_secs(10),
            )
            .await?
            .as_f64()
            .ok_or(format!("no {name}"))
    };
    let connected = timing("connectedMs").await?;
    let first = timing("firstFrameMs").await?;
    tokio::time::sleep(Duration::from_secs(SETTLE_SECONDS)).await;
    let jitter = callee
        .eval_async(
            "const s = await window.peercall.call.pc.getStats(); let v = null; \
             s.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video' && r.jitterBufferEmittedCount) \
               v = 1000 * r.jitterBufferDelay / r.jitterBufferEmittedCount; }); return v;",
        )
        .await?
        .as_f64()
        .ok_or("no jitter-buffer figures")?;
    Ok([connected, first, jitter])
}

fn native_caller(server: SocketAddr, room: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args(["--bind", "127.0.0.1:0", "--duration", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("peercall binary")
}

fn record(samples: &mut [Vec<f64>; 3], figures: Result<[f64; 3], String>, caller: &str, run: u32) {
    match figures {
        Ok(figures) => samples.iter_mut().zip(figures).for_each(|(s, f)| s.push(f)),
        Err(err) => eprintln!("Chromium <- {caller}, run {run}: {err}"),
    }
}

#[tokio::main]
async fn main() {
    let runs: u32 = common::flag("--runs", 10);
    let server = common::server().await;
    let caller = Browser::launch().await.expect("Chromium");
    let callee = Browser::launch().await.expect("Chromium");
    // Per pairing (Chromium, native): each figure's samples.
    let mut figures: [[Vec<f64>; 3]; 2] = Default::default();
    for run in 0..runs {
        // Chromium ↔ Chromium.
        let room = format!("cc{run}");
        caller.open(&page(server, &room)).await.unwrap();
        caller
            .wait_for(
                "return window.peercall?.call?.state === 'waiting'",
                Duration::from_secs(15),
            )
            .await
            .unwrap();
        callee.open(&page(server, &room)).await.unwrap();
        record(
            &mut figures[0],
            callee_figures(&callee).await,
            "Chromium",
            run,
        );
        caller.open("about:blank").await.unwrap();

        // Chromium ↔ native.
        let room = format!("cn{run}");
        let mut native = native_caller(server, &room);
        tokio::time::sleep(Duration::from_millis(500)).await;
        callee.open(&page(server, &room)).await.unwrap();
        record(
            &mut figures[1],
            callee_figures(&callee).await,
            "native",
            run,
        );
        let _ = native.kill();
        let _ = native.wait();
        callee.open("about:blank").await.unwrap();
    }
    let [chromium, native] = figures;
    let names = [
        "join -> connected",
        "join -> first remote frame",
        "video jitter buffer delay",
    ];
    for ((what, chromium), native) in names.iter().zip(chromium).zip(native) {
        report(&format!("Chromium <- Chromium: {what}"), chromium, "ms");
        report(&format!("Chromium <- native:   {what}"), native, "ms");
    }
    caller.close().await;
    callee.close().await;
}
