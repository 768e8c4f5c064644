//! Once-a-second call statistics: ours (pipelines, feedback) plus the stack's (ICE,
//! selected pair, RTT, inbound loss and NACKs), as one serializable [`StatsLine`].
//!
//! Rates come from differences between two snapshots ([`Rates`]); latency
//! percentiles from the glass-to-glass samples of the last second ([`Latency`]).

use media::percentile::{percentile, sorted};
use serde::Serialize;

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
    /// NACKs sent.
    pub nacks: u64,
    /// Packets asked for a second time (the first retransmission was lost too).
    pub renacked: u64,
    /// Keyframe requests sent.
    pub keyframe_requests: u64,
    /// Gaps between pictures over 200 ms.
    pub freezes: u64,
    /// The longest gap between pictures, ms.
    pub longest_gap_ms: u64,
    /// Delay the jitter buffer adds, ms.
    pub jitter_buffer_ms: f64,
    /// Glass-to-glass latency (when the remote sends the test pattern).
    pub latency_ms: Option<Latency>,
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

/// One peer's statistics for one second of a call.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StatsLine {
    /// Seconds since connecting.
    pub t: u64,
    /// Call state (`connected`, `reconnecting`...).
    pub state: String,
    /// Whether the signaling connection is up (media does not need it).
    pub signaling: bool,
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
}

/// Turns cumulative counters into per-second rates.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    last: std::collections::HashMap<&'static str, u64>,
}

impl Rates {
    /// How much `name` grew since the last call (0 the first time it goes down).
    pub fn delta(&mut self, name: &'static str, now: u64) -> u64 {
        let before = self.last.insert(name, now).unwrap_or(0);
        now.saturating_sub(before)
    }

    /// Bytes since the last call as kbit/s over one second.
    pub fn kbps(&mut self, name: &'static str, bytes: u64) -> u64 {
        self.delta(name, bytes) * 8 / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles_come_from_the_sorted_samples() {
        assert_eq!(Latency::of(vec![]), None);
        let l = Latency::of((1..=100).rev().map(f64::from).collect()).expect("samples");
        assert_eq!((l.p50, l.p95, l.max), (51.0, 95.0, 100.0));
        let one = Latency::of(vec![12.34]).expect("a sample");
        assert_eq!((one.p50, one.max), (12.3, 12.3));
    }

    #[test]
    fn rates_are_differences_between_snapshots() {
        let mut r = Rates::default();
        assert_eq!(r.delta("frames", 30), 30);
        assert_eq!(r.delta("frames", 60), 30);
        assert_eq!(r.kbps("bytes", 125_000), 1_000);
        assert_eq!(r.kbps("bytes", 250_000), 1_000);
        assert_eq!(r.delta("frames", 10), 0, "a counter reset is not negative");
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
        assert_eq!(json["audio_out"]["expected_loss_pct"], 0);
    }
}
