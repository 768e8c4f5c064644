//! What the network tells a sender: the congestion controller's estimate (GCC over
//! TWCC) and the receiver's RTCP reports (loss per stream, NACKs).
//!
//! webrtc 0.21 keeps inbound RTCP inside its interceptor chain and leaves the
//! corresponding stats at zero, so [`RtcpTap`], placed last in the chain, reads the
//! report blocks and NACKs into a shared [`Feedback`], and passes PLI and FIR on to
//! the application (they arrive as `TrackLocalEvent::OnRtcpPacket` on the local
//! track). [`ReportingEstimator`] wraps the bandwidth estimator to publish its target.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    nacked_packets: AtomicU64,
    reports: Mutex<HashMap<u32, StreamReport>>,
}

impl Feedback {
    /// The congestion controller's target bitrate, bits per second (0 before any).
    pub fn estimate_bps(&self) -> f64 {
        f64::from_bits(self.estimate_bps.load(Ordering::Relaxed))
    }

    /// Packets the remote asked us to send again (NACKed sequence numbers).
    pub fn nacked_packets(&self) -> u64 {
        self.nacked_packets.load(Ordering::Relaxed)
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

/// A bandwidth estimator that publishes its target bitrate to a [`Feedback`], and
/// gives the pacer (which follows `target_bitrate`) [`PACING_FACTOR`] times that.
pub struct ReportingEstimator<E> {
    inner: E,
    feedback: Arc<Feedback>,
}

impl<E: BandwidthEstimator> ReportingEstimator<E> {
    /// Wraps `inner`, publishing into `feedback`.
    pub fn new(inner: E, feedback: Arc<Feedback>) -> Self {
        let wrapped = Self { inner, feedback };
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
