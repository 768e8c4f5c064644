//! Calls with a real, headless Chromium (fake camera and microphone) running the web
//! client that the signaling server serves: browser ↔ `peercall call` in both join
//! orders (H.264; both show one verification code), with the web client's `codec=VP8`
//! and `codec=VP9`, the same relay-only through coturn over TURN/UDP, TURN/TCP and
//! TURN/TLS (for the last two with UDP to coturn dropped, and Chromium accepting the
//! test's certificate by its public key), browser ↔ browser, and a browser that offers
//! only AV1 (refused); the desktop app (in a window on a virtual display) calling the
//! browser and called by it; Firefox ESR, with no H.264 plugin, calling `peercall call`
//! and Chromium in VP8; and the page with and without an access token on a server that
//! needs one.
//! Assertions come from the browsers' own `getStats` and the native side's stats.
//! Screenshots mid-call are kept in `target/artifacts`.
//!
//! Needs `chromium`, `chromium-driver`, `firefox-esr`, geckodriver, `Xvfb`, Mesa, coturn
//! and iptables (scripts/test installs them), and root in a loopback-only network
//! namespace for the UDP drop (elsewhere those tests say SKIPPED, and fail in CI). The
//! tests take turns: each runs browsers and real-time codecs, and the machine has two
//! cores.

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use common::{Window, app_window, signaling_server};
use serde_json::Value;
use testkit::browser::{Browser, artifacts_dir, png_region_luma};
use testkit::screen::Xvfb;
use tokio::sync::Mutex;

/// One browser test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How long a native peer stays connected.
const NATIVE_SECONDS: u64 = 10;

/// Longest wait for what a call's statistics should show once it is connected.
const STATS_WITHIN: Duration = Duration::from_secs(20);

/// Opens the web client in `room` and joins at once.
async fn browser_in(server: SocketAddr, room: &str, query: &str) -> Browser {
    let browser = Browser::launch().await.expect("Chromium");
    join_in(&browser, server, room, query).await;
    browser
}

/// Opens the web client in `browser`, in `room`, and joins at once.
async fn join_in(browser: &Browser, server: SocketAddr, room: &str, query: &str) {
    browser
        .open(&format!(
            "http://{server}/?room={room}&name=chromium&autojoin=1{query}"
        ))
        .await
        .unwrap();
}

/// A `peercall call` process, killed if the test ends before it does, and its log
/// (stderr) as it comes.
struct Native {
    child: Option<Child>,
    log: Arc<StdMutex<Vec<String>>>,
}

impl Drop for Native {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Native {
    /// Waits (up to 20 s) until the native peer logs that its call is `waiting`
    /// (alone in the room, its offer held by the server).
    async fn wait_until_waiting(&self) {
        let until = Instant::now() + Duration::from_secs(20);
        while !self
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("call waiting"))
        {
            assert!(
                Instant::now() < until,
                "the native peer never said it was waiting; its log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `peercall call` in `room`, connected for [`NATIVE_SECONDS`].
fn native_in(server: SocketAddr, room: &str, flags: &[&str]) -> Native {
    let child = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args(["--name", "native", "--bind", "127.0.0.1:0"])
        .args(["--duration", &NATIVE_SECONDS.to_string()])
        .args(flags)
        .env("RUST_LOG", "warn,peercall=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let log = Arc::new(StdMutex::new(Vec::new()));
    let lines = Arc::clone(&log);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    Native {
        child: Some(child),
        log,
    }
}

/// The native peer's summary line once it has ended.
async fn native_summary(mut native: Native) -> Value {
    let child = native.child.take().unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = native.log.lock().unwrap().join("\n");
    stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary line; stdout:\n{stdout}\nstderr:\n{stderr}"))
}

/// Waits until the page's call is in `state` (`waiting`, `connected`, `failed`...).
async fn wait_state(browser: &Browser, state: &str) {
    let script = format!("return window.peercall?.call?.state === '{state}'");
    if let Err(err) = browser.wait_for(&script, Duration::from_secs(20)).await {
        let shown = browser
            .eval("return document.getElementById('state').textContent")
            .await;
        panic!("the page never reached `{state}`: {err}; it says {shown:?}");
    }
}

/// The browser's own `getStats()` reports, as an array.
async fn browser_stats(browser: &Browser) -> Vec<Value> {
    let reports = browser
        .eval_async(
            "const out = []; (await window.peercall.call.pc.getStats()).forEach((r) => out.push(r)); return out;",
        )
        .await
        .unwrap();
    reports.as_array().cloned().unwrap_or_default()
}

/// Reads `getStats` reports: streams by direction and kind, codecs, the selected pair.
/// A report not (yet) there is an `Err` saying which.
struct Reports(Vec<Value>);

/// `Err(message)` unless `condition` holds.
macro_rules! check {
    ($condition:expr, $($message:tt)+) => {
        let holds: bool = $condition;
        if !holds {
            return Err(format!($($message)+));
        }
    };
}

impl Reports {
    fn rtp(&self, kind: &str, direction: &str) -> Result<&Value, String> {
        self.0
            .iter()
            .find(|r| r["type"] == direction && r["kind"] == kind)
            .ok_or_else(|| format!("no {direction} {kind} report yet"))
    }

    fn by_id(&self, id: &Value) -> Result<&Value, String> {
        self.0
            .iter()
            .find(|r| r["id"] == *id)
            .ok_or_else(|| format!("no report {id} yet"))
    }

    fn codec(&self, kind: &str, direction: &str) -> Result<String, String> {
        let rtp = self.rtp(kind, direction)?;
        Ok(self.by_id(&rtp["codecId"])?["mimeType"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The selected pair's local candidate.
    fn selected_local(&self) -> Result<&Value, String> {
        let transport = self
            .0
            .iter()
            .find(|r| r["type"] == "transport")
            .ok_or("no transport report yet")?;
        let pair = self.by_id(&transport["selectedCandidatePairId"])?;
        self.by_id(&pair["localCandidateId"])
    }

    /// Candidate types of the selected pair: (local, remote).
    fn pair_types(&self) -> Result<(String, String), String> {
        let transport = self
            .0
            .iter()
            .find(|r| r["type"] == "transport")
            .ok_or("no transport report yet")?;
        let pair = self.by_id(&transport["selectedCandidatePairId"])?;
        let kind = |id: &Value| -> Result<String, String> {
            Ok(self.by_id(id)?["candidateType"]
                .as_str()
                .unwrap_or_default()
                .to_string())
        };
        Ok((
            kind(&pair["localCandidateId"])?,
            kind(&pair["remoteCandidateId"])?,
        ))
    }
}

/// Polls the browser's `getStats()` (every 250 ms, for at most [`STATS_WITHIN`])
/// until `check` passes, and returns those reports; fails otherwise with everything
/// `check` said on the way (the last word may only be that the call has ended).
async fn stats_once(
    browser: &Browser,
    what: &str,
    check: impl Fn(&Reports) -> Result<(), String>,
) -> Reports {
    let until = Instant::now() + STATS_WITHIN;
    let mut said: Vec<String> = Vec::new();
    loop {
        let stats = Reports(browser_stats(browser).await);
        match check(&stats) {
            Ok(()) => return stats,
            Err(why) => {
                // The same complaint with other numbers counts once.
                let kind = |s: &str| s.split(':').next().unwrap_or_default().to_owned();
                match said.iter_mut().find(|s| kind(s) == kind(&why)) {
                    Some(old) => *old = why,
                    None => said.push(why),
                }
            }
        }
        if Instant::now() >= until {
            panic!(
                "{what}: still not so after {STATS_WITHIN:?}; it said:\n  {}",
                said.join("\n  ")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What every browser ↔ native call must show: the browser's side (from reports
/// that [`browser_gets_ours`] passed) and ours, from the native summary.
fn assert_media_both_ways(stats: &Reports, summary: &Value) {
    if let Err(why) = browser_gets_ours(stats) {
        panic!("{why}");
    }
    assert_eq!(summary["ok"], true, "{summary}");
    assert_we_get_the_browsers(&summary["summary"]["last"]);
}

/// Waits until the browser decodes our H.264 at the size we send (640x480), at ≥ 25
/// fps, and hears our audio, while sending H.264 and Opus.
async fn browser_getting_ours(browser: &Browser) -> Reports {
    browser_getting_ours_in(browser, "video/H264").await
}

/// [`browser_getting_ours`] with `video` (a MIME type) both ways instead of H.264.
async fn browser_getting_ours_in(browser: &Browser, video: &str) -> Reports {
    stats_once(browser, "the browser gets our media", |stats| {
        browser_gets_ours_in(stats, video)
    })
    .await
}

/// The browser decodes our H.264 at the size we send (640x480), at ≥ 25 fps, and
/// hears our audio; it sends H.264 and Opus.
fn browser_gets_ours(stats: &Reports) -> Result<(), String> {
    browser_gets_ours_in(stats, "video/H264")
}

/// [`browser_gets_ours`] with `video` (a MIME type) both ways.
fn browser_gets_ours_in(stats: &Reports, video: &str) -> Result<(), String> {
    let video_in = stats.rtp("video", "inbound-rtp")?;
    for (kind, direction, codec) in [
        ("video", "inbound-rtp", video),
        ("video", "outbound-rtp", video),
        ("audio", "inbound-rtp", "audio/opus"),
    ] {
        let got = stats.codec(kind, direction)?;
        check!(got == codec, "{direction} {kind} is {got}, not {codec}");
    }
    let size = (
        video_in["frameWidth"].as_u64(),
        video_in["frameHeight"].as_u64(),
    );
    check!(size == (Some(640), Some(480)), "not 640x480: {video_in}");
    check!(
        video_in["framesPerSecond"].as_f64().unwrap_or(0.0) >= 25.0,
        "the browser decodes our video too slowly: {video_in}"
    );
    let audio_in = stats.rtp("audio", "inbound-rtp")?;
    check!(
        audio_in["totalAudioEnergy"].as_f64().unwrap_or(0.0) > 0.0,
        "no audio heard: {audio_in}"
    );
    Ok(())
}

/// Our last stats line shows the browser's video decoded at its camera's 30 fps, and
/// its audio heard.
fn assert_we_get_the_browsers(last: &Value) {
    assert!(
        last["video_in"]["fps"].as_u64().unwrap() >= 25,
        "we decode Chromium's video too slowly: {last}"
    );
    // At most the first picture: its first packets can beat webrtc 0.21's registration
    // of the remote track (dropped), and a keyframe request answers that.
    assert!(
        last["video_in"]["decode_errors"].as_u64().unwrap() <= 1,
        "{last}"
    );
    assert!(last["audio_in"]["energy"].as_f64().unwrap() > 0.0, "{last}");
}

/// Saves a screenshot of the page and checks that the remote video shows a picture.
async fn screenshot_shows_remote_video(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let path = artifacts_dir().join(name);
    std::fs::write(&path, &png).unwrap();
    let rect = browser
        .eval(
            "const r = document.getElementById('remote-video').getBoundingClientRect(); \
             const s = window.devicePixelRatio; \
             return [r.x * s, r.y * s, r.width * s, r.height * s].map(Math.round);",
        )
        .await
        .unwrap();
    let v: Vec<u32> = serde_json::from_value(rect).unwrap();
    // The middle half of the element, clear of letterboxing and the preview inset.
    let region = (v[0] + v[2] / 4, v[1] + v[3] / 4, v[2] / 2, v[3] / 2);
    let (mean, spread) = png_region_luma(&png, region).unwrap();
    assert!(
        mean > 20.0 && spread > 5.0,
        "the remote video area of {} looks black or blank (mean luma {mean:.1}, spread {spread:.1})",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_peer_answers_a_browser_that_joined_first() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let browser = browser_in(server, "browser-first", "").await;
    wait_state(&browser, "waiting").await;
    let native = native_in(server, "browser-first", &[]);
    wait_state(&browser, "connected").await;
    let stats = browser_getting_ours(&browser).await;
    screenshot_shows_remote_video(&browser, "browser-call-with-native.png").await;
    browser_shows_its_audio_processing(&browser).await;
    let shown = browser
        .wait_for(
            "return document.getElementById('verification').hidden ? null : window.peercall.call.verification",
            STATS_WITHIN,
        )
        .await
        .unwrap();
    let summary = native_summary(native).await;
    assert_media_both_ways(&stats, &summary);
    assert_eq!(
        shown, summary["summary"]["last"]["verification"],
        "the page and the native peer show one verification code"
    );
    browser.close().await;
}

/// Frames the browser has decoded from the native peer so far.
async fn frames_decoded(browser: &Browser) -> u64 {
    let script = "const reports = [...(await window.peercall.call.pc.getStats()).values()];
         const video = reports.find((r) => r.type === 'inbound-rtp' && r.kind === 'video');
         return video ? video.framesDecoded : 0;";
    let value = browser.eval_async(script).await.unwrap();
    value
        .as_u64()
        .unwrap_or_else(|| panic!("framesDecoded: {value}"))
}

/// The ICE username fragment of the page's local or remote description.
async fn ufrag(browser: &Browser, which: &str) -> String {
    let script = format!(
        "return /a=ice-ufrag:(\\S+)/.exec(window.peercall.call.pc.{which}Description.sdp)[1]"
    );
    let value = browser.eval(&script).await.unwrap();
    value
        .as_str()
        .unwrap_or_else(|| panic!("{which} ufrag: {value}"))
        .to_string()
}

/// Waits until the browser decodes `more` frames beyond what it had, connected.
async fn video_goes_on(browser: &Browser, more: u64, what: &str) {
    let before = frames_decoded(browser).await;
    let until = Instant::now() + STATS_WITHIN;
    loop {
        let now = frames_decoded(browser).await;
        if now >= before + more {
            break;
        }
        assert!(
            Instant::now() < until,
            "{what}: {} frames decoded in {STATS_WITHIN:?}",
            now - before
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_state(browser, "connected").await;
}

/// A network interface with an address, in this test's namespace, while it lives.
struct ExtraAddress;

impl ExtraAddress {
    fn add() -> Self {
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ip(&[
            "link", "add", "pcx0", "type", "veth", "peer", "name", "pcx1",
        ]);
        ip(&["addr", "add", "10.250.0.1/24", "dev", "pcx0"]);
        ip(&["link", "set", "pcx0", "up"]);
        ExtraAddress
    }
}

impl Drop for ExtraAddress {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", "pcx0"]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_native_peer_each_restart_ice_and_the_call_goes_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    if !nix::unistd::geteuid().is_root() {
        testkit::skip_or_fail("adding a network interface needs root (CI runs as root)");
        return;
    }
    let (server, _stop) = signaling_server(&[]).await;
    let browser = browser_in(server, "restart", "").await;
    wait_state(&browser, "waiting").await;
    let native = native_in(server, "restart", &[]);
    wait_state(&browser, "connected").await;
    video_goes_on(&browser, 15, "before any restart").await;

    // The browser restarts: the native peer answers on the same connection.
    let ours = ufrag(&browser, "local").await;
    let restarted = browser
        .eval_async("await window.peercall.call.restartIce(); return true;")
        .await
        .unwrap();
    assert_eq!(restarted, true, "{restarted}");
    browser
        .wait_for(
            "return window.peercall.call.pc.signalingState === 'stable'",
            STATS_WITHIN,
        )
        .await
        .unwrap();
    assert_ne!(
        ufrag(&browser, "local").await,
        ours,
        "the browser's ICE credentials"
    );
    video_goes_on(&browser, 15, "after the browser's restart").await;

    // The native peer's network changes: it restarts, the browser answers in place.
    let theirs = ufrag(&browser, "remote").await;
    let _extra = ExtraAddress::add();
    let changed = format!(
        "return /a=ice-ufrag:(\\S+)/.exec(window.peercall.call.pc.remoteDescription.sdp)[1] !== '{theirs}'"
    );
    browser.wait_for(&changed, STATS_WITHIN).await.unwrap();
    video_goes_on(&browser, 15, "after the native peer's restart").await;

    let summary = native_summary(native).await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(
        summary["summary"]["calls"], 1,
        "one call throughout: {summary}"
    );
    browser.close().await;
}

/// The page asked for the browser's own echo cancellation, noise suppression and gain
/// control, and its stats panel says they are on.
async fn browser_shows_its_audio_processing(browser: &Browser) {
    let wanted = "echo cancellation on, noise suppression on, gain control on";
    let script = format!(
        "return [...document.querySelectorAll('#stats-body tr')].some((tr) => \
         tr.querySelector('th').textContent === 'audio processing' && \
         tr.querySelector('td').textContent === '{wanted}')"
    );
    if let Err(err) = browser.wait_for(&script, Duration::from_secs(10)).await {
        let panel = browser
            .eval("return document.getElementById('stats-body').innerText")
            .await;
        panic!("the stats panel never said `{wanted}`: {err}; it shows {panel:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_answers_a_native_peer_that_joined_first() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let native = native_in(server, "native-first", &[]);
    native.wait_until_waiting().await;
    let browser = browser_in(server, "native-first", "").await;
    wait_state(&browser, "connected").await;
    let stats = browser_getting_ours(&browser).await;
    let summary = native_summary(native).await;
    assert_media_both_ways(&stats, &summary);
    browser.close().await;
}

/// How both peers reach coturn: the kind of TURN URL the signaling server hands out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TurnOver {
    /// `turn:…?transport=udp`.
    Udp,
    /// `turn:…?transport=tcp`, with UDP to coturn dropped.
    Tcp,
    /// `turns:…`, with UDP to coturn dropped.
    Tls,
}

impl TurnOver {
    /// What both sides report as their relay's protocol: Chromium's `relayProtocol`,
    /// our `ice.relay_protocol`.
    fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

/// The browser (relay only, `relay=1`) and `peercall call --relay-only` in `room` call
/// each other through a real coturn, reached `over` UDP, TCP or TLS (a certificate made
/// here, which both are told to trust); for TCP and TLS UDP to coturn is dropped, so
/// nothing but the stream gets there. Both sides must show relay/relay over that protocol
/// and media both ways.
async fn browser_and_native_call_relay_only(over: TurnOver, room: &str) {
    let certificate = testkit::Certificate::new();
    let coturn = testkit::Coturn::start_tls(certificate.for_coturn(), &[]);
    let _udp_dropped = match over {
        TurnOver::Udp => None,
        TurnOver::Tcp | TurnOver::Tls => match testkit::UdpDropped::to_port(coturn.port) {
            Ok(dropped) => Some(dropped),
            Err(why) => {
                testkit::skip_or_fail(&why);
                return;
            }
        },
    };
    // Both sides take the TURN server from the server's `welcome`.
    let turn = match over {
        TurnOver::Udp => format!("--turn=turn:127.0.0.1:{}?transport=udp", coturn.port),
        TurnOver::Tcp => format!("--turn=turn:127.0.0.1:{}?transport=tcp", coturn.port),
        TurnOver::Tls => format!(
            "--turn=turns:127.0.0.1:{}?transport=tcp",
            coturn.tls_port.expect("started with TLS")
        ),
    };
    let (server, _stop) =
        signaling_server(&[&turn, "--turn-username=user1", "--turn-credential=pass1"]).await;
    let browser = Browser::launch_accepting(&certificate)
        .await
        .expect("Chromium");
    join_in(&browser, server, room, "&relay=1").await;
    let ca = certificate.cert.display().to_string();
    let native = native_in(server, room, &["--relay-only", "--turn-ca", &ca]);
    wait_state(&browser, "connected").await;
    let protocol = over.name();
    let stats = stats_once(&browser, "the browser gets our media, relayed", |stats| {
        let pair = stats.pair_types()?;
        check!(pair.0 == "relay" && pair.1 == "relay", "pair {pair:?}");
        let local = stats.selected_local()?;
        check!(
            local["relayProtocol"] == protocol,
            "the browser's relay is reached over {}, not {protocol}: {local}",
            local["relayProtocol"]
        );
        browser_gets_ours(stats)
    })
    .await;
    let summary = native_summary(native).await;
    let ice = &summary["summary"]["last"]["ice"];
    assert_eq!(
        (&ice["local"], &ice["remote"], &ice["relay_protocol"]),
        (&"relay".into(), &"relay".into(), &protocol.into()),
        "{ice}"
    );
    assert_media_both_ways(&stats, &summary);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_native_call_relay_only_over_turn_udp() {
    let _one = ONE_AT_A_TIME.lock().await;
    browser_and_native_call_relay_only(TurnOver::Udp, "relayed-udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_native_call_relay_only_over_turn_tcp_when_udp_to_coturn_is_dropped() {
    let _one = ONE_AT_A_TIME.lock().await;
    browser_and_native_call_relay_only(TurnOver::Tcp, "relayed-tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_native_call_relay_only_over_turns_when_udp_to_coturn_is_dropped() {
    let _one = ONE_AT_A_TIME.lock().await;
    browser_and_native_call_relay_only(TurnOver::Tls, "relayed-tls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_call_each_other_through_the_server() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let first = browser_in(server, "browsers", "").await;
    wait_state(&first, "waiting").await;
    let second = browser_in(server, "browsers", "").await;
    wait_state(&first, "connected").await;
    wait_state(&second, "connected").await;
    for browser in [&first, &second] {
        stats_once(
            browser,
            "a browser gets the other's media",
            browser_gets_a_browsers,
        )
        .await;
    }
    screenshot_shows_remote_video(&second, "browser-call-with-browser.png").await;
    first.close().await;
    second.close().await;
}

/// A browser in a call with another browser decodes its H.264 (more than a second of
/// it) and hears its audio.
fn browser_gets_a_browsers(stats: &Reports) -> Result<(), String> {
    browser_gets_a_browsers_in(stats, "video/H264")
}

/// [`browser_gets_a_browsers`] in `video` (a MIME type).
fn browser_gets_a_browsers_in(stats: &Reports, video: &str) -> Result<(), String> {
    let video_in = stats.rtp("video", "inbound-rtp")?;
    let codec = stats.codec("video", "inbound-rtp")?;
    check!(codec == video, "inbound video is {codec}, not {video}");
    check!(
        video_in["framesDecoded"].as_u64().unwrap_or(0) > 30,
        "too few pictures decoded: {video_in}"
    );
    let audio_in = stats.rtp("audio", "inbound-rtp")?;
    check!(
        audio_in["totalAudioEnergy"].as_f64().unwrap_or(0.0) > 0.0,
        "no audio heard: {audio_in}"
    );
    Ok(())
}

/// Opens the web client in Firefox in `room` and joins at once.
async fn firefox_in(server: SocketAddr, room: &str) -> Browser {
    let browser = Browser::launch_firefox().await.expect("Firefox");
    browser
        .open(&format!(
            "http://{server}/?room={room}&name=firefox&autojoin=1"
        ))
        .await
        .unwrap();
    browser
}

/// Our summary says we sent and received `codec` (`VP8`, `VP9`, `H264`).
fn assert_native_codec(summary: &Value, codec: &str) {
    let last = &summary["summary"]["last"];
    assert_eq!(last["video_out"]["codec"], codec, "{last}");
    assert_eq!(last["video_in"]["codec"], codec, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_peer_and_firefox_without_h264_call_with_vp8_both_ways() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let browser = firefox_in(server, "firefox-native").await;
    wait_state(&browser, "waiting").await;
    let native = native_in(server, "firefox-native", &[]);
    wait_state(&browser, "connected").await;
    // Firefox offers VP8 first (and VP9), no H.264: our answer follows its order.
    let stats = browser_getting_ours_in(&browser, "video/VP8").await;
    screenshot_shows_remote_video(&browser, "firefox-call-with-native.png").await;
    let summary = native_summary(native).await;
    if let Err(why) = browser_gets_ours_in(&stats, "video/VP8") {
        panic!("{why}");
    }
    assert_eq!(summary["ok"], true, "{summary}");
    assert_we_get_the_browsers(&summary["summary"]["last"]);
    assert_native_codec(&summary, "VP8");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_peer_and_chromium_call_in_vp8_and_in_vp9_when_the_page_asks() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    for codec in ["VP8", "VP9"] {
        let room = format!("chromium-{}", codec.to_lowercase());
        let browser = browser_in(server, &room, &format!("&codec={codec}")).await;
        wait_state(&browser, "waiting").await;
        let native = native_in(server, &room, &[]);
        wait_state(&browser, "connected").await;
        let mime = format!("video/{codec}");
        let stats = browser_getting_ours_in(&browser, &mime).await;
        let summary = native_summary(native).await;
        if let Err(why) = browser_gets_ours_in(&stats, &mime) {
            panic!("{codec}: {why}");
        }
        assert_eq!(summary["ok"], true, "{codec}: {summary}");
        assert_we_get_the_browsers(&summary["summary"]["last"]);
        assert_native_codec(&summary, codec);
        browser.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_and_chromium_call_each_other_through_the_server() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let chromium = browser_in(server, "two-browsers", "").await;
    wait_state(&chromium, "waiting").await;
    let firefox = firefox_in(server, "two-browsers").await;
    wait_state(&chromium, "connected").await;
    wait_state(&firefox, "connected").await;
    // Firefox has no H.264: the two settle on VP8.
    for browser in [&chromium, &firefox] {
        stats_once(browser, "a browser gets the other's media", |stats| {
            browser_gets_a_browsers_in(stats, "video/VP8")
        })
        .await;
    }
    screenshot_shows_remote_video(&firefox, "firefox-call-with-chromium.png").await;
    chromium.close().await;
    firefox.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_peer_refuses_a_browser_offering_only_av1_with_the_reason() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let browser = browser_in(server, "av1-only", "&codec=AV1").await;
    wait_state(&browser, "waiting").await;
    let native = native_in(server, "av1-only", &[]);
    let summary = tokio::time::timeout(Duration::from_secs(30), native_summary(native))
        .await
        .expect("the native peer gives up within 30 s");
    assert_eq!(summary["ok"], false, "{summary}");
    let reason = summary["reason"].as_str().unwrap();
    assert!(
        reason.contains("AV1") && reason.contains("H264, VP8 or VP9"),
        "the reason names what was offered and what we decode: {reason}"
    );
    assert_eq!(summary["reason_code"], "no-common-codec", "{summary}");
    browser.close().await;
}

/// The desktop app in `room` on a virtual display, sending the test sources at
/// 640x480 and closing [`NATIVE_SECONDS`] after connecting.
fn desktop_app_in(
    xvfb: &Xvfb,
    settings: &std::path::Path,
    server: SocketAddr,
    room: &str,
) -> Window {
    let url = format!("ws://{server}/ws");
    let seconds = NATIVE_SECONDS.to_string();
    app_window(
        &xvfb.display,
        settings,
        &[
            "--server",
            &url,
            "--room",
            room,
            "--name",
            "desktop",
            "--video",
            "test",
            "--audio",
            "test",
            "--width",
            "640",
            "--height",
            "480",
            "--duration",
            &seconds,
        ],
    )
}

/// The app's summary once it has closed: its stats must show Chromium's media, and
/// its window must have shown Chromium's pictures.
async fn assert_desktop_app_got_chromiums(app: Window) {
    let summary = app.summary().await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert_we_get_the_browsers(&summary["stats"]);
    eprintln!("the window's figures: {}", summary["ui"]);
    assert!(
        summary["ui"]["remote_shown"].as_u64().unwrap() > 5 * 25,
        "the window showed too few of Chromium's pictures: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_calls_a_browser_waiting_in_the_room() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let settings = tempfile::tempdir().unwrap();
    let (server, _stop) = signaling_server(&[]).await;
    let browser = browser_in(server, "desktop-second", "").await;
    wait_state(&browser, "waiting").await;
    let app = desktop_app_in(&xvfb, settings.path(), server, "desktop-second");
    wait_state(&browser, "connected").await;
    browser_getting_ours(&browser).await;
    screenshot_shows_remote_video(&browser, "browser-call-with-desktop-app.png").await;
    assert_desktop_app_got_chromiums(app).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_calls_the_desktop_app_waiting_in_the_room() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let settings = tempfile::tempdir().unwrap();
    let (server, _stop) = signaling_server(&[]).await;
    let app = desktop_app_in(&xvfb, settings.path(), server, "desktop-first");
    tokio::task::block_in_place(|| app.wait_state("Waiting"));
    let browser = browser_in(server, "desktop-first", "").await;
    wait_state(&browser, "connected").await;
    browser_getting_ours(&browser).await;
    let shot = xvfb.screenshot().unwrap();
    shot.save_png(&artifacts_dir().join("desktop-app-call-with-browser.png"))
        .unwrap();
    assert_desktop_app_got_chromiums(app).await;
    browser.close().await;
}

/// The text of the page's banner, once it shows one.
async fn banner(browser: &Browser) -> String {
    browser
        .wait_for(
            "const b = document.getElementById('banner'); return !b.hidden && b.textContent",
            Duration::from_secs(15),
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_explains_missing_devices_a_full_room_and_an_unreachable_server() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&["--max-peers=1"]).await;
    let browser = Browser::launch_without_media_devices().await.unwrap();

    // No camera, no microphone: it says so and still offers to join receive-only.
    browser
        .open(&format!("http://{server}/?room=full"))
        .await
        .unwrap();
    let text = banner(&browser).await;
    assert!(
        text.contains("camera: none was found") && text.contains("microphone: none was found"),
        "{text}"
    );
    assert!(text.contains("still join"), "{text}");

    // A room already holding its one peer.
    let native = native_in(server, "full", &[]);
    native.wait_until_waiting().await;
    browser
        .eval("document.getElementById('join').click(); return true")
        .await
        .unwrap();
    wait_state(&browser, "failed").await;
    let text = banner(&browser).await;
    assert!(text.contains("room is full"), "{text}");
    drop(native); // kills it

    // A server that is not there.
    browser
        .open(&format!(
            "http://{server}/?room=r&autojoin=1&server=ws://127.0.0.1:9/ws"
        ))
        .await
        .unwrap();
    wait_state(&browser, "failed").await;
    let text = banner(&browser).await;
    assert!(
        text.contains("cannot reach the signaling server at ws://127.0.0.1:9/ws"),
        "{text}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_joins_with_its_token_and_says_why_a_token_is_refused() {
    let _one = ONE_AT_A_TIME.lock().await;
    const SECRET: &str = "the server's secret, long enough";
    let (server, _stop) = signaling_server(&["--auth-secret", SECRET]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = |issued: u64| {
        signaling_server::auth::TokenKey::new(SECRET).issue(
            &signaling_proto::RoomId::new("guarded").unwrap(),
            None,
            Duration::from_secs(600),
            issued,
        )
    };
    // No token: refused for good, saying what to do.
    let browser = browser_in(server, "guarded", "").await;
    wait_state(&browser, "failed").await;
    assert_eq!(page_reason_code(&browser).await, "unauthorized");
    let text = banner(&browser).await;
    assert!(
        text.contains("none was given") && text.contains("access token"),
        "{text}"
    );
    // An expired one: says so.
    let expired = token(now - 7200);
    browser
        .open(&format!(
            "http://{server}/?room=guarded&name=chromium&autojoin=1&token={expired}"
        ))
        .await
        .unwrap();
    wait_state(&browser, "failed").await;
    assert!(banner(&browser).await.contains("expired"));
    // A good one: in the room, its offer held for the next peer.
    browser
        .open(&format!(
            "http://{server}/?room=guarded&name=chromium&autojoin=1&token={}",
            token(now)
        ))
        .await
        .unwrap();
    wait_state(&browser, "waiting").await;
    browser.close().await;
}

/// The code the page shows for its failure (`data-reason-code` on the state).
async fn page_reason_code(browser: &Browser) -> Value {
    browser
        .eval("return document.getElementById('state').dataset.reasonCode")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_fails_with_the_native_peers_reason_codes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    // Two peers already in the room: the page is refused.
    let mut inside = Vec::new();
    for _ in 0..2 {
        let config = call::SignalingConfig::new(
            format!("ws://{server}/ws"),
            signaling_proto::RoomId::new("full").unwrap(),
        );
        let mut client = call::SignalingClient::connect(config).await.unwrap();
        while !matches!(
            client.next_event().await,
            Some(call::SignalingEvent::Joined(_))
        ) {}
        inside.push(client);
    }
    let browser = browser_in(server, "full", "").await;
    wait_state(&browser, "failed").await;
    assert_eq!(page_reason_code(&browser).await, "room-full");

    // Relay only, and the server hands out no TURN server: no relay candidate.
    browser
        .open(&format!(
            "http://{server}/?room=no-turn&name=chromium&autojoin=1&relay=1"
        ))
        .await
        .unwrap();
    wait_state(&browser, "failed").await;
    assert_eq!(page_reason_code(&browser).await, "no-relay-candidate");
    browser.close().await;
}
