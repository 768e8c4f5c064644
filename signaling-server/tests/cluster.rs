//! Cluster mode (`--cluster`): several instances on 127.0.0.1 share rooms through a real
//! `redis-server` started by each test, and every rule of protocol v1 holds for two peers
//! connected to different instances. Instances that die (kill -9) are noticed through
//! their heartbeats; a Redis that goes away closes every connection with a reason, and
//! the service comes back with it.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, TestServer, WAIT};
use serde_json::json;
use signaling_proto::{ErrorCode, PeerId, ServerMessage};
use testkit::redis::RedisServer;

/// Flags every instance of these tests gets: all clients come from 127.0.0.1.
const TEST_FLAGS: &[&str] = &["--max-connections-per-ip", "0", "--join-rate-per-ip", "0"];

/// A real Redis and `n` in-process instances sharing it, each up (its /healthz 200).
async fn cluster(n: usize, extra: &[&str]) -> Option<(RedisServer, Vec<TestServer>)> {
    let redis = RedisServer::start()?;
    let url = redis.url();
    let mut servers = Vec::new();
    for _ in 0..n {
        let mut flags = vec!["--cluster", url.as_str()];
        flags.extend_from_slice(TEST_FLAGS);
        flags.extend_from_slice(extra);
        let server = TestServer::start(&flags).await;
        wait_healthy(server.addr, true).await;
        servers.push(server);
    }
    Some((redis, servers))
}

/// `GET /healthz`: the status code and body.
async fn healthz(addr: SocketAddr) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    let code = out.get(9..12)?.parse().ok()?;
    let body = out.split("\r\n\r\n").nth(1)?.to_string();
    Some((code, body))
}

/// Waits until /healthz says Redis is reachable (`up`) or not.
async fn wait_healthy(addr: SocketAddr, up: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = healthz(addr).await;
        if health
            .as_ref()
            .is_some_and(|(code, _)| (*code == 200) == up)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "healthz of {addr} never became {}: {health:?}",
            if up { "200" } else { "503" }
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn candidate(n: usize, to: Option<&PeerId>) -> serde_json::Value {
    let mut message = json!({
        "type": "candidate",
        "candidate": {"candidate": format!("candidate:{n} 1 udp 1 127.0.0.1 {n} typ host"), "sdpMid": "0", "sdpMLineIndex": 0}
    });
    if let Some(to) = to {
        message["to"] = json!(to);
    }
    message
}

/// The number a [`candidate`] carries.
fn number_of(message: &ServerMessage) -> Option<usize> {
    match message {
        ServerMessage::Candidate {
            candidate: Some(c), ..
        } => c
            .candidate
            .strip_prefix("candidate:")?
            .split(' ')
            .next()?
            .parse()
            .ok(),
        _ => None,
    }
}

async fn expect_peer_joined(client: &mut Client, who: &PeerId) {
    match client.recv().await {
        ServerMessage::PeerJoined { id, .. } => assert_eq!(&id, who),
        other => panic!("expected peer-joined of {who}, got {other:?}"),
    }
}

async fn expect_peer_left(client: &mut Client, who: &PeerId) {
    match client.recv().await {
        ServerMessage::PeerLeft { id } => assert_eq!(&id, who),
        other => panic!("expected peer-left of {who}, got {other:?}"),
    }
}

#[tokio::test]
async fn held_messages_reach_a_peer_on_another_instance_in_order_right_after_its_welcome() {
    let Some((_redis, servers)) = cluster(2, &[]).await else {
        return;
    };
    let (mut a, a_id) = servers[0].joined("held").await;
    a.send(json!({"type": "offer", "sdp": "v=0 held"})).await;
    for n in 0..5 {
        a.send(candidate(n, None)).await;
    }
    // The hold is written before the next join: wait for it through a refusal that
    // comes after it (a's messages are handled in order).
    a.send(json!({"type": "offer", "sdp": "x", "to": "nobody.1"}))
        .await;
    a.expect_error(ErrorCode::UnknownPeer).await;

    let mut b = servers[1].client().await;
    b.send(json!({"type": "join", "room": "held", "name": "bea"}))
        .await;
    match b.recv().await {
        ServerMessage::Welcome { peers, .. } => {
            assert_eq!(peers.len(), 1);
            assert_eq!(peers[0].id, a_id);
        }
        other => panic!("expected welcome first, got {other:?}"),
    }
    match b.recv().await {
        ServerMessage::Offer { sdp, from, .. } => {
            assert_eq!((sdp.as_str(), &from), ("v=0 held", &a_id));
        }
        other => panic!("expected the held offer, got {other:?}"),
    }
    for n in 0..5 {
        assert_eq!(number_of(&b.recv().await), Some(n));
    }
    match a.recv().await {
        ServerMessage::PeerJoined { name, .. } => {
            assert_eq!(name.map(|n| n.to_string()).as_deref(), Some("bea"));
        }
        other => panic!("expected peer-joined, got {other:?}"),
    }
    // Held once only: a third instance's joiner of another room sees nothing of it.
    b.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn the_hold_keeps_its_limits_across_the_cluster() {
    let Some((_redis, servers)) = cluster(2, &["--max-held-messages", "3"]).await else {
        return;
    };
    let (mut a, _) = servers[0].joined("limits").await;
    for n in 0..3 {
        a.send(candidate(n, None)).await;
    }
    a.send(candidate(3, None)).await;
    a.expect_error(ErrorCode::QueueFull).await;
    // A leave drops what it held.
    a.send(json!({"type": "leave"})).await;
    a.send(json!({"type": "leave"})).await;
    a.expect_error(ErrorCode::NotJoined).await;
    let (mut b, _) = servers[1].joined("limits").await;
    b.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn peer_left_crosses_instances_on_leave_close_and_drop() {
    let Some((_redis, servers)) =
        cluster(2, &["--ping-interval", "0.3", "--pong-timeout", "0.3"]).await
    else {
        return;
    };
    let (mut a, _) = servers[0].joined("left").await;
    // Leave.
    let (mut b, b_id) = servers[1].joined("left").await;
    expect_peer_joined(&mut a, &b_id).await;
    b.send(json!({"type": "leave"})).await;
    expect_peer_left(&mut a, &b_id).await;
    // Close.
    let b_id = b.join("left").await;
    expect_peer_joined(&mut a, &b_id).await;
    b.ws.close(None).await.unwrap();
    expect_peer_left(&mut a, &b_id).await;
    // Drop: a peer that stops answering is dropped by keepalive; a keeps answering
    // pings as it reads.
    let (b, b_id) = servers[1].joined("left").await;
    expect_peer_joined(&mut a, &b_id).await;
    let started = Instant::now();
    expect_peer_left(&mut a, &b_id).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(b);
}

#[tokio::test]
async fn room_full_is_decided_cluster_wide_and_unknown_peer_across_instances() {
    let Some((_redis, servers)) = cluster(3, &[]).await else {
        return;
    };
    let (mut a, a_id) = servers[0].joined("full").await;
    let (mut b, b_id) = servers[1].joined("full").await;
    expect_peer_joined(&mut a, &b_id).await;
    let mut c = servers[2].client().await;
    c.send(json!({"type": "join", "room": "full"})).await;
    c.expect_error(ErrorCode::RoomFull).await;
    // The one refused can join elsewhere; nobody in the full room heard of it.
    c.join("another").await;
    a.expect_silence(Duration::from_millis(200)).await;
    // Addressed messages reach only their peer; an unknown one is refused.
    b.send(json!({"type": "answer", "sdp": "v=0 to a", "to": a_id}))
        .await;
    match a.recv().await {
        ServerMessage::Answer { sdp, from, to } => {
            assert_eq!(sdp, "v=0 to a");
            assert_eq!(from, b_id);
            assert_eq!(to, Some(a_id.clone()));
        }
        other => panic!("expected the answer, got {other:?}"),
    }
    b.send(json!({"type": "offer", "sdp": "x", "to": "nobody.9"}))
        .await;
    b.expect_error(ErrorCode::UnknownPeer).await;
    // An id of the room on another instance that is not in this room is unknown too.
    let c_id = PeerId::new("elsewhere.1");
    b.send(json!({"type": "offer", "sdp": "x", "to": c_id}))
        .await;
    b.expect_error(ErrorCode::UnknownPeer).await;
    // Already joined, not joined: decided per connection as before.
    b.send(json!({"type": "join", "room": "full"})).await;
    b.expect_error(ErrorCode::AlreadyJoined).await;
    let mut d = servers[2].client().await;
    d.send(candidate(0, None)).await;
    d.expect_error(ErrorCode::NotJoined).await;
}

#[tokio::test]
async fn a_burst_of_1000_candidates_each_way_keeps_each_senders_order_across_instances() {
    let Some((_redis, servers)) = cluster(2, &["--rate", "100000", "--burst", "100000"]).await
    else {
        return;
    };
    let (mut a, a_id) = servers[0].joined("burst").await;
    let (mut b, b_id) = servers[1].joined("burst").await;
    expect_peer_joined(&mut a, &b_id).await;
    const N: usize = 1000;
    let send_a = async {
        for n in 0..N {
            a.send(candidate(n, Some(&b_id))).await;
        }
        a
    };
    let send_b = async {
        for n in 0..N {
            b.send(candidate(n, None)).await;
        }
        b
    };
    let (mut a, mut b) = tokio::join!(send_a, send_b);
    let (got_a, got_b) = tokio::join!(
        async {
            let mut got = Vec::new();
            while got.len() < N {
                got.push(number_of(&a.recv().await).expect("a candidate"));
            }
            got
        },
        async {
            let mut got = Vec::new();
            while got.len() < N {
                got.push(number_of(&b.recv().await).expect("a candidate"));
            }
            got
        }
    );
    assert_eq!(got_a, (0..N).collect::<Vec<_>>(), "b's candidates at a");
    assert_eq!(got_b, (0..N).collect::<Vec<_>>(), "a's candidates at b");
    let _ = a_id;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_sends_racing_over_many_rooms_lose_nothing() {
    let Some((_redis, servers)) = cluster(3, &[]).await else {
        return;
    };
    const ROOMS: usize = 60;
    const EACH: usize = 20;
    let urls: Vec<String> = servers.iter().map(TestServer::ws_url).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for r in 0..ROOMS {
        for side in 0..2 {
            let url = urls[(r + side) % urls.len()].clone();
            tasks.spawn(async move {
                let room = format!("race-{r}");
                let mut client = Client::connect(&url).await;
                // Join and send at once, without waiting for the welcome.
                client.send(json!({"type": "join", "room": room})).await;
                for n in 0..EACH {
                    client.send(candidate(n, None)).await;
                }
                let mut me = None;
                let mut from_other = Vec::new();
                while from_other.len() < EACH {
                    let message = client.recv().await;
                    match &message {
                        ServerMessage::Welcome { id, .. } => me = Some(id.clone()),
                        ServerMessage::PeerJoined { .. } => {}
                        ServerMessage::Candidate { from, .. } => {
                            assert_ne!(Some(from), me.as_ref(), "own message echoed");
                            from_other.push(number_of(&message).unwrap());
                        }
                        other => panic!("room {room}: unexpected {other:?}"),
                    }
                }
                assert_eq!(
                    from_other,
                    (0..EACH).collect::<Vec<_>>(),
                    "room {room}: lost or reordered"
                );
                client.expect_silence(Duration::from_millis(100)).await;
                client
            });
        }
    }
    let mut clients = Vec::new();
    while let Some(done) = tasks.join_next().await {
        clients.push(done.unwrap());
    }
    assert_eq!(clients.len(), 2 * ROOMS);
}

#[tokio::test]
async fn a_resumed_peer_takes_its_place_back_on_another_instance_unannounced() {
    let Some((_redis, servers)) = cluster(3, &[]).await else {
        return;
    };
    let mut a = servers[0].client().await;
    a.send(json!({"type": "join", "room": "resume"})).await;
    let (a_id, token) = match a.recv().await {
        ServerMessage::Welcome {
            id,
            resume: Some(token),
            ..
        } => (id, token),
        other => panic!("expected welcome with a resume token, got {other:?}"),
    };
    let (mut b, b_id) = servers[1].joined("resume").await;
    expect_peer_joined(&mut a, &b_id).await;
    // a's network changed: it comes back through another instance.
    let mut a2 = servers[2].client().await;
    a2.send(json!({"type": "join", "room": "resume", "resume": {"id": a_id, "token": token}}))
        .await;
    let a2_id = match a2.recv().await {
        ServerMessage::Welcome { id, peers, .. } => {
            assert_eq!(peers.len(), 1);
            assert_eq!(peers[0].id, b_id);
            id
        }
        other => panic!("expected welcome, got {other:?}"),
    };
    match b.recv().await {
        ServerMessage::PeerJoined { id, replaces, .. } => {
            assert_eq!(id, a2_id);
            assert_eq!(replaces, Some(a_id.clone()));
        }
        other => panic!("expected peer-joined with replaces, got {other:?}"),
    }
    // The old connection is out of the room: its messages are refused, its close is
    // news to nobody.
    a.send(candidate(0, None)).await;
    a.expect_error(ErrorCode::NotJoined).await;
    a.ws.close(None).await.unwrap();
    b.expect_silence(Duration::from_millis(300)).await;
    b.send(json!({"type": "offer", "sdp": "v=0 to a2", "to": a2_id}))
        .await;
    match a2.recv().await {
        ServerMessage::Offer { sdp, .. } => assert_eq!(sdp, "v=0 to a2"),
        other => panic!("expected the offer, got {other:?}"),
    }
    // A forged token is an ordinary join: the room is full.
    let mut eve = servers[0].client().await;
    eve.send(json!({"type": "join", "room": "resume", "resume": {"id": a2_id, "token": "AAAA"}}))
        .await;
    eve.expect_error(ErrorCode::RoomFull).await;
}

/// Starts the `signaling-server` binary in cluster mode; the child and its address.
fn start_binary(redis: &str) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", "127.0.0.1:0", "--cluster", redis])
        .args(TEST_FLAGS)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|w| w.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr)
}

#[tokio::test]
async fn kill_9_of_an_instance_tells_its_rooms_peer_left_within_5_s() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (mut doomed, doomed_addr) = start_binary(&redis.url());
    let (mut survivor, survivor_addr) = start_binary(&redis.url());
    wait_healthy(doomed_addr, true).await;
    wait_healthy(survivor_addr, true).await;
    let url = |addr: SocketAddr| format!("ws://{addr}/ws");
    // Two rooms: one split across the instances, one with both on the doomed one.
    let mut b = Client::connect(&url(survivor_addr)).await;
    b.join("split").await;
    let mut a = Client::connect(&url(doomed_addr)).await;
    let a_id = a.join("split").await;
    let mut lone = Client::connect(&url(doomed_addr)).await;
    lone.join("lonely").await;
    lone.send(json!({"type": "offer", "sdp": "v=0 stale"}))
        .await;
    match b.recv().await {
        ServerMessage::PeerJoined { id, .. } => assert_eq!(id, a_id),
        other => panic!("expected peer-joined, got {other:?}"),
    }
    // The hold is written before the kill (a refusal after it in lone's order).
    lone.send(json!({"type": "offer", "sdp": "x", "to": "nobody.1"}))
        .await;
    lone.expect_error(ErrorCode::UnknownPeer).await;

    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let killed = Instant::now();
    match b.recv().await {
        ServerMessage::PeerLeft { id } => assert_eq!(id, a_id),
        other => panic!("expected peer-left, got {other:?}"),
    }
    let heard = killed.elapsed();
    assert!(heard < Duration::from_secs(5), "peer-left after {heard:?}");
    eprintln!("peer-left {heard:?} after kill -9");
    // The dead instance's rooms are free again and hold nothing of it.
    let mut c = Client::connect(&url(survivor_addr)).await;
    c.send(json!({"type": "join", "room": "lonely"})).await;
    match c.recv().await {
        ServerMessage::Welcome { peers, .. } => assert!(peers.is_empty(), "{peers:?}"),
        other => panic!("expected welcome, got {other:?}"),
    }
    c.expect_silence(Duration::from_millis(300)).await;
    let mut d = Client::connect(&url(survivor_addr)).await;
    let d_id = d.join("split").await;
    expect_peer_joined(&mut b, &d_id).await;
    survivor.kill().unwrap();
    survivor.wait().unwrap();
}

#[tokio::test]
async fn a_redis_restart_closes_connections_with_a_reason_and_service_comes_back() {
    let Some((mut redis, servers)) = cluster(2, &[]).await else {
        return;
    };
    let (mut a, _) = servers[0].joined("restart").await;
    let (mut b, b_id) = servers[1].joined("restart").await;
    expect_peer_joined(&mut a, &b_id).await;
    let mut lobby = servers[0].client().await;

    redis.kill();
    for client in [&mut a, &mut b, &mut lobby] {
        let (close, _) = client.expect_close().await;
        assert_eq!(
            close,
            Some((
                1013,
                "signaling store unreachable: reconnect shortly".into()
            ))
        );
    }
    for server in &servers {
        wait_healthy(server.addr, false).await;
        let (code, body) = healthz(server.addr).await.unwrap();
        assert_eq!((code, body.as_str()), (503, "redis unreachable\n"));
    }
    // While Redis is gone, upgrades are refused.
    let refused = tokio_tungstenite::connect_async(servers[1].ws_url()).await;
    assert!(refused.is_err(), "upgrade while Redis is down");

    redis.restart();
    let back = Instant::now();
    for server in &servers {
        wait_healthy(server.addr, true).await;
    }
    eprintln!("service back {:?} after Redis", back.elapsed());
    let (mut a, a_id) = servers[0].joined("restart").await;
    let (mut b, b_id) = servers[1].joined("restart").await;
    expect_peer_joined(&mut a, &b_id).await;
    b.send(json!({"type": "offer", "sdp": "v=0 again", "to": a_id}))
        .await;
    match a.recv().await {
        ServerMessage::Offer { sdp, .. } => assert_eq!(sdp, "v=0 again"),
        other => panic!("expected the offer, got {other:?}"),
    }
    let _ = WAIT;
}

#[tokio::test]
async fn an_instance_started_before_redis_waits_for_it_and_a_bad_url_is_refused() {
    let port = testkit::free_tcp_port();
    let server = TestServer::start(&["--cluster", &format!("redis://127.0.0.1:{port}")]).await;
    let (code, _) = healthz(server.addr).await.unwrap();
    assert_eq!(code, 503);
    let config = signaling_server::Config {
        cluster: Some("http://nope".into()),
        ..Default::default()
    };
    assert!(config.validate().is_err());
}

#[tokio::test]
async fn answers_to_a_burst_keep_the_order_of_what_they_answer() {
    let Some((_redis, servers)) = cluster(2, &[]).await else {
        return;
    };
    let (mut a, _) = servers[0].joined("answers").await;
    let (mut b, b_id) = servers[1].joined("answers").await;
    expect_peer_joined(&mut a, &b_id).await;
    // Relayed messages batch; a bad one in between is answered in its place.
    a.send(candidate(0, Some(&PeerId::new("gone.1")))).await;
    a.send(candidate(1, Some(&b_id))).await;
    a.send_text("not json").await;
    a.send(candidate(2, Some(&PeerId::new("gone.2")))).await;
    a.send(candidate(3, Some(&b_id))).await;
    let first = a.expect_error(ErrorCode::UnknownPeer).await;
    assert!(first.contains("gone.1"), "{first}");
    a.expect_error(ErrorCode::BadMessage).await;
    let second = a.expect_error(ErrorCode::UnknownPeer).await;
    assert!(second.contains("gone.2"), "{second}");
    assert_eq!(number_of(&b.recv().await), Some(1));
    assert_eq!(number_of(&b.recv().await), Some(3));
}

#[tokio::test]
async fn access_tokens_are_checked_on_every_instance_and_a_resume_carries_them_forward() {
    const SECRET: &str = "a secret shared by the instances";
    let Some((_redis, servers)) = cluster(2, &["--auth-secret", SECRET]).await else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = signaling_server::auth::TokenKey::new(SECRET);
    let room = signaling_proto::RoomId::new("guarded").unwrap();
    let ada = signaling_proto::PeerName::new("ada").unwrap();
    let token = key.issue(&room, Some(&ada), Duration::from_secs(60), now);
    let mut eve = servers[1].client().await;
    eve.send(json!({"type": "join", "room": "guarded"})).await;
    eve.expect_error(ErrorCode::Unauthorized).await;
    let mut a = servers[0].client().await;
    a.send(json!({"type": "join", "room": "guarded", "token": token}))
        .await;
    let (a_id, resume) = match a.recv().await {
        ServerMessage::Welcome {
            id,
            resume: Some(resume),
            ..
        } => (id, resume),
        other => panic!("expected welcome, got {other:?}"),
    };
    let b_token = key.issue(&room, None, Duration::from_secs(60), now);
    let mut b = servers[1].client().await;
    b.send(json!({"type": "join", "room": "guarded", "token": b_token}))
        .await;
    assert!(matches!(b.recv().await, ServerMessage::Welcome { .. }));
    // a comes back through the other instance with no access token at all: its resume
    // carries the one it joined with (and its name) forward.
    let mut a2 = servers[1].client().await;
    a2.send(json!({"type": "join", "room": "guarded", "resume": {"id": a_id, "token": resume}}))
        .await;
    assert!(matches!(a2.recv().await, ServerMessage::Welcome { .. }));
    match b.recv().await {
        ServerMessage::PeerJoined { name, replaces, .. } => {
            assert_eq!(name, Some(ada));
            assert_eq!(replaces, Some(a_id));
        }
        other => panic!("expected peer-joined, got {other:?}"),
    }
}
