//! Keeps a lost DTLS handshake flight from stalling the connection for good.
//!
//! RFC 6347 4.2.4: a DTLS peer that waits for the next flight retransmits its own when its
//! timer expires, or when the other side repeats its previous flight (a repeat means ours
//! was lost). The DTLS of webrtc 0.21 does neither once a repeat arrives: any handshake
//! record that comes in cancels its retransmission timer, and a flight it already has is
//! parsed as incomplete, so nothing is sent. Both sides retransmit every second, and a
//! repeat leaves one side about a millisecond before the other's timer would fire, so
//! when a client's last flight (or a server's first) is lost, the repeat lands first,
//! the flight is never sent again, and the call never connects (a call between two
//! peercalls on the benchmark's 5%-loss link did so in one of its first three seeds; a
//! browser calling us, whenever our first flight was lost: it repeats its own within
//! ~100 ms).
//!
//! The fix from outside the stack, on its sockets: a datagram that only repeats handshake
//! fragments the peer already sent us is dropped before the stack sees it (so its timer
//! stays armed and sends its flight again a second later), and our last flight, as it
//! went out, is sent again at once (the peer never saw its record numbers, so it takes
//! them; what it did see it drops as a replay): a browser repeats its flight within ~100
//! ms. Everything else passes: new fragments, ChangeCipherSpec and encrypted records (a
//! completed side sends its last flight again on those), and any ClientHello numbered 0
//! (a server answers a repeated first ClientHello with its HelloVerifyRequest, having no
//! timer of its own there). [`RepeatFilter`] and [`LastFlight`] decide; [`FilteringRuntime`]
//! puts them on the sockets of a peer connection.
//!
//! The stack's timer waits a second before it sends a flight again: on a lossy link one
//! lost flight in a handshake of six cost a call a second of its setup (on the
//! benchmark's 5%-loss link, 1.0 s more in one run of three). So the client, whose
//! flights all wait for an answer, sends its flight again itself when none comes in
//! twice the round trip its earlier flights were answered in (250 ms before one is
//! known), doubling, a few times: as libwebrtc sets BoringSSL's first retransmission
//! to twice the ICE round trip, at least 50 ms. A server's lost flight is recovered
//! through that: the client's repeat makes it send its own again at once.

use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    Transmit,
};

/// DTLS record content type of a handshake message.
const HANDSHAKE: u8 = 22;
/// A DTLS record header: type, version, epoch, sequence number, length.
const RECORD_HEADER: usize = 13;
/// A DTLS handshake header: type, length, message_seq, fragment offset and length.
const HANDSHAKE_HEADER: usize = 12;
/// First bytes of a TURN ChannelData message (RFC 8656 12.4), which carries a datagram
/// relayed through TURN behind a 4-byte header.
const CHANNEL_DATA: std::ops::RangeInclusive<u8> = 0x40..=0x4f;
/// DTLS record content type of ChangeCipherSpec.
const CHANGE_CIPHER_SPEC: u8 = 20;
/// Datagrams we send within this of each other are one flight; the stack's timer sends
/// a flight again a second later.
const FLIGHT_SPAN: Duration = Duration::from_millis(200);
/// Our flight is sent again at most this often, however many datagrams of the peer's
/// repeat arrive.
const RESEND_GAP: Duration = Duration::from_millis(50);
/// A client's flight unanswered this long is sent again, before a round trip is known.
const FIRST_TIMEOUT: Duration = Duration::from_millis(250);
/// The least and most time a client waits for an answer before it sends its flight
/// again (twice the round trip otherwise; doubling with each time sent).
const TIMEOUTS: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_millis(800);
/// How often a client sends one flight again before leaving it to the stack's timer.
const MAX_TIMER_RESENDS: u32 = 3;
/// The handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;

/// What a datagram from the peer is, to the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// Only handshake fragments that arrived before: our flight was lost.
    Repeat,
    /// Handshake records, some new: the peer answered.
    Handshake,
    /// Anything else (media, STUN, application data, alerts).
    Other,
}

/// The DTLS datagram inside a TURN ChannelData message, or `datagram` itself.
fn unwrapped(datagram: &[u8]) -> &[u8] {
    match datagram.first() {
        Some(b) if CHANNEL_DATA.contains(b) && datagram.len() >= 4 => {
            let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
            &datagram[4..datagram.len().min(4 + len)]
        }
        _ => datagram,
    }
}

/// Whether `datagram` starts with a handshake or ChangeCipherSpec record.
fn is_handshake(datagram: &[u8]) -> bool {
    matches!(
        unwrapped(datagram).first(),
        Some(&(HANDSHAKE | CHANGE_CIPHER_SPEC))
    )
}

/// The most handshake fragments a [`RepeatFilter`] remembers (a handshake has a dozen).
const MAX_SEEN: usize = 64;

/// Which of the peer's handshake fragments have arrived, and whether a datagram only
/// repeats them.
#[derive(Debug, Default)]
pub struct RepeatFilter {
    /// The peer's epoch-0 handshake fragments that have arrived.
    seen: Vec<Fragment>,
}

impl RepeatFilter {
    /// What `datagram` (as received from the peer) is: a [`Incoming::Repeat`], to be
    /// dropped, when every record in it is an epoch-0 handshake fragment of a message
    /// numbered 1 or more that has arrived before, the same bytes of the same message.
    /// Otherwise its fragments count as arrived. (A repeated flight comes in the same
    /// fragments: Chromium's ClientHello comes in two.)
    pub fn incoming(&mut self, datagram: &[u8]) -> Incoming {
        let datagram = unwrapped(datagram);
        if !is_handshake(datagram) {
            return Incoming::Other;
        }
        let Some(fragments) = handshake_fragments(datagram) else {
            return Incoming::Handshake;
        };
        if fragments
            .iter()
            .all(|f| f.seq >= 1 && self.seen.contains(f))
        {
            return Incoming::Repeat;
        }
        for f in fragments {
            if self.seen.len() < MAX_SEEN && !self.seen.contains(&f) {
                self.seen.push(f);
            }
        }
        Incoming::Handshake
    }
}

/// One datagram as the stack sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Where to.
    pub to: SocketAddr,
    /// From which of our addresses, where the stack said.
    pub from: Option<std::net::IpAddr>,
    /// The datagram (several of one size, with `segment_size`).
    pub contents: Vec<u8>,
    /// Their size, when several.
    pub segment_size: Option<usize>,
}

/// Our last handshake flight as it went out, to send again at once when the peer
/// repeats its own (the stack's timer would send it only a second after the flight: a
/// browser repeats its flight within ~100 ms), and, as the client, when no answer
/// comes in time ([`LastFlight::resend_at`]).
#[derive(Debug, Default)]
pub struct LastFlight {
    datagrams: Vec<Sent>,
    /// When the last of them went out.
    sent: Option<Instant>,
    /// New handshake records came from the peer since: what we send next is a new
    /// flight, and there is none of ours to repeat until then.
    answered: bool,
    /// When the flight was last sent again.
    resent: Option<Instant>,
    /// We sent a ClientHello: every flight of ours waits for an answer.
    client: bool,
    /// How long the peer took to answer our last flight not sent again.
    rtt: Option<Duration>,
    /// How often the flight was sent again for want of an answer.
    timer_resends: u32,
}

impl LastFlight {
    /// Notes a datagram the stack sends at `now`.
    pub fn on_send(&mut self, now: Instant, datagram: Sent) {
        if !is_handshake(&datagram.contents) {
            return;
        }
        let later = self
            .sent
            .is_none_or(|t| now.duration_since(t) > FLIGHT_SPAN);
        if self.answered || later {
            self.datagrams.clear();
            self.answered = false;
            self.resent = None;
            self.timer_resends = 0;
        }
        let record = unwrapped(&datagram.contents);
        self.client |=
            record.first() == Some(&HANDSHAKE) && record.get(RECORD_HEADER) == Some(&CLIENT_HELLO);
        self.datagrams.push(datagram);
        self.sent = Some(now);
    }

    /// When the client sends its flight again for want of an answer, if it does: twice
    /// the round trip after it went out (or [`FIRST_TIMEOUT`]), within [`TIMEOUTS`],
    /// doubling with each time sent, at most [`MAX_TIMER_RESENDS`] times.
    pub fn resend_at(&self) -> Option<Instant> {
        if !self.client
            || self.answered
            || self.datagrams.is_empty()
            || self.timer_resends >= MAX_TIMER_RESENDS
        {
            return None;
        }
        let timeout = self.rtt.map_or(FIRST_TIMEOUT, |rtt| {
            (2 * rtt).clamp(*TIMEOUTS.start(), *TIMEOUTS.end())
        });
        Some(self.resent.or(self.sent)? + timeout * 2u32.pow(self.timer_resends))
    }

    /// The datagrams to send again at `now`, if the flight is due ([`LastFlight::resend_at`]).
    pub fn on_timer(&mut self, now: Instant) -> &[Sent] {
        if self.resend_at().is_none_or(|at| at > now) {
            return &[];
        }
        self.timer_resends += 1;
        self.resent = Some(now);
        &self.datagrams
    }

    /// Notes what came from the peer at `now`; returns the datagrams to send again
    /// (on a repeat, at most once every [`RESEND_GAP`]).
    pub fn on_incoming(&mut self, now: Instant, incoming: Incoming) -> &[Sent] {
        match incoming {
            Incoming::Handshake => {
                // The round trip, from a flight sent once (an answer to one sent
                // again may be to either).
                if !self.answered
                    && self.resent.is_none()
                    && let Some(sent) = self.sent
                {
                    self.rtt = Some(now.saturating_duration_since(sent));
                }
                self.answered = true;
            }
            Incoming::Repeat if !self.answered => {
                if self
                    .resent
                    .is_none_or(|t| now.duration_since(t) >= RESEND_GAP)
                {
                    self.resent = Some(now);
                    return &self.datagrams;
                }
            }
            Incoming::Repeat | Incoming::Other => {}
        }
        &[]
    }
}

/// An epoch-0 handshake record's fragment of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fragment {
    /// The message's `message_seq`.
    seq: u16,
    /// Where the fragment starts in the message, and its length.
    offset: u32,
    len: u32,
}

/// The fragments of `datagram` if every record in it is an epoch-0 handshake record;
/// `None` if any is something else or malformed.
fn handshake_fragments(mut datagram: &[u8]) -> Option<Vec<Fragment>> {
    let mut fragments = Vec::new();
    while !datagram.is_empty() {
        let header = datagram.get(..RECORD_HEADER)?;
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let body = datagram.get(RECORD_HEADER..RECORD_HEADER + len)?;
        if header[0] != HANDSHAKE || epoch != 0 || body.len() < HANDSHAKE_HEADER {
            return None;
        }
        fragments.push(Fragment {
            seq: u16::from_be_bytes([body[4], body[5]]),
            offset: u32::from_be_bytes([0, body[6], body[7], body[8]]),
            len: u32::from_be_bytes([0, body[9], body[10], body[11]]),
        });
        datagram = &datagram[RECORD_HEADER + len..];
    }
    Some(fragments)
}

/// A UDP socket whose received datagrams pass a [`RepeatFilter`], and which sends our
/// [`LastFlight`] again on a repeat, or when it is due.
struct FilteredSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    handshake: Mutex<Handshake>,
    /// Runs the flight's timer.
    runtime: Arc<dyn Runtime>,
    /// This socket, for the timer (which ends with it).
    this: std::sync::Weak<FilteredSocket>,
}

impl std::fmt::Debug for FilteredSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilteredSocket")
            .field("inner", &self.inner)
            .field("handshake", &self.handshake)
            .finish_non_exhaustive()
    }
}

/// A socket's view of the handshake.
#[derive(Debug, Default)]
struct Handshake {
    filter: RepeatFilter,
    flight: LastFlight,
    /// A task waits for the flight's [`LastFlight::resend_at`].
    timer: bool,
}

impl FilteredSocket {
    fn handshake(&self) -> std::sync::MutexGuard<'_, Handshake> {
        self.handshake.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `datagrams` again, best effort: the stack's timer sends them anyway.
    fn send_again(&self, cx: &mut Context<'_>, datagrams: &[Sent]) {
        for sent in datagrams {
            let transmit = Transmit {
                destination: sent.to,
                ecn: None,
                contents: &sent.contents,
                segment_size: sent.segment_size,
                src_ip: sent.from,
            };
            let _ = self.inner.poll_send(cx, &transmit);
        }
    }
}

/// Sends the flight of `socket` again whenever it is due, until none is (the timer
/// starts again with the next flight) or the socket is gone.
async fn resend_when_due(socket: std::sync::Weak<FilteredSocket>) {
    loop {
        let (due, runtime) = {
            let Some(socket) = socket.upgrade() else {
                return;
            };
            let mut handshake = socket.handshake();
            let Some(due) = handshake.flight.resend_at() else {
                handshake.timer = false;
                return;
            };
            (due, Arc::clone(&socket.runtime))
        };
        runtime
            .sleep(due.saturating_duration_since(Instant::now()))
            .await;
        let Some(socket) = socket.upgrade() else {
            return;
        };
        let again = socket.handshake().flight.on_timer(Instant::now()).to_vec();
        if !again.is_empty() {
            tracing::debug!("no answer to our DTLS flight in time: sending it again");
            std::future::poll_fn(|cx| {
                socket.send_again(cx, &again);
                Poll::Ready(())
            })
            .await;
        }
    }
}

impl AsyncUdpSocket for FilteredSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        let sent = self.inner.poll_send(cx, transmit);
        if matches!(sent, Poll::Ready(Ok(_))) && is_handshake(transmit.contents) {
            let mut handshake = self.handshake();
            handshake.flight.on_send(
                Instant::now(),
                Sent {
                    to: transmit.destination,
                    from: transmit.src_ip,
                    contents: transmit.contents.to_vec(),
                    segment_size: transmit.segment_size,
                },
            );
            if !handshake.timer && handshake.flight.resend_at().is_some() {
                handshake.timer = true;
                // Dropping the handle leaves the task running.
                drop(
                    self.runtime
                        .spawn(Box::pin(resend_when_due(self.this.clone()))),
                );
            }
        }
        sent
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            let n = match self.inner.poll_recv(cx, bufs, meta) {
                Poll::Ready(Ok(n)) => n,
                other => return other,
            };
            let (mut kept, mut again) = (0, Vec::new());
            for i in 0..n {
                let m = meta[i];
                // Only the handshake's few datagrams are looked into (media and STUN pass
                // untouched); a buffer of several coalesced datagrams (GRO) is left whole.
                let datagram = &bufs[i][..m.len];
                if m.len <= m.stride && is_handshake(datagram) {
                    let mut handshake = self.handshake();
                    let Handshake { filter, flight, .. } = &mut *handshake;
                    let incoming = filter.incoming(datagram);
                    again.extend_from_slice(flight.on_incoming(Instant::now(), incoming));
                    if incoming == Incoming::Repeat {
                        tracing::debug!(from = %m.addr, "the peer repeated its DTLS flight");
                        continue;
                    }
                }
                if kept != i {
                    let (to, from) = bufs.split_at_mut(i);
                    to[kept][..m.len].copy_from_slice(&from[0][..m.len]);
                    meta[kept] = m;
                }
                kept += 1;
            }
            self.send_again(cx, &again);
            if kept > 0 {
                return Poll::Ready(Ok(kept));
            }
        }
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

/// A [`Runtime`] that is `inner` but for the UDP sockets it wraps, which drop repeated
/// DTLS handshake flights ([`RepeatFilter`]) and answer them with ours ([`LastFlight`]).
#[derive(Debug)]
pub struct FilteringRuntime {
    inner: Arc<dyn Runtime>,
}

impl FilteringRuntime {
    /// `inner` with its UDP sockets filtered.
    pub fn new(inner: Arc<dyn Runtime>) -> Self {
        Self { inner }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Runtime for FilteringRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        pool_size: usize,
        future: BoxFuture<'static, ()>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let inner = self.inner.wrap_udp_socket(socket)?;
        Ok(Arc::new_cyclic(|this| FilteredSocket {
            inner,
            handshake: Mutex::default(),
            runtime: Arc::clone(&self.inner),
            this: this.clone(),
        }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> BoxFuture<'a, io::Result<Arc<dyn AsyncTcpStream>>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> BoxFuture<'static, ()> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(f: &mut RepeatFilter, datagram: &[u8]) -> bool {
        f.incoming(datagram) == Incoming::Repeat
    }

    /// An epoch-`epoch` record of `content` type holding handshake message `seq` (a
    /// fragment of it unless `whole`).
    fn record(content: u8, epoch: u16, seq: u16, whole: bool) -> Vec<u8> {
        let body_len = 4u32;
        let mut body = vec![2, 0, 0, 8];
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(&[0, 0, 0, 0, 0, if whole { 8 } else { 4 }]);
        body.extend_from_slice(&vec![0; body_len as usize]);
        let mut r = vec![content, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 7]);
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(&body);
        r
    }

    #[test]
    fn a_datagram_of_handshake_messages_already_arrived_is_a_repeat() {
        let mut f = RepeatFilter::default();
        // A server's flight: ServerHello..ServerHelloDone, numbered 1 to 5, in two datagrams.
        let first = [record(22, 0, 1, true), record(22, 0, 2, true)].concat();
        let second = [
            record(22, 0, 3, true),
            record(22, 0, 4, true),
            record(22, 0, 5, true),
        ]
        .concat();
        assert!(!repeat(&mut f, &first));
        assert!(!repeat(&mut f, &second));
        assert!(repeat(&mut f, &first));
        assert!(repeat(&mut f, &second));
        // The same through TURN's ChannelData.
        let mut relayed = vec![0x40, 0x00];
        relayed.extend_from_slice(&(second.len() as u16).to_be_bytes());
        relayed.extend_from_slice(&second);
        assert!(repeat(&mut f, &relayed));
    }

    #[test]
    fn new_messages_other_fragments_encrypted_records_and_first_client_hellos_pass() {
        let mut f = RepeatFilter::default();
        // Half of a flight came: its repeat carries the other half, and passes.
        assert!(!repeat(&mut f, &record(22, 0, 1, true)));
        let again = [record(22, 0, 1, true), record(22, 0, 2, true)].concat();
        assert!(!repeat(&mut f, &again));
        assert!(repeat(&mut f, &again));
        // A fragment repeated is a repeat; another fragment of its message is not.
        assert!(!repeat(&mut f, &record(22, 0, 6, false)));
        assert!(repeat(&mut f, &record(22, 0, 6, false)));
        assert!(!repeat(&mut f, &record(22, 0, 6, true)));
        // A repeated final flight: ChangeCipherSpec and the encrypted Finished pass.
        let last = [
            record(22, 0, 1, true),
            record(20, 0, 0, true),
            record(22, 1, 7, true),
        ]
        .concat();
        assert_eq!(f.incoming(&last), Incoming::Handshake);
        assert_eq!(f.incoming(&last), Incoming::Handshake);
        // A first ClientHello (number 0) always passes.
        assert!(!repeat(&mut f, &record(22, 0, 0, true)));
        assert!(!repeat(&mut f, &record(22, 0, 0, true)));
        // Media and STUN are no handshake; malformed records pass as handshake.
        for other in [&[0x80u8, 0x60, 0, 1][..], &[0, 1, 0, 0]] {
            assert_eq!(f.incoming(other), Incoming::Other, "{other:?}");
        }
        for malformed in [&[22u8, 0xfe][..], &record(22, 0, 1, true)[..20]] {
            assert_eq!(f.incoming(malformed), Incoming::Handshake, "{malformed:?}");
        }
    }

    fn sent(contents: Vec<u8>) -> Sent {
        Sent {
            to: "10.0.0.2:5000".parse().unwrap(),
            from: None,
            contents,
            segment_size: None,
        }
    }

    #[test]
    fn a_repeat_from_the_peer_sends_our_last_flight_again_once_a_burst() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut flight = LastFlight::default();
        // Our flight (two datagrams), media around it.
        flight.on_send(at(0), sent(record(22, 0, 2, true)));
        flight.on_send(at(0), sent(vec![0x80, 0x60, 0, 1]));
        flight.on_send(
            at(1),
            sent([record(20, 0, 0, true), record(22, 1, 5, true)].concat()),
        );
        assert!(flight.on_incoming(at(5), Incoming::Other).is_empty());
        // The peer repeats its flight in two datagrams: ours goes again once.
        let again = flight.on_incoming(at(90), Incoming::Repeat).to_vec();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0].contents, record(22, 0, 2, true));
        assert!(flight.on_incoming(at(91), Incoming::Repeat).is_empty());
        // The stack's timer sends it again: that replaces it, and the next repeat,
        // later, sends that.
        flight.on_send(at(1_001), sent(record(22, 0, 2, true)));
        assert_eq!(flight.on_incoming(at(1_100), Incoming::Repeat).len(), 1);
        // The peer answers: nothing of ours to repeat until we send the next flight.
        assert!(
            flight
                .on_incoming(at(1_140), Incoming::Handshake)
                .is_empty()
        );
        assert!(flight.on_incoming(at(1_300), Incoming::Repeat).is_empty());
        flight.on_send(at(1_141), sent(record(22, 0, 3, true)));
        let again = flight.on_incoming(at(1_400), Incoming::Repeat);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].contents, record(22, 0, 3, true));
    }

    #[test]
    fn a_clients_flight_unanswered_goes_again_after_twice_the_round_trip_doubling_a_few_times() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut client = LastFlight::default();
        let mut hello = record(22, 0, 0, true);
        hello[RECORD_HEADER] = CLIENT_HELLO;
        client.on_send(at(0), sent(hello.clone()));
        // No round trip known yet: 250 ms.
        assert_eq!(client.resend_at(), Some(at(250)));
        assert!(client.on_timer(at(249)).is_empty());
        assert_eq!(client.on_timer(at(250))[0].contents, hello);
        assert_eq!(client.resend_at(), Some(at(750)));
        // Answered (HelloVerifyRequest): no more; the answer to a flight sent again
        // tells no round trip.
        client.on_incoming(at(300), Incoming::Handshake);
        assert_eq!(client.resend_at(), None);
        // The next flight waits as long as the first: no round trip known yet. Answered
        // in 40 ms: the round trip.
        client.on_send(at(301), sent(record(22, 0, 1, true)));
        assert_eq!(client.resend_at(), Some(at(551)));
        client.on_incoming(at(341), Incoming::Handshake);
        // The flight after waits twice that, but at least 100 ms, then doubles.
        let flight = record(22, 0, 2, true);
        client.on_send(at(400), sent(flight.clone()));
        assert_eq!(client.resend_at(), Some(at(500)));
        let mut times = Vec::new();
        let mut t = 400;
        while t < 3_000 {
            t += 1;
            if !client.on_timer(at(t)).is_empty() {
                times.push(t);
            }
        }
        assert_eq!(times, [500, 700, 1_100], "three times, doubling");
        // A repeat of the peer's flight still sends ours at once.
        assert_eq!(client.on_incoming(at(3_001), Incoming::Repeat).len(), 1);

        // A server's flights (no ClientHello of ours) are left to the client's timer.
        let mut server = LastFlight::default();
        server.on_send(at(0), sent(record(22, 0, 1, true)));
        assert_eq!(server.resend_at(), None);
        assert!(server.on_timer(at(5_000)).is_empty());
    }
}
