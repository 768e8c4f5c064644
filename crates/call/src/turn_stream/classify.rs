//! Why a connection to a TURN server failed, as a [`TurnFailure`]: by the kind of the
//! I/O error and, for TLS, by the rustls error inside it; never by the text.

use std::io;
use std::time::Duration;

use super::TurnFailure;
use super::url::StreamTarget;

/// The TCP connection to `target` failed with `err`.
pub fn connect_failure(target: &StreamTarget, err: &io::Error) -> TurnFailure {
    let server = target.server();
    match err.kind() {
        io::ErrorKind::ConnectionRefused => TurnFailure::Refused {
            server,
            protocol: target.protocol,
        },
        io::ErrorKind::TimedOut => TurnFailure::TimedOut {
            server,
            protocol: target.protocol,
            after: Duration::ZERO,
        },
        _ => TurnFailure::Unreachable {
            server,
            protocol: target.protocol,
            reason: err.to_string(),
        },
    }
}

/// The TLS handshake with `target` failed with `err` (as tokio-rustls reports it: the
/// rustls error inside an I/O error, or the I/O error that broke the handshake).
pub fn tls_failure(target: &StreamTarget, err: &io::Error) -> TurnFailure {
    let server = target.server();
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(tls @ rustls::Error::InvalidCertificate(_)) => TurnFailure::CertificateNotTrusted {
            server,
            reason: tls.to_string(),
        },
        Some(tls) => TurnFailure::TlsFailed {
            server,
            reason: tls.to_string(),
        },
        None => TurnFailure::TlsFailed {
            server,
            reason: err.to_string(),
        },
    }
}

/// Connecting to `target` (and the TLS handshake) took longer than `after`.
pub fn timed_out(target: &StreamTarget, after: Duration) -> TurnFailure {
    TurnFailure::TimedOut {
        server: target.server(),
        protocol: target.protocol,
        after,
    }
}

/// `target`'s name did not resolve to an address.
pub fn unresolved(target: &StreamTarget, err: &io::Error) -> TurnFailure {
    TurnFailure::Unreachable {
        server: target.server(),
        protocol: target.protocol,
        reason: format!("cannot resolve the name: {err}"),
    }
}

/// `target` answered an Allocate that carried the credentials with 401 or 441.
pub fn credentials_rejected(target: &StreamTarget) -> TurnFailure {
    TurnFailure::CredentialsRejected {
        server: target.server(),
    }
}

#[cfg(test)]
mod tests {
    use rustls::CertificateError;

    use super::*;
    use crate::turn_stream::RelayProtocol;

    fn target(protocol: RelayProtocol) -> StreamTarget {
        StreamTarget {
            host: "turn.example.com".into(),
            port: 5349,
            protocol,
        }
    }

    #[test]
    fn a_refused_or_timed_out_connection_names_the_server_and_transport() {
        let tcp = target(RelayProtocol::Tcp);
        let refused = connect_failure(&tcp, &io::ErrorKind::ConnectionRefused.into());
        assert_eq!(
            refused,
            TurnFailure::Refused {
                server: "turn.example.com:5349".into(),
                protocol: RelayProtocol::Tcp
            }
        );
        assert!(matches!(
            connect_failure(&tcp, &io::ErrorKind::TimedOut.into()),
            TurnFailure::TimedOut { .. }
        ));
        assert!(matches!(
            connect_failure(&tcp, &io::ErrorKind::HostUnreachable.into()),
            TurnFailure::Unreachable { .. }
        ));
        let late = timed_out(&tcp, Duration::from_secs(10));
        assert_eq!(late.code(), "turn-unreachable");
        assert!(late.to_string().contains("turn.example.com:5349"), "{late}");
    }

    #[test]
    fn an_untrusted_certificate_is_told_apart_from_other_tls_failures() {
        let tls = target(RelayProtocol::Tls);
        for problem in [
            CertificateError::UnknownIssuer,
            CertificateError::NotValidForName,
            CertificateError::Expired,
        ] {
            let err = io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(problem),
            );
            let failure = tls_failure(&tls, &err);
            assert_eq!(failure.code(), "turn-certificate", "{failure}");
            assert!(
                failure
                    .to_string()
                    .starts_with("TURN server turn.example.com:5349: certificate not trusted ("),
                "{failure}"
            );
        }
        let other = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::General("handshake".into()),
        );
        assert_eq!(tls_failure(&tls, &other).code(), "turn-tls");
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(tls_failure(&tls, &reset).code(), "turn-tls");
    }

    #[test]
    fn rejected_credentials_name_the_server() {
        let failure = credentials_rejected(&target(RelayProtocol::Tcp));
        assert_eq!(
            failure.to_string(),
            "TURN server turn.example.com:5349 rejected the credentials"
        );
    }
}
