//! Relay-only call setup through coturn, peercall ↔ peercall against Chromium ↔ Chromium,
//! over TURN/UDP, TURN/TCP and TURN/TLS: `cargo bench -p peercall --bench relay` (needs
//! coturn, chromium and chromium-driver; run it in a loopback-only network namespace, as
//! scripts/test does).
//!
//! One coturn on 127.0.0.1 listens for UDP and TCP on one port and TLS on another (a
//! certificate generated here: `--turn-ca` for ours, and Chromium accepts it by its public
//! key). For each transport a signaling server hands out one TURN URL in `welcome`
//! (`turn:…?transport=udp`, `turn:…?transport=tcp`, `turns:…`) with its credentials, and
//! both pairings call through it relay-only, one call of each in turn:
//! - peercall ↔ peercall: two `peercall call --relay-only --duration 2` processes; the
//!   callee starts once the caller says it is waiting. Figures from the callee's summary:
//!   `connect_ms` and `first_frame_ms` (`crates/call/src/engine.rs`) count from when it
//!   built its peer connection, on the server's `welcome`, to the connection state
//!   `connected` (ICE and DTLS) and to its first decoded remote picture. The process's
//!   start, the WebSocket's connect and the join before `welcome` are not in them.
//! - Chromium ↔ Chromium: two headless Chromium web clients with `relay=1`
//!   (`iceTransportPolicy: 'relay'`); the callee joins once the caller waits. Figures
//!   from the callee's page (`window.peercall.timings`): `connectedMs` and `firstFrameMs`
//!   count from pressing Join (before its WebSocket connects) to the connection state
//!   `connected` and to the first remote video frame shown.
//!
//! Every call must have gone relay/relay over the intended protocol, on both sides:
//! `ice.relay_protocol` in peercall's summaries, the selected pair's local `relayProtocol`
//! in Chromium's `getStats`. Anything else ends the benchmark with what was seen.
//!
//! Prints p50/p95 per (pairing, transport), and peercall's p50 over Chromium's.
//! Flag: `--runs N` (calls per pairing and transport, default 20).

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use testkit::browser::Browser;
use testkit::{Certificate, Coturn, report};

/// How long each `peercall call` stays connected.
const NATIVE_SECONDS: &str = "2";

/// Longest wait for a call to connect, or for a figure to show.
const WITHIN: Duration = Duration::from_secs(20);

/// One way to reach coturn.
struct Transport {
    /// `udp`, `tcp` or `tls`: what both sides must report as their relay's protocol.
    name: &'static str,
    /// The TURN URL the signaling server hands out.
    url: String,
}

/// The callee's two figures in one call, ms: join → connected, join → first frame.
type Figures = (f64, f64);

/// A `peercall call --relay-only` process in `room`, with the lines of its log (stderr)
/// as they come.
fn peercall(server: SocketAddr, room: &str, ca: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args(["--bind", "127.0.0.1:0", "--relay-only", "--turn-ca", ca])
        .args(["--duration", NATIVE_SECONDS])
        .env("RUST_LOG", "warn,peercall=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("peercall binary");
    let (lines, log) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    (child, log)
}

/// The summary line a `peercall call` prints last, once it has ended; checked to be a
/// call that connected relay/relay over `protocol`.
fn relayed_summary(child: Child, who: &str, protocol: &str) -> Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{who}: no summary line in:\n{stdout}"));
    let ice = &summary["summary"]["last"]["ice"];
    assert!(
        summary["ok"] == true
            && ice["local"] == "relay"
            && ice["remote"] == "relay"
            && ice["relay_protocol"] == protocol,
        "{who} did not call relay/relay over {protocol}: {summary}"
    );
    summary
}

/// One peercall ↔ peercall call in `room`: the callee's figures.
fn peercall_call(server: SocketAddr, room: &str, ca: &str, protocol: &str) -> Figures {
    let (caller, log) = peercall(server, room, ca);
    loop {
        match log.recv_timeout(WITHIN) {
            Ok(line) if line.contains("call waiting") => break,
            Ok(_) => {}
            Err(err) => panic!("the peercall caller in {room} never said it waited: {err}"),
        }
    }
    let (callee, _log) = peercall(server, room, ca);
    let callee = relayed_summary(callee, "the peercall callee", protocol);
    relayed_summary(caller, "the peercall caller", protocol);
    let figure = |name: &str| {
        callee["summary"][name]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in the callee's summary: {callee}"))
    };
    (figure("connect_ms"), figure("first_frame_ms"))
}

/// The web client in `room`, relay only, joining at once.
fn page(server: SocketAddr, room: &str) -> String {
    format!("http://{server}/?room={room}&autojoin=1&relay=1")
}

/// Fails unless `browser`'s selected pair is relay/relay with its relay reached over
/// `protocol`.
async fn assert_chromium_relayed(browser: &Browser, who: &str, protocol: &str) {
    let pair = browser
        .eval_async(
            "const s = await window.peercall.call.pc.getStats(); const r = {};
             s.forEach((x) => { r[x.id] = x; });
             const t = [...s.values()].find((x) => x.type === 'transport');
             const p = t && r[t.selectedCandidatePairId];
             return p ? { local: r[p.localCandidateId], remote: r[p.remoteCandidateId] } : null;",
        )
        .await
        .unwrap_or_else(|err| panic!("{who}: getStats: {err}"));
    assert!(
        pair["local"]["candidateType"] == "relay"
            && pair["remote"]["candidateType"] == "relay"
            && pair["local"]["relayProtocol"] == protocol,
        "{who} did not call relay/relay over {protocol}: selected pair {pair}"
    );
}

/// One Chromium ↔ Chromium call in `room`: the callee's figures.
async fn chromium_call(
    caller: &Browser,
    callee: &Browser,
    server: SocketAddr,
    room: &str,
    protocol: &str,
) -> Figures {
    let state = |state: &str| format!("return window.peercall?.call?.state === '{state}'");
    caller.open(&page(server, room)).await.unwrap();
    caller
        .wait_for(&state("waiting"), WITHIN)
        .await
        .unwrap_or_else(|err| panic!("the Chromium caller in {room} never waited: {err}"));
    callee.open(&page(server, room)).await.unwrap();
    for (who, browser) in [
        ("the Chromium callee", callee),
        ("the Chromium caller", caller),
    ] {
        if let Err(err) = browser.wait_for(&state("connected"), WITHIN).await {
            let shown = browser
                .eval("return document.getElementById('state').textContent")
                .await;
            panic!("{who} in {room} never connected: {err}; the page says {shown:?}");
        }
    }
    let timing = async |name: &str| {
        callee
            .wait_for(
                &format!("return window.peercall.timings.{name} ?? null"),
                WITHIN,
            )
            .await
            .unwrap_or_else(|err| panic!("the Chromium callee in {room}: no {name}: {err}"))
            .as_f64()
            .unwrap_or_else(|| panic!("the Chromium callee in {room}: {name} is no number"))
    };
    let figures = (timing("connectedMs").await, timing("firstFrameMs").await);
    assert_chromium_relayed(callee, "the Chromium callee", protocol).await;
    assert_chromium_relayed(caller, "the Chromium caller", protocol).await;
    callee.open("about:blank").await.unwrap();
    caller.open("about:blank").await.unwrap();
    figures
}

/// Each figure's samples, of one pairing over one transport.
#[derive(Default)]
struct Samples {
    connected: Vec<f64>,
    first_frame: Vec<f64>,
}

impl Samples {
    fn push(&mut self, (connected, first_frame): Figures) {
        self.connected.push(connected);
        self.first_frame.push(first_frame);
    }
}

/// The median of `samples`, if there are any.
fn p50(samples: &[f64]) -> Option<f64> {
    testkit::percentile(&testkit::sorted(samples.to_vec()), 0.5)
}

/// Prints `what`'s p50 for peercall over Chromium's.
fn ratio(what: &str, peercall: &[f64], chromium: &[f64]) {
    if let (Some(ours), Some(theirs)) = (p50(peercall), p50(chromium)) {
        println!(
            "  {what}: peercall/Chromium p50 {:.2} ({ours:.0} / {theirs:.0} ms)",
            ours / theirs
        );
    }
}

#[tokio::main]
async fn main() {
    let runs: u32 = common::flag("--runs", 20);
    let certificate = Certificate::new();
    let coturn = Coturn::start_tls(certificate.for_coturn(), &[]);
    let ca = certificate.cert.display().to_string();
    let tls_port = coturn.tls_port.expect("started with TLS");
    let transports = [
        Transport {
            name: "udp",
            url: format!("turn:127.0.0.1:{}?transport=udp", coturn.port),
        },
        Transport {
            name: "tcp",
            url: format!("turn:127.0.0.1:{}?transport=tcp", coturn.port),
        },
        Transport {
            name: "tls",
            url: format!("turns:127.0.0.1:{tls_port}?transport=tcp"),
        },
    ];
    let caller = Browser::launch_accepting(&certificate)
        .await
        .expect("Chromium");
    let callee = Browser::launch_accepting(&certificate)
        .await
        .expect("Chromium");
    for transport in &transports {
        let turn = format!("--turn={}", transport.url);
        let server =
            common::server_with(&[&turn, "--turn-username=user1", "--turn-credential=pass1"]).await;
        let protocol = transport.name;
        let (mut peercall, mut chromium) = (Samples::default(), Samples::default());
        for run in 0..runs {
            let room = format!("peercall-{protocol}-{run}");
            let figures =
                tokio::task::block_in_place(|| peercall_call(server, &room, &ca, protocol));
            peercall.push(figures);
            let room = format!("chromium-{protocol}-{run}");
            chromium.push(chromium_call(&caller, &callee, server, &room, protocol).await);
        }
        let over = format!("relay-only over TURN/{}", protocol.to_uppercase());
        for (pairing, samples) in [
            ("peercall <-> peercall", &peercall),
            ("Chromium <-> Chromium", &chromium),
        ] {
            report(
                &format!("{pairing}, {over}: callee join -> connected"),
                samples.connected.clone(),
                "ms",
            );
            report(
                &format!("{pairing}, {over}: callee join -> first remote frame"),
                samples.first_frame.clone(),
                "ms",
            );
        }
        ratio(
            "join -> connected",
            &peercall.connected,
            &chromium.connected,
        );
        ratio(
            "join -> first remote frame",
            &peercall.first_frame,
            &chromium.first_frame,
        );
    }
    caller.close().await;
    callee.close().await;
}
