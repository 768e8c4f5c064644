//! Native peers call each other through the real signaling server on 127.0.0.1 with
//! the call engine: media both ways whichever peer joins first; the one that stays
//! takes the next call when the other leaves; media outlives the signaling server;
//! failures (server unreachable, room full, no common codec, no access token) end with
//! their reason; a server that needs access tokens carries a call between peers with
//! one;
//! every video codec (H.264, VP8, VP9) carries a call, chosen as the offer and answer
//! say; both sides show one verification code, and the two ends of a man in the middle
//! show different ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use call::{CallEvent, CallOptions, CallState, EndReason, Failure, Summary, run_call};
use call::{SignalingClient, SignalingConfig, SignalingEvent};
use common::{call_between_two, options, signaling_server, signaling_server_with};
use signaling_proto::{AccessToken, ClientMessage, RoomId};
use tokio::sync::{mpsc, oneshot};

/// Runs a call, sending its state changes to `states`; hangs up when `hangup` fires.
fn spawn_call(
    options: CallOptions,
    states: mpsc::UnboundedSender<CallState>,
    hangup: oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<Summary> {
    tokio::spawn(run_call(
        options,
        move |event| {
            if let CallEvent::State(state) = event {
                let _ = states.send(state);
            }
        },
        async move {
            if hangup.await.is_err() {
                std::future::pending::<()>().await;
            }
        },
    ))
}

/// Waits (up to 30 s) for `states` to report `wanted`, returning what came before.
async fn wait_for(
    states: &mut mpsc::UnboundedReceiver<CallState>,
    wanted: impl Fn(&CallState) -> bool,
) -> Vec<CallState> {
    let mut seen = Vec::new();
    loop {
        let state = tokio::time::timeout(Duration::from_secs(30), states.recv())
            .await
            .unwrap_or_else(|_| panic!("state never came; saw {seen:?}"))
            .unwrap_or_else(|| panic!("call ended; saw {seen:?}"));
        if wanted(&state) {
            return seen;
        }
        seen.push(state);
    }
}

fn assert_media_both_ways(who: &str, summary: &Summary) {
    let last = summary.last.as_ref().expect("stats lines");
    assert!(summary.media_flowed_both_ways(), "{who}: {summary:?}");
    assert!(last.video_in.decoded >= 45, "{who}: {:?}", last.video_in);
    assert_eq!(
        last.video_in.out_of_order, 0,
        "{who}: frame numbers in order"
    );
    assert!(last.audio_in.marks >= 8, "{who}: {:?}", last.audio_in);
    assert!(
        last.video_in.latency_ms.is_some(),
        "{who}: latency measured"
    );
    assert_eq!(last.ice.local.as_deref(), Some("host"), "{who}");
}

/// Every state `states` reported, once its call has ended (its sender dropped).
fn all_states(mut states: mpsc::UnboundedReceiver<CallState>) -> Vec<CallState> {
    std::iter::from_fn(|| states.try_recv().ok()).collect()
}

/// A named peer on loopback sending `width`x`height` for 3 s: the size says who sent
/// what the other decoded.
fn peer(
    server: std::net::SocketAddr,
    room: &str,
    name: &str,
    width: u32,
    height: u32,
) -> CallOptions {
    let mut options = options(server, room, Some(3));
    options.name = Some(signaling_proto::PeerName::new(name).unwrap());
    options.format = media::VideoFormat {
        width,
        height,
        fps: 30.0,
    };
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_call_each_other_whichever_joins_first() {
    let (server, _stop) = signaling_server().await;
    let (alice, bob) = (("alice", 320, 240), ("bob", 352, 288));
    for (round, first, second) in [(1, alice, bob), (2, bob, alice)] {
        let room = format!("native-{round}");
        let who = |(name, ..): (&str, u32, u32)| format!("round {round}, {name}");
        let (tx, mut first_states) = mpsc::unbounded_channel();
        let (name, width, height) = first;
        let first_call = spawn_call(
            peer(server, &room, name, width, height),
            tx,
            oneshot::channel().1,
        );
        // The first peer waits alone (its offer held); only then does the other join.
        let before = wait_for(&mut first_states, |s| *s == CallState::Waiting).await;
        assert_eq!(before, [CallState::Joining], "{}", who(first));
        let (tx, second_states) = mpsc::unbounded_channel();
        let (name, width, height) = second;
        let second_call = spawn_call(
            peer(server, &room, name, width, height),
            tx,
            oneshot::channel().1,
        );
        let (a, b) = (first_call.await.unwrap(), second_call.await.unwrap());
        let ended = CallState::Ended(EndReason::DurationPassed);
        assert_eq!(
            all_states(first_states),
            [CallState::Connecting, CallState::Connected, ended.clone()],
            "{}: after waiting",
            who(first)
        );
        // The one that joined second never waits: the held offer is there for it.
        assert_eq!(
            all_states(second_states),
            [
                CallState::Joining,
                CallState::Connecting,
                CallState::Connected,
                ended
            ],
            "{}",
            who(second)
        );
        // Each decoded the other's pictures, at the other's size.
        for (me, summary, other) in [(first, &a, second), (second, &b, first)] {
            assert_media_both_ways(&who(me), summary);
            let video_in = &summary.last.as_ref().unwrap().video_in;
            assert_eq!(
                (video_in.width, video_in.height),
                (u64::from(other.1), u64::from(other.2)),
                "{}: the size {} sends",
                who(me),
                other.0
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_other_peer_leaves_the_one_that_stays_takes_the_next_call() {
    let (server, _stop) = signaling_server().await;
    let mut stay = options(server, "stay", None);
    stay.stay = true;
    let (tx, mut states) = mpsc::unbounded_channel();
    let (hangup, hung_up) = oneshot::channel();
    let host = spawn_call(stay, tx, hung_up);
    wait_for(&mut states, |s| *s == CallState::Waiting).await;

    let (tx, _rx) = mpsc::unbounded_channel();
    let guest = spawn_call(options(server, "stay", Some(2)), tx, oneshot::channel().1);
    wait_for(&mut states, |s| *s == CallState::Connected).await;
    let guest = guest.await.unwrap();
    assert!(guest.connected, "{guest:?}");
    // The guest hung up: the host says why, and waits again with a fresh offer.
    wait_for(&mut states, |s| *s == CallState::Ended(EndReason::PeerLeft)).await;
    wait_for(&mut states, |s| *s == CallState::Waiting).await;

    let (tx, _rx) = mpsc::unbounded_channel();
    let third = spawn_call(options(server, "stay", Some(3)), tx, oneshot::channel().1);
    wait_for(&mut states, |s| *s == CallState::Connected).await;
    let third = third.await.unwrap();
    assert_media_both_ways("third peer", &third);
    hangup.send(()).unwrap();
    let host = host.await.unwrap();
    assert_eq!(host.calls, 2, "{host:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_keeps_flowing_when_the_signaling_server_dies_mid_call() {
    let (server, stop) = signaling_server().await;
    let (tx, mut states) = mpsc::unbounded_channel();
    let first = spawn_call(options(server, "outage", Some(5)), tx, oneshot::channel().1);
    wait_for(&mut states, |s| *s == CallState::Waiting).await;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let second = tokio::spawn(run_call(
        options(server, "outage", Some(5)),
        move |event| {
            if let CallEvent::Stats(line) = event {
                sink.lock().unwrap().push(*line);
            }
        },
        std::future::pending(),
    ));
    wait_for(&mut states, |s| *s == CallState::Connected).await;
    // Mid-call: once a second's statistics show video coming in with signaling up.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.signaling && l.video_in.fps > 0)
    {
        assert!(std::time::Instant::now() < until, "no video within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    for (who, summary) in [("first", &a), ("second", &b)] {
        assert_eq!(
            summary.outcome,
            CallState::Ended(EndReason::DurationPassed),
            "{who}"
        );
        let last = summary.last.as_ref().unwrap();
        assert!(!last.signaling, "{who}: signaling is down at the end");
        assert!(last.video_in.fps >= 25, "{who}: {:?}", last.video_in);
    }
    // Every second after the outage still brought video and audio.
    let lines = lines.lock().unwrap();
    let after: Vec<_> = lines.iter().filter(|l| !l.signaling).collect();
    assert!(after.len() >= 2, "{lines:?}");
    for line in after {
        assert!(line.video_in.fps >= 25, "t={}: {:?}", line.t, line.video_in);
        assert!(line.audio_in.kbps > 0, "t={}: {:?}", line.t, line.audio_in);
        assert_eq!(line.state, "connected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_with_no_codec_we_decode_fails_the_call_with_that_reason() {
    let (server, _stop) = signaling_server().await;
    let config = SignalingConfig::new(format!("ws://{server}/ws"), RoomId::new("av1").unwrap());
    let mut browser = SignalingClient::connect(config).await.unwrap();
    let Some(SignalingEvent::Joined(_)) = browser.next_event().await else {
        panic!("no welcome")
    };
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n\
a=rtpmap:96 AV1/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
a=setup:actpass\r\na=rtcp-mux\r\n";
    browser
        .send(ClientMessage::Offer {
            sdp: sdp.into(),
            to: None,
        })
        .unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        spawn_call(options(server, "av1", Some(3)), tx, oneshot::channel().1),
    )
    .await
    .expect("the failure comes within 30 s")
    .unwrap();
    let CallState::Failed(Failure::NoCommonCodec(undecodable)) = &summary.outcome else {
        panic!("{summary:?}")
    };
    assert_eq!(undecodable.media, "video");
    assert_eq!(undecodable.offered, ["AV1"]);
    let text = undecodable.to_string();
    assert!(text.contains("AV1") && text.contains("VP8"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_carries_a_call_and_the_choice_follows_the_offer_and_answer() {
    use media::codec::VideoCodec::{H264, Vp8, Vp9};
    let (server, _stop) = signaling_server().await;
    // (the offerer's choice, the answerer's choice, the codec both must send)
    let cases = [
        (Some(Vp8), Some(Vp8), Vp8),
        (Some(Vp9), Some(Vp9), Vp9),
        (Some(H264), Some(H264), H264),
        // Nobody asks: H.264, first in our offers.
        (None, None, H264),
        // The answer follows the offer's order unless its side asked for a codec.
        (Some(Vp9), None, Vp9),
        (None, Some(Vp8), Vp8),
    ];
    for (round, (offerer, answerer, expected)) in cases.into_iter().enumerate() {
        let room = format!("codec-{round}");
        let mut first = peer(server, &room, "offerer", 640, 480);
        first.video_codec = offerer;
        let mut second = peer(server, &room, "answerer", 640, 480);
        second.video_codec = answerer;
        let (tx, mut first_states) = mpsc::unbounded_channel();
        let first_call = spawn_call(first, tx, oneshot::channel().1);
        // The first to join offers.
        wait_for(&mut first_states, |s| *s == CallState::Waiting).await;
        let (tx, _second_states) = mpsc::unbounded_channel();
        let second_call = spawn_call(second, tx, oneshot::channel().1);
        let (a, b) = (first_call.await.unwrap(), second_call.await.unwrap());
        let case = format!("offerer {offerer:?}, answerer {answerer:?}");
        for (who, summary) in [("offerer", &a), ("answerer", &b)] {
            let who = format!("{case}: {who}");
            assert_media_both_ways(&who, summary);
            let last = summary.last.as_ref().unwrap();
            let name = Some(expected.sdp_name());
            assert_eq!(last.video_out.codec.as_deref(), name, "{who} sends");
            assert_eq!(last.video_in.codec.as_deref(), name, "{who} receives");
            assert_eq!(last.video_in.decode_errors, 0, "{who}: {:?}", last.video_in);
            assert!(last.video_in.fps >= 25, "{who}: {:?}", last.video_in);
            let latency = last.video_in.latency_ms.as_ref().unwrap();
            println!(
                "{expected}, {who}: {} fps in, latency p50 {} ms, p95 {} ms, max {} ms",
                last.video_in.fps, latency.p50, latency.p95, latency.max
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_or_a_full_room_fails_with_a_reason() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut unreachable = options(format!("127.0.0.1:{port}").parse().unwrap(), "x", Some(1));
    unreachable.server = format!("ws://127.0.0.1:{port}/ws");
    let summary = spawn_call(unreachable, tx, oneshot::channel().1)
        .await
        .unwrap();
    let CallState::Failed(Failure::ServerUnreachable { url, .. }) = &summary.outcome else {
        panic!("{summary:?}")
    };
    assert_eq!(url, &format!("ws://127.0.0.1:{port}/ws"));

    let (server, _stop) = signaling_server().await;
    let (tx, mut a_states) = mpsc::unbounded_channel();
    let (hangup_a, a_hung) = oneshot::channel();
    let a = spawn_call(options(server, "full", None), tx, a_hung);
    wait_for(&mut a_states, |s| *s == CallState::Waiting).await;
    let (tx, mut b_states) = mpsc::unbounded_channel();
    let (hangup_b, b_hung) = oneshot::channel();
    let b = spawn_call(options(server, "full", None), tx, b_hung);
    // Both connected (one side may get there a moment before the other).
    wait_for(&mut b_states, |s| *s == CallState::Connected).await;
    wait_for(&mut a_states, |s| *s == CallState::Connected).await;
    let (tx, _rx) = mpsc::unbounded_channel();
    let third = spawn_call(options(server, "full", Some(1)), tx, oneshot::channel().1)
        .await
        .unwrap();
    assert_eq!(
        third.outcome,
        CallState::Failed(Failure::RoomFull {
            room: RoomId::new("full").unwrap()
        })
    );
    // Hanging up mid-call ends it as such (and closes everything: the task returns).
    hangup_a.send(()).unwrap();
    hangup_b.send(()).unwrap();
    for call in [a, b] {
        let summary = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("hang-up ends the call promptly")
            .unwrap();
        assert!(summary.connected);
        assert_eq!(summary.outcome, CallState::Ended(EndReason::HungUp));
    }
}

/// The verification code a call's summary ends with.
fn verification(summary: &Summary) -> String {
    summary
        .last
        .as_ref()
        .and_then(|l| l.verification.clone())
        .unwrap_or_else(|| panic!("no verification code: {summary:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_of_a_call_show_the_same_verification_code() {
    let (server, _stop) = signaling_server().await;
    let [a, b] = common::call_between_two(options(server, "verify", Some(2))).await;
    assert!(a.media_flowed_both_ways(), "{a:?}");
    assert_eq!(verification(&a), verification(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_man_in_the_middle_makes_the_two_ends_show_different_codes() {
    // Whoever sits in the middle holds a call with each end: A's signaling reaches the
    // middle's first peer (room `a` of one server), B's its second (room `b` of another).
    let (near, _stop_near) = signaling_server().await;
    let (far, _stop_far) = signaling_server().await;
    let ([a, middle_a], [middle_b, b]) = tokio::join!(
        common::call_between_two(options(near, "a", Some(2))),
        common::call_between_two(options(far, "b", Some(2))),
    );
    assert_eq!(verification(&a), verification(&middle_a));
    assert_eq!(verification(&b), verification(&middle_b));
    assert_ne!(verification(&a), verification(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_needs_a_token_carries_a_call_with_one_and_refuses_one_without() {
    const SECRET: &str = "the server's secret, long enough";
    let (server, _stop) = signaling_server_with(&["--auth-secret", SECRET]).await;
    let room = RoomId::new("guarded").unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let started = std::time::Instant::now();
    let refused = spawn_call(
        options(server, "guarded", Some(1)),
        tx,
        oneshot::channel().1,
    )
    .await
    .unwrap();
    let CallState::Failed(failure) = &refused.outcome else {
        panic!("{refused:?}")
    };
    assert_eq!(failure.code(), "unauthorized", "{failure}");
    assert!(failure.to_string().contains("none was given"), "{failure}");
    assert!(started.elapsed() < Duration::from_secs(5), "failed at once");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = signaling_server::auth::TokenKey::new(SECRET).issue(
        &room,
        None,
        Duration::from_secs(600),
        now,
    );
    let mut with = options(server, "guarded", Some(1));
    with.token = Some(AccessToken::new(token));
    for summary in call_between_two(with).await {
        assert!(summary.connected, "{summary:?}");
        assert_eq!(summary.outcome, CallState::Ended(EndReason::DurationPassed));
    }
}
