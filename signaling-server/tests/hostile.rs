//! Hostile input: none of it panics the server, none disturbs a call in another room,
//! each gets the documented error.

mod common;

use std::time::Duration;

use common::{Client, TestServer, assert_call_works, call};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use signaling_proto::{ErrorCode, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// A server with a call in room "calm" to check after each attack.
async fn server_with_a_call(flags: &[&str]) -> (TestServer, Client, Client, PeerId) {
    let server = TestServer::start(flags).await;
    let (a, _, b, b_id) = call(&server, "calm").await;
    (server, a, b, b_id)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Opens a WebSocket by hand on a raw TCP stream, for writing arbitrary frames.
async fn raw_websocket(server: &TestServer) -> TcpStream {
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    s
}

/// A masked client frame with `opcode` and `payload`.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=65535 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads server frames (unmasked) from a raw stream until it closes; returns the text
/// payloads and the close code, if any.
async fn read_until_closed(s: &mut TcpStream) -> (Vec<String>, Option<u16>) {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let (mut texts, mut close) = (Vec::new(), None);
    let mut rest = &buf[..];
    while rest.len() >= 2 {
        let opcode = rest[0] & 0x0f;
        let (len, header) = match rest[1] & 0x7f {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let payload = &rest[header..header + len];
        match opcode {
            1 => texts.push(String::from_utf8(payload.to_vec()).unwrap()),
            8 if payload.len() >= 2 => close = Some(u16::from_be_bytes([payload[0], payload[1]])),
            _ => {}
        }
        rest = &rest[header + len..];
    }
    (texts, close)
}

#[tokio::test]
async fn random_bytes_instead_of_http_are_refused_and_disturb_nobody() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    for seed in 1..=20u64 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let _ = s.write_all(&noise(4096, seed)).await;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        let reply = String::from_utf8_lossy(&out);
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
            "{reply}"
        );
    }
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn random_bytes_after_the_handshake_close_only_that_connection() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    for seed in 1..=20u64 {
        let mut s = raw_websocket(&server).await;
        let _ = s.write_all(&noise(2048, seed)).await;
        let _ = read_until_closed(&mut s).await;
    }
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn non_utf8_text_gets_bad_message_then_close_1007() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    let mut s = raw_websocket(&server).await;
    s.write_all(&frame(0x1, b"{\"type\":\"join\",\"room\":\"\xff\xfe\"}"))
        .await
        .unwrap();
    let (texts, close) = read_until_closed(&mut s).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("bad-message") && texts[0].contains("UTF-8"));
    assert_eq!(close, Some(1007));
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn binary_frames_get_bad_message_and_the_connection_stays() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    let mut c = server.client().await;
    for seed in 0..5 {
        c.ws.send(Message::Binary(noise(1000, seed + 7).into()))
            .await
            .unwrap();
        c.expect_error(ErrorCode::BadMessage).await;
    }
    c.join("room").await;
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn deeply_nested_json_gets_bad_message() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    let mut c = server.client().await;
    // Deep, yet under the 64 KiB frame limit, so the parser itself must refuse it.
    let arrays = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let objects = format!(
        r#"{{"type":"offer","sdp":"v=0","x":{}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    for text in [arrays, objects] {
        c.send_text(text).await;
        let message = c.expect_error(ErrorCode::BadMessage).await;
        assert!(
            message.contains("recursion") || message.contains("valid"),
            "{message}"
        );
    }
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn huge_json_gets_bad_message_and_oversized_frames_close_the_connection() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    let mut c = server.client().await;
    // Over the 64 KiB limit: refused, connection kept.
    let many_keys: String = (0..20_000).map(|i| format!(r#""k{i}":{i},"#)).collect();
    c.send_text(format!(r#"{{{many_keys}"type":"leave"}}"#))
        .await;
    c.expect_error(ErrorCode::BadMessage).await;
    c.join("room").await;
    // Over the hard limit the server will not even buffer: refused, then closed (1009).
    c.send_text(format!(
        r#"{{"type":"offer","sdp":"{}"}}"#,
        "y".repeat(3 << 20)
    ))
    .await;
    let (close, texts) = c.expect_close().await;
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0]["code"], "bad-message");
    assert_eq!(close.map(|(code, _)| code), Some(1009));
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn wrong_field_types_and_unknown_types_get_bad_message() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    let mut c = server.client().await;
    let cases = [
        json!({"type": "join", "room": 42}),
        json!({"type": "join", "room": ["r"]}),
        json!({"type": "join", "room": "r", "name": {"first": "x"}}),
        json!({"type": "join", "room": "r", "name": "n".repeat(65)}),
        json!({"type": "offer", "sdp": null}),
        json!({"type": "answer", "sdp": "v=0", "to": ["1"]}),
        json!({"type": "candidate", "candidate": {"candidate": 1}}),
        json!({"type": "candidate", "candidate": {"candidate": "c", "sdpMLineIndex": -1}}),
        json!({"type": "candidate", "candidate": {"candidate": "c", "sdpMLineIndex": "0"}}),
        json!({"type": "welcome"}),
        json!({"type": "error", "code": "room-full", "message": "spoof"}),
        json!({"type": "JOIN", "room": "r"}),
        json!({"type": ""}),
    ];
    for case in cases {
        c.send(case.clone()).await;
        c.expect_error(ErrorCode::BadMessage).await;
    }
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn a_flood_past_the_rate_limit_is_refused_without_disturbing_other_rooms() {
    let (server, mut a, mut b, b_id) = server_with_a_call(&[]).await;
    let (mut flooder, _) = server.joined("noisy").await;
    let (mut victim, _) = server.joined("noisy").await;
    let _ = flooder.recv().await;
    for i in 0..5_000 {
        flooder
            .ws
            .feed(Message::Text(
                json!({"type": "candidate", "candidate": {"candidate": format!("c{i}")}})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
    }
    flooder.ws.flush().await.unwrap();
    // The burst (200, less the join) got through; the rest was refused.
    let mut relayed = 0;
    while let Ok(Some(Ok(Message::Text(_)))) =
        tokio::time::timeout(Duration::from_millis(300), victim.ws.next()).await
    {
        relayed += 1;
    }
    assert!((199..=260).contains(&relayed), "relayed {relayed}");
    // Refusals came back (best effort: those past its outbox bound were dropped).
    let mut rate_limited = 0;
    while let Ok(Some(Ok(Message::Text(text)))) =
        tokio::time::timeout(Duration::from_millis(300), flooder.ws.next()).await
    {
        assert!(text.contains("rate-limited"), "{text}");
        rate_limited += 1;
    }
    assert!(rate_limited >= 1_000, "rate-limited {rate_limited}");
    // Once the rate allows again, the flooder's connection still works.
    tokio::time::sleep(Duration::from_millis(100)).await;
    flooder
        .send(json!({"type": "candidate", "candidate": {"candidate": "calm now"}}))
        .await;
    assert_eq!(
        victim.recv_value().await["candidate"]["candidate"],
        "calm now"
    );
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn thousands_of_joins_to_one_room_are_refused_room_full() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // All 2,000 come from 127.0.0.1: lift the per-host limits (access_control.rs tests
    // those) so the room's own limit is what is proven here.
    let (server, mut a, mut b, b_id) =
        server_with_a_call(&["--max-connections-per-ip", "0", "--join-rate-per-ip", "0"]).await;
    let url = server.ws_url();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..2_000 {
        let url = url.clone();
        tasks.spawn(async move {
            let mut c = Client::connect(&url).await;
            c.send(json!({"type": "join", "room": "busy"})).await;
            let reply = c.recv_value().await;
            (reply["type"] == "welcome", reply["code"] == "room-full", c)
        });
    }
    let (mut welcomed, mut full, mut clients) = (0, 0, Vec::new());
    while let Some(result) = tasks.join_next().await {
        let (w, f, c) = result.unwrap();
        welcomed += usize::from(w);
        full += usize::from(f);
        clients.push(c);
    }
    assert_eq!((welcomed, full), (2, 1_998));
    assert_call_works(&mut a, &mut b, &b_id).await;
    drop(clients);
}

#[tokio::test]
async fn idle_sockets_past_the_cap_get_503_and_calls_go_on() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // --max-connections 2 leaves room for 1024 sockets still speaking HTTP.
    let (server, mut a, mut b, b_id) = server_with_a_call(&["--max-connections", "2"]).await;
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut last = idle.pop().unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), last.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert_call_works(&mut a, &mut b, &b_id).await;
    // Freed sockets make room again: once the server has seen them close, a
    // WebSocket handshake goes through instead of getting 503.
    drop(idle);
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        match tokio_tungstenite::connect_async(server.ws_url()).await {
            Ok((ws, _)) => break Client { ws },
            Err(err) => {
                assert!(
                    std::time::Instant::now() < until,
                    "still refused 10 s after the idle sockets closed: {err}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    c.send(json!({"type": "join", "room": "calm"})).await;
    c.expect_error(ErrorCode::ServerFull).await;
}
