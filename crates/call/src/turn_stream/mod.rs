//! TURN over TCP and TURN over TLS, for a stack that speaks TURN over UDP only.
//!
//! webrtc 0.21 skips `turn:…?transport=tcp` and `turns:` URLs when it gathers. The
//! [`TurnBridge`] stands in for each such server: it binds a UDP socket on loopback and
//! hands the stack `turn:127.0.0.1:PORT?transport=udp` (same credentials) in its place.
//! Each stack TURN client that writes to that socket (one allocation, one UDP source
//! address) gets its own TCP or TLS connection to the real server, and the bridge
//! relays between them: datagrams go onto the stream as they are (ChannelData padded to
//! 4 bytes, RFC 5766 §11.5), and the stream is split back into messages
//! ([`framing`]), each sent to the stack as one datagram. The relayed traffic to the
//! other peer stays UDP from the TURN server, as browsers do.
//!
//! What passes through is watched ([`inspect`]): a successful Allocate tells the relayed
//! address, kept in the [`RelayRegistry`] with its [`RelayProtocol`] (for the
//! statistics' `ice.relay_protocol`, and to rank relay candidates like browsers do with
//! [`relay_priority`]); a connection that cannot be made, a certificate that is not
//! trusted and credentials the server rejects become a typed [`TurnFailure`].
//!
//! The logic is plain and tested on its own: URL rewriting ([`url`]), framing,
//! inspection and failure classification ([`classify`]). [`bridge`] is the async shell;
//! its tasks stop when the [`TurnBridge`] is dropped.

pub mod bridge;
pub mod classify;
pub mod framing;
pub mod inspect;
pub mod url;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use bridge::TurnBridge;

/// How a relay candidate's TURN server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayProtocol {
    /// TURN over UDP (what the stack does itself).
    Udp,
    /// TURN over TCP (through the bridge).
    Tcp,
    /// TURN over TLS over TCP (through the bridge).
    Tls,
}

impl RelayProtocol {
    /// `udp`, `tcp` or `tls`, as in WebRTC's `relayProtocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayProtocol::Udp => "udp",
            RelayProtocol::Tcp => "tcp",
            RelayProtocol::Tls => "tls",
        }
    }
}

impl fmt::Display for RelayProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a TURN server reached over TCP or TLS gave no relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TurnFailure {
    /// The server's TLS certificate did not verify.
    #[error("TURN server {server}: certificate not trusted ({reason})")]
    CertificateNotTrusted {
        /// `host:port` from the URL.
        server: String,
        /// What the verifier said.
        reason: String,
    },
    /// The TLS handshake failed for another reason than the certificate.
    #[error("TURN server {server}: TLS handshake failed ({reason})")]
    TlsFailed {
        /// `host:port` from the URL.
        server: String,
        /// What TLS said.
        reason: String,
    },
    /// Nothing listens at the server's address.
    #[error("cannot reach TURN server {server} over {protocol}: connection refused")]
    Refused {
        /// `host:port` from the URL.
        server: String,
        /// `tcp` or `tls`.
        protocol: RelayProtocol,
    },
    /// The connection (and handshake) did not complete in time.
    #[error("cannot reach TURN server {server} over {protocol}: no answer within {after:?}")]
    TimedOut {
        /// `host:port` from the URL.
        server: String,
        /// `tcp` or `tls`.
        protocol: RelayProtocol,
        /// How long we waited.
        after: Duration,
    },
    /// The server cannot be reached for another reason (no route, name unknown…).
    #[error("cannot reach TURN server {server} over {protocol}: {reason}")]
    Unreachable {
        /// `host:port` from the URL.
        server: String,
        /// `tcp` or `tls`.
        protocol: RelayProtocol,
        /// What the attempt said.
        reason: String,
    },
    /// An Allocate that carried our credentials was answered 401 or 441.
    #[error("TURN server {server} rejected the credentials")]
    CredentialsRejected {
        /// `host:port` from the URL.
        server: String,
    },
    /// The CA file given for TURN over TLS cannot be used.
    #[error("cannot use the TURN CA file {path}: {reason}")]
    CaFile {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl TurnFailure {
    /// A stable name for machines (the call's `reason_code`).
    pub fn code(&self) -> &'static str {
        match self {
            TurnFailure::CertificateNotTrusted { .. } => "turn-certificate",
            TurnFailure::TlsFailed { .. } => "turn-tls",
            TurnFailure::Refused { .. }
            | TurnFailure::TimedOut { .. }
            | TurnFailure::Unreachable { .. } => "turn-unreachable",
            TurnFailure::CredentialsRejected { .. } => "turn-credentials",
            TurnFailure::CaFile { .. } => "turn-ca",
        }
    }

    /// What a person can do about it.
    pub fn advice(&self) -> &'static str {
        match self {
            TurnFailure::CertificateNotTrusted { .. } => {
                "Pass --turn-ca PEM with the CA that signed the TURN server's certificate, or give the server a certificate for this name from a public CA."
            }
            TurnFailure::TlsFailed { .. } => "Check that the port serves TURN over TLS (turns:).",
            TurnFailure::Refused { .. }
            | TurnFailure::TimedOut { .. }
            | TurnFailure::Unreachable { .. } => {
                "Check the TURN server's address and port, and that a firewall lets TCP through."
            }
            TurnFailure::CredentialsRejected { .. } => {
                "Check the TURN username and credential (or the server's shared secret)."
            }
            TurnFailure::CaFile { .. } => "Give --turn-ca a readable PEM file of certificates.",
        }
    }
}

/// Which relayed addresses came through the bridge, and over what.
#[derive(Debug, Default)]
pub struct RelayTable {
    relays: HashMap<SocketAddr, RelayProtocol>,
}

impl RelayTable {
    /// Records that the allocation relayed at `relayed` is reached over `protocol`.
    pub fn insert(&mut self, relayed: SocketAddr, protocol: RelayProtocol) {
        self.relays.insert(relayed, protocol);
    }

    /// Forgets an allocation that is gone.
    pub fn remove(&mut self, relayed: SocketAddr) {
        self.relays.remove(&relayed);
    }

    /// How the relay candidate at `relayed` reaches its TURN server: what the bridge
    /// learned, else UDP (the stack's own TURN clients).
    pub fn protocol(&self, relayed: SocketAddr) -> RelayProtocol {
        self.relays
            .get(&relayed)
            .copied()
            .unwrap_or(RelayProtocol::Udp)
    }
}

/// A [`RelayTable`] shared between the bridge's tasks, the candidate handler and the
/// statistics.
#[derive(Debug, Clone, Default)]
pub struct RelayRegistry(Arc<Mutex<RelayTable>>);

impl RelayRegistry {
    /// Records a relayed address and how it is reached.
    pub fn insert(&self, relayed: SocketAddr, protocol: RelayProtocol) {
        self.table().insert(relayed, protocol);
    }

    /// Forgets a relayed address.
    pub fn remove(&self, relayed: SocketAddr) {
        self.table().remove(relayed);
    }

    /// How the relay candidate at `relayed` reaches its TURN server.
    pub fn protocol(&self, relayed: SocketAddr) -> RelayProtocol {
        self.table().protocol(relayed)
    }

    /// [`RelayRegistry::protocol`] of a candidate given as address text and port (`None`
    /// when the address does not parse).
    pub fn protocol_of(&self, address: &str, port: u16) -> Option<RelayProtocol> {
        let ip = address.parse().ok()?;
        Some(self.protocol(SocketAddr::new(ip, port)))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, RelayTable> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A relay candidate's priority, ranked like browsers do: UDP relays above TCP relays
/// above TLS relays. The local-preference part (bits 8..24) is halved for TCP and
/// quartered for TLS; the type preference and component parts stay.
pub fn relay_priority(priority: u32, protocol: RelayProtocol) -> u32 {
    let shift = match protocol {
        RelayProtocol::Udp => return priority,
        RelayProtocol::Tcp => 1,
        RelayProtocol::Tls => 2,
    };
    let type_preference = priority & 0xff00_0000;
    let local_preference = (priority >> 8) & 0xffff;
    let component = priority & 0xff;
    type_preference | ((local_preference >> shift) << 8) | component
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_knows_bridged_relays_and_calls_the_rest_udp() {
        let registry = RelayRegistry::default();
        let tcp: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let tls: SocketAddr = "127.0.0.1:50002".parse().unwrap();
        registry.insert(tcp, RelayProtocol::Tcp);
        registry.insert(tls, RelayProtocol::Tls);
        assert_eq!(registry.protocol(tcp), RelayProtocol::Tcp);
        assert_eq!(
            registry.protocol_of("127.0.0.1", 50002),
            Some(RelayProtocol::Tls)
        );
        assert_eq!(
            registry.protocol_of("127.0.0.1", 50004),
            Some(RelayProtocol::Udp)
        );
        assert_eq!(registry.protocol_of("relay.example", 1), None);
        registry.remove(tcp);
        assert_eq!(registry.protocol(tcp), RelayProtocol::Udp);
        // A clone is the same registry.
        registry.clone().insert(tcp, RelayProtocol::Tcp);
        assert_eq!(registry.protocol(tcp), RelayProtocol::Tcp);
    }

    #[test]
    fn relay_priorities_rank_udp_above_tcp_above_tls() {
        // What the stack gives a relay candidate: type preference 0, local preference
        // 65535, component 1.
        let stack = (65_535 << 8) | (256 - 1);
        let udp = relay_priority(stack, RelayProtocol::Udp);
        let tcp = relay_priority(stack, RelayProtocol::Tcp);
        let tls = relay_priority(stack, RelayProtocol::Tls);
        assert_eq!(udp, stack);
        assert!(udp > tcp && tcp > tls, "{udp} {tcp} {tls}");
        // The component and type preference parts are kept.
        assert_eq!(tcp & 0xff, 255);
        assert_eq!(tls & 0xff, 255);
        let typed = (3 << 24) | stack;
        assert_eq!(relay_priority(typed, RelayProtocol::Tls) >> 24, 3);
        // Of the same type preference, any TCP relay stays above any TLS relay.
        assert!(relay_priority(0x00ff_ffff, RelayProtocol::Tls) < tcp);
    }

    #[test]
    fn failures_have_stable_codes_and_name_the_server() {
        let cert = TurnFailure::CertificateNotTrusted {
            server: "turn.example.com:5349".into(),
            reason: "invalid peer certificate: UnknownIssuer".into(),
        };
        assert_eq!(cert.code(), "turn-certificate");
        assert_eq!(
            cert.to_string(),
            "TURN server turn.example.com:5349: certificate not trusted (invalid peer certificate: UnknownIssuer)"
        );
        assert!(cert.advice().contains("--turn-ca PEM"));
        let refused = TurnFailure::Refused {
            server: "127.0.0.1:3478".into(),
            protocol: RelayProtocol::Tcp,
        };
        assert_eq!(refused.code(), "turn-unreachable");
        assert!(refused.to_string().contains("127.0.0.1:3478 over tcp"));
        let credentials = TurnFailure::CredentialsRejected {
            server: "turn.example.com:3478".into(),
        };
        assert_eq!(
            credentials.to_string(),
            "TURN server turn.example.com:3478 rejected the credentials"
        );
        assert_eq!(credentials.code(), "turn-credentials");
    }
}
