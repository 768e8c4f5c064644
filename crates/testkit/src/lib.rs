//! Test support shared by the crates' end-to-end tests: real services started on
//! 127.0.0.1 for the duration of a test (with a generated certificate for their TLS),
//! headless Chromium ([`browser`]), a virtual display with screenshots ([`screen`]),
//! network impairment ([`netem`]), a sound server ([`sound`]) and Redis ([`redis`]).

pub mod browser;
pub mod netem;
pub mod redis;
pub mod screen;
pub mod sound;

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How many UDP ports coturn may hand out for relays. An allocation that its client never
/// releases holds its port until its lifetime (10 minutes) runs out. Chromium leaves one
/// behind over TURN/UDP when its page goes away just after it allocated, as a caller's
/// does when the callee has left and it re-offered at once (seen in coturn's log: no
/// refresh with lifetime 0); over TCP and TLS the closed connection ends it. A run of
/// calls needs room for those.
const RELAY_PORTS: u16 = 200;

/// A certificate for 127.0.0.1 and localhost, self-signed (the CA of itself, not marked a
/// CA), written as PEM files to a temporary directory that lives as long as it does: for a
/// TLS listener in a test (coturn's `turns:`) and the peers told to trust it.
pub struct Certificate {
    _dir: tempfile::TempDir,
    /// The certificate (PEM).
    pub cert: std::path::PathBuf,
    /// Its private key (PEM).
    pub key: std::path::PathBuf,
    /// Its SubjectPublicKeyInfo (DER).
    spki_der: Vec<u8>,
}

impl Certificate {
    /// A fresh certificate and key.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Self {
            _dir: dir,
            cert,
            key,
            spki_der: rcgen::PublicKeyData::subject_public_key_info(&made.signing_key),
        }
    }

    /// The SHA-256 of its SubjectPublicKeyInfo, in base64: how Chromium is told to accept
    /// it ([`browser::Browser::launch_accepting`]).
    pub fn spki_sha256_base64(&self) -> String {
        use base64::Engine as _;
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.spki_der);
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    }

    /// The certificate and key for [`Coturn::start_tls`].
    pub fn for_coturn(&self) -> CoturnTls<'_> {
        CoturnTls {
            cert: &self.cert,
            key: &self.key,
        }
    }
}

impl Default for Certificate {
    fn default() -> Self {
        Self::new()
    }
}

/// coturn started from the repository's turnserver.conf, kept to 127.0.0.1.
pub struct Coturn {
    child: Child,
    /// The STUN/TURN port on 127.0.0.1 (UDP, and TCP for `?transport=tcp`).
    pub port: u16,
    /// The TURN-over-TLS port on 127.0.0.1 (`turns:`), when started with a certificate.
    pub tls_port: Option<u16>,
    _dir: tempfile::TempDir,
}

/// A certificate and its key for coturn's TLS listener (PEM files).
#[derive(Debug, Clone, Copy)]
pub struct CoturnTls<'a> {
    /// The certificate chain.
    pub cert: &'a Path,
    /// Its private key.
    pub key: &'a Path,
}

impl Coturn {
    /// Starts coturn on fresh ports; tries again on others if it does not come up
    /// (another process may have taken a port between our probe and its bind).
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(None, extra)
    }

    /// [`Coturn::start`], with a TLS listener (`turns:`) on [`Coturn::tls_port`] serving
    /// `tls`'s certificate.
    pub fn start_tls(tls: CoturnTls<'_>, extra: &[&str]) -> Self {
        Self::start_with(Some(tls), extra)
    }

    fn start_with(tls: Option<CoturnTls<'_>>, extra: &[&str]) -> Self {
        let mut log = String::new();
        for _ in 0..3 {
            match Self::try_start(tls, extra) {
                Ok(coturn) => return coturn,
                Err(why) => log = why,
            }
        }
        panic!("coturn did not start: {log}");
    }

    fn try_start(tls: Option<CoturnTls<'_>>, extra: &[&str]) -> Result<Self, String> {
        let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../turnserver.conf");
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let relay = free_udp_port();
        let mut cmd = Command::new("turnserver");
        cmd.arg("-c")
            .arg(&conf)
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .args(["--allow-loopback-peers", "--no-dtls"]);
        let tls_port = match tls {
            Some(tls) => {
                let tls_port = free_tcp_port();
                cmd.arg(format!("--tls-listening-port={tls_port}"))
                    .arg(format!("--cert={}", tls.cert.display()))
                    .arg(format!("--pkey={}", tls.key.display()));
                Some(tls_port)
            }
            None => {
                cmd.arg("--no-tls");
                None
            }
        };
        cmd.arg(format!("--listening-port={port}"))
            .arg(format!("--min-port={relay}"))
            .arg(format!("--max-port={}", relay.saturating_add(RELAY_PORTS)))
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!("--db={}", dir.path().join("turndb").display()))
            .args(extra)
            .stdout(std::fs::File::create(dir.path().join("log")).unwrap())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .expect("turnserver not found: install coturn (scripts/test does)");
        // Owned at once, so a failed start below still kills it.
        let coturn = Self {
            child,
            port,
            tls_port,
            _dir: dir,
        };
        // Wait until it answers a STUN binding request.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let binding = [
            0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        for _ in 0..100 {
            let _ = probe.send_to(&binding, ("127.0.0.1", port));
            let mut buf = [0u8; 512];
            let tls_up = tls_port.is_none_or(|tls_port| {
                std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok()
            });
            if probe.recv_from(&mut buf).is_ok() && tls_up {
                return Ok(coturn);
            }
        }
        let log = std::fs::read_to_string(coturn._dir.path().join("log")).unwrap_or_default();
        Err(format!("no answer on 127.0.0.1:{port}; its log:\n{log}"))
    }

    /// Allocates a relay with `username`/`credential` and sends a few packets through
    /// it; `true` when they all came back.
    pub fn relay_works(&self, username: &str, credential: &str) -> bool {
        let out = Command::new("turnutils_uclient")
            .args(["-y", "-n", "3", "-m", "1", "-u", username, "-w", credential])
            .args(["-p", &self.port.to_string(), "127.0.0.1"])
            .output()
            .expect("turnutils_uclient (from coturn)");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        out.status.success() && text.contains("Total lost packets 0")
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A firewall rule that drops UDP to a port on 127.0.0.1 (so that only TCP and TLS reach
/// a TURN server there), in this process's network namespace; removed when dropped.
pub struct UdpDropped {
    rule: Vec<String>,
}

impl UdpDropped {
    /// Drops UDP to `port`. Refused (with why) unless this process is root in a network
    /// namespace of its own, as `scripts/test` runs the tests: never the machine's
    /// firewall.
    pub fn to_port(port: u16) -> Result<Self, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("dropping UDP with iptables needs root (CI runs as root)".into());
        }
        if !only_loopback() {
            return Err(
                "not in a network namespace with only loopback: run the tests as scripts/test \
                 does (unshare --net -- sh -c 'ip link set lo up && cargo test …')"
                    .into(),
            );
        }
        let rule: Vec<String> = ["OUTPUT", "-o", "lo", "-p", "udp", "--dport"]
            .into_iter()
            .map(String::from)
            .chain([port.to_string(), "-j".into(), "DROP".into()])
            .collect();
        iptables("-A", &rule)?;
        Ok(Self { rule })
    }
}

impl Drop for UdpDropped {
    fn drop(&mut self) {
        let _ = iptables("-D", &self.rule);
    }
}

/// Resident memory of process `pid`, KiB (`VmRSS` of `/proc/PID/status`); `None` once it
/// has exited.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Whether this process's network namespace has no interface but loopback (then a
/// firewall rule in it touches nothing else).
pub fn only_loopback() -> bool {
    let Ok(devices) = std::fs::read_to_string("/proc/self/net/dev") else {
        return false;
    };
    // Two header lines, then one line per interface: `  lo: …`.
    devices
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .all(|name| name.trim() == "lo")
}

/// `iptables OP RULE…`.
fn iptables(op: &str, rule: &[String]) -> Result<(), String> {
    let out = Command::new("iptables")
        .arg(op)
        .args(rule)
        .output()
        .map_err(|e| format!("iptables not found ({e}): install it (scripts/test does)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "iptables {op} {rule:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Whether the tests run in CI: the `CI` environment variable is set to anything but
/// `""`, `"0"` or `"false"` (CI sets it for `.ci/run`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// For a test that cannot run here (not root, a camera present...): in CI, where it
/// must run, it fails with `why`; elsewhere it prints `SKIPPED: <why>` to stderr
/// loudly (past the test harness's capture) and returns, and the caller returns too.
/// So a test never passes silently without having run.
///
/// ```no_run
/// if !nix::unistd::geteuid().is_root() {
///     testkit::skip_or_fail("network namespaces need root");
///     return;
/// }
/// ```
#[track_caller]
pub fn skip_or_fail(why: &str) {
    if in_ci() {
        panic!("this test cannot run here, and CI must run it: {why}");
    }
    let caller = std::panic::Location::caller();
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Straight to the process's stderr: the test harness captures `eprintln!` of a
    // passing test, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n*** SKIPPED: {test} ({caller}): {why} ***\n"
    );
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The one percentile rule of the workspace (it lives in `media` so the call engine can
/// use it too), re-exported for the benchmarks: `signaling-server` reaches it through its
/// dev-dependency on testkit, without depending on `media` or `call` itself.
pub use media::percentile::{percentile, sorted};

/// Prints a benchmark figure as a distribution: `what: n=… p50 … unit, p95 …, p99 …, max …`.
pub fn report(what: &str, samples: Vec<f64>, unit: &str) {
    let samples = sorted(samples);
    let at = |q| percentile(&samples, q);
    let (Some(p50), Some(p95), Some(p99), Some(max)) = (at(0.5), at(0.95), at(0.99), at(1.0))
    else {
        println!("{what}: no samples");
        return;
    };
    println!(
        "{what}: n={} p50 {p50:.1} {unit}, p95 {p95:.1}, p99 {p99:.1}, max {max:.1}",
        samples.len(),
    );
}
