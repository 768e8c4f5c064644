//! Call benchmarks on 127.0.0.1: `cargo bench -p peercall --bench call`.
//!
//! - time from the callee's join to its first decoded remote picture, over repeated
//!   calls (distribution);
//! - glass-to-glass latency of every picture at 640x480@30 and 1280x720@30, from the
//!   capture time the test pattern carries (distribution), in H.264 and in VP8;
//! - CPU of one `peercall call` process sending and receiving 1280x720@30, as a share of
//!   one core: each second's (distribution), the whole call's, and by thread; in H.264,
//!   VP8 and VP9;
//! - its resident memory over a long call (growth after warm-up should be flat).
//!
//! Flags: `--runs N` (calls for the join figure, default 20), `--seconds S` (length of
//! each latency and CPU call, default 20), `--memory-minutes M` (default 10; 0 skips).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use call::{CallOptions, FrameSink, run_call};
use media::VideoFormat;
use media::codec::VideoCodec;
use media::frame::now_us;
use media::pattern::read_code;
use signaling_proto::RoomId;
use testkit::report;

struct Args {
    runs: u32,
    seconds: u64,
    memory_minutes: u64,
}

fn args() -> Args {
    let mut parsed = Args {
        runs: 20,
        seconds: 20,
        memory_minutes: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok());
        match arg.as_str() {
            "--runs" => parsed.runs = value().unwrap_or(parsed.runs as u64) as u32,
            "--seconds" => parsed.seconds = value().unwrap_or(parsed.seconds),
            "--memory-minutes" => parsed.memory_minutes = value().unwrap_or(0),
            _ => {} // cargo bench passes --bench
        }
    }
    parsed
}

/// A peer on 127.0.0.1 sending the test sources in `format` for `seconds`, `codec` first.
fn options_in(
    server: SocketAddr,
    room: &str,
    format: VideoFormat,
    seconds: u64,
    codec: VideoCodec,
) -> CallOptions {
    let mut o = CallOptions::new(format!("ws://{server}/ws"), RoomId::new(room).unwrap());
    o.video_codec = Some(codec);
    o.bind = vec!["127.0.0.1:0".parse().unwrap()];
    o.format = format;
    o.duration = Some(Duration::from_secs(seconds));
    o
}

const VGA: VideoFormat = VideoFormat {
    width: 640,
    height: 480,
    fps: 30.0,
};
const HD: VideoFormat = VideoFormat {
    width: 1280,
    height: 720,
    fps: 30.0,
};

/// One call; the callee joins once the caller waits. Returns the callee's summary and
/// the glass-to-glass latency (ms) of every picture it decoded, with when (s after
/// joining).
async fn call(
    server: SocketAddr,
    room: &str,
    format: VideoFormat,
    seconds: u64,
) -> (call::Summary, Vec<(f64, f64)>) {
    call_in(server, room, format, seconds, VideoCodec::H264).await
}

/// [`call`] in `codec`.
async fn call_in(
    server: SocketAddr,
    room: &str,
    format: VideoFormat,
    seconds: u64,
    codec: VideoCodec,
) -> (call::Summary, Vec<(f64, f64)>) {
    let caller = tokio::spawn(run_call(
        options_in(server, room, format, seconds, codec),
        |_| {},
        std::future::pending(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&latencies);
    let mut callee = options_in(server, room, format, seconds, codec);
    let joined = Instant::now();
    callee.remote_video = Some(FrameSink(Arc::new(move |picture| {
        if let Some(code) = read_code(picture) {
            let ms = now_us().saturating_sub(code.capture_us) as f64 / 1000.0;
            sink.lock()
                .unwrap()
                .push((joined.elapsed().as_secs_f64(), ms));
        }
    })));
    let summary = run_call(callee, |_| {}, std::future::pending()).await;
    let _ = caller.await;
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    (summary, latencies)
}

/// One look at a process: when (s after start), its CPU ticks (1/100 s, so ticks per
/// second are percent of one core), resident KiB, and ticks by thread name.
struct Sample {
    at: f64,
    ticks: u64,
    rss_kib: u64,
    threads: BTreeMap<String, u64>,
}

/// CPU ticks, resident KiB and ticks by thread name of a process.
fn usage(pid: u32, at: f64) -> Option<Sample> {
    let ticks = common::cpu_ticks(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut threads = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let ticks = common::cpu_ticks(path.join("stat")).unwrap_or(0);
        *threads.entry(name.trim().to_owned()).or_default() += ticks;
    }
    Some(Sample {
        at,
        ticks,
        rss_kib,
        threads,
    })
}

fn peer_process(server: SocketAddr, room: &str, seconds: u64, codec: VideoCodec) -> Child {
    Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args([
            "--bind",
            "127.0.0.1:0",
            "--width",
            "1280",
            "--height",
            "720",
        ])
        .args(["--duration", &seconds.to_string()])
        .args(["--video-codec", &codec.sdp_name().to_lowercase()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("peercall binary")
}

/// Two `peercall call` processes at 720p30 in `codec`; samples the second's CPU and
/// memory every `every` until they end.
async fn processes(
    server: SocketAddr,
    room: &str,
    seconds: u64,
    every: Duration,
    codec: VideoCodec,
) -> Vec<Sample> {
    let mut a = peer_process(server, room, seconds, codec);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut b = peer_process(server, room, seconds, codec);
    let start = Instant::now();
    let mut samples = Vec::new();
    while b.try_wait().ok().flatten().is_none() {
        tokio::time::sleep(every).await;
        samples.extend(usage(b.id(), start.elapsed().as_secs_f64()));
    }
    let _ = a.wait();
    samples
}

#[tokio::main]
async fn main() {
    let args = args();
    let server = common::server().await;

    let mut first_frames = Vec::new();
    let mut connects = Vec::new();
    for run in 0..args.runs {
        let (summary, _) = call(server, &format!("join-{run}"), VGA, 1).await;
        first_frames.extend(summary.first_frame_ms.map(|ms| ms as f64));
        connects.extend(summary.connect_ms.map(|ms| ms as f64));
    }
    report("callee join -> connected", connects, "ms");
    report(
        "callee join -> first remote picture decoded",
        first_frames,
        "ms",
    );

    // H.264 and VP8 in the same run, one after the other, so the two compare.
    for (codec, (label, format)) in [VideoCodec::H264, VideoCodec::Vp8]
        .into_iter()
        .flat_map(|c| [("640x480@30", VGA), ("1280x720@30", HD)].map(|f| (c, f)))
    {
        let room = format!("{}-{}", codec.sdp_name(), label.replace('@', "-"));
        let (summary, latencies) = call_in(server, &room, format, args.seconds, codec).await;
        let label = format!("{label} {codec}");
        let steady = latencies
            .iter()
            .filter(|(t, _)| *t >= 3.0)
            .map(|(_, ms)| *ms)
            .collect();
        report(
            &format!("glass-to-glass {label}, whole call"),
            latencies.into_iter().map(|(_, ms)| ms).collect(),
            "ms",
        );
        report(
            &format!("glass-to-glass {label}, after the first 3 s"),
            steady,
            "ms",
        );
        if let Some(last) = summary.last {
            println!(
                "  received {} fps, {}x{}, {} kbit/s at the end",
                last.video_in.fps, last.video_in.width, last.video_in.height, last.video_in.kbps
            );
        }
    }

    for codec in VideoCodec::ALL {
        let samples = processes(
            server,
            &format!("cpu-{}", codec.sdp_name()),
            args.seconds,
            Duration::from_secs(1),
            codec,
        )
        .await;
        // Skip the first seconds (start-up, encoder warm-up), as far as the run allows.
        let warm_up = (args.seconds as f64 / 4.0).min(3.0);
        let steady: Vec<_> = samples.iter().filter(|s| s.at >= warm_up).collect();
        report(
            &format!("CPU of one peer sending and receiving 1280x720@30 in {codec}, each second"),
            steady
                .windows(2)
                .map(|w| (w[1].ticks - w[0].ticks) as f64 / (w[1].at - w[0].at))
                .collect(),
            "% of one core",
        );
        if let (Some(first), Some(last)) = (steady.first(), steady.last()) {
            let seconds = last.at - first.at;
            let share = |from: u64, to: u64| (to - from) as f64 / seconds;
            let threads: Vec<String> = last
                .threads
                .iter()
                .map(|(name, to)| {
                    let from = first.threads.get(name).copied().unwrap_or(0);
                    format!("{name} {:.1}%", share(from, *to))
                })
                .collect();
            println!(
                "  over {seconds:.0} s: {:.1}% of one core; by thread: {}",
                share(first.ticks, last.ticks),
                threads.join(", ")
            );
        }
    }

    if args.memory_minutes > 0 {
        let seconds = args.memory_minutes * 60;
        let samples = processes(
            server,
            "memory",
            seconds,
            Duration::from_secs(10),
            VideoCodec::H264,
        )
        .await;
        let at = |t: f64| {
            samples
                .iter()
                .find(|s| s.at >= t)
                .or(samples.last())
                .map(|s| s.rss_kib)
        };
        if let (Some(warm), Some(end)) = (at(60.0_f64.min(seconds as f64 / 2.0)), samples.last()) {
            let minutes = (end.at - 60.0_f64.min(seconds as f64 / 2.0)) / 60.0;
            println!(
                "memory of one peer over {} min at 720p30: {} KiB after warm-up, {} KiB at the end ({:+.0} KiB/min)",
                args.memory_minutes,
                warm,
                end.rss_kib,
                (end.rss_kib as f64 - warm as f64) / minutes.max(1.0 / 60.0)
            );
        }
    }
}
