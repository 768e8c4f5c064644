//! A connectivity check for when a call will not connect: can the signaling server be
//! reached, and what does each STUN and TURN server give.
//!
//! [`check`] joins a room of its own on the signaling server (the `welcome` brings the
//! server's ICE servers, used unless some are given), then, one server URL at a time,
//! gathers candidates through a real peer connection as a call would, and for TURN over
//! UDP asks the server directly for an allocation ([`probe_turn_udp`]) to tell a
//! timeout from wrong credentials or a refusal. [`verdict`] turns the findings into what
//! works and what to do; a plain function, tested without sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtc::ice::url::{ProtoType, SchemeType, Url};
use rtc::stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use rtc::stun::error_code::ErrorCodeAttribute;
use rtc::stun::error_code::{CODE_FORBIDDEN, CODE_UNAUTHORIZED, CODE_WRONG_CREDENTIALS};
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, Getter, METHOD_ALLOCATE,
    METHOD_REFRESH, Message, MessageType, Setter, TransactionId,
};
use rtc::stun::textattrs::{Nonce, Realm, Username};
use rtc::turn::proto::lifetime::Lifetime;
use rtc::turn::proto::relayaddr::RelayedAddress;
use rtc::turn::proto::reqtrans::RequestedTransport;
use serde::Serialize;
use signaling_proto::{IceServer, RoomId};
use tokio::net::UdpSocket;

use crate::peer::{PeerEvent, PeerSetup, build_peer};
use crate::signaling::{SignalingClient, SignalingConfig, SignalingEvent};

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorConfig {
    /// The signaling server, if one is to be checked (its room: a fresh one).
    pub signaling: Option<SignalingConfig>,
    /// ICE servers to check instead of the ones the signaling server hands out.
    pub ice_servers: Vec<IceServer>,
    /// Addresses to gather on.
    pub bind: Vec<SocketAddr>,
    /// Extra CA for `turns:` servers.
    pub turn_ca: Option<std::path::PathBuf>,
    /// Longest wait for each server.
    pub timeout: Duration,
}

/// Whether the signaling server was reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum SignalingCheck {
    /// Joined a room: how long it took, and how many ICE servers it handed out.
    Reached {
        /// The URL.
        url: String,
        /// Connect and join, ms.
        join_ms: u64,
        /// ICE servers in its `welcome`.
        ice_servers: usize,
    },
    /// It could not be used.
    Failed {
        /// The URL.
        url: String,
        /// Why, as the client said it.
        error: String,
    },
}

/// What one STUN or TURN URL gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ServerResult {
    /// A STUN server told our address as it sees it.
    Reflexive {
        /// Our address, as the server saw it.
        address: String,
    },
    /// A TURN server gave a relay.
    Relay {
        /// The relayed address.
        address: String,
    },
    /// Nothing came back in time.
    Timeout,
    /// A firewall on this machine refused to send to it.
    Blocked,
    /// The TURN server refused the username and credential (401).
    WrongCredentials,
    /// The TURN server refused the allocation (403).
    Forbidden,
    /// Something else failed.
    Failed {
        /// What.
        reason: String,
    },
}

/// One URL checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerCheck {
    /// The URL.
    pub url: String,
    /// What it gave.
    #[serde(flatten)]
    pub result: ServerResult,
}

/// Everything found, and what it means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The signaling server, if checked.
    pub signaling: Option<SignalingCheck>,
    /// Our own addresses (host candidates).
    pub host: Vec<String>,
    /// Each STUN and TURN URL.
    pub servers: Vec<ServerCheck>,
    /// Whether a call can be expected to connect from here.
    pub ok: bool,
    /// What works and what to do, for people.
    pub advice: Vec<String>,
}

/// What the findings mean: whether calls should connect, and advice, in order.
pub fn verdict(
    signaling: Option<&SignalingCheck>,
    host: &[String],
    servers: &[ServerCheck],
) -> (bool, Vec<String>) {
    let mut advice = Vec::new();
    let signaling_ok = !matches!(signaling, Some(SignalingCheck::Failed { .. }));
    if let Some(SignalingCheck::Failed { url, error }) = signaling {
        advice.push(format!(
            "The signaling server {url} cannot be used ({error}): check the address, that it \
             runs, and that this network lets you reach it."
        ));
    }
    let relay = servers
        .iter()
        .any(|s| matches!(s.result, ServerResult::Relay { .. }));
    let reflexive = servers
        .iter()
        .any(|s| matches!(s.result, ServerResult::Reflexive { .. }));
    for server in servers {
        let url = &server.url;
        match &server.result {
            ServerResult::WrongCredentials => advice.push(format!(
                "{url} refused the username and credential: check them (with --turn-secret \
                 on the signaling server, they come from it and expire)."
            )),
            ServerResult::Forbidden => advice.push(format!(
                "{url} refused to allocate a relay (403): its configuration denies this \
                 address or user."
            )),
            ServerResult::Timeout => advice.push(format!(
                "{url} did not answer: it is down, or this network blocks it (try TURN over \
                 TCP or TLS, port 443, if UDP is blocked)."
            )),
            ServerResult::Blocked => advice.push(format!(
                "A firewall on this machine blocks sending to {url}: allow it, or use TURN \
                 over TCP or TLS."
            )),
            ServerResult::Failed { reason } => advice.push(format!("{url}: {reason}.")),
            ServerResult::Reflexive { .. } | ServerResult::Relay { .. } => {}
        }
    }
    if host.is_empty() {
        advice.push("No network address of our own: is this machine online?".into());
    }
    if servers.is_empty() {
        advice.push(
            "No STUN or TURN server to check: calls will connect only on the same network.".into(),
        );
    }
    let ok = signaling_ok && !host.is_empty() && (relay || servers.is_empty() || reflexive);
    advice.insert(
        0,
        match (ok, relay, reflexive) {
            (false, _, _) => "Calls are not expected to connect from here:".into(),
            (true, true, _) => {
                "Calls should connect, through a relay where nothing more direct works.".into()
            }
            (true, false, true) => "Calls should connect unless both sides are behind strict \
                                    NATs or firewalls (no TURN relay works)."
                .into(),
            (true, false, false) => "Calls should connect on this network.".into(),
        },
    );
    (ok, advice)
}

/// Runs every check of `config`.
pub async fn check(config: DoctorConfig) -> Report {
    let mut ice_servers = config.ice_servers.clone();
    let signaling = match config.signaling.clone() {
        Some(mut signaling) => {
            let url = signaling.url.clone();
            signaling.room = doctor_room();
            signaling.connect_timeout = config.timeout;
            let start = Instant::now();
            Some(match SignalingClient::connect(signaling).await {
                Ok(mut client) => {
                    let join_ms = start.elapsed().as_millis() as u64;
                    let handed = match client.next_event().await {
                        Some(SignalingEvent::Joined(joined)) => joined.ice_servers,
                        _ => Vec::new(),
                    };
                    client.close().await;
                    let count = handed.len();
                    if ice_servers.is_empty() {
                        ice_servers = handed;
                    }
                    SignalingCheck::Reached {
                        url,
                        join_ms,
                        ice_servers: count,
                    }
                }
                Err(err) => SignalingCheck::Failed {
                    url,
                    error: err.to_string(),
                },
            })
        }
        None => None,
    };
    let host = gather(&config, Vec::new()).await.host;
    let mut servers = Vec::new();
    for server in &ice_servers {
        for url in &server.urls {
            let single = IceServer {
                urls: vec![url.clone()],
                ..server.clone()
            };
            servers.push(ServerCheck {
                url: url.clone(),
                result: check_url(&config, &single).await,
            });
        }
    }
    let (ok, advice) = verdict(signaling.as_ref(), &host, &servers);
    Report {
        signaling,
        host,
        servers,
        ok,
        advice,
    }
}

/// A room no call uses.
fn doctor_room() -> RoomId {
    let mut bytes = [0u8; 6];
    let _ = getrandom_bytes(&mut bytes);
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    RoomId::new(format!("doctor-{suffix}")).expect("a valid room name")
}

fn getrandom_bytes(out: &mut [u8]) -> Result<(), ring::error::Unspecified> {
    use ring::rand::SecureRandom as _;
    ring::rand::SystemRandom::new().fill(out)
}

/// What one URL (alone in `server`) gives.
async fn check_url(config: &DoctorConfig, server: &IceServer) -> ServerResult {
    let url = &server.urls[0];
    let parsed = match Url::parse_url(url) {
        Ok(parsed) => parsed,
        Err(err) => {
            return ServerResult::Failed {
                reason: format!("not a STUN or TURN URL ({err})"),
            };
        }
    };
    let turn_udp = parsed.scheme == SchemeType::Turn && parsed.proto == ProtoType::Udp;
    if turn_udp {
        // Asked directly: the stack does not say why an allocation failed.
        let (Some(username), Some(credential)) = (&server.username, &server.credential) else {
            return ServerResult::Failed {
                reason: "a TURN URL without username and credential".into(),
            };
        };
        let target = format!("{}:{}", bracketed(&parsed.host), parsed.port);
        return match tokio::net::lookup_host(&target).await.map(|mut a| a.next()) {
            Ok(Some(address)) => {
                probe_turn_udp(address, username, credential, config.timeout).await
            }
            Ok(None) | Err(_) => ServerResult::Failed {
                reason: format!("cannot resolve {}", parsed.host),
            },
        };
    }
    let found = gather(config, vec![server.clone()]).await;
    if let Some(failure) = found.relay_failure {
        return ServerResult::Failed { reason: failure };
    }
    let wanted = if parsed.scheme == SchemeType::Stun {
        &found.reflexive
    } else {
        &found.relay
    };
    match (wanted.first(), parsed.scheme, found.timed_out) {
        (Some(address), SchemeType::Stun, _) => ServerResult::Reflexive {
            address: address.clone(),
        },
        (Some(address), _, _) => ServerResult::Relay {
            address: address.clone(),
        },
        (None, _, true) => ServerResult::Timeout,
        (None, _, false) => ServerResult::Failed {
            reason: "no candidate from it".into(),
        },
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Candidates one peer connection gathered.
#[derive(Debug, Default)]
struct Gathered {
    host: Vec<String>,
    reflexive: Vec<String>,
    relay: Vec<String>,
    relay_failure: Option<String>,
    timed_out: bool,
}

/// Gathers with `ice_servers` as a call would, until done or the timeout.
async fn gather(config: &DoctorConfig, ice_servers: Vec<IceServer>) -> Gathered {
    let mut found = Gathered::default();
    let setup = PeerSetup {
        bind: config.bind.clone(),
        ice_servers,
        turn_ca: config.turn_ca.clone(),
        ..Default::default()
    };
    let mut peer = match build_peer(&setup).await {
        Ok(peer) => peer,
        Err(err) => {
            found.relay_failure = Some(err.to_string());
            return found;
        }
    };
    let offer = match peer.pc.create_offer(None).await {
        Ok(offer) => offer,
        Err(err) => {
            found.relay_failure = Some(err.to_string());
            return found;
        }
    };
    if let Err(err) = peer.pc.set_local_description(offer).await {
        found.relay_failure = Some(err.to_string());
        return found;
    }
    let until = tokio::time::Instant::now() + config.timeout;
    loop {
        match tokio::time::timeout_at(until, peer.events.recv()).await {
            Err(_) => {
                found.timed_out = true;
                break;
            }
            Ok(None) | Ok(Some(PeerEvent::GatheringComplete)) => break,
            Ok(Some(PeerEvent::Candidate(c))) => {
                if let Some((kind, address)) = candidate_kind(&c.candidate) {
                    match kind {
                        "host" => found.host.push(address),
                        "srflx" => found.reflexive.push(address),
                        "relay" => found.relay.push(address),
                        _ => {}
                    }
                }
            }
            Ok(Some(PeerEvent::RelayFailed(failure))) => {
                found.relay_failure = Some(failure.to_string());
            }
            Ok(Some(_)) => {}
        }
    }
    let _ = peer.pc.close().await;
    found
}

/// A candidate line's type and `address:port`.
fn candidate_kind(line: &str) -> Option<(&str, String)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let typ = fields.iter().position(|f| *f == "typ")?;
    let (address, port) = (fields.get(4)?, fields.get(5)?);
    Some((
        fields.get(typ + 1)?,
        format!("{}:{port}", bracketed(address)),
    ))
}

/// How an Allocate's answer moves the probe along.
#[derive(Debug, Clone, PartialEq)]
pub enum AllocateStep {
    /// Answer the challenge: send again with the credentials for this realm and nonce.
    Authenticate {
        /// The server's realm.
        realm: String,
        /// The server's nonce.
        nonce: String,
    },
    /// Done: what the server gave.
    Done(ServerResult),
}

/// What the answer `response` to an Allocate (sent with credentials when
/// `authenticated`) means.
pub fn allocate_step(response: &Message, authenticated: bool) -> AllocateStep {
    if response.typ.class == CLASS_SUCCESS_RESPONSE {
        let mut relayed = RelayedAddress::default();
        return AllocateStep::Done(match relayed.get_from(response) {
            Ok(()) => ServerResult::Relay {
                address: SocketAddr::new(relayed.ip, relayed.port).to_string(),
            },
            Err(_) => ServerResult::Failed {
                reason: "a success without a relayed address".into(),
            },
        });
    }
    let mut code = ErrorCodeAttribute::default();
    if response.typ.class != CLASS_ERROR_RESPONSE || code.get_from(response).is_err() {
        return AllocateStep::Done(ServerResult::Failed {
            reason: "not a TURN answer".into(),
        });
    }
    let unauthorized = code.code == CODE_UNAUTHORIZED || code.code == CODE_WRONG_CREDENTIALS;
    if unauthorized && !authenticated {
        let realm = Realm::get_from_as(response, ATTR_REALM);
        let nonce = Nonce::get_from_as(response, ATTR_NONCE);
        if let (Ok(realm), Ok(nonce)) = (realm, nonce) {
            return AllocateStep::Authenticate {
                realm: realm.text,
                nonce: nonce.text,
            };
        }
    }
    AllocateStep::Done(match code.code {
        _ if unauthorized => ServerResult::WrongCredentials,
        CODE_FORBIDDEN => ServerResult::Forbidden,
        other => ServerResult::Failed {
            reason: format!(
                "the server answered {} {}",
                other.0,
                String::from_utf8_lossy(&code.reason)
            ),
        },
    })
}

/// Asks the TURN server at `server` over UDP for an allocation with `username` and
/// `credential` (the long-term mechanism), and gives it back at once.
pub async fn probe_turn_udp(
    server: SocketAddr,
    username: &str,
    credential: &str,
    timeout: Duration,
) -> ServerResult {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(socket) => socket,
        Err(err) => {
            return ServerResult::Failed {
                reason: format!("cannot open a UDP socket: {err}"),
            };
        }
    };
    if let Err(err) = socket.connect(server).await {
        return ServerResult::Failed {
            reason: format!("cannot reach {server}: {err}"),
        };
    }
    let provider = match rtc::crypto::default_provider() {
        Ok(provider) => provider,
        Err(err) => {
            return ServerResult::Failed {
                reason: format!("no crypto provider: {err}"),
            };
        }
    };
    let mut credentials: Option<(Username, Realm, Nonce, MessageIntegrity<'_>)> = None;
    for _ in 0..2 {
        let mut setters: Vec<Box<dyn Setter + '_>> = vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
            Box::new(RequestedTransport {
                protocol: rtc::turn::proto::PROTO_UDP,
            }),
        ];
        if let Some((user, realm, nonce, integrity)) = &credentials {
            setters.push(Box::new(user.clone()));
            setters.push(Box::new(realm.clone()));
            setters.push(Box::new(nonce.clone()));
            setters.push(Box::new(integrity.clone()));
        }
        let response = match exchange(&socket, &setters, timeout).await {
            Ok(response) => response,
            Err(result) => return result,
        };
        match allocate_step(&response, credentials.is_some()) {
            AllocateStep::Authenticate { realm, nonce } => {
                let integrity = match MessageIntegrity::new_long_term_integrity_with_provider(
                    username.into(),
                    realm.clone(),
                    credential.into(),
                    provider.crypto(),
                ) {
                    Ok(integrity) => integrity,
                    Err(err) => {
                        return ServerResult::Failed {
                            reason: format!("cannot sign the request: {err}"),
                        };
                    }
                };
                credentials = Some((
                    Username::new(ATTR_USERNAME, username.into()),
                    Realm::new(ATTR_REALM, realm),
                    Nonce::new(ATTR_NONCE, nonce),
                    integrity,
                ));
            }
            AllocateStep::Done(result) => {
                if let (ServerResult::Relay { .. }, Some((user, realm, nonce, integrity))) =
                    (&result, &credentials)
                {
                    // Give the relay back (lifetime 0); its answer does not matter.
                    let release: Vec<Box<dyn Setter + '_>> = vec![
                        Box::new(TransactionId::new()),
                        Box::new(MessageType::new(METHOD_REFRESH, CLASS_REQUEST)),
                        Box::new(Lifetime(Duration::ZERO)),
                        Box::new(user.clone()),
                        Box::new(realm.clone()),
                        Box::new(nonce.clone()),
                        Box::new(integrity.clone()),
                    ];
                    let _ = exchange(&socket, &release, Duration::from_millis(500)).await;
                }
                return result;
            }
        }
    }
    ServerResult::Failed {
        reason: "the server challenged the credentials twice".into(),
    }
}

/// Sends the request built from `setters` and waits for its answer, resending every
/// 500 ms; the error is the result to report.
async fn exchange(
    socket: &UdpSocket,
    setters: &[Box<dyn Setter + '_>],
    timeout: Duration,
) -> Result<Message, ServerResult> {
    let mut request = Message::new();
    request.build(setters).map_err(|err| ServerResult::Failed {
        reason: format!("cannot build a request: {err}"),
    })?;
    let until = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; 1500];
    loop {
        if let Err(err) = socket.send(&request.raw).await {
            return Err(refused_or(err));
        }
        let wait = (until - tokio::time::Instant::now()).min(Duration::from_millis(500));
        match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let mut response = Message::new();
                if response.unmarshal_binary(&buf[..n]).is_ok()
                    && response.transaction_id == request.transaction_id
                {
                    return Ok(response);
                }
            }
            Ok(Err(err)) => return Err(refused_or(err)),
            Err(_) if tokio::time::Instant::now() >= until => return Err(ServerResult::Timeout),
            Err(_) => {}
        }
    }
}

fn refused_or(err: std::io::Error) -> ServerResult {
    match err.kind() {
        std::io::ErrorKind::PermissionDenied => ServerResult::Blocked,
        std::io::ErrorKind::ConnectionRefused => ServerResult::Failed {
            reason: "connection refused (nothing listens there)".into(),
        },
        _ => ServerResult::Failed {
            reason: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, result: ServerResult) -> ServerCheck {
        ServerCheck {
            url: url.into(),
            result,
        }
    }

    fn reached() -> SignalingCheck {
        SignalingCheck::Reached {
            url: "ws://s/ws".into(),
            join_ms: 5,
            ice_servers: 2,
        }
    }

    #[test]
    fn a_relay_means_calls_connect_and_each_failure_gets_its_advice() {
        let host = vec!["10.0.0.2:5000".to_string()];
        let servers = [
            check("turn:a", ServerResult::WrongCredentials),
            check(
                "turn:b?transport=tcp",
                ServerResult::Relay {
                    address: "1.2.3.4:50000".into(),
                },
            ),
            check("turn:c", ServerResult::Timeout),
        ];
        let (ok, advice) = verdict(Some(&reached()), &host, &servers);
        assert!(ok);
        assert!(advice[0].contains("through a relay"), "{advice:?}");
        assert!(
            advice[1].contains("turn:a refused the username"),
            "{advice:?}"
        );
        assert!(advice[2].contains("turn:c did not answer"), "{advice:?}");
    }

    #[test]
    fn no_signaling_or_no_working_server_means_calls_will_not_connect() {
        let host = vec!["10.0.0.2:5000".to_string()];
        let failed = SignalingCheck::Failed {
            url: "ws://s/ws".into(),
            error: "connection refused".into(),
        };
        let (ok, advice) = verdict(Some(&failed), &host, &[]);
        assert!(!ok);
        assert!(advice[1].contains("ws://s/ws cannot be used"), "{advice:?}");
        let (ok, _) = verdict(
            Some(&reached()),
            &host,
            &[check("turn:a", ServerResult::Forbidden)],
        );
        assert!(!ok);
        let (ok, advice) = verdict(None, &host, &[]);
        assert!(ok, "{advice:?}");
        assert!(
            advice.iter().any(|a| a.contains("same network")),
            "{advice:?}"
        );
    }

    fn answer(class: rtc::stun::message::MessageClass, attrs: Vec<Box<dyn Setter>>) -> Message {
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_ALLOCATE, class)),
        ];
        setters.extend(attrs);
        let mut message = Message::new();
        message.build(&setters).unwrap();
        let mut parsed = Message::new();
        parsed.unmarshal_binary(&message.raw).unwrap();
        parsed
    }

    fn error(code: rtc::stun::error_code::ErrorCode) -> Box<dyn Setter> {
        Box::new(ErrorCodeAttribute {
            code,
            reason: b"no".to_vec(),
        })
    }

    #[test]
    fn allocate_answers_are_read_as_a_challenge_a_relay_or_a_refusal() {
        let challenge = answer(
            CLASS_ERROR_RESPONSE,
            vec![
                error(CODE_UNAUTHORIZED),
                Box::new(Realm::new(ATTR_REALM, "example.org".into())),
                Box::new(Nonce::new(ATTR_NONCE, "n0nce".into())),
            ],
        );
        assert_eq!(
            allocate_step(&challenge, false),
            AllocateStep::Authenticate {
                realm: "example.org".into(),
                nonce: "n0nce".into()
            }
        );
        assert_eq!(
            allocate_step(&challenge, true),
            AllocateStep::Done(ServerResult::WrongCredentials)
        );
        let forbidden = answer(CLASS_ERROR_RESPONSE, vec![error(CODE_FORBIDDEN)]);
        assert_eq!(
            allocate_step(&forbidden, true),
            AllocateStep::Done(ServerResult::Forbidden)
        );
        let relayed = answer(
            CLASS_SUCCESS_RESPONSE,
            vec![Box::new(RelayedAddress {
                ip: "192.0.2.7".parse().unwrap(),
                port: 50_000,
            })],
        );
        assert_eq!(
            allocate_step(&relayed, true),
            AllocateStep::Done(ServerResult::Relay {
                address: "192.0.2.7:50000".into()
            })
        );
    }
}
