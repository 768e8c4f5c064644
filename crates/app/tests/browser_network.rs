//! `peercall call` and a real Chromium (the web client, fake camera) across two network
//! namespaces of the [`lab`]: Chromium and the signaling server in `a`, the native peer
//! in `b`. With IPv6 addresses only, they call over IPv6; when the native side's address
//! is replaced mid-call (a handover), it restarts ICE with the browser and the same call
//! goes on.
//!
//! Needs root (namespaces), `chromium` and `chromium-driver`; CI runs as root. Every
//! address is one of the namespaces' own.

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::browser::Browser;
use tokio::sync::Mutex;

mod lab;

use lab::{Lab, brief, split};

/// One call at a time: each runs a browser and real-time codecs on two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Chromium in the lab's namespace `a`, on the web client served by the lab's signaling
/// server, joined to the room the lab's peers use, and waiting there.
async fn chromium_waiting_in(lab: &Lab) -> Browser {
    let origin = lab.server.replace("ws://", "http://").replace("/ws", "");
    let browser = Browser::launch_in_netns(&lab.a, &origin)
        .await
        .expect("Chromium");
    let page = format!("{origin}/?room=lab&name=chromium&autojoin=1");
    browser.open(&page).await.unwrap();
    if let Err(err) = browser
        .wait_for(
            "return window.peercall?.call?.state === 'waiting'",
            Duration::from_secs(20),
        )
        .await
    {
        let state = page_state(&browser).await;
        panic!("the page never waited at {page}: {err}; it says {state}");
    }
    browser
}

/// What the page's state line says now.
async fn page_state(browser: &Browser) -> String {
    let script = "return document.getElementById('state')?.textContent";
    browser
        .eval(script)
        .await
        .map_or_else(|err| err, |v| v.to_string())
}

/// What Chromium's video receiver reports now: frames decoded, and the selected pair's
/// local and remote addresses.
async fn chromium_video(browser: &Browser) -> (u64, String, String) {
    let script = "const pc = window.peercall.call?.pc;
         if (!pc) return null;
         const reports = [...(await pc.getStats()).values()];
         const byId = (id) => reports.find((r) => r.id === id) ?? {};
         const video = reports.find((r) => r.type === 'inbound-rtp' && r.kind === 'video');
         const transport = reports.find((r) => r.type === 'transport') ?? {};
         const pair = byId(transport.selectedCandidatePairId);
         return [video?.framesDecoded ?? 0, byId(pair.localCandidateId).address ?? '',
                 byId(pair.remoteCandidateId).address ?? ''];";
    let value = browser.eval_async(script).await.unwrap();
    if value.is_null() {
        let state = page_state(browser).await;
        panic!("Chromium has no connection any more; the page says {state}");
    }
    let field = |i: usize| value[i].as_str().unwrap_or_default().to_string();
    (value[0].as_u64().unwrap_or(0), field(1), field(2))
}

/// Waits (up to 20 s) until Chromium has decoded 2 s of video; what it reports then.
async fn chromium_decoding(browser: &Browser) -> (u64, String, String) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = chromium_video(browser).await;
        if seen.0 >= 60 {
            return seen;
        }
        assert!(
            Instant::now() < until,
            "Chromium decoded {} frames in 20 s",
            seen.0
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls Chromium's decoded-frame count every 100 ms for `seconds` (while `during` may
/// run once, at `at`): the longest time without a new frame after `at`, and the count
/// at the end.
async fn chromium_longest_gap(
    browser: &Browser,
    seconds: u64,
    at: Duration,
    during: impl FnOnce(),
) -> (Duration, u64) {
    let started = Instant::now();
    let mut during = Some(during);
    let (mut last_frames, mut last_change) = (chromium_video(browser).await.0, started);
    let mut longest = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(seconds) {
        if started.elapsed() >= at
            && let Some(during) = during.take()
        {
            during();
        }
        let frames = chromium_video(browser).await.0;
        let now = Instant::now();
        if frames > last_frames {
            if last_change - started >= at {
                longest = longest.max(now - last_change);
            }
            last_frames = frames;
            last_change = now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (longest, last_frames)
}

/// The native peer's JSON lines once it has ended.
async fn native_lines(peer: std::process::Child) -> Vec<Value> {
    let out = tokio::task::spawn_blocking(move || peer.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !lines.is_empty(),
        "no output; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_peer_and_chromium_with_only_ipv6_addresses_call_over_ipv6() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(lab) = Lab::ipv6_only("v6chromium") else {
        return;
    };
    let browser = chromium_waiting_in(&lab).await;
    let native = lab.peer(false, 8, &[]);
    let (_, local, remote) = chromium_decoding(&browser).await;
    for address in [&local, &remote] {
        assert!(
            address.parse::<std::net::Ipv6Addr>().is_ok(),
            "Chromium's pair is {local} – {remote}"
        );
    }
    let lines = native_lines(native).await;
    let (_, summary) = split(&lines, 0);
    assert_eq!(summary["ok"], true, "{summary}");
    let last = &summary["summary"]["last"];
    assert!(last["video_in"]["fps"].as_u64().unwrap() >= 25, "{last}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_peer_moving_to_a_new_address_mid_call_with_chromium_resumes_within_3_s() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(lab) = Lab::for_handover("hochromium") else {
        return;
    };
    let browser = chromium_waiting_in(&lab).await;
    // Connected for 20 s: the 2 s of video waited for and the 10 s followed fit inside
    // it with room for a slow start under load.
    let native = lab.peer(false, 20, &[]);
    chromium_decoding(&browser).await;
    // The native side moves 3 s from now; Chromium's view is followed for 10 s.
    let (gap, frames) =
        chromium_longest_gap(&browser, 10, Duration::from_secs(3), || lab.move_b()).await;
    eprintln!("handover with Chromium: Chromium saw no video for {gap:?} at most");
    assert!(gap <= Duration::from_secs(3), "Chromium: gap {gap:?}");
    assert!(frames >= 300, "Chromium decoded {frames} frames");
    let lines = native_lines(native).await;
    let (late, summary) = split(&lines, 13);
    assert_eq!(summary["ok"], true, "{summary}");
    // The same call all along: one call, never ended and started again.
    assert_eq!(summary["summary"]["calls"], 1, "{summary}");
    let last = &summary["summary"]["last"];
    let native_gap = last["video_in"]["longest_gap_ms"].as_u64().unwrap();
    eprintln!("handover with Chromium: the native peer saw no video for {native_gap} ms at most");
    assert!(
        native_gap <= 3_000,
        "gap {native_gap} ms:\n{}",
        brief(&lines)
    );
    assert!(
        late.iter().all(|l| l["state"] == "connected"),
        "{}",
        brief(&lines)
    );
    assert!(last["video_in"]["fps"].as_u64().unwrap() >= 25, "{last}");
    browser.close().await;
}
