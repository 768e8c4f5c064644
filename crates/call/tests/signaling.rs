//! The signaling client against the real signaling server on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use call::backoff::Backoff;
use call::signaling::Joined;
use call::{SignalingClient, SignalingConfig, SignalingError, SignalingEvent};
use clap::Parser;
use signaling_proto::{AccessToken, ClientMessage, PeerId, RoomId, Signal};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A signaling server on `addr` (or a free port) until the sender is dropped or fired.
async fn server_on(addr: &str, flags: &[&str]) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut args = vec!["signaling-server"];
    args.extend_from_slice(flags);
    let config = signaling_server::Config::parse_from(args);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(signaling_server::serve(listener, config, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

fn config(addr: SocketAddr, room: &str) -> SignalingConfig {
    let mut config = SignalingConfig::new(format!("ws://{addr}/ws"), RoomId::new(room).unwrap());
    config.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    config
}

async fn next(client: &mut SignalingClient) -> SignalingEvent {
    tokio::time::timeout(Duration::from_secs(5), client.next_event())
        .await
        .expect("an event within 5 s")
        .expect("client running")
}

async fn joined(client: &mut SignalingClient) -> Joined {
    match next(client).await {
        SignalingEvent::Joined(joined) => joined,
        other => panic!("expected joined, got {other:?}"),
    }
}

#[tokio::test]
async fn two_clients_meet_and_exchange_offer_answer_and_candidates() {
    let (addr, _server) = server_on("127.0.0.1:0", &["--stun", "stun:127.0.0.1:3478"]).await;
    let mut caller = SignalingClient::connect(config(addr, "meet"))
        .await
        .unwrap();
    let caller_joined = joined(&mut caller).await;
    assert!(caller_joined.peers.is_empty());
    assert_eq!(
        caller_joined.ice_servers[0].urls,
        vec!["stun:127.0.0.1:3478".to_string()]
    );
    // The caller offers at once: the server holds it for the callee.
    caller
        .send(ClientMessage::Offer {
            sdp: "v=0 offer".into(),
            to: None,
        })
        .unwrap();

    let mut callee = SignalingClient::connect(config(addr, "meet"))
        .await
        .unwrap();
    let callee_joined = joined(&mut callee).await;
    assert_eq!(callee_joined.peers[0].id, caller_joined.id);
    assert_eq!(
        next(&mut callee).await,
        SignalingEvent::Signal {
            from: caller_joined.id.clone(),
            signal: Signal::Offer("v=0 offer".into())
        }
    );
    assert!(
        matches!(next(&mut caller).await, SignalingEvent::PeerJoined { id, .. } if id == callee_joined.id)
    );
    callee
        .send(ClientMessage::Answer {
            sdp: "v=0 answer".into(),
            to: Some(caller_joined.id.clone()),
        })
        .unwrap();
    callee
        .send(ClientMessage::Candidate {
            candidate: None,
            to: Some(caller_joined.id.clone()),
        })
        .unwrap();
    assert_eq!(
        next(&mut caller).await,
        SignalingEvent::Signal {
            from: callee_joined.id.clone(),
            signal: Signal::Answer("v=0 answer".into())
        }
    );
    assert_eq!(
        next(&mut caller).await,
        SignalingEvent::Signal {
            from: callee_joined.id.clone(),
            signal: Signal::Candidate(None)
        }
    );
    callee.close().await;
    assert_eq!(
        next(&mut caller).await,
        SignalingEvent::PeerLeft {
            id: callee_joined.id
        }
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_at_once() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    let err = SignalingClient::connect(config(closed, "r"))
        .await
        .unwrap_err();
    assert!(matches!(err, SignalingError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("Is it running"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let err = SignalingClient::connect(SignalingConfig::new(
        "http://x/ws",
        RoomId::new("r").unwrap(),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, SignalingError::InvalidUrl { .. }), "{err}");
}

#[tokio::test]
async fn a_server_that_never_welcomes_times_out() {
    // Accepts TCP but never speaks WebSocket.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let mut config = config(addr, "r");
    config.connect_timeout = Duration::from_millis(300);
    let err = SignalingClient::connect(config).await.unwrap_err();
    assert!(matches!(err, SignalingError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_full_room_is_refused_with_its_name() {
    let (addr, _server) = server_on("127.0.0.1:0", &[]).await;
    let _a = SignalingClient::connect(config(addr, "busy"))
        .await
        .unwrap();
    let _b = SignalingClient::connect(config(addr, "busy"))
        .await
        .unwrap();
    let err = SignalingClient::connect(config(addr, "busy"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SignalingError::RoomFull { room, .. } if room.as_str() == "busy"),
        "{err}"
    );
    assert!(err.to_string().starts_with("room 'busy' is full"));
}

/// A token for `room` from a server started with `--auth-secret secret`.
fn access_token(secret: &str, room: &str) -> AccessToken {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    AccessToken::new(signaling_server::auth::TokenKey::new(secret).issue(
        &RoomId::new(room).unwrap(),
        None,
        Duration::from_secs(600),
        now,
    ))
}

const SECRET: &str = "the server's secret, long enough";

#[tokio::test]
async fn a_server_that_needs_a_token_lets_ours_in_and_refuses_none_at_once() {
    let (addr, _server) = server_on("127.0.0.1:0", &["--auth-secret", SECRET]).await;
    let mut with = config(addr, "guarded");
    with.token = Some(access_token(SECRET, "guarded"));
    assert!(!format!("{with:?}").contains(with.token.as_ref().unwrap().as_str()));
    let mut client = SignalingClient::connect(with).await.unwrap();
    joined(&mut client).await;
    let started = Instant::now();
    for token in [None, Some(access_token(SECRET, "another-room"))] {
        let mut without = config(addr, "guarded");
        without.token = token;
        let err = SignalingClient::connect(without).await.unwrap_err();
        assert!(
            matches!(&err, SignalingError::Unauthorized { room, .. } if room.as_str() == "guarded"),
            "{err}"
        );
        assert_eq!(call::Failure::from(err).code(), "unauthorized");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "no retrying");
}

#[tokio::test]
async fn a_reconnection_refused_unauthorized_is_final() {
    let (addr, stop) = server_on("127.0.0.1:0", &["--auth-secret", SECRET]).await;
    let mut with = config(addr, "guarded");
    with.token = Some(access_token(SECRET, "guarded"));
    let mut client = SignalingClient::connect(with).await.unwrap();
    joined(&mut client).await;
    // The server comes back with another secret: our place is gone (a new run) and our
    // token no longer checks out.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_addr, _server) = server_on(
        &addr.to_string(),
        &["--auth-secret", "a new secret, long enough too"],
    )
    .await;
    let failed = loop {
        match next(&mut client).await {
            SignalingEvent::Disconnected { .. } => continue,
            SignalingEvent::Failed(err) => break err,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        matches!(failed, SignalingError::Unauthorized { .. }),
        "{failed}"
    );
    assert!(failed.to_string().contains("signature"), "{failed}");
    // The client has stopped: no more events, no more attempts.
    let end = tokio::time::timeout(Duration::from_secs(2), client.next_event())
        .await
        .expect("the client ends");
    assert_eq!(end, None);
}

#[tokio::test]
async fn after_the_server_goes_away_the_client_reconnects_and_joins_again() {
    let (addr, stop) = server_on("127.0.0.1:0", &[]).await;
    let mut client = SignalingClient::connect(config(addr, "again"))
        .await
        .unwrap();
    let first = joined(&mut client).await;
    assert!(!first.rejoined);
    stop.send(()).unwrap();
    assert!(matches!(
        next(&mut client).await,
        SignalingEvent::Disconnected { .. }
    ));
    // Messages sent while down are dropped, not queued for the next session.
    client
        .send(ClientMessage::Offer {
            sdp: "stale".into(),
            to: None,
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_addr, _server) = server_on(&addr.to_string(), &[]).await;
    let again = loop {
        match next(&mut client).await {
            SignalingEvent::Joined(joined) => break joined,
            SignalingEvent::Disconnected { retry_in, .. } => {
                assert!(retry_in <= Duration::from_millis(200));
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(again.rejoined);
    // The stale offer was not delivered: a new peer finds nothing held.
    let mut other = SignalingClient::connect(config(addr, "again"))
        .await
        .unwrap();
    let other_joined = joined(&mut other).await;
    assert_eq!(other_joined.peers.len(), 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other.next_event())
            .await
            .is_err(),
        "nothing held for the newcomer"
    );
}

#[tokio::test]
async fn wss_works_with_the_given_trust_roots() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, pkey) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&pkey, key.signing_key.serialize_pem()).unwrap();
    let (addr, _server) = server_on(
        "127.0.0.1:0",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            pkey.to_str().unwrap(),
        ],
    )
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut config = SignalingConfig::new(
        format!("wss://localhost:{}/ws", addr.port()),
        RoomId::new("secure").unwrap(),
    );
    config.tls = Some(Arc::new(tls));
    let mut client = SignalingClient::connect(config.clone()).await.unwrap();
    let joined = joined(&mut client).await;
    assert_ne!(joined.id, PeerId::new(""));
    // Without those roots the self-signed certificate is refused.
    config.tls = None;
    let err = SignalingClient::connect(config).await.unwrap_err();
    assert!(matches!(err, SignalingError::Unreachable { .. }), "{err}");
}
