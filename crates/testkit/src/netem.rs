//! Network impairment for tests, in user space: packets leaving a device in a network
//! namespace go to an NFQUEUE (an iptables rule), where a thread holds each one for
//! the delay plus jitter, or drops it with the loss probability, before letting it
//! go. It does what `tc netem` does, for kernels built without netem (like the one
//! these tests run on); a bottleneck still uses the kernel's `tbf`.

use std::collections::VecDeque;
use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What happens to the packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Mean one-way delay.
    pub delay: Duration,
    /// Each packet's delay is uniform in `delay ± jitter` (so packets reorder).
    pub jitter: Duration,
    /// Probability that a packet is dropped (1.0: a blackout), each packet on its own.
    pub loss: f64,
    /// Loss in bursts instead (then `loss` is not used).
    pub bursts: Option<GilbertElliott>,
    /// Lose the first UDP datagram (over IPv4) that starts with a DTLS handshake record
    /// carrying this handshake message type (e.g. 11, Certificate), whatever else is set:
    /// one flight of a handshake lost on purpose.
    pub lose_first_dtls: Option<u8>,
}

impl Impairment {
    /// No delay, no loss.
    pub const NONE: Impairment = Impairment {
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss: 0.0,
        bursts: None,
        lose_first_dtls: None,
    };
}

/// Bursty loss, the Gilbert-Elliott model in its simple form: a good state that loses
/// nothing and a bad state that loses every packet. Before each packet the state may
/// change (good to bad with `enter_bad`, bad to good with `leave_bad`); the packet is
/// lost in the bad state. Bursts are geometric in length, `1 / leave_bad` packets on
/// average, and the long-run loss is `enter_bad / (enter_bad + leave_bad)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of going from good to bad before a packet.
    pub enter_bad: f64,
    /// Probability of going from bad to good before a packet.
    pub leave_bad: f64,
}

impl GilbertElliott {
    /// The model losing `mean_loss` of the packets (0 to below 1) in bursts of
    /// `mean_burst` packets (at least 1) on average.
    pub fn new(mean_loss: f64, mean_burst: f64) -> Self {
        let leave_bad = 1.0 / mean_burst.max(1.0);
        let mean_loss = mean_loss.clamp(0.0, 0.999);
        Self {
            enter_bad: mean_loss * leave_bad / (1.0 - mean_loss),
            leave_bad,
        }
    }

    /// The long-run share of packets lost.
    pub fn mean_loss(&self) -> f64 {
        self.enter_bad / (self.enter_bad + self.leave_bad)
    }
}

/// Which packets to drop: the loss state carried from packet to packet.
#[derive(Debug, Default)]
struct Dropper {
    /// In a Gilbert-Elliott burst.
    bad: bool,
    /// The datagram [`Impairment::lose_first_dtls`] asks for has been lost.
    lost_dtls: bool,
}

impl Dropper {
    /// Whether `packet` is the one [`Impairment::lose_first_dtls`] asks to lose (then
    /// it counts as lost).
    fn loses_on_purpose(&mut self, impairment: &Impairment, packet: &[u8]) -> bool {
        let hit = !self.lost_dtls
            && impairment
                .lose_first_dtls
                .is_some_and(|kind| dtls_handshake_type(packet) == Some(kind));
        self.lost_dtls |= hit;
        hit
    }

    /// Whether the next packet is dropped under `impairment`, with `rng` drawing.
    fn drops(&mut self, impairment: &Impairment, rng: &mut Rng) -> bool {
        match impairment.bursts {
            Some(model) => {
                let change = if self.bad {
                    model.leave_bad
                } else {
                    model.enter_bad
                };
                if rng.next_f64() < change {
                    self.bad = !self.bad;
                }
                self.bad
            }
            None => {
                self.bad = false;
                rng.next_f64() < impairment.loss
            }
        }
    }
}

/// Impairs the packets leaving `dev` in namespace `netns` until dropped.
pub struct Impairer {
    settings: Arc<Mutex<Impairment>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    netns: String,
    dev: String,
    queue: u16,
}

/// The OUTPUT rule that sends what leaves `dev` to the queue (the kernel has the
/// xtables NFQUEUE target, not nftables' `queue`).
fn rule<'a>(dev: &'a str, queue: &'a str) -> [&'a str; 7] {
    ["OUTPUT", "-o", dev, "-j", "NFQUEUE", "--queue-num", queue]
}

/// A small xorshift generator: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    /// The generator for `seed`: each seed its own sequence (splitmix64 of it, so
    /// nearby seeds start far apart and the state is never the xorshift's stuck zero).
    fn seeded(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)).max(1))
    }

    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `iptables ARGS` in `netns`.
fn iptables(netns: &str, args: &[&str]) -> std::io::Result<()> {
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "iptables"])
        .args(args)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "iptables {args:?} in {netns}: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl Impairer {
    /// Starts impairing what leaves `dev` in `netns` (queue number `queue`), the loss
    /// and jitter drawn from `seed`: the same seed loses the same packets of a sequence.
    pub fn start(
        netns: &str,
        dev: &str,
        queue: u16,
        initial: Impairment,
        seed: u64,
    ) -> std::io::Result<Self> {
        let settings = Arc::new(Mutex::new(initial));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let namespace = File::open(format!("/var/run/netns/{netns}"))?;
        let thread = {
            let (settings, stop) = (Arc::clone(&settings), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("impairer".into())
                .spawn(move || {
                    let setup = (|| {
                        nix::sched::setns(namespace, nix::sched::CloneFlags::CLONE_NEWNET)
                            .map_err(std::io::Error::other)?;
                        let mut q = nfq::Queue::open()?;
                        q.bind(queue)?;
                        q.set_copy_range(queue, 64)?;
                        q.set_queue_max_len(queue, 8192)?;
                        q.set_fail_open(queue, true)?;
                        q.set_nonblocking(true);
                        Ok::<_, std::io::Error>(q)
                    })();
                    match setup {
                        Ok(q) => {
                            let _ = ready_tx.send(Ok(()));
                            run(q, &settings, &stop, seed);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                })?
        };
        ready
            .recv_timeout(Duration::from_secs(10))
            .map_err(std::io::Error::other)??;
        let queue_num = queue.to_string();
        let rule = rule(dev, &queue_num);
        iptables(netns, &[&["-A"][..], &rule].concat())?;
        Ok(Self {
            settings,
            stop,
            thread: Some(thread),
            netns: netns.to_owned(),
            dev: dev.to_owned(),
            queue,
        })
    }

    /// Changes the impairment from now on.
    pub fn set(&self, impairment: Impairment) {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner()) = impairment;
    }
}

impl Drop for Impairer {
    fn drop(&mut self) {
        let queue_num = self.queue.to_string();
        let rule = rule(&self.dev, &queue_num);
        let _ = iptables(&self.netns, &[&["-D"][..], &rule].concat());
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The handshake message type of the first record of an IPv4 UDP `packet` whose payload
/// starts with a DTLS handshake record.
fn dtls_handshake_type(packet: &[u8]) -> Option<u8> {
    const UDP: u8 = 17;
    const HANDSHAKE: u8 = 22;
    let ip_header = usize::from(packet.first()? & 0x0f) * 4;
    if packet.first()? >> 4 != 4 || *packet.get(9)? != UDP {
        return None;
    }
    let dtls = packet.get(ip_header + 8..)?;
    // The record header is 13 bytes; the handshake message's type follows it.
    (*dtls.first()? == HANDSHAKE).then(|| dtls.get(13).copied())?
}

/// Holds packets until their time, in release order.
fn run(mut q: nfq::Queue, settings: &Mutex<Impairment>, stop: &AtomicBool, seed: u64) {
    let mut rng = Rng::seeded(seed);
    let mut dropper = Dropper::default();
    let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        while let Ok(mut msg) = q.recv() {
            idle = false;
            let now = Instant::now();
            let s = *settings.lock().unwrap_or_else(|e| e.into_inner());
            if dropper.loses_on_purpose(&s, msg.get_payload()) || dropper.drops(&s, &mut rng) {
                msg.set_verdict(nfq::Verdict::Drop);
                let _ = q.verdict(msg);
                continue;
            }
            let spread = s.jitter.as_secs_f64() * (2.0 * rng.next_f64() - 1.0);
            let delay = (s.delay.as_secs_f64() + spread).max(0.0);
            let at = now + Duration::from_secs_f64(delay);
            let i = held.partition_point(|(t, _)| *t <= at);
            held.insert(i, (at, msg));
        }
        let now = Instant::now();
        while held.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, mut msg)) = held.pop_front() {
                msg.set_verdict(nfq::Verdict::Accept);
                let _ = q.verdict(msg);
            }
        }
        if idle {
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    // Let what is held go, so nothing waits on a queue nobody reads.
    for (_, mut msg) in held {
        msg.set_verdict(nfq::Verdict::Accept);
        let _ = q.verdict(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` decisions under `impairment`: how many packets were lost, and the lengths of
    /// the runs of losses.
    fn losses(impairment: Impairment, n: usize) -> (usize, Vec<usize>) {
        let (mut rng, mut dropper) = (Rng::seeded(0), Dropper::default());
        let (mut lost, mut bursts, mut run) = (0, Vec::new(), 0);
        for _ in 0..n {
            if dropper.drops(&impairment, &mut rng) {
                lost += 1;
                run += 1;
            } else if run > 0 {
                bursts.push(run);
                run = 0;
            }
        }
        (lost, bursts)
    }

    #[test]
    fn gilbert_elliott_loses_its_mean_share_in_bursts_of_its_mean_length() {
        let model = GilbertElliott::new(0.03, 6.5);
        assert!((model.mean_loss() - 0.03).abs() < 1e-9, "{model:?}");
        let bursty = Impairment {
            bursts: Some(model),
            ..Impairment::NONE
        };
        let (lost, bursts) = losses(bursty, 1_000_000);
        let share = lost as f64 / 1e6;
        assert!((0.027..0.033).contains(&share), "lost {share}");
        let mean_burst = bursts.iter().sum::<usize>() as f64 / bursts.len() as f64;
        assert!((6.0..7.0).contains(&mean_burst), "bursts of {mean_burst}");
        // Random loss of the same share comes almost always one packet at a time.
        let random = Impairment {
            loss: 0.03,
            ..Impairment::NONE
        };
        let (lost, bursts) = losses(random, 1_000_000);
        assert!((0.027..0.033).contains(&(lost as f64 / 1e6)), "lost {lost}");
        let mean_burst = bursts.iter().sum::<usize>() as f64 / bursts.len() as f64;
        assert!(mean_burst < 1.1, "random bursts of {mean_burst}");
    }

    #[test]
    fn the_type_of_a_dtls_handshake_message_is_read_from_an_ipv4_udp_packet() {
        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17];
        packet.resize(20, 0);
        packet.extend_from_slice(&[0; 8]);
        packet.extend_from_slice(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 3, 0, 40, 11]);
        assert_eq!(dtls_handshake_type(&packet), Some(11));
        // Not DTLS (RTP), not UDP (TCP), not whole.
        let mut rtp = packet.clone();
        rtp[28] = 0x80;
        assert_eq!(dtls_handshake_type(&rtp), None);
        let mut tcp = packet.clone();
        tcp[9] = 6;
        assert_eq!(dtls_handshake_type(&tcp), None);
        assert_eq!(dtls_handshake_type(&packet[..40]), None);
    }

    #[test]
    fn a_blackout_drops_everything_and_no_impairment_nothing() {
        let blackout = Impairment {
            loss: 1.0,
            ..Impairment::NONE
        };
        assert_eq!(losses(blackout, 10_000).0, 10_000);
        assert_eq!(losses(Impairment::NONE, 10_000).0, 0);
    }
}
