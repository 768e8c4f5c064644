//! Calls over impaired links, side by side with Chromium:
//! `cargo bench -p peercall --bench impaired` (root: it builds network namespaces; run it
//! in a loopback-only namespace, as scripts/test does; needs chromium and chromium-driver
//! for the pairings with Chromium).
//!
//! Each call runs in the impairment tests' lab (two namespaces joined by a veth pair,
//! user-space netem on both ends, `tbf` for bottlenecks, the signaling server in the
//! first namespace). The caller joins first, in namespace `a`; the callee joins once it
//! waits, in `b`. Pairings: `pp` (peercall ↔ peercall, the 640x480@30 test pattern),
//! `cc` (Chromium ↔ Chromium: the web client, H.264 preferred, its 640x480@30 fake
//! camera), `cp` (Chromium in `a` ↔ peercall in `b`). Every side is read from its own
//! statistics: our JSON lines, Chromium's `getStats` once a second and the time of every
//! picture its remote track delivers (`MediaStreamTrackProcessor`).
//!
//! Per pairing, direction and profile, each run gives: received fps (median of the
//! seconds), freezes and their total time (gaps between pictures over 200 ms), the
//! glass-to-glass delay where the sender is our test pattern (it carries its capture
//! time), an estimate of the receive path's delay both kinds of receiver report alike
//! (half the ICE round trip plus the jitter buffer's delay), audio concealment, and per
//! profile: recovery after the blackout (to the first picture, and to the first live one:
//! a replay of the outage is not live), the time to settle under a bottleneck, the
//! round trip's rise there (the queue) and the share of the link used, and the callee's
//! join → first remote picture. The figures are the median of the runs, with their
//! range; each run draws its losses and jitter from its own seed (the same seeds for
//! every pairing), so the runs of a profile do not all lose the same packets. A call
//! that never showed a picture (or, with Chromium, whose caller never got into the
//! room) is left out of them, named at the end (with the page's call and connection
//! state for Chromium), and the benchmark exits with status 1.
//!
//! Flags: `--help`.

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use call::sequence::TimestampUnwrapper;
use call::stats::Liveness;
use lab::Lab;
use serde_json::Value;
use testkit::browser::Browser;
use testkit::netem::{GilbertElliott, Impairment};
use testkit::{percentile, sorted};

/// Whether to print our peers' seconds (`--log 1`).
static LOG: AtomicBool = AtomicBool::new(false);

/// Seconds after the callee joins before fps, freezes and delays count.
const WARMUP: f64 = 3.0;
/// A gap between pictures longer than this is a freeze (as in our statistics).
const FREEZE_MS: f64 = 200.0;
/// How long the blackout lasts, ms.
const BLACKOUT_MS: f64 = 2_000.0;
/// The bottlenecks' queue: 50 packets of 1,250 bytes.
const QUEUE: &str = "limit 62500";

/// What the link does, and when it changes.
#[derive(Debug, Clone, Copy)]
struct Profile {
    name: &'static str,
    what: &'static str,
    link: Impairment,
    event: Event,
}

/// A change of the link during the call.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    None,
    /// Everything lost for 2 s from S/3.
    Blackout,
    /// A `tbf` bottleneck of this many kbit/s all along.
    Bottleneck(u32),
    /// A `tbf` bottleneck of the first rate, the second from S/3 to 2S/3.
    Step(u32, u32),
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn profiles() -> Vec<Profile> {
    let link = |delay, jitter, loss| Impairment {
        delay: ms(delay),
        jitter: ms(jitter),
        loss,
        ..Impairment::NONE
    };
    let profile = |name, what, link, event| Profile {
        name,
        what,
        link,
        event,
    };
    vec![
        profile("clean", "clean link", Impairment::NONE, Event::None),
        profile(
            "loss2",
            "2% loss, 40 ms RTT",
            link(20, 0, 0.02),
            Event::None,
        ),
        profile(
            "loss5",
            "5% loss, 40 ms RTT, ±5 ms jitter",
            link(20, 5, 0.05),
            Event::None,
        ),
        profile(
            "bursty",
            "bursty loss (Gilbert-Elliott, 3% in bursts of 6.5 packets on average), 40 ms RTT",
            Impairment {
                bursts: Some(GilbertElliott::new(0.03, 6.5)),
                ..link(20, 0, 0.0)
            },
            Event::None,
        ),
        profile(
            "rtt120",
            "120 ms RTT, ±20 ms jitter",
            link(60, 20, 0.0),
            Event::None,
        ),
        profile(
            "blackout",
            "2 s blackout at S/3, 20 ms RTT",
            link(10, 0, 0.0),
            Event::Blackout,
        ),
        profile(
            "bottleneck",
            "500 kbit/s bottleneck, 50-packet queue",
            Impairment::NONE,
            Event::Bottleneck(500),
        ),
        profile(
            "step",
            "2 Mbit/s, 300 kbit/s from S/3 to 2S/3, 50-packet queue",
            Impairment::NONE,
            Event::Step(2_000, 300),
        ),
    ]
}

/// Who calls whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pairing {
    /// peercall ↔ peercall.
    Native,
    /// Chromium ↔ Chromium.
    Chromium,
    /// Chromium (caller) ↔ peercall (callee).
    Mixed,
}

impl Pairing {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "pp" => Some(Self::Native),
            "cc" => Some(Self::Chromium),
            "cp" => Some(Self::Mixed),
            _ => None,
        }
    }
}

/// Calls over impaired links, side by side with Chromium.
#[derive(Debug, clap::Parser)]
struct Args {
    /// Link profiles to run, comma-separated (clean, loss2, loss5, bursty, rtt120,
    /// blackout, bottleneck, step).
    #[arg(long, value_delimiter = ',', value_parser = profile, default_value = "clean,loss2,loss5,bursty,rtt120,blackout,bottleneck,step")]
    profiles: Vec<Profile>,
    /// Pairings, comma-separated: pp (peercall both ends), cc (Chromium both ends), cp
    /// (Chromium calling peercall).
    #[arg(long, value_delimiter = ',', value_parser = pairing, default_value = "pp,cc,cp")]
    pairings: Vec<Pairing>,
    /// Runs of each profile and pairing.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Length of each call, seconds (the blackout and the steps come at S/3 and 2S/3).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(6..))]
    seconds: u32,
    /// 1: print each native peer's seconds.
    #[arg(long, default_value_t = 0)]
    log: u8,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn profile(name: &str) -> Result<Profile, String> {
    let all = profiles();
    all.iter().find(|p| p.name == name).copied().ok_or_else(|| {
        let names: Vec<_> = all.iter().map(|p| p.name).collect();
        format!("no profile {name:?}; there are {names:?}")
    })
}

fn pairing(name: &str) -> Result<Pairing, String> {
    Pairing::parse(name).ok_or_else(|| format!("{name:?} is not pp, cc or cp"))
}

/// One second of one side, on the bench's clock (seconds since the callee joined).
#[derive(Debug, Clone, Default)]
struct Second {
    at: f64,
    /// Pictures decoded in the second before (ours; Chromium's come from its pictures).
    fps: f64,
    /// Video and audio payload sent, kbit/s.
    kbps_out: f64,
    rtt_ms: Option<f64>,
    /// The jitter buffer's delay, ms.
    jitter_buffer_ms: Option<f64>,
    /// Glass-to-glass p50 and p95 over the second (ours, from the test pattern).
    glass: Option<(f64, f64)>,
    /// Counters so far: freezes, their time, audio concealed and all audio (packets
    /// for ours, samples for Chromium).
    freezes: f64,
    freeze_ms: f64,
    concealed: f64,
    audio: f64,
}

/// Everything one side reported in one call.
#[derive(Debug, Default)]
struct Side {
    seconds: Vec<Second>,
    /// Every picture's time (Chromium), bench clock.
    pictures: Option<Vec<f64>>,
    /// The longest gap between pictures over the whole call, ms (ours).
    longest_gap_ms: Option<f64>,
    /// The longest gap between live pictures (not a replay of the past) over the whole
    /// call, ms.
    longest_live_gap_ms: Option<f64>,
    /// Join → first remote picture, ms.
    first_picture_ms: Option<f64>,
}

/// The figures of one direction of one call.
type Figures = BTreeMap<&'static str, f64>;

fn median(values: Vec<f64>) -> Option<f64> {
    percentile(&sorted(values), 0.5)
}

/// When the link changes, seconds after the callee joined.
fn changes(seconds: u32) -> (f64, f64) {
    (f64::from(seconds) / 3.0, 2.0 * f64::from(seconds) / 3.0)
}

/// The bottleneck's rate at `at`, kbit/s.
fn capacity(event: Event, seconds: u32, at: f64) -> Option<f64> {
    let (down, up) = changes(seconds);
    match event {
        Event::Bottleneck(rate) => Some(f64::from(rate)),
        Event::Step(high, low) => Some(f64::from(if at >= down && at < up { low } else { high })),
        _ => None,
    }
}

fn tbf(kbps: u32) -> String {
    format!("tbf rate {kbps}kbit burst 8kb {QUEUE}")
}

/// Applies the profile's changes due by `elapsed` (counted in `done`).
fn drive(lab: &Lab, profile: &Profile, seconds: u32, elapsed: f64, done: &mut u32) {
    let (down, up) = changes(seconds);
    match profile.event {
        Event::Blackout => {
            let blackout = Impairment {
                loss: 1.0,
                ..profile.link
            };
            if *done == 0 && elapsed >= down {
                lab.impairers.iter().for_each(|i| i.set(blackout));
                *done = 1;
            } else if *done == 1 && elapsed >= down + BLACKOUT_MS / 1000.0 {
                lab.impairers.iter().for_each(|i| i.set(profile.link));
                *done = 2;
            }
        }
        Event::Step(high, low) => {
            if *done == 0 && elapsed >= down {
                lab.qdisc(&tbf(low));
                *done = 1;
            } else if *done == 1 && elapsed >= up {
                lab.qdisc(&tbf(high));
                *done = 2;
            }
        }
        Event::None | Event::Bottleneck(_) => {}
    }
}

/// A lab with the profile's link from the start, its losses and jitter drawn for
/// run `run`: each run of a profile loses other packets, every pairing's run `run`
/// the same share in the same places of its packet sequence.
fn lab_for(profile: &Profile, run: u32) -> Lab {
    let mut lab = Lab::new(profile.name).expect("the lab needs root");
    lab.impair_seeded(profile.link, u64::from(run));
    match profile.event {
        Event::Bottleneck(rate) | Event::Step(rate, _) => lab.qdisc(&tbf(rate)),
        _ => {}
    }
    lab
}

/// Reads a `peercall call`'s JSON lines as they come, each with when it came.
fn stamped_lines(
    child: &mut Child,
    origin: Arc<Mutex<Option<Instant>>>,
) -> std::thread::JoinHandle<Vec<(f64, Value)>> {
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in out.lines().map_while(Result::ok) {
            let origin = origin.lock().unwrap().unwrap_or_else(Instant::now);
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                lines.push((origin.elapsed().as_secs_f64(), value));
            }
        }
        lines
    })
}

/// Drains a child's stderr; `waiting` hears when it says the call waits.
fn drained_log(
    child: &mut Child,
    waiting: Option<mpsc::Sender<()>>,
) -> std::thread::JoinHandle<String> {
    let err = BufReader::new(child.stderr.take().expect("piped stderr"));
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in err.lines().map_while(Result::ok) {
            if line.contains("call waiting")
                && let Some(waiting) = &waiting
            {
                let _ = waiting.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    })
}

/// Our side from its stamped JSON lines.
fn native_side(lines: &[(f64, Value)]) -> Side {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut side = Side::default();
    for (at, l) in lines {
        if let Some(summary) = l.get("summary") {
            side.first_picture_ms = summary["first_frame_ms"].as_f64();
            side.longest_gap_ms = summary["last"]["video_in"]["longest_gap_ms"].as_f64();
            side.longest_live_gap_ms = summary["last"]["video_in"]["longest_live_gap_ms"].as_f64();
            continue;
        }
        if l.get("t").is_none() || l["state"] != "connected" {
            continue;
        }
        let (vi, ai) = (&l["video_in"], &l["audio_in"]);
        let latency = &vi["latency_ms"];
        side.seconds.push(Second {
            at: *at,
            fps: f(&vi["fps"]),
            kbps_out: f(&l["video_out"]["kbps"]) + f(&l["audio_out"]["kbps"]),
            rtt_ms: l["ice"]["rtt_ms"].as_f64(),
            jitter_buffer_ms: vi["jitter_buffer_ms"].as_f64(),
            glass: latency["p50"].as_f64().zip(latency["p95"].as_f64()),
            freezes: f(&vi["freezes"]),
            freeze_ms: f(&vi["freeze_ms"]),
            // Lost and not rebuilt from FEC: played as concealment (or silence).
            concealed: f(&ai["lost"]) - f(&ai["fec_recovered"]),
            audio: f(&ai["packets"]) + f(&ai["lost"]),
        });
    }
    side
}

/// Runs `peercall call` in `b` (and in `a` unless `caller_is_browser`) for `seconds`;
/// `during` runs every 50 ms with the seconds since b started, until the peers end.
/// Returns (a's side, b's side).
fn native_call(
    lab: &Lab,
    seconds: u32,
    with_a: bool,
    mut during: impl FnMut(f64),
) -> (Option<Side>, Side) {
    let origin = Arc::new(Mutex::new(None));
    let mut a = with_a.then(|| lab.peer(true, seconds, &[]));
    let a_parts = a.as_mut().map(|a| {
        let (waiting, is_waiting) = mpsc::channel();
        let log = drained_log(a, Some(waiting));
        let lines = stamped_lines(a, Arc::clone(&origin));
        (log, lines, is_waiting)
    });
    let a_parts = a_parts.map(|(log, lines, is_waiting)| {
        assert!(
            is_waiting.recv_timeout(Duration::from_secs(20)).is_ok(),
            "peer a never waited"
        );
        (log, lines)
    });
    *origin.lock().unwrap() = Some(Instant::now());
    let started = Instant::now();
    let mut b = lab.peer(false, seconds, &[]);
    let b_log = drained_log(&mut b, None);
    let b_lines = stamped_lines(&mut b, Arc::clone(&origin));
    loop {
        during(started.elapsed().as_secs_f64());
        let a_done = a
            .as_mut()
            .is_none_or(|a| a.try_wait().ok().flatten().is_some());
        if a_done && b.try_wait().ok().flatten().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(u64::from(seconds) + 60) {
            let _ = b.kill();
            if let Some(a) = a.as_mut() {
                let _ = a.kill();
            }
        }
        std::thread::sleep(ms(50));
    }
    let b_lines = b_lines.join().unwrap();
    let b_log = b_log.join().unwrap();
    if LOG.load(Ordering::Relaxed) {
        let values: Vec<Value> = b_lines.iter().map(|(_, v)| v.clone()).collect();
        eprintln!("b's seconds:\n{}", lab::brief(&values));
    }
    if b_lines.is_empty() {
        eprintln!("peer b said nothing; its log:\n{b_log}");
    }
    let a_side = a_parts.map(|(log, lines)| {
        let lines = lines.join().unwrap();
        if LOG.load(Ordering::Relaxed) {
            let values: Vec<Value> = lines.iter().map(|(_, v)| v.clone()).collect();
            eprintln!("a's seconds:\n{}", lab::brief(&values));
        }
        if lines.is_empty() {
            eprintln!("peer a said nothing; its log:\n{}", log.join().unwrap());
        }
        native_side(&lines)
    });
    (a_side, native_side(&b_lines))
}

/// Starts recording every new picture the page's remote video track delivers: the time
/// and the RTP timestamp it was sent with; returns the page's clock now (ms).
const RECORD_PICTURES: &str = "
    const video = document.getElementById('remote-video');
    const track = video?.srcObject?.getVideoTracks?.()[0];
    if (!track) return null;
    window.__pictures = [];
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    (async () => {
      let last = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        // A track that gets no new picture repeats its last one to this reader now
        // and then (same timestamp): not a new picture.
        if (value.timestamp !== last) {
          window.__pictures.push([performance.now(), value.metadata?.().rtpTimestamp ?? null]);
        }
        last = value.timestamp;
        value.close();
      }
    })();
    return performance.now();";

/// One `getStats` reading: the page's clock, pictures decoded, the jitter buffer's
/// totals, audio concealed and received (samples), payload bytes sent, the selected
/// pair's round trip (s).
const READ_STATS: &str = "
    const reports = [...(await window.peercall.call.pc.getStats()).values()];
    const o = { now: performance.now(), sent: 0 };
    let pairId = null;
    for (const r of reports) {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        o.jb = r.jitterBufferDelay; o.jbCount = r.jitterBufferEmittedCount;
      } else if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        o.concealed = r.concealedSamples; o.samples = r.totalSamplesReceived;
      } else if (r.type === 'outbound-rtp') {
        o.sent += r.bytesSent ?? 0;
      } else if (r.type === 'transport') {
        pairId = r.selectedCandidatePairId;
      }
    }
    const pair = reports.find((r) => r.id === pairId);
    o.rtt = pair?.currentRoundTripTime ?? null;
    return o;";

/// Where the lab's signaling server serves the web client.
fn web_origin(lab: &Lab) -> String {
    lab.server.replace("ws://", "http://").replace("/ws", "")
}

/// A Chromium in the lab: its page, and the offset of its clock to ours.
struct Page {
    browser: Browser,
    /// Our clock (s since origin) minus the page's clock (s), once recording.
    offset: Option<f64>,
    readings: Vec<(f64, Value)>,
}

impl Page {
    /// Chromium in `netns`, on no page yet.
    async fn launch(lab: &Lab, netns: &str) -> Page {
        let browser = Browser::launch_in_netns(netns, &web_origin(lab))
            .await
            .expect("Chromium");
        Page {
            browser,
            offset: None,
            readings: Vec::new(),
        }
    }

    /// Opens the web client, which joins the lab's room at once.
    async fn join(&self, lab: &Lab) {
        let page = format!("{}/?room=lab&autojoin=1", web_origin(lab));
        self.browser.open(&page).await.unwrap();
    }

    async fn state_is(&self, state: &str, limit: Duration) -> Result<(), String> {
        self.browser
            .wait_for(
                &format!("return window.peercall?.call?.state === '{state}'"),
                limit,
            )
            .await
            .map(|_| ())
    }

    /// One tick at `at` (s since origin): starts recording pictures once the remote
    /// video is there, and reads the stats when `read`.
    async fn tick(&mut self, at: f64, read: bool) {
        if self.offset.is_none()
            && let Ok(Some(now)) = self.browser.eval(RECORD_PICTURES).await.map(|v| v.as_f64())
        {
            self.offset = Some(at - now / 1000.0);
        }
        if read
            && self.offset.is_some()
            && let Ok(reading) = self.browser.eval_async(READ_STATS).await
        {
            self.readings.push((at, reading));
        }
    }

    /// Its side, once the call is over, or an error naming the page's call and
    /// connection state if it never showed a picture (`who` says whose page); closes
    /// the browser.
    async fn side(self, who: &str) -> Result<Side, String> {
        let pictures: Vec<(f64, Option<u32>)> = self
            .browser
            .eval("return window.__pictures ?? []")
            .await
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        if pictures.is_empty() {
            let state = self
                .browser
                .eval(
                    "const c = window.peercall?.call;
                     const failed = performance.getEntriesByType('resource')
                       .filter(e => e.responseStatus === 0)
                       .map(e => e.name.split('/').pop());
                     return `call ${c?.state}, ICE ${c?.pc?.iceConnectionState}, \
                       connection ${c?.pc?.connectionState}; the page says \
                       \"${document.getElementById('state')?.textContent}\", \
                       files that did not arrive: ${failed.join(' ') || 'none'}`;",
                )
                .await
                .unwrap_or_else(Value::String);
            self.browser.close().await;
            return Err(format!("the {who}'s page never showed a picture ({state})"));
        }
        let longest_live_gap_ms = live_gap(&pictures);
        let first = self
            .browser
            .eval("return window.peercall.timings.firstFrameMs ?? null")
            .await
            .ok()
            .and_then(|v| v.as_f64());
        self.browser.close().await;
        let offset = self.offset.unwrap_or(0.0);
        let pictures: Vec<f64> = pictures.iter().map(|p| p.0 / 1000.0 + offset).collect();
        let f = |v: &Value, k: &str| v[k].as_f64();
        let mut seconds = Vec::new();
        for pair in self.readings.windows(2) {
            let ((_, before), (at, now)) = (&pair[0], &pair[1]);
            let elapsed = (f(now, "now").unwrap_or(0.0) - f(before, "now").unwrap_or(0.0)) / 1000.0;
            if elapsed <= 0.0 {
                continue;
            }
            let delta = |k: &str| Some(f(now, k)? - f(before, k).unwrap_or(0.0));
            let jitter_buffer_ms = match (delta("jb"), delta("jbCount")) {
                (Some(delay), Some(count)) if count > 0.0 => Some(1000.0 * delay / count),
                _ => None,
            };
            seconds.push(Second {
                at: *at,
                fps: pictures
                    .iter()
                    .filter(|p| **p > at - elapsed && **p <= *at)
                    .count() as f64
                    / elapsed,
                kbps_out: delta("sent").unwrap_or(0.0) * 8.0 / 1000.0 / elapsed,
                rtt_ms: f(now, "rtt").map(|s| s * 1000.0),
                jitter_buffer_ms,
                glass: None,
                freezes: 0.0,
                freeze_ms: 0.0,
                concealed: f(now, "concealed").unwrap_or(0.0),
                audio: f(now, "samples").unwrap_or(0.0),
            });
        }
        Ok(Side {
            seconds,
            pictures: Some(pictures),
            longest_gap_ms: None,
            longest_live_gap_ms,
            first_picture_ms: first,
        })
    }
}

/// The longest gap between live pictures, from each picture's time (ms) and RTP
/// timestamp (90 kHz): its lateness is the time against the RTP time, on the offset
/// between the two clocks. `None` when the page gave no RTP timestamps.
fn live_gap(pictures: &[(f64, Option<u32>)]) -> Option<f64> {
    let mut rtp = TimestampUnwrapper::default();
    let mut liveness = Liveness::default();
    for &(at_ms, timestamp) in pictures {
        let sent_ms = rtp.unwrap(u64::from(timestamp?)) as f64 / 90.0;
        liveness.observe(at_ms, at_ms - sent_ms);
    }
    liveness.longest_gap_ms()
}

/// Opens the caller's page in `a` and waits until it waits in the room.
async fn waiting_caller(lab: &Lab) -> Result<Page, String> {
    let caller = Page::launch(lab, &lab.a).await;
    caller.join(lab).await;
    match caller.state_is("waiting", Duration::from_secs(30)).await {
        Ok(()) => Ok(caller),
        Err(err) => {
            caller.browser.close().await;
            Err(format!("the caller's page never waited: {err}"))
        }
    }
}

/// Ticks `page` every 100 ms (stats once a second) until `stop` is set.
async fn follow(mut page: Page, origin: Instant, stop: Arc<AtomicBool>) -> Page {
    let mut last_read = f64::MIN;
    while !stop.load(Ordering::Relaxed) {
        let now = origin.elapsed().as_secs_f64();
        let read = now - last_read >= 1.0;
        if read {
            last_read = now;
        }
        page.tick(now, read).await;
        tokio::time::sleep(ms(100)).await;
    }
    page
}

/// Chromium ↔ Chromium, caller in `a`, callee in `b`: (a's side, b's side), or why
/// the call failed.
async fn chromium_call(lab: &Lab, profile: &Profile, seconds: u32) -> Result<(Side, Side), String> {
    let mut callee = Page::launch(lab, &lab.b).await;
    let mut caller = match waiting_caller(lab).await {
        Ok(caller) => caller,
        Err(err) => {
            callee.browser.close().await;
            return Err(err);
        }
    };
    let origin = Instant::now();
    callee.join(lab).await;
    let (mut done, mut last_read) = (0, f64::MIN);
    while origin.elapsed().as_secs_f64() < f64::from(seconds) + 1.0 {
        let now = origin.elapsed().as_secs_f64();
        drive(lab, profile, seconds, now, &mut done);
        let read = now - last_read >= 1.0;
        if read {
            last_read = now;
        }
        caller.tick(now, read).await;
        callee.tick(now, read).await;
        tokio::time::sleep(ms(100)).await;
    }
    match (caller.side("caller").await, callee.side("callee").await) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err([a.err(), b.err()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Chromium in `a` calling `peercall call` in `b`: (a's side, b's side), or why the
/// call failed.
fn mixed_call(
    runtime: &tokio::runtime::Runtime,
    lab: &Lab,
    profile: &Profile,
    seconds: u32,
) -> Result<(Side, Side), String> {
    let caller = runtime.block_on(waiting_caller(lab))?;
    let stop = Arc::new(AtomicBool::new(false));
    let origin = Instant::now();
    let page = runtime.spawn(follow(caller, origin, Arc::clone(&stop)));
    let mut done = 0;
    let (_, b) = native_call(lab, seconds, false, |elapsed| {
        drive(lab, profile, seconds, elapsed, &mut done)
    });
    stop.store(true, Ordering::Relaxed);
    let a =
        runtime.block_on(async { page.await.expect("the page's task").side("caller").await })?;
    Ok((a, b))
}

/// Freezes in the pictures' times from `from` to `to`: count, total ms, longest ms.
fn gaps(pictures: &[f64], from: f64, to: f64) -> (f64, f64, f64) {
    let mut times: Vec<f64> = pictures
        .iter()
        .copied()
        .filter(|p| *p >= from && *p <= to)
        .collect();
    times.push(to);
    let (mut count, mut total, mut longest) = (0.0, 0.0, 0.0f64);
    for pair in times.windows(2) {
        let gap = (pair[1] - pair[0]) * 1000.0;
        longest = longest.max(gap);
        if gap > FREEZE_MS {
            count += 1.0;
            total += gap;
        }
    }
    (count, total, longest)
}

/// The figures of one direction: `receiver` got what `sender` sent.
fn figures(
    profile: &Profile,
    seconds: u32,
    receiver: &Side,
    sender: &Side,
    callee: bool,
) -> Figures {
    let mut out = Figures::new();
    let end = f64::from(seconds) + 0.5;
    let window: Vec<&Second> = receiver.seconds.iter().filter(|s| s.at >= WARMUP).collect();
    if let Some(fps) = median(window.iter().map(|s| s.fps).collect()) {
        out.insert("fps p50", fps);
    }
    let longest = match &receiver.pictures {
        Some(pictures) => {
            let to = receiver.seconds.last().map_or(end, |s| s.at);
            let (count, total, longest) = gaps(pictures, WARMUP, to);
            out.insert("freezes", count);
            out.insert("freeze time ms", total);
            let all = gaps(pictures, 0.0, to).2;
            Some(all.max(longest))
        }
        None => {
            if let (Some(first), Some(last)) = (window.first(), window.last()) {
                out.insert("freezes", last.freezes - first.freezes);
                out.insert("freeze time ms", last.freeze_ms - first.freeze_ms);
            }
            receiver.longest_gap_ms
        }
    };
    let glass: Vec<(f64, f64)> = window.iter().filter_map(|s| s.glass).collect();
    if !glass.is_empty() {
        let p50 = median(glass.iter().map(|g| g.0).collect());
        let p95 = percentile(&sorted(glass.iter().map(|g| g.1).collect()), 0.95);
        out.extend(p50.map(|v| ("glass-to-glass p50 ms", v)));
        out.extend(p95.map(|v| ("glass-to-glass p95 ms", v)));
    }
    let receive: Vec<f64> = window
        .iter()
        .filter_map(|s| Some(s.rtt_ms? / 2.0 + s.jitter_buffer_ms?))
        .collect();
    out.extend(median(receive).map(|v| ("RTT/2 + jitter buffer ms", v)));
    if let (Some(first), Some(last)) = (window.first(), window.last())
        && last.audio > first.audio
    {
        out.insert(
            "audio concealed %",
            100.0 * (last.concealed - first.concealed) / (last.audio - first.audio),
        );
    }
    if profile.event == Event::Blackout {
        // From the link's return, give or take a frame interval and the receiver's
        // usual delay: to the first picture (Chromium's is a replay of the outage, up to
        // 2 s old), and to the first live one.
        let after = |gap: f64| (gap - BLACKOUT_MS).max(0.0);
        out.extend(longest.map(|gap| ("first picture after blackout ms", after(gap))));
        out.extend(
            receiver
                .longest_live_gap_ms
                .map(|gap| ("live picture after blackout ms", after(gap))),
        );
    }
    if let Some(rate) = capacity(profile.event, seconds, 0.0) {
        let (down, up) = changes(seconds);
        // The phase whose settling is measured: the whole call for a fixed bottleneck,
        // the low step for a step.
        let (start, stop, rate) = match profile.event {
            Event::Step(_, low) => (down, up, f64::from(low)),
            _ => (0.0, end, rate),
        };
        let phase: Vec<&Second> = sender
            .seconds
            .iter()
            .filter(|s| s.at > start && s.at <= stop + 0.5)
            .collect();
        // Settled: from this second on, never above the link's rate.
        let settled = phase
            .iter()
            .rposition(|s| s.kbps_out > rate)
            .map_or(0, |i| i + 1);
        let settle = phase.get(settled).map_or(stop - start, |s| s.at - start);
        out.insert("time to settle s", settle);
        let late: Vec<&&Second> = phase.iter().filter(|s| s.at >= start + 5.0).collect();
        if let Some(kbps) = median(late.iter().map(|s| s.kbps_out).collect()) {
            out.insert("link used %", 100.0 * kbps / rate);
        }
        let base = match profile.event {
            Event::Step(..) => median(
                sender
                    .seconds
                    .iter()
                    .filter(|s| s.at >= WARMUP && s.at < down)
                    .filter_map(|s| s.rtt_ms)
                    .collect(),
            ),
            _ => Some(0.0),
        };
        if let (Some(base), Some(rtt)) =
            (base, median(late.iter().filter_map(|s| s.rtt_ms).collect()))
        {
            out.insert("RTT rise ms", rtt - base);
        }
    }
    if callee && let Some(first) = receiver.first_picture_ms {
        out.insert("callee join → first picture ms", first);
        if profile.name == "rtt120" {
            out.insert("callee join → first picture, RTTs", first / 120.0);
        }
    }
    out
}

/// Which way the pictures went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Column {
    Native,
    Chromium,
    ChromiumToNative,
    NativeToChromium,
}

/// Whether more of a metric is better.
fn higher_is_better(metric: &str) -> bool {
    matches!(metric, "fps p50" | "link used %")
}

/// `median [min–max]` of the runs.
fn cell(values: Option<&Vec<f64>>) -> String {
    let Some(values) = values.filter(|v| !v.is_empty()) else {
        return "–".into();
    };
    let values = sorted(values.clone());
    let at = |q| percentile(&values, q).unwrap_or(f64::NAN);
    let fmt = |v: f64| {
        if v.abs() >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    if values.len() == 1 {
        fmt(at(0.5))
    } else {
        format!("{} [{}–{}]", fmt(at(0.5)), fmt(at(0.0)), fmt(at(1.0)))
    }
}

/// How many times better peercall ↔ peercall is than Chromium ↔ Chromium (over 1:
/// better).
fn advantage(metric: &str, native: Option<&Vec<f64>>, chromium: Option<&Vec<f64>>) -> String {
    let (Some(n), Some(c)) = (
        native.and_then(|v| median(v.clone())),
        chromium.and_then(|v| median(v.clone())),
    ) else {
        return "–".into();
    };
    // Using more of the link than it has is as bad as using as much less.
    let score = |v: f64| {
        if metric == "link used %" {
            v.min(200.0 - v)
        } else {
            v
        }
    };
    let (n, c) = (score(n), score(c));
    let (better, worse) = if higher_is_better(metric) {
        (n, c)
    } else {
        (c, n)
    };
    if better.abs() < 1e-9 && worse.abs() < 1e-9 {
        "=".into()
    } else if worse.abs() < 1e-9 {
        "∞".into()
    } else {
        format!("{:.2}", better / worse)
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("the impaired-link benchmark builds network namespaces: run it as root");
        std::process::exit(2);
    }
    let args = <Args as clap::Parser>::parse();
    LOG.store(args.log == 1, Ordering::Relaxed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // (profile, metric) → column → the runs' values.
    let mut table: BTreeMap<(usize, &'static str), BTreeMap<Column, Vec<f64>>> = BTreeMap::new();
    let mut add = |p: usize, column: Column, figures: Figures| {
        for (metric, value) in figures {
            if value.is_finite() {
                table
                    .entry((p, metric))
                    .or_default()
                    .entry(column)
                    .or_default()
                    .push(value);
            }
        }
    };
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load before: {}", load().trim());
    let seconds = args.seconds;
    // The calls that failed, and why: left out of the table, and the run fails.
    let mut failed = Vec::new();
    for run in 0..args.runs {
        for (p, profile) in args.profiles.iter().enumerate() {
            for pairing in &args.pairings {
                let lab = lab_for(profile, run);
                let started = Instant::now();
                let call = format!("run {run}, {}, {pairing:?}", profile.name);
                let mut leave_out = |err: String| {
                    eprintln!("{call}: left out: {err}");
                    failed.push(format!("{call}: {err}"));
                };
                match pairing {
                    Pairing::Native => {
                        let mut done = 0;
                        let (a, b) = native_call(&lab, seconds, true, |elapsed| {
                            drive(&lab, profile, seconds, elapsed, &mut done)
                        });
                        let a = a.expect("peer a");
                        let blind: Vec<_> = [("a", &a), ("b", &b)]
                            .into_iter()
                            .filter(|(_, side)| side.first_picture_ms.is_none())
                            .map(|(who, _)| who)
                            .collect();
                        if !blind.is_empty() {
                            leave_out(format!(
                                "peer {} never showed a picture",
                                blind.join(" and ")
                            ));
                            continue;
                        }
                        let (to_b, to_a) = (
                            figures(profile, seconds, &b, &a, true),
                            figures(profile, seconds, &a, &b, false),
                        );
                        eprintln!(
                            "{} pp a->b {to_b:?}\n{} pp b->a {to_a:?}",
                            profile.name, profile.name
                        );
                        add(p, Column::Native, to_b);
                        add(p, Column::Native, to_a);
                    }
                    Pairing::Chromium | Pairing::Mixed => {
                        let mixed = *pairing == Pairing::Mixed;
                        let sides = if mixed {
                            mixed_call(&runtime, &lab, profile, seconds)
                        } else {
                            runtime.block_on(chromium_call(&lab, profile, seconds))
                        };
                        let (a, b) = match sides {
                            Ok(sides) => sides,
                            Err(err) => {
                                leave_out(err);
                                continue;
                            }
                        };
                        let (to_b, to_a) = if mixed {
                            (Column::ChromiumToNative, Column::NativeToChromium)
                        } else {
                            (Column::Chromium, Column::Chromium)
                        };
                        let (b_got, a_got) = (
                            figures(profile, seconds, &b, &a, true),
                            figures(profile, seconds, &a, &b, false),
                        );
                        eprintln!(
                            "{} {pairing:?} a->b {b_got:?}\n{} {pairing:?} b->a {a_got:?}",
                            profile.name, profile.name
                        );
                        add(p, to_b, b_got);
                        add(p, to_a, a_got);
                    }
                }
                eprintln!(
                    "run {run}, {}, {pairing:?}: {:.0} s, load {}",
                    profile.name,
                    started.elapsed().as_secs_f64(),
                    load().trim()
                );
            }
        }
    }
    println!("load after: {}", load().trim());
    println!(
        "\n{} run(s) of {seconds} s; median [min–max] of the runs; ratio: how many times \
         better peercall ↔ peercall is than Chromium ↔ Chromium (over 1: better)\n",
        args.runs
    );
    println!(
        "| profile | metric | peercall ↔ peercall | Chromium ↔ Chromium | ratio | Chromium → peercall | peercall → Chromium |"
    );
    println!("|---|---|---|---|---|---|---|");
    for ((p, metric), columns) in &table {
        let profile = &args.profiles[*p];
        println!(
            "| {} | {metric} | {} | {} | {} | {} | {} |",
            profile.name,
            cell(columns.get(&Column::Native)),
            cell(columns.get(&Column::Chromium)),
            advantage(
                metric,
                columns.get(&Column::Native),
                columns.get(&Column::Chromium)
            ),
            cell(columns.get(&Column::ChromiumToNative)),
            cell(columns.get(&Column::NativeToChromium)),
        );
    }
    println!();
    for profile in &args.profiles {
        println!("{}: {}", profile.name, profile.what);
    }
    if !failed.is_empty() {
        println!("\n{} call(s) failed and were left out:", failed.len());
        for call in &failed {
            println!("- {call}");
        }
        std::process::exit(1);
    }
}
