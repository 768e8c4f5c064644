//! Keyframe requests (PLI/FIR) both ways.
//!
//! Receiving side: [`PliLimiter`] decides when a decoder that cannot decode may ask the
//! sender for a keyframe (pure: time is an argument). Sending side: webrtc 0.21 keeps
//! inbound RTCP inside its interceptor chain, so [`KeyframeRequestForwarder`], placed
//! last, marks PLI and FIR for delivery to the application, where they arrive as
//! `TrackLocalEvent::OnRtcpPacket` on the local track.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;

/// Lets a receiver send at most one keyframe request per interval.
#[derive(Debug, Clone)]
pub struct PliLimiter {
    interval: Duration,
    last: Option<Instant>,
}

impl PliLimiter {
    /// At most one request per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
        }
    }

    /// Whether a request may go out at `now` (and, if so, counts it as sent).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// Passes inbound PLI and FIR on to the application; drops the rest of the inbound
/// RTCP, which the interceptors before it have already acted on. Put it last.
#[derive(Default)]
pub struct KeyframeRequestForwarder {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
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

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframe_requests_are_rate_limited() {
        let t0 = Instant::now();
        let mut l = PliLimiter::new(Duration::from_millis(250));
        assert!(l.allow(t0));
        assert!(!l.allow(t0 + Duration::from_millis(100)));
        assert!(!l.allow(t0 + Duration::from_millis(249)));
        assert!(l.allow(t0 + Duration::from_millis(250)));
    }

    #[test]
    fn pli_and_fir_are_keyframe_requests_and_receiver_reports_are_not() {
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        };
        assert!(is_keyframe_request(&pli));
        let rr = rtc::rtcp::receiver_report::ReceiverReport::default();
        assert!(!is_keyframe_request(&rr));
    }
}
