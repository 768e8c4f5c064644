//! `peercall call` over an impaired link: two network namespaces joined by a veth
//! pair, loss/delay/jitter/blackout on both ends (user-space netem through NFQUEUE,
//! as this kernel has no `sch_netem`) or a `tbf` bottleneck, the signaling server in
//! the first namespace, one peer process in each.
//!
//! Needs root (namespaces and qdiscs); CI runs as root. Every address used is one of
//! the namespaces' own (10.99.0.0/24), so nothing leaves the machine.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;
use testkit::netem::{Impairer, Impairment};

/// The calls are real-time: run one scenario at a time on the two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Two namespaces `a` and `b` joined by veth `va`–`vb` (10.99.0.1 – 10.99.0.2).
struct Lab {
    a: String,
    b: String,
    stop_server: Option<tokio::sync::oneshot::Sender<()>>,
    server: String,
    impairers: Vec<Impairer>,
}

fn ip(args: &[&str]) {
    run("ip", args);
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    /// Sets the namespaces up, or `None` when not root: then the test is skipped
    /// loudly, or fails in CI (which runs as root).
    fn new(name: &str) -> Option<Lab> {
        if !nix::unistd::geteuid().is_root() {
            testkit::skip_or_fail("network namespaces need root (CI runs as root)");
            return None;
        }
        let tag = format!("{}-{}", std::process::id() % 100_000, name);
        let (a, b) = (format!("pca-{tag}"), format!("pcb-{tag}"));
        ip(&["netns", "add", &a]);
        ip(&["netns", "add", &b]);
        let mut lab = Lab {
            a: a.clone(),
            b: b.clone(),
            stop_server: None,
            server: String::new(),
            impairers: Vec::new(),
        };
        ip(&[
            "link", "add", "va", "netns", &a, "type", "veth", "peer", "name", "vb", "netns", &b,
        ]);
        for (ns, dev, addr) in [(&a, "va", "10.99.0.1/24"), (&b, "vb", "10.99.0.2/24")] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        lab.start_server();
        Some(lab)
    }

    /// Runs the signaling server in namespace `a` on 10.99.0.1: a thread that enters
    /// the namespace opens its socket there.
    fn start_server(&mut self) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let netns = File::open(format!("/var/run/netns/{}", self.a)).unwrap();
        std::thread::spawn(move || {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("10.99.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                signaling_server::serve(listener, signaling_server::Config::default(), async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        self.server = format!("ws://{addr}/ws");
        self.stop_server = Some(stop);
    }

    /// Impairs what leaves both ends (each direction) from now on.
    fn impair(&mut self, impairment: Impairment) {
        if self.impairers.is_empty() {
            for (ns, dev) in [(&self.a, "va"), (&self.b, "vb")] {
                self.impairers
                    .push(Impairer::start(ns, dev, 7, impairment).unwrap());
            }
        }
        for impairer in &self.impairers {
            impairer.set(impairment);
        }
    }

    /// Replaces the root qdisc of both ends with `qdisc` (e.g. a `tbf` bottleneck).
    fn qdisc(&self, qdisc: &str) {
        for (ns, dev) in [(&self.a, "va"), (&self.b, "vb")] {
            let mut args = vec!["-n", ns, "qdisc", "replace", "dev", dev, "root"];
            args.extend(qdisc.split_whitespace());
            run("tc", &args);
        }
    }

    /// Starts `peercall call` in namespace `a` (`first`) or `b`, with `flags` added.
    fn peer(&self, first: bool, seconds: u32, flags: &[&str]) -> Child {
        let (ns, bind) = if first {
            (&self.a, "10.99.0.1:0")
        } else {
            (&self.b, "10.99.0.2:0")
        };
        Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_peercall"), "call"])
            .args(["--server", &self.server, "--room", "lab", "--bind", bind])
            .args(["--duration", &seconds.to_string()])
            .args(flags)
            .env("RUST_LOG", "warn,peercall=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Both peers, `b` joining once `a` waits in the room; `during` runs while they
    /// call.
    fn call(&self, seconds: u32, during: impl FnOnce()) -> (Vec<Value>, Vec<Value>) {
        self.call_with(seconds, &[], during)
    }

    /// [`Lab::call`] with `flags` given to both peers.
    fn call_with(
        &self,
        seconds: u32,
        flags: &[&str],
        during: impl FnOnce(),
    ) -> (Vec<Value>, Vec<Value>) {
        let mut a = self.peer(true, seconds, flags);
        // a's log, read as it comes: b starts once a says it is waiting.
        let (waiting, is_waiting) = mpsc::channel();
        let a_log = BufReader::new(a.stderr.take().unwrap());
        let a_log = std::thread::spawn(move || {
            let mut log = String::new();
            for line in a_log.lines().map_while(Result::ok) {
                if line.contains("call waiting") {
                    let _ = waiting.send(());
                }
                log.push_str(&line);
                log.push('\n');
            }
            log
        });
        if is_waiting.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = a.kill();
            panic!("peer a never waited; its log:\n{}", a_log.join().unwrap());
        }
        let b = self.peer(false, seconds, flags);
        during();
        let lines = |out: Output, stderr: String| {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
                .collect();
            assert!(!lines.is_empty(), "no output; stderr: {stderr}");
            lines
        };
        let a_out = a.wait_with_output().unwrap();
        let b_out = b.wait_with_output().unwrap();
        let b_log = String::from_utf8_lossy(&b_out.stderr).to_string();
        (lines(a_out, a_log.join().unwrap()), lines(b_out, b_log))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.impairers.clear();
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The per-second lines from `t >= from`, and the summary line.
fn split(lines: &[Value], from: u64) -> (Vec<&Value>, &Value) {
    let (summary, stats) = lines.split_last().unwrap();
    let after = stats
        .iter()
        .filter(|l| l["t"].as_u64().unwrap() >= from)
        .collect();
    (after, summary)
}

/// One short line a second: what a failure message needs to tell what went wrong.
fn brief(lines: &[Value]) -> String {
    lines
        .iter()
        .filter(|l| l.get("t").is_some())
        .map(|l| {
            let (o, i) = (&l["video_out"], &l["video_in"]);
            format!(
                "t={} out: {}kbps {}fps {}x{} target {} est {} loss {}% | in: {}fps {}kbps lost {} kf-req {} gap {}ms nacks {} renacked {} rtt {}",
                l["t"], o["kbps"], o["fps"], o["width"], o["height"], o["target_kbps"],
                o["estimate_kbps"], o["loss_pct"], i["fps"], i["kbps"], i["lost_frames"],
                i["keyframe_requests"], i["longest_gap_ms"], i["nacks"], i["renacked"],
                l["ice"]["rtt_ms"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn mean(lines: &[&Value], field: impl Fn(&Value) -> f64) -> f64 {
    lines.iter().map(|l| field(l)).sum::<f64>() / lines.len().max(1) as f64
}

#[test]
fn five_percent_loss_40_ms_rtt_and_jitter_keep_25_fps_without_freezes() {
    lossy_link_keeps_25_fps_without_freezes(&[], "H264");
}

#[test]
fn five_percent_loss_40_ms_rtt_and_jitter_keep_25_fps_without_freezes_in_vp8() {
    lossy_link_keeps_25_fps_without_freezes(&["--video-codec", "vp8"], "VP8");
}

/// A 15 s call with `flags` over 40 ms RTT, ±5 ms jitter and 5% loss each way: ≥ 25 fps
/// after the first 3 s, no gap over 500 ms, NACKs sent, Opus FEC told, video in `codec`.
fn lossy_link_keeps_25_fps_without_freezes(flags: &[&str], codec: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut lab) = Lab::new("loss") else {
        return;
    };
    // 20 ms each way (40 ms RTT), ±5 ms each way, 5% of packets lost each way.
    lab.impair(Impairment {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(std::env::var("J").map_or(5, |v| v.parse().unwrap())),
        loss: std::env::var("L").map_or(0.05, |v| v.parse().unwrap()),
    });
    let (a, b) = lab.call_with(15, flags, || {});
    for (who, lines) in [("a", &a), ("b", &b)] {
        println!("{codec}, {who}:\n{}", brief(lines));
        let (steady, summary) = split(lines, 3);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let fps = mean(&steady, |l| l["video_in"]["fps"].as_f64().unwrap());
        assert!(fps >= 25.0, "{who}: {fps} fps:\n{}", brief(lines));
        let last = &summary["summary"]["last"];
        assert_eq!(last["video_out"]["codec"], codec, "{who}: {last}");
        assert_eq!(last["video_in"]["codec"], codec, "{who}: {last}");
        assert!(
            last["video_in"]["longest_gap_ms"].as_u64().unwrap() <= 500,
            "{who}:\n{}",
            brief(lines)
        );
        // The loss was real, and repaired: NACKs went out, audio FEC was told.
        assert!(
            last["video_in"]["nacks"].as_u64().unwrap() > 0,
            "{who}: {last}"
        );
        let expected_loss = mean(&steady, |l| {
            l["audio_out"]["expected_loss_pct"].as_f64().unwrap()
        });
        assert!(expected_loss > 0.0, "{who}:\n{}", brief(lines));
    }
}

#[test]
fn video_resumes_within_a_second_after_a_two_second_blackout() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut lab) = Lab::new("blackout") else {
        return;
    };
    let link = Impairment {
        delay: Duration::from_millis(10),
        ..Impairment::NONE
    };
    lab.impair(link);
    let blackout = Impairment { loss: 1.0, ..link };
    let impairers = &lab.impairers;
    let (a, b) = lab.call(12, || {
        std::thread::sleep(Duration::from_secs(5));
        impairers.iter().for_each(|i| i.set(blackout));
        std::thread::sleep(Duration::from_secs(2));
        impairers.iter().for_each(|i| i.set(link));
    });
    for (who, lines) in [("a", &a), ("b", &b)] {
        let (_, summary) = split(lines, 0);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let last = &summary["summary"]["last"];
        // The longest gap is the blackout plus the time to the first picture after it.
        let gap = last["video_in"]["longest_gap_ms"].as_u64().unwrap();
        assert!(
            (2_000..=3_000).contains(&gap),
            "{who}: gap {gap} ms:\n{}",
            brief(lines)
        );
        assert!(
            last["video_in"]["fps"].as_u64().unwrap() >= 25,
            "{who}: {last}"
        );
    }
}

#[test]
fn a_500_kbit_bottleneck_is_found_within_10_s_with_little_loss() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::new("bottleneck") else {
        return;
    };
    lab.qdisc("tbf rate 500kbit burst 16kb latency 200ms");
    let (a, b) = lab.call(20, || {});
    for (who, sent, got) in [("a", &a, &b), ("b", &b, &a)] {
        let (steady_out, summary) = split(sent, 10);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let (steady_in, _) = split(got, 10);
        let kbps = mean(&steady_out, |l| {
            (l["video_out"]["kbps"].as_u64().unwrap() + l["audio_out"]["kbps"].as_u64().unwrap())
                as f64
        });
        assert!(kbps < 500.0, "{who} sends {kbps} kbit/s:\n{}", brief(sent));
        let loss = mean(&steady_out, |l| {
            l["video_out"]["loss_pct"].as_f64().unwrap()
        });
        assert!(loss < 2.0, "{who}: {loss}% loss:\n{}", brief(sent));
        let fps = mean(&steady_in, |l| l["video_in"]["fps"].as_f64().unwrap());
        assert!(fps >= 15.0, "{who}'s video at {fps} fps:\n{}", brief(got));
    }
}
