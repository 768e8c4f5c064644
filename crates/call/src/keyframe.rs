//! Keyframe requests (PLI/FIR) both ways.
//!
//! Receiving side: [`PliLimiter`] decides when a decoder that cannot decode may ask the
//! sender for a keyframe (pure: time is an argument). Sending side: the requests reach
//! the local track through [`crate::feedback::RtcpTap`]; [`is_keyframe_request`] picks
//! them out.

use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

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

    /// Changes the interval.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
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
