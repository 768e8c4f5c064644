//! Keyframe requests (PLI/FIR) both ways, and how often they are acted on.
//!
//! Keyframes are large, so both sides pace them with a [`KeyframeRequestLimiter`] (at
//! most one per interval; pure: time is an argument):
//! - receiving side: a decoder that cannot decode asks the sender for a keyframe at most
//!   every [`REQUEST_INTERVAL`] (stretched by the queue delay);
//! - sending side: the requests reach the local track through
//!   [`crate::feedback::RtcpTap`], [`is_keyframe_request`] picks them out, and the
//!   encoder answers them with a keyframe at most every [`ANSWER_INTERVAL`].

use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

/// The least time between two keyframe requests a receiver sends: about the time a
/// keyframe takes to come back on a short path, so a request is not repeated while
/// its answer is still on the way.
pub const REQUEST_INTERVAL: Duration = Duration::from_millis(250);

/// The least time between two keyframes a sender makes in answer to requests: a lossy
/// link that asks again and again is not flooded with large pictures (a request in
/// between is answered when the time is up).
pub const ANSWER_INTERVAL: Duration = Duration::from_millis(200);

/// Lets a keyframe request through at most once per interval: the receiver's requests
/// sent, and the sender's answers to them.
#[derive(Debug, Clone)]
pub struct KeyframeRequestLimiter {
    interval: Duration,
    last: Option<Instant>,
}

impl KeyframeRequestLimiter {
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

    /// Whether a request may go through at `now` (and, if so, counts it as let through).
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
        let mut l = KeyframeRequestLimiter::new(REQUEST_INTERVAL);
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
