//! A network lab for the calls over impaired or changing links: two network namespaces
//! joined by a veth pair, the signaling server in the first, one `peercall call` process
//! in each, user-space netem on both ends ([`testkit::netem`]). Used by the impairment
//! tests and the handover benchmark. Needs root (namespaces and qdiscs).

#![allow(dead_code, reason = "each user takes the parts it needs")]

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use testkit::netem::{Impairer, Impairment};

/// Two namespaces `a` and `b` joined by veth `va`–`vb` (10.99.0.1 – 10.99.0.2).
pub struct Lab {
    pub a: String,
    pub b: String,
    pub stop_server: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: String,
    pub impairers: Vec<Impairer>,
    /// Where the peers bind (`None`: every interface, the default).
    pub bind: Option<[&'static str; 2]>,
}

pub fn ip(args: &[&str]) {
    run("ip", args);
}

pub fn run(program: &str, args: &[&str]) {
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
    pub fn new(name: &str) -> Option<Lab> {
        Lab::with_addresses(
            name,
            ["10.99.0.1/24", "10.99.0.2/24"],
            "10.99.0.1:0",
            ["10.99.0.1:0", "10.99.0.2:0"],
        )
    }

    /// Two namespaces joined by veth `va`–`vb` with IPv6 addresses only (fd00:99::1 –
    /// fd00:99::2), the signaling server on the first, the peers bound to every interface.
    pub fn ipv6_only(name: &str) -> Option<Lab> {
        Lab::with_addresses(
            name,
            ["fd00:99::1/64", "fd00:99::2/64"],
            "[fd00:99::1]:0",
            ["[::]:0", "[::]:0"],
        )
    }

    /// The namespaces with `addresses` on `va` and `vb`, the server on `listen` in `a`,
    /// and the peers bound to `bind`.
    pub fn with_addresses(
        name: &str,
        addresses: [&str; 2],
        listen: &'static str,
        bind: [&'static str; 2],
    ) -> Option<Lab> {
        if !nix::unistd::geteuid().is_root() {
            testkit::skip_or_fail("network namespaces need root (CI runs as root)");
            return None;
        }
        let tag = format!("{}-{}", std::process::id() % 100_000, name);
        let (a, b) = (format!("pca-{tag}"), format!("pcb-{tag}"));
        for ns in [&a, &b] {
            ip(&["netns", "add", ns]);
            // No duplicate address detection for the link-local addresses either: when it
            // ends (~1 s after the link comes up) the address changes state, and a
            // Chromium in the namespace reads that as a network change and aborts what
            // it is loading (module requests of the web client failed with status 0).
            for conf in ["all", "default"] {
                let key = format!("net.ipv6.conf.{conf}.accept_dad=0");
                ip(&["netns", "exec", ns, "sysctl", "-qw", &key]);
            }
        }
        let mut lab = Lab {
            a: a.clone(),
            b: b.clone(),
            stop_server: None,
            server: String::new(),
            impairers: Vec::new(),
            bind: Some(bind),
        };
        ip(&[
            "link", "add", "va", "netns", &a, "type", "veth", "peer", "name", "vb", "netns", &b,
        ]);
        for (ns, dev, addr) in [(&a, "va", addresses[0]), (&b, "vb", addresses[1])] {
            let mut add = vec!["-n", ns, "addr", "add", addr, "dev", dev];
            if addr.contains(':') {
                // No duplicate address detection: the address is usable at once.
                add.push("nodad");
            }
            ip(&add);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        lab.start_server(listen);
        Some(lab)
    }

    /// Everything on the one link, the signaling too, and the peers bound to every
    /// interface: [`Lab::move_b`] then breaks b's signaling connection as well as its
    /// media path, as a real handover does.
    pub fn for_handover(name: &str) -> Option<Lab> {
        Lab::with_addresses(
            name,
            ["10.99.0.1/24", "10.99.0.2/24"],
            "10.99.0.1:0",
            ["0.0.0.0:0", "0.0.0.0:0"],
        )
    }

    /// b moves: a new address (10.99.0.3) comes up as its old one goes (kept when the
    /// old one, the subnet's first, is deleted).
    pub fn move_b(&self) {
        let b = &self.b;
        run(
            "ip",
            &[
                "netns",
                "exec",
                b,
                "sysctl",
                "-qw",
                "net.ipv4.conf.vb.promote_secondaries=1",
            ],
        );
        ip(&["-n", b, "addr", "add", "10.99.0.3/24", "dev", "vb"]);
        ip(&["-n", b, "addr", "del", "10.99.0.2/24", "dev", "vb"]);
    }

    /// [`Lab::new`] with the signaling on a second link of its own (veth `sa`–`sb`,
    /// 10.98.0.1 – 10.98.0.2, UDP dropped on it so media cannot take it), and the peers
    /// bound to every interface: `va`–`vb` can then change under the media while the
    /// signaling stays up.
    pub fn with_signaling_link(name: &str) -> Option<Lab> {
        let mut lab = Lab::new(name)?;
        let (a, b) = (lab.a.clone(), lab.b.clone());
        ip(&[
            "link", "add", "sa", "netns", &a, "type", "veth", "peer", "name", "sb", "netns", &b,
        ]);
        for (ns, dev, addr) in [(&a, "sa", "10.98.0.1/24"), (&b, "sb", "10.98.0.2/24")] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            run(
                "ip",
                &[
                    "netns", "exec", ns, "iptables", "-A", "INPUT", "-i", dev, "-p", "udp", "-j",
                    "DROP",
                ],
            );
        }
        if let Some(stop) = lab.stop_server.take() {
            let _ = stop.send(());
        }
        lab.start_server("10.98.0.1:0");
        lab.bind = None;
        Some(lab)
    }

    /// Runs the signaling server in namespace `a` on `listen`: a thread that enters the
    /// namespace opens its socket there.
    pub fn start_server(&mut self, listen: &'static str) {
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
                let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
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
    pub fn impair(&mut self, impairment: Impairment) {
        self.impair_seeded(impairment, 0);
    }

    /// [`Lab::impair`], the losses and jitter drawn from `seed` (each direction its
    /// own draws) when the impairment starts; runs with one seed lose the same packets
    /// of the same sequence.
    pub fn impair_seeded(&mut self, impairment: Impairment, seed: u64) {
        if self.impairers.is_empty() {
            for (i, (ns, dev)) in [(&self.a, "va"), (&self.b, "vb")].into_iter().enumerate() {
                let seed = seed.wrapping_mul(2).wrapping_add(i as u64);
                self.impairers
                    .push(Impairer::start(ns, dev, 7, impairment, seed).unwrap());
            }
        }
        for impairer in &self.impairers {
            impairer.set(impairment);
        }
    }

    /// Replaces the root qdisc of both ends with `qdisc` (e.g. a `tbf` bottleneck).
    pub fn qdisc(&self, qdisc: &str) {
        for (ns, dev) in [(&self.a, "va"), (&self.b, "vb")] {
            let mut args = vec!["-n", ns, "qdisc", "replace", "dev", dev, "root"];
            args.extend(qdisc.split_whitespace());
            run("tc", &args);
        }
    }

    /// Starts `peercall call` in namespace `a` (`first`) or `b`, with `flags` added.
    pub fn peer(&self, first: bool, seconds: u32, flags: &[&str]) -> Child {
        let ns = if first { &self.a } else { &self.b };
        let bind = self
            .bind
            .map_or("0.0.0.0:0", |[a, b]| if first { a } else { b });
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
    pub fn call(&self, seconds: u32, during: impl FnOnce()) -> (Vec<Value>, Vec<Value>) {
        self.call_with(seconds, &[], during)
    }

    /// [`Lab::call`] with `flags` given to both peers.
    pub fn call_with(
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
pub fn split(lines: &[Value], from: u64) -> (Vec<&Value>, &Value) {
    let (summary, stats) = lines.split_last().unwrap();
    let after = stats
        .iter()
        .filter(|l| l["t"].as_u64().unwrap() >= from)
        .collect();
    (after, summary)
}

/// One short line a second: what a failure message needs to tell what went wrong.
pub fn brief(lines: &[Value]) -> String {
    lines
        .iter()
        .filter(|l| l.get("t").is_some())
        .map(|l| {
            let (o, i) = (&l["video_out"], &l["video_in"]);
            format!(
                "t={} {} out: {}kbps {}fps {}x{} target {} est {} loss {}% held {} | in: {}fps {}kbps lost {} kf-req {} gap {}ms nacks {} renacked {} rtt {}",
                l["t"], l["state"], o["kbps"], o["fps"], o["width"], o["height"], o["target_kbps"],
                o["estimate_kbps"], o["loss_pct"], o["held"], i["fps"], i["kbps"], i["lost_frames"],
                i["keyframe_requests"], i["longest_gap_ms"], i["nacks"], i["renacked"],
                l["ice"]["rtt_ms"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn mean(lines: &[&Value], field: impl Fn(&Value) -> f64) -> f64 {
    lines.iter().map(|l| field(l)).sum::<f64>() / lines.len().max(1) as f64
}
