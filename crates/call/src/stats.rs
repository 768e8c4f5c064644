//! Once-a-second call statistics: ours (pipelines, feedback) plus the stack's (ICE,
//! selected pair, RTT, inbound loss and NACKs), as one serializable [`StatsLine`].
//!
//! Each pipeline direction keeps its own counters ([`Counter`]s, declared with
//! `counters!`) and gives a `Copy` snapshot of them; rates come from the `delta`
//! between two snapshots and the time between them ([`Rates`]). Latency percentiles
//! come from the glass-to-glass samples of the last second ([`Latency`]); whether the
//! pictures are live or a replay of the past, from their lateness ([`Liveness`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use media::percentile::{percentile, sorted};
use serde::Serialize;

/// One count a pipeline keeps, written by its threads and read by the statistics.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub(crate) fn bump(&self) {
        self.add(1);
    }

    /// Sets the value (a gauge: a size, a delay).
    pub(crate) fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// Raises the value to `value` if that is larger (a maximum so far).
    pub(crate) fn raise_to(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Declares a pipeline direction's counters (a struct of [`Counter`]s, shared with
/// its threads) and their snapshot (the same fields as plain `u64`s, `Copy`), with
/// `snapshot()` from one to the other.
macro_rules! counters {
    (
        $(#[$doc:meta])*
        pub struct $counters:ident;
        $(#[$snapshot_doc:meta])*
        pub struct $snapshot:ident {
            $( $(#[$field_doc:meta])* $field:ident, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub struct $counters {
            $( $(#[$field_doc])* pub $field: $crate::stats::Counter, )*
        }

        impl $counters {
            /// The counts now, as plain numbers.
            pub fn snapshot(&self) -> $snapshot {
                $snapshot { $( $field: self.$field.get(), )* }
            }
        }

        $(#[$snapshot_doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $snapshot {
            $( $(#[$field_doc])* pub $field: u64, )*
        }
    };
}
pub(crate) use counters;

/// What one direction of one medium did per second between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Frames (video) or packets (audio) per second.
    pub per_second: u64,
    /// Payload bitrate, kbit/s.
    pub kbps: u64,
}

impl Rates {
    /// The rates of `units` and `bytes` that grew from their `before` values to their
    /// `now` values in `elapsed`.
    pub fn between(
        (units_before, units_now): (u64, u64),
        (bytes_before, bytes_now): (u64, u64),
        elapsed: Duration,
    ) -> Self {
        Rates {
            per_second: per_second(units_before, units_now, elapsed),
            kbps: per_second(bytes_before, bytes_now, elapsed) * 8 / 1000,
        }
    }
}

/// How fast a count grew from `before` to `now` in `elapsed`, per second, rounded (0
/// when it went down: a counter that started over is not negative; the growth itself
/// when no time passed).
pub fn per_second(before: u64, now: u64, elapsed: Duration) -> u64 {
    let grown = now.saturating_sub(before);
    if elapsed.is_zero() {
        return grown;
    }
    (grown as f64 / elapsed.as_secs_f64()).round() as u64
}

/// Glass-to-glass latency of the pictures decoded in one second, ms.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

impl Latency {
    /// Percentiles of `samples` (ms, to a tenth), or `None` when there are none.
    pub fn of(samples: Vec<f64>) -> Option<Self> {
        let samples = sorted(samples);
        let at = |q| percentile(&samples, q).map(|ms| (ms * 10.0).round() / 10.0);
        Some(Latency {
            p50: at(0.5)?,
            p95: at(0.95)?,
            max: at(1.0)?,
        })
    }
}

/// How much later than the usual a picture may come and still be live, ms; a later one is
/// a replay of the past (a backlog repaired after an outage, shown once it arrives).
pub const STALE_MS: f64 = 100.0;

/// The longest time without a live picture: the gaps between pictures whose lateness
/// (arrival against capture, on any fixed offset) is within [`STALE_MS`] of the usual,
/// the least of the last [`Liveness::RECENT`] pictures'. A freeze whose backlog is
/// replayed after it lasts until the replay has caught up; a lasting rise of the delay
/// (a queue) ends within that many pictures. A plain type: times are arguments.
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    recent: VecDeque<f64>,
    last_live_ms: Option<f64>,
    longest_ms: f64,
}

impl Liveness {
    /// Pictures whose least lateness is the usual one (two seconds at 30 fps).
    pub const RECENT: usize = 60;

    /// Takes a picture shown at `at_ms` that came `lateness_ms` after its capture (plus
    /// any fixed offset); returns whether it is live.
    pub fn observe(&mut self, at_ms: f64, lateness_ms: f64) -> bool {
        let usual = self.recent.iter().copied().fold(f64::INFINITY, f64::min);
        if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(lateness_ms);
        let live = lateness_ms <= usual + STALE_MS || usual.is_infinite();
        if live {
            if let Some(last) = self.last_live_ms {
                self.longest_ms = self.longest_ms.max(at_ms - last);
            }
            self.last_live_ms = Some(at_ms);
        }
        live
    }

    /// The longest time between two live pictures so far, ms; `None` before the first
    /// picture.
    pub fn longest_gap_ms(&self) -> Option<f64> {
        self.last_live_ms.map(|_| self.longest_ms)
    }
}

/// ICE as the stack sees it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IceStats {
    /// ICE connection state (`connected`, `disconnected`...).
    pub state: String,
    /// Type of the selected pair's local candidate (`host`, `srflx`, `prflx`, `relay`).
    pub local: Option<String>,
    /// Type of the selected pair's remote candidate.
    pub remote: Option<String>,
    /// Round-trip time of the selected pair (STUN), ms.
    pub rtt_ms: Option<f64>,
    /// How our relay candidate of the selected pair reaches its TURN server (`udp`,
    /// `tcp`, `tls`); absent when that candidate is not a relay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_protocol: Option<crate::turn_stream::RelayProtocol>,
}

/// Video we send.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VideoOut {
    /// Pictures sent in the last second.
    pub fps: u64,
    /// Size sent.
    pub width: u64,
    /// Size sent.
    pub height: u64,
    /// Encoded bitrate over the last second, kbit/s.
    pub kbps: u64,
    /// Pictures sent so far.
    pub frames: u64,
    /// Of those, keyframes.
    pub keyframes: u64,
    /// Pictures the encoder skipped or the queue dropped.
    pub dropped: u64,
    /// Pictures held back while transport feedback came late (a queue on the path).
    pub held: u64,
    /// Keyframe requests (PLI/FIR) received.
    pub keyframe_requests: u64,
    /// Packets the receiver asked for again (NACKed).
    pub nacked: u64,
    /// Loss the receiver reported for the last interval, percent.
    pub loss_pct: f64,
    /// The encoder's target, kbit/s.
    pub target_kbps: u64,
    /// The congestion controller's estimate, kbit/s.
    pub estimate_kbps: u64,
    /// The codec sent (`H264`, `VP8`, `VP9`), once sending.
    pub codec: Option<String>,
}

/// Video we receive.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VideoIn {
    /// Pictures decoded in the last second.
    pub fps: u64,
    /// Size decoded.
    pub width: u64,
    /// Size decoded.
    pub height: u64,
    /// Received bitrate over the last second, kbit/s.
    pub kbps: u64,
    /// Pictures decoded so far.
    pub decoded: u64,
    /// Frames dropped (waiting for a keyframe, or the decoder queue full).
    pub dropped: u64,
    /// Frames given up because packets never arrived.
    pub lost_frames: u64,
    /// Frames the decoder could not decode.
    pub decode_errors: u64,
    /// RTP packets lost (from the stack's receiver reports).
    pub packets_lost: i64,
    /// Packets asked for (NACK), counted the first time each is asked.
    pub nacks: u64,
    /// Packets asked for a second time (the first retransmission was lost too).
    pub renacked: u64,
    /// Keyframe requests sent.
    pub keyframe_requests: u64,
    /// Gaps between pictures over 200 ms.
    pub freezes: u64,
    /// Time spent in those gaps so far, ms.
    pub freeze_ms: u64,
    /// The longest gap between pictures, ms.
    pub longest_gap_ms: u64,
    /// The longest gap between live pictures, ms ([`Liveness`]; when the remote sends
    /// the test pattern): a freeze plus any replay of its backlog after it.
    pub longest_live_gap_ms: Option<u64>,
    /// Delay the jitter buffer adds, ms.
    pub jitter_buffer_ms: f64,
    /// Glass-to-glass latency (when the remote sends the test pattern).
    pub latency_ms: Option<Latency>,
    /// The codec received (`H264`, `VP8`, `VP9`), once video arrives.
    pub codec: Option<String>,
    /// Frame numbers of the test pattern that went backwards (should stay 0).
    pub out_of_order: u64,
}

/// Audio we send.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AudioOut {
    /// Bitrate over the last second, kbit/s.
    pub kbps: u64,
    /// Packets sent so far.
    pub packets: u64,
    /// Loss the receiver reported for the last interval, percent.
    pub loss_pct: f64,
    /// What Opus FEC is told to expect, percent.
    pub expected_loss_pct: u8,
    /// The microphone path's processing, when any runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<ProcessingLine>,
}

/// The microphone path's processing, for the statistics line.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct ProcessingLine {
    /// Echo cancellation runs.
    pub aec: bool,
    /// Noise suppression runs.
    pub ns: bool,
    /// Automatic gain control runs.
    pub agc: bool,
    /// The render-to-capture delay the canceller uses, ms: the devices' latencies when
    /// they report them, else its own estimate.
    pub delay_ms: Option<u32>,
    /// The canceller's own estimate of the delay beyond the far end it holds, ms.
    pub estimated_delay_ms: Option<u32>,
    /// The echo suppression it achieves, measured from its input and output, dB.
    pub echo_suppression_db: Option<f64>,
}

/// Audio we receive.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AudioIn {
    /// Bitrate over the last second, kbit/s.
    pub kbps: u64,
    /// Packets received so far.
    pub packets: u64,
    /// Packets that never arrived.
    pub lost: u64,
    /// Lost packets rebuilt from FEC.
    pub fec_recovered: u64,
    /// Lost packets concealed.
    pub concealed: u64,
    /// Test-tone timing marks heard (when the remote sends the test tone).
    pub marks: u64,
    /// Energy of all audio played so far, as WebRTC's `totalAudioEnergy`: mean square
    /// of the samples (full scale 1) times seconds. Above 0 means something was heard.
    pub energy: f64,
}

/// A screen share's video, one way, for one second (present while one runs).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ScreenLine {
    /// Pictures per second (sent, or decoded).
    pub fps: u64,
    /// Width of the last picture.
    pub width: u64,
    /// Its height.
    pub height: u64,
    /// Bitrate, kbit/s.
    pub kbps: u64,
    /// Pictures so far (sent, or decoded).
    pub frames: u64,
    /// Keyframes sent so far (0 for received shares).
    pub keyframes: u64,
}

/// One peer's statistics for one second of a call.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StatsLine {
    /// Seconds since connecting.
    pub t: u64,
    /// Call state (`connected`, `reconnecting`...).
    pub state: String,
    /// Whether the signaling connection is up (media does not need it).
    pub signaling: bool,
    /// The call's verification code (see [`crate::verify`]), for the two people to
    /// compare.
    pub verification: Option<String>,
    /// ICE.
    pub ice: IceStats,
    /// Video sent.
    pub video_out: VideoOut,
    /// Video received.
    pub video_in: VideoIn,
    /// Audio sent.
    pub audio_out: AudioOut,
    /// Audio received.
    pub audio_in: AudioIn,
    /// Our screen share, while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_out: Option<ScreenLine>,
    /// The other peer's screen share, while one has arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_in: Option<ScreenLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_backlog_is_not_live_until_it_has_caught_up() {
        let mut l = Liveness::default();
        assert_eq!(l.longest_gap_ms(), None);
        for i in 0..30 {
            assert!(l.observe(f64::from(i) * 33.0, 20.0 + f64::from(i % 3)));
        }
        // 2 s without pictures, then the backlog comes 2 s late and catches up.
        let resumed = 29.0 * 33.0 + 2_050.0;
        for (i, late) in [2_020.0, 1_500.0, 900.0, 300.0, 130.0]
            .into_iter()
            .enumerate()
        {
            assert!(
                !l.observe(resumed + i as f64, late),
                "{late} ms late is a replay"
            );
        }
        assert!(
            l.observe(resumed + 40.0, 60.0),
            "within 100 ms of the usual: live"
        );
        assert_eq!(l.longest_gap_ms(), Some(2_090.0));
    }

    #[test]
    fn a_lasting_rise_of_the_delay_is_live_again_within_the_recent_pictures() {
        let mut l = Liveness::default();
        let mut at = 0.0;
        let mut live = Vec::new();
        for late in std::iter::repeat_n(20.0, 60).chain(std::iter::repeat_n(400.0, 80)) {
            at += 33.0;
            live.push(l.observe(at, late));
        }
        assert!(
            !live[60],
            "the first picture 380 ms later than usual is not live"
        );
        assert!(
            live[60 + Liveness::RECENT],
            "once the usual has risen it is"
        );
        assert_eq!(
            l.longest_gap_ms(),
            Some(33.0 * (Liveness::RECENT as f64 + 1.0))
        );
    }

    #[test]
    fn latency_percentiles_come_from_the_sorted_samples() {
        assert_eq!(Latency::of(vec![]), None);
        let l = Latency::of((1..=100).rev().map(f64::from).collect()).expect("samples");
        assert_eq!((l.p50, l.p95, l.max), (51.0, 95.0, 100.0));
        let one = Latency::of(vec![12.34]).expect("a sample");
        assert_eq!((one.p50, one.max), (12.3, 12.3));
    }

    #[test]
    fn rates_are_growth_over_the_time_between_snapshots() {
        let second = Duration::from_secs(1);
        assert_eq!(per_second(30, 60, second), 30);
        assert_eq!(
            per_second(60, 10, second),
            0,
            "a counter reset is not negative"
        );
        // A tick a little late still reads as the rate, not as more.
        assert_eq!(per_second(0, 30, Duration::from_millis(1_003)), 30);
        assert_eq!(per_second(0, 60, Duration::from_secs(2)), 30);
        assert_eq!(per_second(5, 9, Duration::ZERO), 4);
        let rates = Rates::between((30, 60), (125_000, 250_000), second);
        assert_eq!(
            rates,
            Rates {
                per_second: 30,
                kbps: 1_000
            }
        );
    }

    #[test]
    fn counters_count_set_and_keep_their_maximum() {
        let c = Counter::default();
        c.bump();
        c.add(4);
        assert_eq!(c.get(), 5);
        c.raise_to(3);
        assert_eq!(c.get(), 5);
        c.raise_to(9);
        assert_eq!(c.get(), 9);
        c.set(2);
        assert_eq!(c.get(), 2);
    }

    #[test]
    fn a_stats_line_serializes_with_nested_sections() {
        let line = StatsLine {
            t: 3,
            state: "connected".into(),
            ..StatsLine::default()
        };
        let json = serde_json::to_value(&line).expect("json");
        assert_eq!(json["t"], 3);
        assert_eq!(json["state"], "connected");
        assert!(json["video_in"]["latency_ms"].is_null());
        assert!(
            json["ice"].get("relay_protocol").is_none(),
            "no relay, no relay_protocol"
        );
        let relayed = StatsLine {
            ice: IceStats {
                relay_protocol: Some(crate::turn_stream::RelayProtocol::Tls),
                ..IceStats::default()
            },
            ..StatsLine::default()
        };
        let json = serde_json::to_value(&relayed).expect("json");
        assert_eq!(json["ice"]["relay_protocol"], "tls");
        assert_eq!(json["audio_out"]["expected_loss_pct"], 0);
    }
}
