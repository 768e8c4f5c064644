//! Access control over real WebSockets on 127.0.0.1: access tokens on `join`
//! (`--auth-secret`), the `Origin` check at the upgrade, and the per-host limits.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Client, TestServer, WAIT, assert_call_works};
use serde_json::json;
use signaling_proto::{ErrorCode, PeerId, PeerName, RoomId, ServerMessage};
use signaling_server::auth::TokenKey;
use tokio_tungstenite::tungstenite::Error as WsError;

const SECRET: &str = "the server's secret, long enough";
const HOST_A: &str = "127.0.0.1";
const HOST_B: &str = "127.0.0.2";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `room` (under `name`, if given) signed with `secret`, made `age` seconds
/// ago and accepted for `ttl` seconds from then.
fn token_by(secret: &str, room: &str, name: Option<&str>, age: u64, ttl: u64) -> String {
    TokenKey::new(secret).issue(
        &RoomId::new(room).unwrap(),
        name.map(|n| PeerName::new(n).unwrap()).as_ref(),
        Duration::from_secs(ttl),
        now() - age,
    )
}

fn token(room: &str) -> String {
    token_by(SECRET, room, None, 0, 600)
}

/// A server that needs tokens and hands out per-peer TURN credentials.
async fn guarded(extra: &[&str]) -> TestServer {
    let mut flags = vec![
        "--auth-secret",
        SECRET,
        "--turn",
        "turn:127.0.0.1:3478",
        "--turn-secret",
        "north",
    ];
    flags.extend_from_slice(extra);
    TestServer::start(&flags).await
}

/// Joins `room` with `token`; returns the client and its id.
async fn join_with(server: &TestServer, room: &str, token: &str) -> (Client, PeerId) {
    let mut client = server.client().await;
    client
        .send(json!({"type": "join", "room": room, "token": token}))
        .await;
    match client.recv().await {
        ServerMessage::Welcome { id, .. } => (client, id),
        other => panic!("expected welcome, got {other:?}"),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_join_without_a_valid_token_is_unauthorized_and_gets_no_ice_servers() {
    let server = guarded(&[]).await;
    let good = token("call");
    let mut tampered: Vec<String> = good.split('.').map(String::from).collect();
    tampered[1] = token("other").split('.').nth(1).unwrap().to_string();
    let tampered = tampered.join(".");
    let cases = [
        (
            "no token",
            json!({"type": "join", "room": "call"}),
            "none was given",
        ),
        (
            "expired",
            json!({"type": "join", "room": "call", "token": token_by(SECRET, "call", None, 7200, 60)}),
            "expired",
        ),
        (
            "another room",
            json!({"type": "join", "room": "call", "token": token("other")}),
            "for room 'other'",
        ),
        (
            "another secret",
            json!({"type": "join", "room": "call", "token": token_by("someone else's secret", "call", None, 0, 600)}),
            "signature",
        ),
        (
            "claims changed under the signature",
            json!({"type": "join", "room": "other", "token": tampered}),
            "signature",
        ),
        (
            "another name",
            json!({"type": "join", "room": "call", "name": "eve", "token": token_by(SECRET, "call", Some("ada"), 0, 600)}),
            "the name 'ada'",
        ),
        (
            "not a token",
            json!({"type": "join", "room": "call", "token": "let me in"}),
            "not a valid token",
        ),
    ];
    for (case, join, why) in cases {
        let mut client = server.client().await;
        client.send(join.clone()).await;
        let reply = client.recv_value().await;
        assert_eq!(reply["type"], "error", "{case}: {reply}");
        assert_eq!(reply["code"], "unauthorized", "{case}: {reply}");
        let message = reply["message"].as_str().unwrap();
        assert!(message.contains(why), "{case}: {message}");
        if let Some(token) = join["token"].as_str() {
            assert!(!message.contains(token), "{case}: the token echoed");
        }
        assert!(reply.get("iceServers").is_none());
        // Nothing else comes: no welcome, no TURN credentials, no held messages.
        client.expect_silence(Duration::from_millis(150)).await;
        // The connection stays open, and a valid token gets in.
        client
            .send(json!({"type": "join", "room": "call", "token": good}))
            .await;
        assert_eq!(client.recv_value().await["type"], "welcome", "{case}");
        client.send(json!({"type": "leave"})).await;
    }
}

#[tokio::test]
async fn a_valid_token_joins_as_usual_with_turn_credentials_and_the_call_works() {
    let server = guarded(&[]).await;
    let mut a = server.client().await;
    a.send(json!({"type": "join", "room": "call", "name": "ada", "token": token("call")}))
        .await;
    let welcome = a.recv_value().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let turn = &welcome["iceServers"][0];
    assert_eq!(turn["urls"], json!(["turn:127.0.0.1:3478"]));
    assert!(
        turn["username"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", welcome["id"].as_str().unwrap()))
    );
    assert!(turn["credential"].is_string());
    // A token that names the peer gives a nameless join that name.
    let (mut b, b_id) = join_with(
        &server,
        "call",
        &token_by(SECRET, "call", Some("bo"), 0, 600),
    )
    .await;
    assert_eq!(
        a.recv().await,
        ServerMessage::PeerJoined {
            id: b_id.clone(),
            name: Some(PeerName::new("bo").unwrap()),
            replaces: None,
        }
    );
    assert_call_works(&mut a, &mut b, &b_id).await;
}

#[tokio::test]
async fn a_peer_that_comes_back_with_its_resume_token_needs_no_fresh_access_token() {
    let server = guarded(&[]).await;
    let mut a = server.client().await;
    a.send(json!({"type": "join", "room": "call", "token": token("call")}))
        .await;
    let welcome = a.recv_value().await;
    let (a_id, resume) = (welcome["id"].clone(), welcome["resume"].clone());
    assert!(resume.is_string(), "{welcome}");
    let (mut b, _) = join_with(&server, "call", &token("call")).await;
    let _ = a.recv().await;
    // a's network changed: a new connection takes a's place with its resume token and an
    // access token that no longer checks out (it expired meanwhile).
    let mut a2 = server.client().await;
    a2.send(json!({
        "type": "join", "room": "call",
        "resume": {"id": a_id, "token": resume},
        "token": token_by(SECRET, "call", None, 7200, 60),
    }))
    .await;
    let welcome2 = a2.recv_value().await;
    assert_eq!(welcome2["type"], "welcome", "{welcome2}");
    assert!(welcome2["iceServers"][0]["credential"].is_string());
    let joined = b.recv_value().await;
    assert_eq!(joined["type"], "peer-joined");
    assert_eq!(joined["replaces"], a_id);
    // A resume token is no key to any other room.
    let mut c = server.client().await;
    c.send(json!({
        "type": "join", "room": "elsewhere",
        "resume": {"id": welcome2["id"], "token": welcome2["resume"]},
    }))
    .await;
    c.expect_error(ErrorCode::Unauthorized).await;
    drop(a);
}

#[tokio::test]
async fn without_an_auth_secret_tokens_are_ignored_and_clients_without_one_join() {
    let server = TestServer::start(&[]).await;
    let (_a, _) = join_with(&server, "open", "whatever this is").await;
    let mut b = server.client().await;
    b.join("open").await;
}

#[tokio::test]
async fn browser_pages_from_other_origins_are_refused_at_the_upgrade() {
    let server = TestServer::start(&[]).await;
    let url = server.ws_url();
    let own = format!("http://{}", server.addr);
    let refused = |result: Result<Client, WsError>| match result {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 403);
            let body =
                String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).to_string();
            assert!(body.contains("--allowed-origin"), "{body}");
        }
        Err(other) => panic!("expected 403, got {other}"),
        Ok(_) => panic!("expected 403, got a WebSocket"),
    };
    refused(Client::connect_from(&url, ip(HOST_A), &[("Origin", "http://evil.example")]).await);
    refused(Client::connect_from(&url, ip(HOST_A), &[("Origin", "null")]).await);
    // The server's own pages, and native clients (no Origin), get in.
    let mut page = Client::connect_from(&url, ip(HOST_A), &[("Origin", &own)])
        .await
        .unwrap();
    page.join("room").await;
    let mut native = Client::connect_from(&url, ip(HOST_A), &[]).await.unwrap();
    native.join("room").await;

    // Listed origins get in too; others still do not; `*` lets everyone in.
    let server = TestServer::start(&["--allowed-origin", "https://app.example.org"]).await;
    let url = server.ws_url();
    let mut app = Client::connect_from(&url, ip(HOST_A), &[("Origin", "https://app.example.org")])
        .await
        .unwrap();
    app.join("room").await;
    refused(Client::connect_from(&url, ip(HOST_A), &[("Origin", "https://evil.example")]).await);
    let own = format!("http://{}", server.addr);
    assert!(
        Client::connect_from(&url, ip(HOST_A), &[("Origin", &own)])
            .await
            .is_ok()
    );
    let server = TestServer::start(&["--allowed-origin", "*"]).await;
    let mut any = Client::connect_from(
        &server.ws_url(),
        ip(HOST_A),
        &[("Origin", "https://evil.example")],
    )
    .await
    .unwrap();
    any.join("room").await;
}

#[tokio::test]
async fn one_host_gets_at_most_its_connections_and_another_host_still_gets_in() {
    let server = TestServer::start(&["--max-connections-per-ip", "3"]).await;
    let url = server.ws_url();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect_from(&url, ip(HOST_A), &[]).await.unwrap());
    }
    held[0].join("room").await;
    let b_id = held[1].join("room").await;
    let _ = held[0].recv().await;
    // A fourth from the same host is told why, and closed.
    let mut fourth = Client::connect_from(&url, ip(HOST_A), &[]).await.unwrap();
    let (close, texts) = fourth.expect_close().await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["code"], "too-many-connections");
    assert!(
        texts[0]["message"].as_str().unwrap().contains("(3)"),
        "{texts:?}"
    );
    assert_eq!(close.map(|(code, _)| code), Some(1013));
    // Another host is not affected, and the host's calls go on.
    let mut other = Client::connect_from(&url, ip(HOST_B), &[]).await.unwrap();
    other.join("elsewhere").await;
    let (first, rest) = held.split_at_mut(1);
    assert_call_works(&mut first[0], &mut rest[0], &b_id).await;
    // A slot frees when one of the host's connections closes.
    drop(held.pop());
    let until = Instant::now() + WAIT;
    loop {
        let mut again = Client::connect_from(&url, ip(HOST_A), &[]).await.unwrap();
        again.send(json!({"type": "join", "room": "again"})).await;
        let reply = again.recv_value().await;
        if reply["type"] == "welcome" {
            break;
        }
        assert_eq!(reply["code"], "too-many-connections");
        assert!(Instant::now() < until, "no slot freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn joins_past_a_hosts_rate_are_rate_limited_and_another_host_is_not() {
    let server = TestServer::start(&["--join-rate-per-ip", "2", "--join-burst-per-ip", "3"]).await;
    let url = server.ws_url();
    let mut a = Client::connect_from(&url, ip(HOST_A), &[]).await.unwrap();
    let mut a2 = Client::connect_from(&url, ip(HOST_A), &[]).await.unwrap();
    // Three joins (over two connections of the host) pass...
    for _ in 0..2 {
        a.join("one").await;
        a.send(json!({"type": "leave"})).await;
    }
    a2.join("two").await;
    // ...the fourth, from either connection, does not.
    a.send(json!({"type": "join", "room": "one"})).await;
    let message = a.expect_error(ErrorCode::RateLimited).await;
    assert!(message.contains("joins from your address"), "{message}");
    let mut b = Client::connect_from(&url, ip(HOST_B), &[]).await.unwrap();
    b.join("one").await;
    // Half a second later (2 joins/s) the host may join again.
    tokio::time::sleep(Duration::from_millis(550)).await;
    a.join("one").await;
}
