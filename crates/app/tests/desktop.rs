//! The desktop app in a real window on a virtual display (Xvfb, Mesa's software GL):
//! it joins a room where a windowless `peercall call --video test` waits, and
//! screenshots of the screen show the remote test pattern with a recent, advancing frame
//! number; started where there is no camera and no microphone, it calls with the test
//! sources instead of failing; what a run chose comes back in the next; a microphone
//! plugged in mid-call shows in the list; an idle window does not repaint. Screenshots
//! go to `target/artifacts/`.
//!
//! Needs `Xvfb` and Mesa (scripts/test installs them).

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Killed, Window, app_window, signaling_server};
use serde_json::Value;
use testkit::browser::artifacts_dir;
use testkit::screen::{Xvfb, read_pattern};

/// One window test at a time: they share two cores with real-time codecs.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_shows_the_remote_test_pattern_live() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let (server, _stop) = signaling_server(&[]).await;
    let url = format!("ws://{server}/ws");
    // The windowless peer, whose stats say how many pictures it has sent.
    let mut peer = Killed(
        Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args(["call", "--server", &url, "--room", "window"])
            .args([
                "--bind",
                "127.0.0.1:0",
                "--video",
                "test",
                "--audio",
                "test",
            ])
            .args(["--duration", "14"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sent = Arc::new(Mutex::new(None::<(Instant, u64)>));
    let lines = BufReader::new(peer.0.stdout.take().unwrap());
    let sent_by_peer = Arc::clone(&sent);
    let reader = std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            let line: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(frames) = line["video_out"]["frames"].as_u64() {
                *sent_by_peer.lock().unwrap() = Some((Instant::now(), frames));
            }
            if line.get("summary").is_some() {
                return line;
            }
        }
        Value::Null
    });
    let settings = tempfile::tempdir().unwrap();
    let window = app_window(
        &xvfb.display,
        settings.path(),
        &["--server", &url, "--room", "window", "--video", "test"],
    );
    // Connected for a few seconds: then two screenshots a second apart.
    let started = Instant::now();
    while sent.lock().unwrap().is_none_or(|(_, frames)| frames < 90) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the windowless peer never got going"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut codes = Vec::new();
    for n in 1..=2 {
        let shot = xvfb.screenshot().unwrap();
        let path = artifacts_dir().join(format!("desktop-call-{n}.png"));
        shot.save_png(&path).unwrap();
        let code = read_pattern(&shot)
            .unwrap_or_else(|| panic!("no test pattern code readable in {}", path.display()));
        let (at, frames) = sent.lock().unwrap().unwrap();
        // The peer's count is from its last stats line (up to a second old).
        let now_sent = frames + (at.elapsed().as_secs_f64() * 30.0) as u64;
        codes.push((code.frame, now_sent));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Recent: within 3 s of what the peer has sent (a loaded CI machine running debug
    // builds of both sides lags by ~1.5 s at worst; the release app shows the pattern
    // ~30 ms after capture, see the README).
    for (shown, sent) in &codes {
        assert!(
            u64::from(*shown) + 90 >= *sent && u64::from(*shown) <= sent + 5,
            "picture {shown} on screen when the peer had sent about {sent}: not recent"
        );
    }
    assert!(
        codes[1].0 >= codes[0].0 + 15,
        "the picture on screen did not advance: {codes:?}"
    );
    let summary = reader.join().unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    drop(window);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_camera_or_microphone_the_app_calls_with_the_test_sources() {
    let _one = ONE_AT_A_TIME.lock().await;
    if !media::camera::cameras().is_empty() {
        testkit::skip_or_fail("this machine has a camera: the no-camera case cannot be shown here");
        return;
    }
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    // Fresh settings: the default picks (camera 0, the default microphone) are missing.
    let settings = tempfile::tempdir().unwrap();
    let summary = app_window(
        &xvfb.display,
        settings.path(),
        &[
            "--self-call",
            "--duration",
            "5",
            "--width",
            "640",
            "--height",
            "480",
        ],
    )
    .summary()
    .await;
    assert_eq!(summary["ok"], true, "{summary}");
    let banner = summary["banner"].as_str().unwrap_or_default();
    assert!(
        banner.contains("No camera found: sending the test pattern")
            && banner.contains("no microphone found: sending the test tone"),
        "{banner}"
    );
    // The self-call's peer sends the pattern, and the app's own pictures reach it:
    // the app's stats show its sent video, from the test pattern.
    assert!(
        summary["stats"]["video_out"]["frames"].as_u64().unwrap() > 60,
        "{summary}"
    );
    assert!(
        summary["ui"]["preview_shown"].as_u64().unwrap() > 0,
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_persist_across_runs() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let settings = tempfile::tempdir().unwrap();
    let run = |flags: &'static [&'static str]| {
        app_window(
            &xvfb.display,
            settings.path(),
            &[
                &[
                    "--self-call",
                    "--duration",
                    "2",
                    "--width",
                    "320",
                    "--height",
                    "240",
                ],
                flags,
            ]
            .concat(),
        )
        .summary()
    };
    let first = run(&["--name", "alice", "--speaker", "none", "--video", "test"]).await;
    assert_eq!(first["ok"], true, "{first}");
    // No flags this time: what the first run chose comes back from storage.
    let second = run(&[]).await;
    assert_eq!(second["ok"], true, "{second}");
    let saved = &second["settings"];
    assert_eq!(saved["name"], "alice", "{saved}");
    assert_eq!(saved["speaker"], first["settings"]["speaker"], "{saved}");
    assert_eq!(saved["video"], first["settings"]["video"], "{saved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_plugged_in_mid_call_is_listed_and_the_call_goes_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let home = tempfile::tempdir().unwrap();
    let window = app_window(
        &xvfb.display,
        home.path(),
        &[
            "--self-call",
            "--duration",
            "6",
            "--width",
            "320",
            "--height",
            "240",
            "--speaker",
            "none",
        ],
    );
    tokio::task::block_in_place(|| window.wait_state("Connected"));
    // A new ALSA capture device appears: what plugging in a USB microphone does to
    // the device list (ALSA reads the user's configuration again when it changes).
    std::fs::write(
        home.path().join(".asoundrc"),
        "pcm.hotplug {\n type null\n hint { show on\n description \"Hot-plugged microphone\" }\n}\n",
    )
    .unwrap();
    let summary = window.summary().await;
    assert_eq!(summary["ok"], true, "{summary}");
    let microphones = summary["devices"]["microphones"].as_array().unwrap();
    assert!(
        microphones.iter().any(|m| m["id"] == "hotplug"),
        "the new microphone is not listed: {microphones:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_window_does_not_repaint_and_a_call_repaints_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let settings = tempfile::tempdir().unwrap();
    // Not in a call, nothing moving: once it has drawn itself, it should rest.
    let window = app_window(
        &xvfb.display,
        settings.path(),
        &["--video", "none", "--audio", "none", "--speaker", "none"],
    );
    let count = |window: &Window| window.frames.load(std::sync::atomic::Ordering::Relaxed);
    // Settled: it has drawn, then drawn nothing for a second.
    let until = Instant::now() + Duration::from_secs(20);
    let (mut settled, mut since) = (count(&window), Instant::now());
    while settled == 0 || since.elapsed() < Duration::from_secs(1) {
        assert!(
            Instant::now() < until,
            "the window never drew, or never stopped drawing: {settled} frames in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count(&window);
        if now != settled {
            (settled, since) = (now, Instant::now());
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = count(&window) - settled;
    println!("{settled} frames to settle, {idle} in 3 idle seconds");
    assert!(
        idle <= 3,
        "{idle} frames drawn in 3 s with nothing happening: the window repaints busily"
    );
    drop(window);
    // The same app in a call draws a frame for each picture that comes.
    let window = app_window(
        &xvfb.display,
        settings.path(),
        &[
            "--self-call",
            "--width",
            "320",
            "--height",
            "240",
            "--speaker",
            "none",
        ],
    );
    tokio::task::block_in_place(|| window.wait_state("Connected"));
    let connected = count(&window);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let in_call = count(&window) - connected;
    println!("{in_call} frames in 3 s of a call");
    assert!(
        in_call >= 60,
        "only {in_call} frames drawn in 3 s of a 30 fps call"
    );
}
