//! Per-connection limits as plain types: the message rate limit and the keepalive.
//!
//! Pure: the caller passes `now`, so tests need no sleeping and no sockets.

use std::time::{Duration, Instant};

/// Allows `rate` messages per second on average, with bursts of up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: rate.max(0.0),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one; `false` means the message is over the limit.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the keepalive wants done when its deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveAction {
    /// The peer has been quiet for the ping interval: ping it.
    Ping,
    /// The peer did not answer the ping in time: drop it.
    Drop,
}

/// Decides when to ping a quiet peer and when to give up on it.
///
/// A peer silent since `t` is pinged at `t + interval` and dropped at
/// `t + interval + timeout`; any frame from it starts the wait over.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Duration,
    timeout: Duration,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl Keepalive {
    /// A keepalive for a peer last heard from at `now`.
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        Self {
            interval,
            timeout,
            last_heard: now,
            ping_sent: None,
        }
    }

    /// Any frame arrived from the peer.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = None;
    }

    /// When [`Keepalive::on_deadline`] is due.
    pub fn deadline(&self) -> Instant {
        match self.ping_sent {
            Some(sent) => sent + self.timeout,
            None => self.last_heard + self.interval,
        }
    }

    /// The deadline passed at `now`: ping, or drop if a ping went unanswered.
    pub fn on_deadline(&mut self, now: Instant) -> KeepaliveAction {
        if self.ping_sent.is_some() {
            KeepaliveAction::Drop
        } else {
            self.ping_sent = Some(now);
            KeepaliveAction::Ping
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_peer_is_pinged_then_dropped_within_thirty_seconds_by_default() {
        let config = crate::Config::default();
        let t0 = Instant::now();
        let mut k = Keepalive::new(config.ping_interval, config.pong_timeout, t0);
        let ping_at = k.deadline();
        assert_eq!(k.on_deadline(ping_at), KeepaliveAction::Ping);
        let drop_at = k.deadline();
        assert_eq!(k.on_deadline(drop_at), KeepaliveAction::Drop);
        assert!(
            drop_at - t0 <= Duration::from_secs(30),
            "{:?}",
            drop_at - t0
        );
    }

    #[test]
    fn a_peer_that_answers_pings_is_never_dropped() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(Duration::from_secs(10), Duration::from_secs(10), t0);
        for _ in 0..100 {
            let at = k.deadline();
            assert_eq!(k.on_deadline(at), KeepaliveAction::Ping);
            k.heard(at + Duration::from_millis(50));
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(50.0, 200, t0);
        assert!((0..200).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        // 100 ms later, five more (50/s).
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!((0..10).filter(|_| bucket.try_take(t1)).count(), 5);
        // Refill never exceeds the burst.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..1000).filter(|_| bucket.try_take(t2)).count(), 200);
    }

    #[test]
    fn time_going_backwards_does_not_refill() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(1.0, 1, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 - Duration::from_secs(5)));
    }
}
