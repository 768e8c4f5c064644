//! Screen sharing's costs: `cargo bench -p peercall --bench share` (needs Xvfb; run it
//! in a loopback-only network namespace, as scripts/test does).
//!
//! On a 1920x1080 Xvfb screen of colour blocks and text, printed as distributions:
//! - capture time per 1080p picture (read, cursor, BGRx to I420): over a mix where a
//!   500x60 strip is repainted before every fifth picture, those repainted pictures
//!   alone, and pictures after the whole screen was repainted (the most a picture can
//!   cost);
//! - encode time per 1080p picture in openh264's screen-content mode at 2.5 Mbit/s,
//!   with part of the screen repainted between pictures;
//! - CPU of a `peercall call` sending its camera (test pattern, 1280x720@30) and the
//!   screen (1920x1080@15) to another, as a share of one core;
//! - share latency: a block repainted on the screen to the first picture the receiving
//!   peer decodes showing it (capture, encode, network, jitter buffer, decode).
//!
//! Flags: `--frames N` (pictures captured and encoded, default 300), `--seconds S`
//! (length of the CPU measurement, default 20), `--repaints N` (latency samples,
//! default 40).

mod common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use call::{CallCommand, CallOptions, FrameSink, run_call, run_call_with};
use media::h264::{EncoderSettings, H264Encoder};
use media::screen::{ShareTarget, X11Capture};
use signaling_proto::RoomId;
use testkit::report;
use testkit::screen::Xvfb;

/// The screen's blocks: (x, y, w, h, colour).
const BLOCKS: [(i16, i16, u16, u16, u32); 3] = [
    (100, 100, 500, 400, 0xff0000),
    (800, 200, 500, 400, 0x00ff00),
    (1300, 600, 500, 400, 0x0000ff),
];

/// The block repainted for the latency figure, and where the receiver samples it.
const PROBE: (i16, i16, u16, u16) = (1500, 100, 300, 300);

fn paint_desktop(xvfb: &Xvfb) {
    let text: Vec<(i16, i16, String)> = (0..40)
        .map(|i| {
            (
                40,
                520 + i * 13,
                format!("line {i}: the quick brown fox jumps over the lazy dog 0123456789"),
            )
        })
        .collect();
    let text: Vec<(i16, i16, &str)> = text.iter().map(|(x, y, s)| (*x, *y, s.as_str())).collect();
    if let Err(why) = xvfb.paint(&BLOCKS, &text) {
        panic!("cannot paint the screen: {why}");
    }
}

fn capture_and_encode(xvfb: &Xvfb, frames: usize) {
    let mut capture =
        X11Capture::open_on(Some(&xvfb.display), ShareTarget::Screen(None), 60.0).expect("capture");
    println!(
        "capture through MIT-SHM: {}, reading only changes: {}",
        capture.uses_shm(),
        capture.reads_changes_only()
    );
    let mut grabs = Vec::new();
    let mut repainted = Vec::new();
    let mut pictures = Vec::new();
    for i in 0..frames {
        let repaint = i % 5 == 0;
        if repaint {
            // Some of the screen changes, as when someone types or scrolls.
            let colour = if i % 10 == 0 { 0xffffff } else { 0x202020 };
            xvfb.paint(
                &[(100, 100, 500, 60, colour)],
                &[(110, 140, &format!("frame {i}"))],
            )
            .expect("paint");
        }
        let started = Instant::now();
        let picture = capture.grab().expect("grab");
        let took = started.elapsed().as_secs_f64() * 1000.0;
        grabs.push(took);
        if repaint {
            repainted.push(took);
        }
        if pictures.len() < 60 {
            pictures.push(picture);
        }
    }
    report(
        "capture per 1920x1080 picture (read, cursor, to I420)",
        grabs,
        "ms",
    );
    report("  after a 500x60 repaint", repainted, "ms");
    // The colour conversion of a whole picture (what a whole-screen change costs).
    let bgrx = vec![0x80u8; 1920 * 1080 * 4];
    let converts: Vec<f64> = (0..frames.min(100))
        .map(|_| {
            let started = Instant::now();
            media::screen::bgrx_to_i420(&bgrx, 1920, 1080, 0).expect("convert");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    report("BGRx to I420 of a whole picture", converts, "ms");
    let mut encoder =
        H264Encoder::new(1920, 1080, EncoderSettings::screen(2_500_000, 15.0)).expect("encoder");
    let mut encodes = Vec::new();
    for i in 0..frames {
        let mut picture = pictures[i % pictures.len()].clone();
        picture.capture_us = i as u64 * 66_666;
        let started = Instant::now();
        encoder.encode(&picture).expect("encode");
        encodes.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        "encode per 1920x1080 picture, screen content, 2.5 Mbit/s",
        encodes,
        "ms",
    );
}

/// CPU of a sharer sending camera 720p30 and screen 1080p15, as % of one core.
async fn call_cpu(xvfb: &Xvfb, seconds: u64) {
    let server = common::server().await;
    let url = format!("ws://{server}/ws");
    let call = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args([
                "call",
                "--server",
                &url,
                "--room",
                "cpu",
                "--bind",
                "127.0.0.1:0",
            ])
            .args(["--duration", &(seconds + 8).to_string()])
            .args(extra)
            .env("DISPLAY", &xvfb.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("peercall")
    };
    let mut sharer = call(&["--width", "1280", "--height", "720", "--share", "screen"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut receiver = call(&["--width", "320", "--height", "240"]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stat = format!("/proc/{}/stat", sharer.id());
    let (before, at) = (common::cpu_ticks(&stat), Instant::now());
    let mut samples = Vec::new();
    let mut last = (before, at);
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = (common::cpu_ticks(&stat), Instant::now());
        if let (Some(a), Some(b)) = (last.0, now.0) {
            // Clock ticks are 1/100 s.
            samples.push((b - a) as f64 / now.1.duration_since(last.1).as_secs_f64());
        }
        last = now;
    }
    report(
        "CPU of a call sending camera 720p30 + screen 1080p15",
        samples,
        "% of a core",
    );
    let _ = sharer.kill();
    let _ = receiver.kill();
    let _ = sharer.wait();
    let _ = receiver.wait();
}

/// Share latency: the probe block repainted, to the first decoded picture showing it.
async fn share_latency(xvfb: &Xvfb, repaints: usize) {
    let server = common::server().await;
    let url = format!("ws://{server}/ws");
    let room = RoomId::new("latency").unwrap();
    // What colour the receiver's picture shows at the probe, and since when.
    let seen: Arc<Mutex<(u8, Instant)>> = Arc::new(Mutex::new((0, Instant::now())));
    let mut receiver = CallOptions::new(url.clone(), room.clone());
    receiver.bind = vec!["127.0.0.1:0".parse().unwrap()];
    receiver.format = media::VideoFormat {
        width: 320,
        height: 240,
        fps: 30.0,
    };
    let probe = Arc::clone(&seen);
    receiver.remote_screen = Some(FrameSink(Arc::new(move |picture: &media::VideoFrame| {
        let (y, _, _) = picture.planes();
        let (x, row) = (PROBE.0 as usize + 150, PROBE.1 as usize + 150);
        if let Some(&luma) = y.get(row * picture.width() as usize + x) {
            let level = u8::from(luma > 128);
            let mut seen = probe.lock().unwrap();
            if seen.0 != level {
                *seen = (level, Instant::now());
            }
        }
    })));
    let mut sharer = receiver.clone();
    sharer.remote_screen = None;
    sharer.format = media::VideoFormat {
        width: 640,
        height: 480,
        fps: 30.0,
    };
    let (commands, inbox) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let share_started = Arc::new(Mutex::new(false));
    let started = Arc::clone(&share_started);
    let a = tokio::spawn(run_call_with(
        sharer,
        move |event| {
            if let call::CallEvent::State(call::CallState::Connected) = event {
                *started.lock().unwrap() = true;
            }
        },
        until_stopped(stopped.clone()),
        inbox,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = tokio::spawn(run_call(receiver, |_| {}, until_stopped(stopped.clone())));
    while !*share_started.lock().unwrap() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    commands
        .send(CallCommand::StartShare(ShareTarget::Screen(None), 15.0))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut samples = Vec::new();
    for i in 0..repaints {
        let level = u8::from(i % 2 == 0);
        let colour = if level == 1 { 0xffffff } else { 0x000000 };
        let painted = Instant::now();
        xvfb.paint(&[(PROBE.0, PROBE.1, PROBE.2, PROBE.3, colour)], &[])
            .unwrap();
        let deadline = painted + Duration::from_secs(3);
        loop {
            let (now_level, since) = *seen.lock().unwrap();
            if now_level == level && since >= painted {
                samples.push(since.duration_since(painted).as_secs_f64() * 1000.0);
                break;
            }
            if Instant::now() > deadline {
                println!("repaint {i} not seen within 3 s");
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Off the 15 fps grid, so the samples spread over the capture interval.
        tokio::time::sleep(Duration::from_millis(300 + (i as u64 * 37) % 67)).await;
    }
    report(
        "share latency, repaint to decoded at the receiver",
        samples,
        "ms",
    );
    let _ = stop.send(true);
    let _ = a.await;
    let _ = b.await;
}

/// Capture time when the whole screen changed before each picture (the most a picture
/// can cost). Last, as it paints over the desktop.
fn capture_after_whole_repaints(xvfb: &Xvfb, frames: usize) {
    let mut capture =
        X11Capture::open_on(Some(&xvfb.display), ShareTarget::Screen(None), 60.0).expect("capture");
    let whole: Vec<f64> = (0..frames)
        .map(|i| {
            let colour = if i % 2 == 0 { 0x303030 } else { 0x404040 };
            xvfb.paint(&[(0, 0, 1920, 1080, colour)], &[])
                .expect("paint");
            let started = Instant::now();
            capture.grab().expect("grab");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    report("capture after a whole-screen repaint", whole, "ms");
}

#[allow(unsafe_code)]
fn main() {
    let frames: usize = common::flag("--frames", 300);
    let seconds: u64 = common::flag("--seconds", 20);
    let repaints: usize = common::flag("--repaints", 40);
    let xvfb = Xvfb::start(1920, 1080).expect("Xvfb");
    // SAFETY: no other thread runs yet (the runtime starts below); the in-process
    // sharer's capture opens `$DISPLAY`, which must be this Xvfb.
    unsafe { std::env::set_var("DISPLAY", &xvfb.display) };
    paint_desktop(&xvfb);
    capture_and_encode(&xvfb, frames);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        call_cpu(&xvfb, seconds).await;
        share_latency(&xvfb, repaints).await;
    });
    capture_after_whole_repaints(&xvfb, frames.min(60));
}
