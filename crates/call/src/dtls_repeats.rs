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
//! peercalls on the benchmark's 5%-loss link did so in one of its first three seeds).
//!
//! The fix from outside the stack: a datagram that only repeats handshake messages the
//! peer already sent us is dropped before the stack sees it, so the stack's own timer
//! stays armed and retransmits our flight (with fresh record numbers). Everything else
//! passes: new messages, ChangeCipherSpec and encrypted records (a completed side answers
//! the peer's repeated final flight from those), and any ClientHello numbered 0 (a server
//! answers a repeated first ClientHello with its HelloVerifyRequest, having no timer of
//! its own there). [`RepeatFilter`] decides; [`FilteringRuntime`] puts it on the sockets
//! of a peer connection.

use std::fmt;
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

/// Which of the peer's handshake messages have arrived, and whether a datagram only
/// repeats them.
#[derive(Debug, Default)]
pub struct RepeatFilter {
    /// Bit `n`: the peer's message `message_seq == n` (epoch 0, whole) has arrived.
    seen: u64,
}

impl RepeatFilter {
    /// Whether `datagram` (as received from the peer) should be dropped: every record in
    /// it is an epoch-0 handshake message numbered 1 to 63 that has arrived whole before.
    /// Otherwise it passes, and the whole handshake messages in it count as arrived.
    pub fn is_repeat(&mut self, datagram: &[u8]) -> bool {
        let datagram = match datagram.first() {
            Some(b) if CHANNEL_DATA.contains(b) && datagram.len() >= 4 => {
                let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
                &datagram[4..datagram.len().min(4 + len)]
            }
            _ => datagram,
        };
        if datagram.first() != Some(&HANDSHAKE) {
            return false;
        }
        let Some(messages) = handshake_messages(datagram) else {
            return false;
        };
        let repeat = messages
            .iter()
            .all(|m| (1..64).contains(&m.seq) && self.seen & (1 << m.seq) != 0);
        if !repeat {
            for m in messages.iter().filter(|m| m.whole && m.seq < 64) {
                self.seen |= 1 << m.seq;
            }
        }
        repeat
    }
}

/// An epoch-0 handshake record's message.
struct Message {
    seq: u16,
    /// The record holds the whole message, not a fragment of it.
    whole: bool,
}

/// The messages of `datagram` if every record in it is an epoch-0 handshake record;
/// `None` if any is something else or malformed.
fn handshake_messages(mut datagram: &[u8]) -> Option<Vec<Message>> {
    let mut messages = Vec::new();
    while !datagram.is_empty() {
        let header = datagram.get(..RECORD_HEADER)?;
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let body = datagram.get(RECORD_HEADER..RECORD_HEADER + len)?;
        if header[0] != HANDSHAKE || epoch != 0 || body.len() < HANDSHAKE_HEADER {
            return None;
        }
        let length = u32::from_be_bytes([0, body[1], body[2], body[3]]);
        let offset = u32::from_be_bytes([0, body[6], body[7], body[8]]);
        let fragment = u32::from_be_bytes([0, body[9], body[10], body[11]]);
        messages.push(Message {
            seq: u16::from_be_bytes([body[4], body[5]]),
            whole: offset == 0 && fragment == length,
        });
        datagram = &datagram[RECORD_HEADER + len..];
    }
    Some(messages)
}

/// A UDP socket whose received datagrams pass a [`RepeatFilter`].
#[derive(Debug)]
struct FilteredSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    filter: Mutex<RepeatFilter>,
}

impl AsyncUdpSocket for FilteredSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        self.inner.poll_send(cx, transmit)
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
            let mut filter = self.filter.lock().unwrap_or_else(|e| e.into_inner());
            let mut kept = 0;
            for i in 0..n {
                let m = meta[i];
                // A buffer of several coalesced datagrams (GRO) is left whole.
                let single = m.len <= m.stride;
                if single && filter.is_repeat(&bufs[i][..m.len]) {
                    tracing::debug!(from = %m.addr, "dropped a repeated DTLS handshake flight");
                    continue;
                }
                if kept != i {
                    let (to, from) = bufs.split_at_mut(i);
                    to[kept][..m.len].copy_from_slice(&from[0][..m.len]);
                    meta[kept] = m;
                }
                kept += 1;
            }
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
/// DTLS handshake flights ([`RepeatFilter`]).
pub struct FilteringRuntime {
    inner: Arc<dyn Runtime>,
}

impl FilteringRuntime {
    /// `inner` with its UDP sockets filtered.
    pub fn new(inner: Arc<dyn Runtime>) -> Self {
        Self { inner }
    }
}

impl fmt::Debug for FilteringRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilteringRuntime")
            .field("inner", &self.inner)
            .finish()
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
        Ok(Arc::new(FilteredSocket {
            inner: self.inner.wrap_udp_socket(socket)?,
            filter: Mutex::default(),
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
        assert!(!f.is_repeat(&first));
        assert!(!f.is_repeat(&second));
        assert!(f.is_repeat(&first));
        assert!(f.is_repeat(&second));
        // The same through TURN's ChannelData.
        let mut relayed = vec![0x40, 0x00];
        relayed.extend_from_slice(&(second.len() as u16).to_be_bytes());
        relayed.extend_from_slice(&second);
        assert!(f.is_repeat(&relayed));
    }

    #[test]
    fn new_messages_fragments_encrypted_records_and_first_client_hellos_pass() {
        let mut f = RepeatFilter::default();
        // Half of a flight came: its repeat carries the other half, and passes.
        assert!(!f.is_repeat(&record(22, 0, 1, true)));
        let repeat = [record(22, 0, 1, true), record(22, 0, 2, true)].concat();
        assert!(!f.is_repeat(&repeat));
        assert!(f.is_repeat(&repeat));
        // A fragment does not make its message arrived.
        assert!(!f.is_repeat(&record(22, 0, 6, false)));
        assert!(!f.is_repeat(&record(22, 0, 6, false)));
        // A repeated final flight: ChangeCipherSpec and the encrypted Finished pass.
        let last = [
            record(22, 0, 1, true),
            record(20, 0, 0, true),
            record(22, 1, 7, true),
        ]
        .concat();
        assert!(!f.is_repeat(&last));
        assert!(!f.is_repeat(&last));
        // A first ClientHello (number 0) always passes.
        assert!(!f.is_repeat(&record(22, 0, 0, true)));
        assert!(!f.is_repeat(&record(22, 0, 0, true)));
        // Media, STUN and malformed records pass.
        for other in [
            &[0x80u8, 0x60, 0, 1][..],
            &[0, 1, 0, 0],
            &[22, 0xfe],
            &record(22, 0, 1, true)[..20],
        ] {
            assert!(!f.is_repeat(other), "{other:?}");
        }
    }
}
