//! Which ICE server URLs the bridge stands in for, and what the stack gets instead.
//!
//! `turn:HOST:PORT?transport=tcp` is TURN over TCP, `turns:HOST:PORT` (or with
//! `?transport=tcp`) TURN over TLS; both are parsed as the stack parses them
//! (`rtc::ice::url::Url`). Everything else passes through untouched. Each stream URL, in
//! the order met, is replaced by `turn:127.0.0.1:LOCALPORT?transport=udp`, the bridge's
//! socket for it; the server's username and credential stay.

use rtc::ice::url::{ProtoType, SchemeType, Url};
use signaling_proto::IceServer;

use super::RelayProtocol;

/// A TURN server the bridge reaches over a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTarget {
    /// Host name or address from the URL (no brackets).
    pub host: String,
    /// Port from the URL (3478 for `turn:`, 5349 for `turns:` when none is given).
    pub port: u16,
    /// [`RelayProtocol::Tcp`] or [`RelayProtocol::Tls`].
    pub protocol: RelayProtocol,
}

impl StreamTarget {
    /// `host:port` (`[v6]:port`), for messages and for connecting.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The bridge's target for `url`, or `None` when the stack handles it itself (STUN, TURN
/// over UDP, and anything it cannot parse, which it will report).
pub fn stream_target(url: &str) -> Option<StreamTarget> {
    let parsed = Url::parse_url(url).ok()?;
    let protocol = match (parsed.scheme, parsed.proto) {
        (SchemeType::Turn, ProtoType::Tcp) => RelayProtocol::Tcp,
        (SchemeType::Turns, ProtoType::Tcp) => RelayProtocol::Tls,
        _ => return None,
    };
    Some(StreamTarget {
        host: parsed.host,
        port: parsed.port,
        protocol,
    })
}

/// Every stream URL among `servers`, in order.
pub fn stream_targets(servers: &[IceServer]) -> Vec<StreamTarget> {
    servers
        .iter()
        .flat_map(|s| &s.urls)
        .filter_map(|url| stream_target(url))
        .collect()
}

/// The URL the stack gets for the bridge's socket on `127.0.0.1:port`.
pub fn local_url(port: u16) -> String {
    format!("turn:127.0.0.1:{port}?transport=udp")
}

/// `servers` with the i-th stream URL (as [`stream_targets`] lists them) replaced by
/// [`local_url`]`(local_ports[i])`; other URLs, usernames and credentials unchanged.
///
/// # Panics
///
/// When `local_ports` is shorter than the list of stream URLs.
pub fn rewrite(servers: &[IceServer], local_ports: &[u16]) -> Vec<IceServer> {
    let mut ports = local_ports.iter();
    servers
        .iter()
        .map(|server| IceServer {
            urls: server
                .urls
                .iter()
                .map(|url| match stream_target(url) {
                    Some(_) => local_url(*ports.next().expect("a local port for each stream URL")),
                    None => url.clone(),
                })
                .collect(),
            username: server.username.clone(),
            credential: server.credential.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16, protocol: RelayProtocol) -> Option<StreamTarget> {
        Some(StreamTarget {
            host: host.into(),
            port,
            protocol,
        })
    }

    #[test]
    fn tcp_and_tls_turn_urls_are_bridged_and_the_rest_are_not() {
        use RelayProtocol::{Tcp, Tls};
        let cases = [
            (
                "turn:turn.example.com:3478?transport=tcp",
                target("turn.example.com", 3478, Tcp),
            ),
            ("turn:10.0.0.1?transport=tcp", target("10.0.0.1", 3478, Tcp)),
            (
                "turns:turn.example.com:443",
                target("turn.example.com", 443, Tls),
            ),
            (
                "turns:turn.example.com",
                target("turn.example.com", 5349, Tls),
            ),
            (
                "turns:turn.example.com:5349?transport=tcp",
                target("turn.example.com", 5349, Tls),
            ),
            ("turn:[::1]:3478?transport=tcp", target("::1", 3478, Tcp)),
            ("turn:turn.example.com:3478", None),
            ("turn:turn.example.com:3478?transport=udp", None),
            // DTLS: not ours, the stack skips it and says so.
            ("turns:turn.example.com:5349?transport=udp", None),
            ("stun:stun.example.com:3478", None),
            ("turn:turn.example.com:3478?transport=sctp", None),
            ("not a url", None),
        ];
        for (url, expected) in cases {
            assert_eq!(stream_target(url), expected, "{url}");
        }
        assert_eq!(target("::1", 3478, Tcp).unwrap().server(), "[::1]:3478");
        assert_eq!(
            target("turn.example.com", 443, Tls).unwrap().server(),
            "turn.example.com:443"
        );
    }

    #[test]
    fn stream_urls_are_rewritten_in_place_keeping_credentials() {
        let servers = vec![
            IceServer {
                urls: vec!["stun:stun.example.com:3478".into()],
                username: None,
                credential: None,
            },
            IceServer {
                urls: vec![
                    "turn:turn.example.com:3478?transport=udp".into(),
                    "turn:turn.example.com:3478?transport=tcp".into(),
                    "turns:turn.example.com:5349".into(),
                ],
                username: Some("user1".into()),
                credential: Some("pass1".into()),
            },
        ];
        let targets = stream_targets(&servers);
        assert_eq!(
            targets.iter().map(|t| t.protocol).collect::<Vec<_>>(),
            [RelayProtocol::Tcp, RelayProtocol::Tls]
        );
        let rewritten = rewrite(&servers, &[40_001, 40_002]);
        assert_eq!(rewritten[0], servers[0]);
        assert_eq!(
            rewritten[1].urls,
            [
                "turn:turn.example.com:3478?transport=udp",
                "turn:127.0.0.1:40001?transport=udp",
                "turn:127.0.0.1:40002?transport=udp",
            ]
        );
        assert_eq!(rewritten[1].username.as_deref(), Some("user1"));
        assert_eq!(rewritten[1].credential.as_deref(), Some("pass1"));
        // The stack takes the rewritten URL as plain TURN over UDP.
        let local = Url::parse_url(&rewritten[1].urls[1]).unwrap();
        assert_eq!(
            (local.scheme, local.proto, local.host.as_str(), local.port),
            (SchemeType::Turn, ProtoType::Udp, "127.0.0.1", 40_001)
        );
    }
}
