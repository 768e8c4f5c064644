//! Soak runs on 127.0.0.1: `cargo bench -p peercall --bench soak`.
//!
//! - Calls in a row: one `peercall call --stay` process while other peers come, call
//!   for a few seconds and go, `--calls N` times (default 100). Its resident memory and
//!   open file descriptors once it waits alone again after each call, against the
//!   baseline after the first (warm-up) call: where it ends should be where it began.
//! - One long call: two `peercall call` processes at 1280x720@30 for `--minutes M`
//!   (default 30; 0 skips). The receiving one's resident memory and glass-to-glass
//!   latency (its stats' p50 each second), first minute against last.
//!
//! Flags: `--calls N`, `--call-seconds S` (length of each call in a row, default 3),
//! `--minutes M`.

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::report;

/// A `peercall call` in `room` on 127.0.0.1 with `flags`, its stdout lines and log
/// lines collected.
struct Peer {
    child: Child,
    stats: Arc<Mutex<Vec<serde_json::Value>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer(server: SocketAddr, room: &str, flags: &[&str]) -> Peer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args(["--bind", "127.0.0.1:0"])
        .args(flags)
        .env("RUST_LOG", "warn,peercall=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("peercall binary");
    let stats = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let sink = Arc::clone(&stats);
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line) {
                sink.lock().unwrap().push(value);
            }
        }
    });
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Peer { child, stats, log }
}

impl Peer {
    /// How often it has logged that its call waits alone in the room.
    fn times_waiting(&self) -> usize {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains("call waiting")).count()
    }

    /// Waits (up to 30 s) until it has logged waiting `n` times.
    async fn waiting(&self, n: usize) {
        let until = Instant::now() + Duration::from_secs(30);
        while self.times_waiting() < n {
            assert!(Instant::now() < until, "not waiting again within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident memory, KiB.
    fn rss_kib(&self) -> u64 {
        testkit::resident_kib(self.child.id()).unwrap_or(0)
    }

    /// Open file descriptors.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// Memory and descriptors once the staying peer is alone again: the first reading
/// taken when its descriptor count stops changing (closing sockets and threads takes a
/// moment), at most 5 s after it said it waits.
async fn settled(subject: &Peer) -> (u64, usize) {
    let until = Instant::now() + Duration::from_secs(5);
    let mut fds = subject.fds();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = subject.fds();
        if now == fds || Instant::now() >= until {
            return (subject.rss_kib(), now);
        }
        fds = now;
    }
}

async fn calls_in_a_row(server: SocketAddr, calls: u32, seconds: u64) {
    let subject = peer(
        server,
        "soak",
        &["--stay", "--width", "320", "--height", "240"],
    );
    subject.waiting(1).await;
    let seconds = seconds.to_string();
    let mut readings = Vec::new();
    for n in 1..=calls {
        let mut visitor = peer(
            server,
            "soak",
            &["--duration", &seconds, "--width", "320", "--height", "240"],
        );
        let _ = tokio::task::spawn_blocking(move || visitor.child.wait()).await;
        subject.waiting(n as usize + 1).await;
        readings.push(settled(&subject).await);
    }
    let (base_rss, base_fds) = readings[0];
    let (end_rss, end_fds) = *readings.last().unwrap();
    println!(
        "{calls} calls in a row in one process (after the first -> after the last): \
         resident memory {base_rss} -> {end_rss} KiB ({:+} KiB), open descriptors {base_fds} -> {end_fds} ({:+})",
        end_rss as i64 - base_rss as i64,
        end_fds as i64 - base_fds as i64,
    );
    report(
        "resident memory between calls, against the first",
        readings
            .iter()
            .map(|&(rss, _)| rss as f64 - base_rss as f64)
            .collect(),
        "KiB",
    );
    report(
        "open descriptors between calls, against the first",
        readings
            .iter()
            .map(|&(_, fds)| fds as f64 - base_fds as f64)
            .collect(),
        "",
    );
}

async fn long_call(server: SocketAddr, minutes: u64) {
    let flags = [
        "--width",
        "1280",
        "--height",
        "720",
        "--duration",
        &(minutes * 60).to_string(),
    ];
    let caller = peer(server, "long", &flags);
    caller.waiting(1).await;
    let callee = peer(server, "long", &flags);
    let start = Instant::now();
    let mut memory = Vec::new();
    while callee
        .stats
        .lock()
        .unwrap()
        .last()
        .is_none_or(|l| l.get("summary").is_none())
    {
        tokio::time::sleep(Duration::from_secs(10)).await;
        // Nothing once it has exited (its summary may still be on the way).
        let rss = callee.rss_kib();
        if rss > 0 {
            memory.push((start.elapsed().as_secs_f64(), rss));
        }
    }
    let stats = callee.stats.lock().unwrap().clone();
    let latency = |from: u64, to: u64| -> Vec<f64> {
        stats
            .iter()
            .filter(|l| l["t"].as_u64().is_some_and(|t| (from..to).contains(&t)))
            .filter_map(|l| l["video_in"]["latency_ms"]["p50"].as_f64())
            .collect()
    };
    let end = minutes * 60;
    report(
        "glass-to-glass p50 each second, first minute",
        latency(5, 60),
        "ms",
    );
    report(
        "glass-to-glass p50 each second, last minute",
        latency(end.saturating_sub(60), end),
        "ms",
    );
    let after_warm_up = memory.iter().find(|(t, _)| *t >= 60.0).or(memory.first());
    if let (Some(&(t0, warm)), Some(&(t1, last))) = (after_warm_up, memory.last()) {
        println!(
            "resident memory of the receiving peer over {minutes} min at 1280x720@30: \
             {warm} KiB after the first minute, {last} KiB at the end ({:+.0} KiB/min)",
            (last as f64 - warm as f64) / ((t1 - t0) / 60.0).max(1.0 / 60.0)
        );
    }
    drop(caller);
}

#[tokio::main]
async fn main() {
    let calls: u32 = common::flag("--calls", 100);
    let call_seconds: u64 = common::flag("--call-seconds", 3);
    let minutes: u64 = common::flag("--minutes", 30);
    let server = common::server().await;
    if calls > 0 {
        calls_in_a_row(server, calls, call_seconds).await;
    }
    if minutes > 0 {
        long_call(server, minutes).await;
    }
}
