//! Limits as plain types: the message rate limit and the keepalive of each connection,
//! and the connections and joins of each host ([`PerHost`]).
//!
//! Pure: the caller passes `now`, so tests need no sleeping and no sockets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
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
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full again at `now` (forgetting it changes nothing).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
    }
}

/// The host a connection comes from, as the per-host limits count it: an IPv4 address,
/// or an IPv6 address's /64 (one host usually has a whole /64 to pick addresses from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Host(IpAddr);

impl Host {
    /// The host of a peer at `ip` (an IPv4-mapped IPv6 address is its IPv4 host).
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Host(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Host(v4),
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
            v4 => write!(f, "{v4}"),
        }
    }
}

/// Per-host limits: at most `max_connections` open at once, and joins at `join_rate`
/// a second with bursts of `join_burst`. Zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerHostLimits {
    /// Most connections open at once from one host.
    pub max_connections: usize,
    /// Joins a second one host may send on average.
    pub join_rate: f64,
    /// Joins one host may send at once before `join_rate` applies.
    pub join_burst: u32,
}

/// What [`PerHost`] knows of one host.
#[derive(Debug)]
struct HostState {
    connections: usize,
    joins: Option<TokenBucket>,
}

/// Counts each host's open connections and its joins, so that one host cannot take every
/// connection slot or join in a tight loop.
///
/// A host is forgotten once it has no connection open and its join bucket is full again,
/// so the table holds the hosts connected now and those that joined in the last
/// `join_burst / join_rate` seconds.
#[derive(Debug)]
pub struct PerHost {
    limits: PerHostLimits,
    hosts: HashMap<Host, HostState>,
    /// Table size after the last sweep of forgettable hosts.
    swept_at: usize,
}

impl PerHost {
    /// Nobody connected yet.
    pub fn new(limits: PerHostLimits) -> Self {
        Self {
            limits,
            hosts: HashMap::new(),
            swept_at: 0,
        }
    }

    /// A connection from `host` opens; `false` (and not counted) when the host already
    /// has its maximum.
    pub fn connect(&mut self, host: Host, now: Instant) -> bool {
        self.sweep(now);
        let state = self.hosts.entry(host).or_insert(HostState {
            connections: 0,
            joins: None,
        });
        if self.limits.max_connections > 0 && state.connections >= self.limits.max_connections {
            return false;
        }
        state.connections += 1;
        true
    }

    /// A connection from `host` that [`PerHost::connect`] let in has closed.
    pub fn disconnect(&mut self, host: Host, now: Instant) {
        if let Some(state) = self.hosts.get_mut(&host) {
            state.connections = state.connections.saturating_sub(1);
            if Self::forgettable(state, now) {
                self.hosts.remove(&host);
            }
        }
    }

    /// A `join` from `host`; `false` when it is over the host's join rate.
    pub fn try_join(&mut self, host: Host, now: Instant) -> bool {
        if self.limits.join_rate <= 0.0 {
            return true;
        }
        let limits = self.limits;
        let state = self.hosts.entry(host).or_insert(HostState {
            connections: 0,
            joins: None,
        });
        state
            .joins
            .get_or_insert_with(|| TokenBucket::new(limits.join_rate, limits.join_burst, now))
            .try_take(now)
    }

    /// Connections open from `host`.
    pub fn connections(&self, host: Host) -> usize {
        self.hosts.get(&host).map_or(0, |s| s.connections)
    }

    /// Hosts remembered.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    fn forgettable(state: &mut HostState, now: Instant) -> bool {
        state.connections == 0 && state.joins.as_mut().is_none_or(|b| b.is_full(now))
    }

    /// Forgets the forgettable hosts whenever the table has doubled since the last sweep
    /// (amortized: a sweep per as many connects as the table holds).
    fn sweep(&mut self, now: Instant) {
        if self.hosts.len() < (2 * self.swept_at).max(64) {
            return;
        }
        self.hosts.retain(|_, state| !Self::forgettable(state, now));
        self.swept_at = self.hosts.len();
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

    fn host(ip: &str) -> Host {
        Host::of(ip.parse().unwrap())
    }

    #[test]
    fn one_host_gets_at_most_its_connections_and_others_are_not_affected() {
        let t0 = Instant::now();
        let mut hosts = PerHost::new(PerHostLimits {
            max_connections: 3,
            join_rate: 0.0,
            join_burst: 0,
        });
        let a = host("203.0.113.7");
        assert!((0..3).all(|_| hosts.connect(a, t0)));
        assert!(!hosts.connect(a, t0), "a fourth from the same host");
        assert_eq!(hosts.connections(a), 3);
        assert!(hosts.connect(host("203.0.113.8"), t0));
        hosts.disconnect(a, t0);
        assert!(hosts.connect(a, t0), "a slot freed");
        for _ in 0..3 {
            hosts.disconnect(a, t0);
        }
        hosts.disconnect(host("203.0.113.8"), t0);
        assert_eq!(hosts.hosts(), 0, "nothing left to remember");
    }

    #[test]
    fn an_ipv6_host_is_its_64_and_an_ipv4_mapped_address_is_its_ipv4_host() {
        let t0 = Instant::now();
        let mut hosts = PerHost::new(PerHostLimits {
            max_connections: 2,
            join_rate: 0.0,
            join_burst: 0,
        });
        assert!(hosts.connect(host("2001:db8:1:2::1"), t0));
        assert!(hosts.connect(host("2001:db8:1:2:ffff::9"), t0));
        assert!(!hosts.connect(host("2001:db8:1:2:aaaa::3"), t0), "same /64");
        assert!(hosts.connect(host("2001:db8:1:3::1"), t0), "another /64");
        assert_eq!(host("::ffff:192.0.2.1"), host("192.0.2.1"));
        assert_eq!(host("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn joins_past_a_hosts_burst_wait_for_its_rate_and_the_host_is_forgotten_after() {
        let t0 = Instant::now();
        let config = crate::Config::default();
        let mut hosts = PerHost::new(config.per_host_limits());
        let a = host("198.51.100.1");
        let burst = config.join_burst_per_ip as usize;
        assert_eq!(
            (0..burst + 10).filter(|_| hosts.try_join(a, t0)).count(),
            burst
        );
        assert!(hosts.try_join(host("198.51.100.2"), t0), "another host");
        // A second later, `rate` more.
        let t1 = t0 + Duration::from_secs(1);
        let rate = config.join_rate_per_ip as usize;
        assert_eq!(
            (0..rate + 10).filter(|_| hosts.try_join(a, t1)).count(),
            rate
        );
        // Closing a connection does not reset the bucket: the host is remembered until
        // its bucket is full again, then forgotten.
        assert!(hosts.connect(a, t1));
        hosts.disconnect(a, t1);
        assert!(!hosts.try_join(a, t1));
        assert!(hosts.hosts() >= 1);
        let later = t1 + Duration::from_secs_f64(burst as f64 / config.join_rate_per_ip + 1.0);
        assert!(hosts.connect(a, later));
        hosts.disconnect(a, later);
        assert!(hosts.try_join(a, later));
    }

    #[test]
    fn the_table_sweeps_hosts_it_no_longer_needs() {
        let t0 = Instant::now();
        let mut hosts = PerHost::new(PerHostLimits {
            max_connections: 10,
            join_rate: 1.0,
            join_burst: 1,
        });
        for i in 0..1000u32 {
            let h = Host::of(IpAddr::from(i.to_be_bytes()));
            hosts.try_join(h, t0);
        }
        assert_eq!(hosts.hosts(), 1000);
        let later = t0 + Duration::from_secs(5);
        assert!(hosts.connect(host("192.0.2.1"), later));
        assert_eq!(hosts.hosts(), 1, "the 1000 joined long enough ago");
    }

    #[test]
    fn zero_means_no_limit() {
        let t0 = Instant::now();
        let mut hosts = PerHost::new(PerHostLimits {
            max_connections: 0,
            join_rate: 0.0,
            join_burst: 0,
        });
        let a = host("192.0.2.1");
        assert!((0..20_000).all(|_| hosts.connect(a, t0) && hosts.try_join(a, t0)));
    }

    #[test]
    fn time_going_backwards_does_not_refill() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(1.0, 1, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 - Duration::from_secs(5)));
    }
}
