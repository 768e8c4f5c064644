//! The call engine's mid-call transitions and teardown with real parts: a native call
//! against a hand-driven peer (real signaling server, real webrtc peer connections on
//! 127.0.0.1) that starts over with a fresh offer mid-call; and every media pipeline
//! stopped and joined by the time `run_call` returns, seen through the devices the
//! pipelines park in the call's switches when they finish.

use std::sync::Arc;
use std::time::Duration;

mod common;

use call::peer::{PeerEvent, PeerSetup, build_peer, to_rtc};
use call::{CallEvent, CallOptions, CallState, EndReason, MediaSwitches, Summary, run_call};
use call::{SignalingClient, SignalingConfig, SignalingEvent};
use common::{options, signaling_server};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use signaling_proto::{ClientMessage, PeerId, RoomId, Signal};
use tokio::sync::{mpsc, oneshot};
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

/// Runs a call whose events go to the returned receiver; hangs up when the returned
/// sender fires.
fn spawn_call(
    options: CallOptions,
) -> (
    tokio::task::JoinHandle<Summary>,
    mpsc::UnboundedReceiver<CallEvent>,
    oneshot::Sender<()>,
) {
    let (events, rx) = mpsc::unbounded_channel();
    let (hangup, hung_up) = oneshot::channel::<()>();
    let call = tokio::spawn(run_call(
        options,
        move |event| {
            let _ = events.send(event);
        },
        async move {
            let _ = hung_up.await;
        },
    ));
    (call, rx, hangup)
}

/// The next event `pick` takes (30 s at most).
async fn next<T>(
    events: &mut mpsc::UnboundedReceiver<CallEvent>,
    mut pick: impl FnMut(CallEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            let event = events.recv().await.expect("the call reports until it ends");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the event within 30 s")
}

/// The next state.
async fn next_state(events: &mut mpsc::UnboundedReceiver<CallEvent>) -> CallState {
    next(events, |event| match event {
        CallEvent::State(state) => Some(state),
        _ => None,
    })
    .await
}

/// Waits for a statistics line showing the other peer's audio played.
async fn audio_received(events: &mut mpsc::UnboundedReceiver<CallEvent>) {
    next(events, |event| match event {
        CallEvent::Stats(line) => (line.audio_in.packets > 0).then_some(()),
        _ => None,
    })
    .await
}

/// The send pipelines park their sources in the switches when they finish: both there
/// means both had finished when the call returned.
fn assert_senders_finished(switches: &MediaSwitches) {
    assert!(
        switches.video.take_pending().is_some(),
        "the video send pipeline was still running"
    );
    assert!(
        switches.audio.take_pending().is_some(),
        "the audio send pipeline was still running"
    );
}

/// The send pipelines and the audio receive pipeline (which parks its speaker) had
/// finished when the call returned.
fn assert_every_pipeline_finished(switches: &MediaSwitches) {
    assert_senders_finished(switches);
    assert!(
        switches.speaker.take_pending().is_some(),
        "the audio receive pipeline was still running"
    );
}

/// A peer driven by hand: its own signaling client and webrtc peer connections.
struct HandPeer {
    signaling: SignalingClient,
}

impl HandPeer {
    async fn join(server: std::net::SocketAddr, room: &str) -> Self {
        let config = SignalingConfig::new(format!("ws://{server}/ws"), RoomId::new(room).unwrap());
        let mut signaling = SignalingClient::connect(config).await.unwrap();
        loop {
            if let Some(SignalingEvent::Joined(_)) = signaling.next_event().await {
                return Self { signaling };
            }
        }
    }

    /// A fresh peer connection on 127.0.0.1 with video and audio sections.
    async fn connection() -> (Arc<dyn PeerConnection>, mpsc::Receiver<PeerEvent>) {
        let peer = build_peer(&PeerSetup {
            bind: vec!["127.0.0.1:0".parse().unwrap()],
            ..Default::default()
        })
        .await
        .unwrap();
        for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
            peer.pc.add_transceiver_from_kind(kind, None).await.unwrap();
        }
        (peer.pc, peer.events)
    }

    /// Trickles candidates both ways (and takes an answer) until `pc` is connected.
    async fn connect(
        &mut self,
        pc: &Arc<dyn PeerConnection>,
        events: &mut mpsc::Receiver<PeerEvent>,
        to: &PeerId,
    ) {
        let until_connected = async {
            loop {
                tokio::select! {
                    event = events.recv() => match event.expect("peer events") {
                        PeerEvent::Candidate(c) => self.signaling.send(ClientMessage::Candidate {
                            candidate: Some(c),
                            to: Some(to.clone()),
                        }).unwrap(),
                        PeerEvent::State(RTCPeerConnectionState::Connected) => return,
                        _ => {}
                    },
                    event = self.signaling.next_event() => match event.expect("signaling") {
                        SignalingEvent::Signal { signal: Signal::Candidate(Some(c)), .. } => {
                            let _ = pc.add_ice_candidate(to_rtc(c)).await;
                        }
                        SignalingEvent::Signal { signal: Signal::Answer(sdp), .. } => {
                            let answer = RTCSessionDescription::answer(sdp).unwrap();
                            pc.set_remote_description(answer).await.unwrap();
                        }
                        _ => {}
                    },
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), until_connected)
            .await
            .expect("connected within 20 s");
    }

    /// Answers the held offer waiting for us; returns the offerer's id.
    async fn answer_held_offer(&mut self) -> (PeerId, Arc<dyn PeerConnection>) {
        let (pc, mut events) = Self::connection().await;
        let (from, offer) = loop {
            if let Some(SignalingEvent::Signal {
                from,
                signal: Signal::Offer(sdp),
            }) = self.signaling.next_event().await
            {
                break (from, sdp);
            }
        };
        let offer = RTCSessionDescription::offer(offer).unwrap();
        pc.set_remote_description(offer).await.unwrap();
        let answer = pc.create_answer(None).await.unwrap();
        let sdp = answer.sdp.clone();
        pc.set_local_description(answer).await.unwrap();
        self.signaling
            .send(ClientMessage::Answer {
                sdp,
                to: Some(from.clone()),
            })
            .unwrap();
        self.connect(&pc, &mut events, &from).await;
        (from, pc)
    }

    /// Starts over: a fresh connection and a fresh offer to `to`.
    async fn offer_again(&mut self, to: &PeerId) -> Arc<dyn PeerConnection> {
        let (pc, mut events) = Self::connection().await;
        let offer = pc.create_offer(None).await.unwrap();
        let sdp = offer.sdp.clone();
        pc.set_local_description(offer).await.unwrap();
        self.signaling
            .send(ClientMessage::Offer {
                sdp,
                to: Some(to.clone()),
            })
            .unwrap();
        self.connect(&pc, &mut events, to).await;
        pc
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_offer_mid_call_ends_that_call_and_connects_the_next_on_a_new_connection() {
    let (server, _stop) = signaling_server().await;
    let ours = options(server, "restart", None);
    let switches = ours.switches.clone();
    let (call, mut states, hangup) = spawn_call(ours);
    assert_eq!(next_state(&mut states).await, CallState::Joining);
    assert_eq!(next_state(&mut states).await, CallState::Waiting);

    let mut peer = HandPeer::join(server, "restart").await;
    let (ours_id, first) = peer.answer_held_offer().await;
    assert_eq!(next_state(&mut states).await, CallState::Connecting);
    assert_eq!(next_state(&mut states).await, CallState::Connected);

    let second = peer.offer_again(&ours_id).await;
    assert_eq!(
        next_state(&mut states).await,
        CallState::Ended(EndReason::PeerStartedOver)
    );
    assert_eq!(next_state(&mut states).await, CallState::Connecting);
    assert_eq!(next_state(&mut states).await, CallState::Connected);

    hangup.send(()).unwrap();
    let summary = call.await.unwrap();
    assert_eq!(summary.outcome, CallState::Ended(EndReason::HungUp));
    assert_eq!(summary.calls, 2, "{summary:?}");
    // The hand-driven peer sends no media: there is nothing to receive.
    assert_senders_finished(&switches);
    for pc in [first, second] {
        pc.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pipeline_is_stopped_and_joined_before_the_call_returns() {
    let (server, _stop) = signaling_server().await;
    // Hung up mid-call.
    let ours = options(server, "teardown", None);
    let switches = ours.switches.clone();
    let (call, mut states, hangup) = spawn_call(ours);
    let (other, mut other_states, other_hangup) = spawn_call(options(server, "teardown", None));
    while next_state(&mut states).await != CallState::Connected {}
    while next_state(&mut other_states).await != CallState::Connected {}
    audio_received(&mut states).await;
    hangup.send(()).unwrap();
    let summary = call.await.unwrap();
    assert_eq!(summary.outcome, CallState::Ended(EndReason::HungUp));
    assert_every_pipeline_finished(&switches);

    // The other peer saw us leave.
    let summary = other.await.unwrap();
    assert_eq!(summary.outcome, CallState::Ended(EndReason::PeerLeft));
    drop(other_hangup);

    // The set duration passing.
    let timed = options(server, "teardown-2", Some(2));
    let switches = timed.switches.clone();
    let (call, mut states, _hangup) = spawn_call(timed);
    let (other, _other_states, _other_hangup) = spawn_call(options(server, "teardown-2", Some(2)));
    audio_received(&mut states).await;
    let summary = call.await.unwrap();
    assert_eq!(summary.outcome, CallState::Ended(EndReason::DurationPassed));
    assert_every_pipeline_finished(&switches);
    other.await.unwrap();
}
