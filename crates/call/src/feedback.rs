//! What the network tells a sender: the congestion controller's estimate (GCC over
//! TWCC) and the receiver's RTCP reports (loss per stream, NACKs).
//!
//! webrtc 0.21 keeps inbound RTCP inside its interceptor chain and leaves the
//! corresponding stats at zero, so [`RtcpTap`], placed last in the chain, reads the
//! report blocks and NACKs into a shared [`Feedback`], and passes PLI and FIR on to
//! the application (they arrive as `TrackLocalEvent::OnRtcpPacket` on the local
//! track). [`ReportingEstimator`] wraps the bandwidth estimator to publish its target,
//! and reads the transport feedback's send and arrival times itself ([`QueueDelay`]):
//! how long our packets now wait in a queue on the path, the rate the receiver gets
//! them at and, while they wait, the link's, every feedback (~100 ms), where the ICE round trip comes every few
//! seconds and GCC's own delay detector of webrtc 0.21 was seen missing a bottleneck;
//! and how late the feedback itself comes ([`Lateness`]), the first sign of a queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::interceptor::{
    Attribute, BandwidthEstimator, EstimatorStats, Interceptor, Packet, PacketReport, StreamInfo,
    TaggedPacket,
};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;

use crate::keyframe::is_keyframe_request;

/// The latest receiver report about one of our streams.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamReport {
    /// Fraction of packets lost since the previous report, 0..=1.
    pub fraction_lost: f64,
    /// Packets lost since the stream started.
    pub total_lost: u32,
}

/// Feedback shared between the interceptor chain and the call engine.
#[derive(Debug, Default)]
pub struct Feedback {
    estimate_bps: AtomicU64,
    /// [`QueueDelay::queue_ms`], [`QueueDelay::delivered_bps`] and
    /// [`QueueDelay::link_bps`], as f64 bits.
    queue_ms: AtomicU64,
    delivered_bps: AtomicU64,
    link_bps: AtomicU64,
    nacked_packets: AtomicU64,
    reports: Mutex<HashMap<u32, StreamReport>>,
    lateness: Mutex<Lateness>,
}

impl Feedback {
    /// The congestion controller's target bitrate, bits per second (0 before any).
    pub fn estimate_bps(&self) -> f64 {
        f64::from_bits(self.estimate_bps.load(Ordering::Relaxed))
    }

    /// How long our packets wait in a queue on the path now, ms (0 before any
    /// transport feedback): see [`QueueDelay`].
    pub fn queue_ms(&self) -> f64 {
        f64::from_bits(self.queue_ms.load(Ordering::Relaxed))
    }

    /// The rate the receiver got our packets at over the last second, bits per second
    /// (0 before any transport feedback).
    pub fn delivered_bps(&self) -> f64 {
        f64::from_bits(self.delivered_bps.load(Ordering::Relaxed))
    }

    /// The rate our packets that waited in a queue on the path lately arrived at, bits
    /// per second: the link's (0 when none did).
    pub fn link_bps(&self) -> f64 {
        f64::from_bits(self.link_bps.load(Ordering::Relaxed))
    }

    /// Packets the remote asked us to send again (NACKed sequence numbers).
    pub fn nacked_packets(&self) -> u64 {
        self.nacked_packets.load(Ordering::Relaxed)
    }

    /// How much later than usual transport feedback is at `now`, ms (`None` while none
    /// comes): see [`Lateness`].
    pub fn late_ms(&self, now: Instant) -> Option<f64> {
        let late = self.lateness.lock().ok()?.late(now)?;
        Some(late.as_secs_f64() * 1000.0)
    }

    /// The latest report the remote sent about our stream `ssrc`.
    pub fn report(&self, ssrc: u32) -> Option<StreamReport> {
        self.reports.lock().ok()?.get(&ssrc).copied()
    }

    fn record(&self, blocks: &[ReceptionReport]) {
        if let Ok(mut reports) = self.reports.lock() {
            for block in blocks {
                reports.insert(
                    block.ssrc,
                    StreamReport {
                        fraction_lost: f64::from(block.fraction_lost) / 256.0,
                        total_lost: block.total_lost,
                    },
                );
            }
        }
    }
}

/// Reads inbound RTCP into a [`Feedback`] and passes keyframe requests on to the
/// application. Put it last in the chain.
pub struct RtcpTap {
    feedback: Arc<Feedback>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl RtcpTap {
    /// A tap that records into `feedback`.
    pub fn new(feedback: Arc<Feedback>) -> Self {
        Self {
            feedback,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RtcpTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for packet in packets {
                let any = packet.as_any();
                if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    self.feedback.record(&rr.reports);
                } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    self.feedback.record(&sr.reports);
                } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                    let n: u64 = nack
                        .nacks
                        .iter()
                        .map(|p| 1 + u64::from(p.lost_packets.count_ones()))
                        .sum();
                    self.feedback.nacked_packets.fetch_add(n, Ordering::Relaxed);
                }
            }
            let requests: Vec<_> = packets
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for RtcpTap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// How much faster than the estimate the pacer may send (Chrome's pacing factor):
/// pacing at exactly the estimate builds a standing queue out of every keyframe and
/// retransmission, and the queue delays the repairs that would have cleared it.
pub const PACING_FACTOR: f64 = 2.5;

/// The pacer never goes slower than this (bits per second): after the estimate
/// collapses, a slow pacer spends seconds sending what it queued before, all stale;
/// and at the start its 100 ms burst then holds a whole 640x480 keyframe (at 1 Mbit/s
/// the first picture waited ~85 ms in the pacer).
pub const PACING_FLOOR: f64 = 3_000_000.0;

/// How long the base of the one-way delay is remembered: the smallest send-to-arrival
/// offset over this window is the path without a queue.
const BASE_WINDOW: Duration = Duration::from_secs(10);
/// The window the receiver's rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// A packet that waited this much longer than the path's base delay (µs) waited in a
/// queue: the link was busy all the while, so the rate such packets arrive at is the
/// link's. Above the jitter of a jittery path's single packets (±20 ms).
const WAITED_US: f64 = 30_000.0;

/// The queue on the path, from transport feedback (a plain type: every packet's send
/// time and arrival time, on the receiver's clock, go in). A packet's offset is its
/// arrival minus its departure; the smallest offset of the last [`BASE_WINDOW`] is the
/// path with no queue (the two clocks' difference cancels), and how far the latest
/// feedback's packets lie above it, on average, is the queue they waited in. The
/// arrived packets' bytes over the last [`RATE_WINDOW`] of arrival time are the rate
/// the receiver gets; those of the latest packets that waited in a queue, the link's
/// rate (it was busy all the while they arrived).
#[derive(Debug, Default)]
pub struct QueueDelay {
    /// The first departure seen: offsets are counted from it.
    epoch: Option<Instant>,
    /// (departure, offset µs) of recent packets, oldest first, for the base.
    offsets: VecDeque<(Instant, f64)>,
    /// (arrival µs, bytes) of the last second's arrivals.
    arrivals: VecDeque<(f64, usize)>,
    /// The same of the packets since the last that did not wait in a queue.
    waited: VecDeque<(f64, usize)>,
    queue_ms: f64,
}

impl QueueDelay {
    /// Takes one feedback's packets: (departure, arrival on the receiver's clock if it
    /// arrived, size in bytes).
    pub fn on_feedback(
        &mut self,
        packets: impl IntoIterator<Item = (Instant, Option<Duration>, usize)>,
    ) {
        let mut arrived = Vec::new();
        for (departure, arrival, size) in packets {
            let Some(arrival) = arrival else { continue };
            let epoch = *self.epoch.get_or_insert(departure);
            let sent_us = departure.saturating_duration_since(epoch).as_secs_f64() * 1e6;
            let arrival_us = arrival.as_secs_f64() * 1e6;
            let offset = arrival_us - sent_us;
            self.offsets.push_back((departure, offset));
            self.arrivals.push_back((arrival_us, size));
            arrived.push((offset, arrival_us, size));
        }
        let Some(&(newest, _)) = self.offsets.back() else {
            return;
        };
        while self
            .offsets
            .front()
            .is_some_and(|(at, _)| newest.saturating_duration_since(*at) > BASE_WINDOW)
        {
            self.offsets.pop_front();
        }
        if !arrived.is_empty() {
            let base = self
                .offsets
                .iter()
                .map(|o| o.1)
                .fold(f64::INFINITY, f64::min);
            for &(offset, arrival_us, size) in &arrived {
                if offset - base > WAITED_US {
                    self.waited.push_back((arrival_us, size));
                } else {
                    self.waited.clear();
                }
            }
            let mean = arrived.iter().map(|a| a.0).sum::<f64>() / arrived.len() as f64;
            self.queue_ms = ((mean - base) / 1000.0).max(0.0);
        }
        let last_arrival = self.arrivals.back().map_or(0.0, |a| a.0);
        let window_us = RATE_WINDOW.as_secs_f64() * 1e6;
        for arrivals in [&mut self.arrivals, &mut self.waited] {
            while arrivals
                .front()
                .is_some_and(|(at, _)| last_arrival - at > window_us)
            {
                arrivals.pop_front();
            }
        }
    }

    /// How long the latest feedback's packets waited in a queue, on average, ms.
    pub fn queue_ms(&self) -> f64 {
        self.queue_ms
    }

    /// The rate the receiver got our packets at over the last [`RATE_WINDOW`] of
    /// arrivals, bits per second (0 until it spans a quarter of that).
    pub fn delivered_bps(&self) -> f64 {
        rate_bps(&self.arrivals, RATE_WINDOW.as_secs_f64() / 4.0).unwrap_or(0.0)
    }

    /// The rate the latest packets that waited in a queue arrived at (over up to
    /// [`RATE_WINDOW`] of them), bits per second: what the link carries, however
    /// little we sent before the queue. 0 while the latest packets did not wait, or
    /// those that did span under a tenth of the window.
    pub fn link_bps(&self) -> f64 {
        rate_bps(&self.waited, RATE_WINDOW.as_secs_f64() / 10.0).unwrap_or(0.0)
    }
}

/// The rate of `arrivals` (µs, bytes), bits per second, if they span `least_s`.
fn rate_bps(arrivals: &VecDeque<(f64, usize)>, least_s: f64) -> Option<f64> {
    let (first, last) = (arrivals.front()?, arrivals.back()?);
    let span_s = (last.0 - first.0) / 1e6;
    // The first arrival opens the span: its bytes came before it.
    let bytes: usize = arrivals.iter().skip(1).map(|a| a.1).sum();
    (span_s >= least_s).then(|| bytes as f64 * 8.0 / span_s)
}

/// Feedback that has stopped coming for this long, on time when it stopped, is silent,
/// not late: the path is out (or the remote sends none), and a sender holding back for
/// it would only come back later once the path does. A queue still lets feedback
/// through, every ~100 ms, only about older packets.
const FEEDBACK_SILENT: Duration = Duration::from_millis(500);

/// Feedback this much later than usual when it stopped coming stays late through the
/// silence: it is stuck behind the same queue (both directions' fill behind a
/// bottleneck, and a full one drops what comes), not an outage.
const LATE_INTO_SILENCE: Duration = Duration::from_millis(200);

/// Feedback silent this long is gone however late it was: a remote that stopped
/// sending it is not waited for.
const FEEDBACK_GONE: Duration = Duration::from_secs(5);

/// How late transport feedback is (a plain type: each feedback's arrival and the newest
/// departure it reports go in). A feedback usually comes a round trip plus the
/// receiver's batching (~100 ms) after the newest packet it reports; the least of that
/// over the last [`BASE_WINDOW`] is the usual, and how far the time since the newest
/// reported departure lies beyond it is how late the feedback now is. Late feedback is
/// the first sign of a queue on the path, ours or the one the feedback comes back
/// through: both directions' queues fill behind a bottleneck, and then every other
/// signal (the queue our packets waited in, loss, the round trip) arrives seconds old.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    /// The newest departure any feedback has reported.
    newest: Option<Instant>,
    /// (arrival, arrival − newest departure reported) of recent feedbacks, oldest first.
    delays: VecDeque<(Instant, Duration)>,
}

impl Lateness {
    /// A feedback arrived at `now` reporting packets up to the `newest` departure.
    pub fn on_feedback(&mut self, now: Instant, newest: Instant) {
        let newest = self.newest.map_or(newest, |n| n.max(newest));
        self.newest = Some(newest);
        self.delays
            .push_back((now, now.saturating_duration_since(newest)));
        while self
            .delays
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > BASE_WINDOW)
        {
            self.delays.pop_front();
        }
    }

    /// How much later than usual feedback is at `now`; `None` before any, and while
    /// none has come for [`FEEDBACK_SILENT`] after feedback on time (within
    /// [`LATE_INTO_SILENCE`]), or for [`FEEDBACK_GONE`] whatever it was.
    pub fn late(&self, now: Instant) -> Option<Duration> {
        let newest = self.newest?;
        let (last, delay) = self.delays.back()?;
        let usual = self.delays.iter().map(|d| d.1).min()?;
        let silent = now.saturating_duration_since(*last);
        if silent > FEEDBACK_GONE
            || (silent > FEEDBACK_SILENT && delay.saturating_sub(usual) < LATE_INTO_SILENCE)
        {
            return None;
        }
        Some(now.saturating_duration_since(newest).saturating_sub(usual))
    }
}

/// A bandwidth estimator that publishes its target bitrate to a [`Feedback`], and
/// gives the pacer (which follows `target_bitrate`) [`PACING_FACTOR`] times that.
pub struct ReportingEstimator<E> {
    inner: E,
    feedback: Arc<Feedback>,
    queue: QueueDelay,
}

impl<E: BandwidthEstimator> ReportingEstimator<E> {
    /// Wraps `inner`, publishing into `feedback`.
    pub fn new(inner: E, feedback: Arc<Feedback>) -> Self {
        let wrapped = Self {
            inner,
            feedback,
            queue: QueueDelay::default(),
        };
        wrapped.publish();
        wrapped
    }

    fn publish(&self) {
        self.feedback
            .estimate_bps
            .store(self.inner.target_bitrate().to_bits(), Ordering::Relaxed);
    }
}

impl<E: BandwidthEstimator> BandwidthEstimator for ReportingEstimator<E> {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.inner.on_reports(now, reports);
        self.publish();
        self.queue.on_feedback(
            reports
                .iter()
                .filter(|r| r.is_twcc)
                .map(|r| (r.departure, r.arrival.filter(|_| r.arrived), r.size)),
        );
        self.feedback
            .queue_ms
            .store(self.queue.queue_ms().to_bits(), Ordering::Relaxed);
        self.feedback
            .delivered_bps
            .store(self.queue.delivered_bps().to_bits(), Ordering::Relaxed);
        self.feedback
            .link_bps
            .store(self.queue.link_bps().to_bits(), Ordering::Relaxed);
        if let (Some(newest), Ok(mut lateness)) = (
            reports.iter().map(|r| r.departure).max(),
            self.feedback.lateness.lock(),
        ) {
            lateness.on_feedback(now, newest);
        }
    }

    fn target_bitrate(&self) -> f64 {
        (self.inner.target_bitrate() * PACING_FACTOR).max(PACING_FLOOR)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
        self.publish();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::Gcc;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;

    fn inbound(packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: Default::default(),
            message: Packet::Rtcp(packets).into(),
        }
    }

    #[test]
    fn a_queue_shows_as_arrivals_falling_behind_departures_and_the_rate_as_what_arrived() {
        let start = Instant::now();
        let mut q = QueueDelay::default();
        // 100 packets of 1,000 bytes every 10 ms (800 kbit/s), 3 ms apart on the
        // receiver's clock whose zero is 5 s off ours: no queue.
        let ms = |n: u64| Duration::from_millis(n);
        let packet = |i: u64, extra: u64| {
            (
                start + ms(10 * i),
                Some(ms(5_000 + 3 + 10 * i + extra)),
                1_000,
            )
        };
        for batch in 0..10 {
            q.on_feedback((batch * 10..batch * 10 + 10).map(|i| packet(i, 0)));
        }
        assert!(q.queue_ms() < 0.001, "queue {}", q.queue_ms());
        let rate = q.delivered_bps();
        assert!((790_000.0..=810_000.0).contains(&rate), "rate {rate}");
        // Then the path carries half of it: each packet waits 10 ms more than the one
        // before, and the receiver gets 400 kbit/s.
        for batch in 10..20 {
            q.on_feedback((batch * 10..batch * 10 + 10).map(|i| packet(i, 10 * (i - 99))));
        }
        // The last feedback's packets waited 910 to 1,000 ms: 955 on average.
        assert!(
            (954.0..=956.0).contains(&q.queue_ms()),
            "queue {}",
            q.queue_ms()
        );
        let rate = q.delivered_bps();
        assert!((395_000.0..=405_000.0).contains(&rate), "rate {rate}");
        let rate = q.link_bps();
        assert!((395_000.0..=405_000.0).contains(&rate), "link {rate}");
        // Lost packets (no arrival) count for neither.
        q.on_feedback([(start + ms(2_000), None, 1_000)]);
        assert!((954.0..=956.0).contains(&q.queue_ms()));
    }

    #[test]
    fn while_a_queue_stands_the_link_rate_is_the_waiting_packets_not_an_average_with_idle_time() {
        let start = Instant::now();
        let mut q = QueueDelay::default();
        let ms = |n: u64| Duration::from_millis(n);
        // 700 ms of 1,000-byte packets every 80 ms (100 kbit/s) through a 400 kbit/s
        // link that stays idle between them (20 ms each on the wire)...
        let mut packets: Vec<_> = (0..9)
            .map(|i| (start + ms(80 * i), Some(ms(20 + 80 * i)), 1_000))
            .collect();
        // ...then 800 kbit/s (every 10 ms) for 300 ms: the link takes one every 20 ms,
        // the rest wait.
        let burst_start = 80 * 9;
        let mut free_at = 80 * 8 + 20;
        for i in 0..30 {
            let sent = burst_start + 10 * i;
            let arrival = sent.max(free_at) + 20;
            free_at = arrival;
            packets.push((start + ms(sent), Some(ms(arrival)), 1_000));
        }
        for batch in packets.chunks(5) {
            q.on_feedback(batch.iter().copied());
        }
        assert!(q.queue_ms() > 100.0, "queue {}", q.queue_ms());
        // Over the whole last second the receiver got ~280 kbit/s; while the queue
        // stood, the link's 400.
        let rate = q.delivered_bps();
        assert!((270_000.0..=290_000.0).contains(&rate), "rate {rate}");
        let link = q.link_bps();
        assert!((390_000.0..=410_000.0).contains(&link), "link {link}");
        // Once a packet passes without waiting, the link's rate is unknown again.
        q.on_feedback([(start + ms(2_000), Some(ms(2_020)), 1_000)]);
        assert!(q.queue_ms() < 1.0, "queue {}", q.queue_ms());
        assert_eq!(q.link_bps(), 0.0);
    }

    #[test]
    fn feedback_is_late_by_how_long_it_stays_away_beyond_its_usual_round_trip() {
        let start = Instant::now();
        let ms = |n: u64| Duration::from_millis(n);
        let mut l = Lateness::default();
        assert_eq!(l.late(start), None, "nothing heard yet");
        // Every 100 ms a feedback reports the packets up to 40 to 140 ms before it.
        for i in 1..=50 {
            let at = start + ms(100 * i);
            l.on_feedback(at, at - ms(40 + 100 * (i % 2)));
        }
        let last = start + ms(5_000);
        assert_eq!(
            l.late(last),
            Some(ms(0)),
            "the usual is the quickest: 40 ms"
        );
        assert_eq!(l.late(last + ms(60)), Some(ms(60)));
        // Feedback on time that stops coming is silence (the path is out), not
        // lateness.
        let out = l.clone();
        assert_eq!(out.late(last + ms(500)), Some(ms(500)));
        assert_eq!(out.late(last + ms(501)), None);
        // Feedback that keeps coming about packets no newer (they wait in a queue):
        // later and later.
        for i in 1..=4 {
            l.on_feedback(last + ms(100 * i), last - ms(500));
        }
        assert_eq!(l.late(last + ms(450)), Some(ms(450)));
        // Stopping then is the same queue (full, or the feedback stuck behind the other
        // direction's): late still, until it has been away for good.
        assert_eq!(l.late(last + ms(901)), Some(ms(901)));
        assert_eq!(l.late(last + ms(5_400)), Some(ms(5_400)));
        assert_eq!(l.late(last + ms(5_401)), None);
    }

    #[test]
    fn receiver_reports_and_nacks_are_recorded_and_only_keyframe_requests_pass() {
        let feedback = Arc::new(Feedback::default());
        let mut tap = RtcpTap::new(Arc::clone(&feedback));
        let rr = ReceiverReport {
            reports: vec![ReceptionReport {
                ssrc: 42,
                fraction_lost: 64,
                total_lost: 7,
                ..Default::default()
            }],
            ..Default::default()
        };
        let nack = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 42,
            nacks: vec![NackPair {
                packet_id: 10,
                lost_packets: 0b101,
            }],
        };
        tap.handle_read(inbound(vec![Box::new(rr), Box::new(nack)]))
            .expect("read");
        assert!(tap.poll_read().is_none(), "reports stay in the chain");
        assert_eq!(
            feedback.report(42),
            Some(StreamReport {
                fraction_lost: 0.25,
                total_lost: 7
            })
        );
        assert_eq!(feedback.nacked_packets(), 3);
        let pli = rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 42,
        };
        tap.handle_read(inbound(vec![Box::new(pli)])).expect("read");
        let out = tap.poll_read().expect("the PLI goes on");
        assert!(out.message.get(&Attribute::DeliverToApplication).is_some());
    }

    #[test]
    fn the_estimator_target_is_published() {
        let feedback = Arc::new(Feedback::default());
        let estimator = ReportingEstimator::new(
            Gcc::new(700_000.0, 100_000.0, 2_000_000.0),
            Arc::clone(&feedback),
        );
        assert_eq!(feedback.estimate_bps(), 700_000.0);
        // The pacer gets 2.5x the estimate, but never less than the floor.
        let fast = ReportingEstimator::new(
            Gcc::new(2_000_000.0, 100_000.0, 4_000_000.0),
            Arc::clone(&feedback),
        );
        assert_eq!(fast.target_bitrate(), 2_000_000.0 * PACING_FACTOR);
        assert_eq!(estimator.target_bitrate(), PACING_FLOOR);
        let slow = ReportingEstimator::new(Gcc::new(150_000.0, 100_000.0, 2_000_000.0), feedback);
        assert_eq!(slow.target_bitrate(), PACING_FLOOR);
    }
}
