//! Every rule and error code of protocol.md, over real WebSockets on 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, WAIT, assert_call_works, call};
use futures_util::SinkExt;
use serde_json::json;
use signaling_proto::{ErrorCode, PeerId, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn join_answers_welcome_with_id_room_peers_and_ice_servers() {
    let server = TestServer::start(&["--stun", "stun:127.0.0.1:3478"]).await;
    let mut a = server.client().await;
    a.send(json!({"type": "join", "room": "r1", "name": "Ada"}))
        .await;
    let welcome = a.recv_value().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["room"], "r1");
    assert!(welcome["id"].is_string());
    assert_eq!(welcome["peers"], json!([]));
    assert_eq!(
        welcome["iceServers"],
        json!([{"urls": ["stun:127.0.0.1:3478"]}])
    );

    let mut b = server.client().await;
    b.send(json!({"type": "join", "room": "r1"})).await;
    let welcome_b = b.recv_value().await;
    assert_eq!(
        welcome_b["peers"],
        json!([{"id": welcome["id"], "name": "Ada"}])
    );
    assert_ne!(welcome_b["id"], welcome["id"]);
}

#[tokio::test]
async fn peer_joined_goes_to_everyone_already_in_the_room() {
    let server = TestServer::start(&["--max-peers", "3"]).await;
    let (mut a, _) = server.joined("room").await;
    let (mut b, _) = server.joined("room").await;
    let _ = a.recv().await; // b joined
    let mut c = server.client().await;
    c.send(json!({"type": "join", "room": "room", "name": "Cy"}))
        .await;
    let ServerMessage::Welcome {
        id: c_id, peers, ..
    } = c.recv().await
    else {
        panic!("expected welcome")
    };
    assert_eq!(peers.len(), 2);
    for peer in [&mut a, &mut b] {
        let joined = peer.recv_value().await;
        assert_eq!(
            joined,
            json!({"type": "peer-joined", "id": c_id, "name": "Cy"})
        );
    }
}

#[tokio::test]
async fn leave_tells_the_room_and_the_connection_may_join_again() {
    let server = TestServer::start(&[]).await;
    let (mut a, a_id, mut b, _) = call(&server, "room").await;
    a.send(json!({"type": "leave"})).await;
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { id: a_id.clone() });
    let again = a.join("another").await;
    assert_eq!(again, a_id, "the id stays with the connection");
}

#[tokio::test]
async fn closing_the_connection_tells_the_room_peer_left() {
    let server = TestServer::start(&[]).await;
    let (mut a, a_id, mut b, _) = call(&server, "room").await;
    a.ws.close(None).await.unwrap();
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { id: a_id });
}

#[tokio::test]
async fn abrupt_tcp_drop_without_close_frame_gives_peer_left() {
    let server = TestServer::start(&[]).await;
    let (a, a_id, mut b, _) = call(&server, "room").await;
    drop(a); // no close frame: the TCP connection just goes away
    assert_eq!(b.recv().await, ServerMessage::PeerLeft { id: a_id });
}

#[tokio::test]
async fn message_with_to_goes_only_to_that_peer() {
    let server = TestServer::start(&["--max-peers", "3"]).await;
    let (mut a, a_id) = server.joined("room").await;
    let (mut b, _) = server.joined("room").await;
    let (mut c, c_id) = server.joined("room").await;
    let _ = (a.recv().await, a.recv().await, b.recv().await);
    a.send(json!({"type": "answer", "sdp": "v=0 a", "to": c_id}))
        .await;
    assert_eq!(
        c.recv_value().await,
        json!({"type": "answer", "sdp": "v=0 a", "from": a_id, "to": c_id})
    );
    b.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn message_without_to_goes_to_every_other_peer() {
    let server = TestServer::start(&["--max-peers", "3"]).await;
    let (mut a, a_id) = server.joined("room").await;
    let (mut b, _) = server.joined("room").await;
    let (mut c, _) = server.joined("room").await;
    let _ = (a.recv().await, a.recv().await, b.recv().await);
    let candidate = json!({"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0});
    a.send(json!({"type": "candidate", "candidate": candidate}))
        .await;
    for peer in [&mut b, &mut c] {
        assert_eq!(
            peer.recv_value().await,
            json!({"type": "candidate", "candidate": candidate, "from": a_id})
        );
    }
    a.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn end_of_candidates_null_is_relayed() {
    let server = TestServer::start(&[]).await;
    let (mut a, a_id, mut b, _) = call(&server, "room").await;
    a.send(json!({"type": "candidate", "candidate": null}))
        .await;
    assert_eq!(
        b.recv_value().await,
        json!({"type": "candidate", "candidate": null, "from": a_id})
    );
}

#[tokio::test]
async fn held_messages_are_delivered_in_order_right_after_welcome() {
    let server = TestServer::start(&[]).await;
    let (mut a, a_id) = server.joined("room").await;
    a.send(json!({"type": "offer", "sdp": "v=0 offer"})).await;
    for i in 0..5 {
        a.send(json!({"type": "candidate", "candidate": {"candidate": format!("c{i}")}}))
            .await;
    }
    a.send(json!({"type": "candidate", "candidate": null}))
        .await;
    // Give the server time to hold them all before the callee arrives.
    a.expect_silence(Duration::from_millis(200)).await;
    let mut b = server.client().await;
    b.send(json!({"type": "join", "room": "room"})).await;
    assert_eq!(b.recv_value().await["type"], "welcome");
    assert_eq!(
        b.recv_value().await,
        json!({"type": "offer", "sdp": "v=0 offer", "from": a_id})
    );
    for i in 0..5 {
        let c = b.recv_value().await;
        assert_eq!(c["candidate"]["candidate"], format!("c{i}"));
        assert_eq!(c["from"], json!(a_id));
    }
    assert_eq!(b.recv_value().await["candidate"], json!(null));
}

#[tokio::test]
async fn held_messages_are_dropped_when_their_sender_leaves() {
    let server = TestServer::start(&[]).await;
    let (mut a, _) = server.joined("room").await;
    a.send(json!({"type": "offer", "sdp": "stale"})).await;
    a.send(json!({"type": "leave"})).await;
    a.expect_silence(Duration::from_millis(200)).await;
    let (mut b, _) = server.joined("room").await;
    b.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn holding_past_128_messages_gets_queue_full() {
    let server = TestServer::start(&["--burst", "1000"]).await;
    let (mut a, _) = server.joined("room").await;
    for i in 0..128 {
        a.send(json!({"type": "candidate", "candidate": {"candidate": format!("c{i}")}}))
            .await;
    }
    a.send(json!({"type": "candidate", "candidate": {"candidate": "one too many"}}))
        .await;
    let message = a.expect_error(ErrorCode::QueueFull).await;
    assert!(message.contains("128"), "{message}");
}

#[tokio::test]
async fn holding_past_one_mebibyte_gets_queue_full() {
    let server = TestServer::start(&[]).await;
    let (mut a, _) = server.joined("room").await;
    let sdp = "x".repeat(60_000);
    for _ in 0..17 {
        a.send(json!({"type": "offer", "sdp": sdp})).await; // 17 × ~60 KB < 1 MiB
    }
    a.expect_silence(Duration::from_millis(200)).await;
    a.send(json!({"type": "offer", "sdp": sdp})).await; // the 18th crosses 1 MiB
    a.expect_error(ErrorCode::QueueFull).await;
}

#[tokio::test]
async fn one_peer_more_than_max_peers_gets_room_full() {
    let server = TestServer::start(&[]).await;
    let (_a, _, _b, _) = call(&server, "room").await;
    let mut c = server.client().await;
    c.send(json!({"type": "join", "room": "room"})).await;
    let message = c.expect_error(ErrorCode::RoomFull).await;
    assert!(message.contains("room"), "{message}");
    // The refused peer is not in the room and may join another.
    c.join("elsewhere").await;

    let server = TestServer::start(&["--max-peers", "1"]).await;
    let (_a, _) = server.joined("solo").await;
    let mut b = server.client().await;
    b.send(json!({"type": "join", "room": "solo"})).await;
    b.expect_error(ErrorCode::RoomFull).await;
}

#[tokio::test]
async fn relay_before_join_gets_not_joined() {
    let server = TestServer::start(&[]).await;
    let mut a = server.client().await;
    for msg in [
        json!({"type": "offer", "sdp": "v=0"}),
        json!({"type": "answer", "sdp": "v=0"}),
        json!({"type": "candidate", "candidate": null}),
        json!({"type": "leave"}),
    ] {
        a.send(msg).await;
        a.expect_error(ErrorCode::NotJoined).await;
    }
    a.join("room").await; // the connection stays open
}

#[tokio::test]
async fn join_while_in_a_room_gets_already_joined() {
    let server = TestServer::start(&[]).await;
    let (mut a, _) = server.joined("room").await;
    a.send(json!({"type": "join", "room": "other"})).await;
    a.expect_error(ErrorCode::AlreadyJoined).await;
}

#[tokio::test]
async fn to_naming_nobody_in_the_room_gets_unknown_peer() {
    let server = TestServer::start(&[]).await;
    let (mut a, _, _b, _) = call(&server, "room").await;
    let (_elsewhere, other_room_peer) = server.joined("other").await;
    for to in [json!("no-such-peer"), json!(other_room_peer)] {
        a.send(json!({"type": "offer", "sdp": "v=0", "to": to}))
            .await;
        a.expect_error(ErrorCode::UnknownPeer).await;
    }
}

#[tokio::test]
async fn malformed_messages_get_bad_message_and_the_connection_stays_open() {
    let server = TestServer::start(&[]).await;
    let (mut a, _, mut b, b_id) = call(&server, "room").await;
    let cases = [
        "not json at all",
        "42",
        "[]",
        r#""a string""#,
        r#"{"no":"type"}"#,
        r#"{"type":"dance"}"#,
        r#"{"type":7}"#,
        r#"{"type":"offer"}"#,
        r#"{"type":"offer","sdp":12}"#,
        r#"{"type":"offer","sdp":"v=0","to":5}"#,
        r#"{"type":"candidate"}"#,
        r#"{"type":"candidate","candidate":"text"}"#,
        r#"{"type":"candidate","candidate":{"sdpMid":"0"}}"#,
        r#"{"type":"join","room":"bad room!"}"#,
        r#"{"type":"join","room":""}"#,
    ];
    for case in cases {
        a.send_text(case).await;
        let message = a.expect_error(ErrorCode::BadMessage).await;
        assert!(!message.is_empty(), "{case}");
    }
    a.ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    let message = a.expect_error(ErrorCode::BadMessage).await;
    assert!(message.contains("binary"), "{message}");
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn frame_over_the_size_limit_gets_bad_message_and_is_dropped() {
    let server = TestServer::start(&[]).await;
    let (mut a, _, mut b, b_id) = call(&server, "room").await;
    let big = json!({"type": "offer", "sdp": "x".repeat(64 * 1024)});
    a.send(big).await;
    let message = a.expect_error(ErrorCode::BadMessage).await;
    assert!(message.contains("limit"), "{message}");
    b.expect_silence(Duration::from_millis(200)).await;
    assert_call_works(&mut a, &mut b, &b_id).await;

    let server = TestServer::start(&["--max-frame-bytes", "1024"]).await;
    let (mut a, _, mut b, _) = call(&server, "room").await;
    a.send(json!({"type": "offer", "sdp": "x".repeat(1000)}))
        .await;
    a.expect_error(ErrorCode::BadMessage).await;
    a.send(json!({"type": "offer", "sdp": "x".repeat(900)}))
        .await;
    assert_eq!(b.recv_value().await["type"], "offer");
}

#[tokio::test]
async fn messages_past_the_rate_limit_get_rate_limited_and_are_dropped() {
    let server = TestServer::start(&["--rate", "1", "--burst", "5"]).await;
    let (mut a, _, mut b, _) = call(&server, "room").await;
    // The join used one token; four more pass, the rest are dropped.
    for i in 0..8 {
        a.send(json!({"type": "candidate", "candidate": {"candidate": format!("c{i}")}}))
            .await;
    }
    for i in 0..4 {
        assert_eq!(
            b.recv_value().await["candidate"]["candidate"],
            format!("c{i}")
        );
    }
    for _ in 4..8 {
        let message = a.expect_error(ErrorCode::RateLimited).await;
        assert!(message.contains("messages/s"), "{message}");
    }
    b.expect_silence(Duration::from_millis(200)).await;
    // Tokens come back at the configured rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    a.send(json!({"type": "candidate", "candidate": {"candidate": "later"}}))
        .await;
    assert_eq!(b.recv_value().await["candidate"]["candidate"], "later");
}

#[tokio::test]
async fn connection_over_the_limit_gets_server_full_then_close() {
    let server = TestServer::start(&["--max-connections", "2"]).await;
    let (mut a, _, mut b, b_id) = call(&server, "room").await;
    let mut c = server.client().await;
    let (close, texts) = c.expect_close().await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["code"], "server-full");
    assert_eq!(close.map(|(code, _)| code), Some(1013));
    assert_call_works(&mut a, &mut b, &b_id).await;
    // A slot frees when someone leaves.
    drop(a);
    let _ = b.recv().await;
    let mut d = server.client().await;
    d.join("again").await;
}

#[tokio::test]
async fn connection_that_never_joins_is_closed_after_the_join_timeout() {
    let server = TestServer::start(&["--join-timeout", "0.3"]).await;
    let mut idle = server.client().await;
    let started = Instant::now();
    let (close, _) = idle.expect_close().await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(close.map(|(code, _)| code), Some(1008));
    // One that joins in time stays.
    let (mut joined, _) = server.joined("room").await;
    joined.expect_silence(Duration::from_millis(600)).await;
}

#[tokio::test]
async fn twenty_bad_messages_in_a_row_close_the_connection() {
    let server = TestServer::start(&[]).await;
    let mut a = server.client().await;
    for _ in 0..19 {
        a.send_text("{").await;
        a.expect_error(ErrorCode::BadMessage).await;
    }
    // A good message resets the count.
    a.join("room").await;
    for _ in 0..19 {
        a.send_text("{").await;
    }
    a.send(json!({"type": "candidate", "candidate": null}))
        .await;
    for _ in 0..20 {
        a.send_text("{").await;
    }
    let (close, texts) = a.expect_close().await;
    assert_eq!(texts.len(), 39, "19 + 20 errors before the close");
    assert!(texts.iter().all(|t| t["code"] == "bad-message"));
    assert_eq!(close.map(|(code, _)| code), Some(1008));
}

#[tokio::test]
async fn welcome_carries_turn_servers_with_static_credentials() {
    let server = TestServer::start(&[
        "--turn",
        "turn:127.0.0.1:3478",
        "--turn-username",
        "user1",
        "--turn-credential",
        "pass1",
    ])
    .await;
    let mut a = server.client().await;
    a.send(json!({"type": "join", "room": "r"})).await;
    assert_eq!(
        a.recv_value().await["iceServers"],
        json!([{"urls": ["turn:127.0.0.1:3478"], "username": "user1", "credential": "pass1"}])
    );
}

#[tokio::test]
async fn welcome_carries_time_limited_turn_credentials_from_the_secret() {
    let server = TestServer::start(&[
        "--turn",
        "turn:127.0.0.1:3478?transport=udp",
        "--turn-secret",
        "north",
        "--turn-ttl",
        "3600",
    ])
    .await;
    let mut a = server.client().await;
    a.send(json!({"type": "join", "room": "r"})).await;
    let welcome = a.recv_value().await;
    let turn = &welcome["iceServers"][0];
    let username = turn["username"].as_str().unwrap();
    let (expiry, id) = username.split_once(':').unwrap();
    assert_eq!(id, welcome["id"].as_str().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 3590..=now + 3610).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert_eq!(
        turn["credential"],
        signaling_server::ice::turn_rest_credential("north", username)
    );
}

#[tokio::test]
async fn per_sender_order_is_kept_across_a_burst_of_1000_candidates() {
    let server = TestServer::start(&["--burst", "2000"]).await;
    let (mut a, a_id, mut b, b_id) = call(&server, "room").await;
    for i in 0..1000 {
        a.ws.feed(Message::Text(
            json!({"type": "candidate", "candidate": {"candidate": format!("candidate:{i}")}, "to": b_id})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    }
    a.ws.flush().await.unwrap();
    for i in 0..1000 {
        let c = b.recv_value().await;
        assert_eq!(c["candidate"]["candidate"], format!("candidate:{i}"));
        assert_eq!(c["from"], json!(a_id));
    }
}

#[tokio::test]
async fn a_silent_peer_is_dropped_by_keepalive_and_its_room_told() {
    // Defaults (10 s + 10 s) are proven within 30 s in the Keepalive unit tests; here
    // the real timers run at short settings.
    let server = TestServer::start(&["--ping-interval", "0.2", "--pong-timeout", "0.3"]).await;
    let (a, a_id, mut b, _) = call(&server, "room").await;
    // `a` stops reading: it never answers pings, but its TCP connection stays open.
    let started = Instant::now();
    let left = b.recv().await; // `b` reads, so it answers pings and stays
    assert_eq!(left, ServerMessage::PeerLeft { id: a_id });
    assert!(started.elapsed() < Duration::from_secs(2));
    b.expect_silence(Duration::from_millis(800)).await; // and b is still connected
    drop(a);
}

#[tokio::test]
async fn slow_reader_is_dropped_without_stalling_its_room() {
    let server = TestServer::start(&[
        "--max-peers",
        "3",
        "--burst",
        "100000",
        "--outbox-messages",
        "64",
    ])
    .await;
    let (mut a, a_id) = server.joined("room").await;
    let (mut b, _) = server.joined("room").await;
    let (slow, slow_id) = server.joined("room").await;
    let _ = (a.recv().await, a.recv().await, b.recv().await);
    // `slow` never reads; `a` sends enough to fill its socket buffers and outbox.
    let sdp = "x".repeat(30_000);
    let mut received = 0;
    let mut slow_left = false;
    for _ in 0..600 {
        a.send(json!({"type": "offer", "sdp": sdp})).await;
        // `b` keeps up and sees every message, plus `peer-left` for `slow` at some point.
        loop {
            let msg = b.recv_value().await;
            if msg["type"] == "peer-left" {
                assert_eq!(msg["id"], json!(slow_id));
                slow_left = true;
                continue;
            }
            assert_eq!(msg["from"], json!(a_id));
            received += 1;
            break;
        }
    }
    assert_eq!(received, 600);
    assert!(slow_left, "the slow reader was dropped");
    drop(slow);
}

#[tokio::test]
async fn healthz_answers_ok_and_root_serves_the_browser_client() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<title>peercall test</title>",
    )
    .unwrap();
    let root = dir.path().to_str().unwrap();
    let server = TestServer::start(&["--web-root", root]).await;
    let get = |path: &'static str| {
        let addr = server.addr;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    let health = get("/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("\r\n\r\nok"), "{health}");
    let index = get("/").await;
    assert!(index.starts_with("HTTP/1.1 200"));
    assert!(index.contains("<title>peercall test</title>"));
    assert!(get("/missing.js").await.starts_with("HTTP/1.1 404"));
    let not_ws = get("/ws").await;
    assert!(not_ws.starts_with("HTTP/1.1 400"), "{not_ws}");
    assert!(not_ws.contains("WebSocket"));
}

#[tokio::test]
async fn the_default_web_root_serves_the_repository_client() {
    let server = TestServer::start(&[]).await;
    let body = tokio::task::spawn_blocking({
        let addr = server.addr;
        move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        }
    })
    .await
    .unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("peercall"));
}

#[tokio::test]
async fn shutdown_sends_every_peer_a_close_frame_and_no_peer_left_and_returns() {
    let server = TestServer::start(&[]).await;
    let (mut a, _, mut b, _) = call(&server, "room").await;
    let mut lobby = server.client().await;
    let shutdown = tokio::spawn(server.shutdown());
    for client in [&mut a, &mut b, &mut lobby] {
        let (close, texts) = client.expect_close().await;
        assert_eq!(close, Some((1001, "server shutting down".to_string())));
        // The peers did not leave each other: the server went away.
        assert_eq!(texts, Vec::<serde_json::Value>::new());
    }
    tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
}

#[tokio::test]
async fn ids_are_unique_per_server_run() {
    let server = TestServer::start(&[]).await;
    let mut ids = std::collections::HashSet::new();
    for i in 0..50 {
        let (_c, id): (Client, PeerId) = server.joined(&format!("room{i}")).await;
        assert!(ids.insert(id));
    }
}
