//! The media path on webrtc 0.21 without signaling: two peer connections on 127.0.0.1,
//! directly or relay-only through coturn started from the repository's turnserver.conf
//! (real ICE, DTLS and SRTP), an H.264 track fed by the media crate's encoder, and a
//! receiver that depacketizes, assembles, decodes and reads the test pattern back. The
//! descriptions are exchanged whole, after gathering (no trickle). A receiver that cannot
//! decode sends a PLI (rate-limited); the sender answers it with a keyframe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use media::codec::VideoCodec;
use media::h264::{Encoded, EncoderSettings, H264Decoder, H264Encoder};
use media::pattern::{PatternGenerator, read_code};
use media::source::AudioSink;
use media::tone::{MARK_PERIOD, MarkDetector, TestTone};
use media::{AudioFrame, FRAME_SAMPLES, MediaError};
use rtc::media::Sample;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

use call::audio::{
    AudioControl, AudioReceiveCounters, AudioSendCounters, receive_audio, send_audio,
};
use call::keyframe::{KeyframeRequestLimiter, is_keyframe_request};
use call::peer::{PeerEvent, PeerSetup, build_peer, local_track, negotiated_payload_type};
use call::pipeline::SendParams;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use signaling_proto::IceServer;

struct Peer {
    pc: Arc<dyn PeerConnection>,
    events: mpsc::Receiver<PeerEvent>,
}

async fn peer(setup: &PeerSetup) -> Peer {
    let peer = build_peer(setup).await.unwrap();
    Peer {
        pc: peer.pc,
        events: peer.events,
    }
}

fn loopback() -> PeerSetup {
    PeerSetup {
        bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    }
}

impl Peer {
    /// Waits for the first event `pick` accepts (10 s at most).
    async fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(PeerEvent) -> Option<T>) -> T {
        within(what, async {
            loop {
                let event = self.events.recv().await.expect("peer events");
                if let Some(found) = pick(event) {
                    return found;
                }
            }
        })
        .await
    }
}

/// Every candidate in `sdp` is on 127.0.0.1 (so no packet leaves the machine) and, with
/// `relay`, a TURN relay candidate.
fn assert_candidates(sdp: &str, relay: bool) {
    let candidates: Vec<&str> = sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    assert!(!candidates.is_empty(), "no candidates in:\n{sdp}");
    for c in candidates {
        assert!(c.contains(" 127.0.0.1 "), "non-loopback candidate: {c}");
        assert!(
            !relay || c.contains(" typ relay"),
            "not a relay candidate: {c}"
        );
    }
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} within 10 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_test_pattern_crosses_a_loopback_peer_connection_in_order() {
    call_and_read_back(&loopback()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_calls_go_through_coturn_from_the_repository_config() {
    let coturn = testkit::Coturn::start(&[]);
    let setup = PeerSetup {
        ice_servers: vec![IceServer {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", coturn.port)],
            username: Some("user1".into()),
            credential: Some("pass1".into()),
        }],
        relay_only: true,
        ..loopback()
    };
    call_and_read_back(&setup).await;
}

/// Sound in 40 ms packets (what a slow link gets) plays whole on the other side: half
/// the packets, every 20 ms of the tone, its timing marks in order and a frame period
/// apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_in_40_ms_packets_crosses_a_loopback_peer_connection_whole() {
    let ssrc = 0xa0d1_u32;
    let mut call = connect(&loopback(), RtpCodecKind::Audio, ssrc).await;
    let control = Arc::new(AudioControl::default());
    control.set_long_packets(true);
    let sent = Arc::new(AudioSendCounters::default());
    let frames = 100; // 2 s
    let send = tokio::spawn(send_audio(
        Box::new(TestTone::new()),
        Arc::clone(&call.track),
        SendParams {
            ssrc,
            payload_type: call.payload_type,
            bitrate_bps: 32_000,
            frames: Some(frames),
        },
        control,
        Arc::clone(&sent),
    ));
    let received = Arc::new(AudioReceiveCounters::default());
    let (played_tx, mut played) = mpsc::unbounded_channel();
    let receive = tokio::spawn(receive_audio(
        call.remote_track().await,
        Duration::from_secs(1),
        Arc::clone(&received),
        1,
        Box::new(Collect(played_tx)),
    ));
    within("sending", send).await.unwrap().unwrap();
    within("receiving", receive).await.unwrap().unwrap();
    call.close().await;

    let sent = sent.snapshot();
    assert_eq!(sent.packets_sent, frames / 2, "two frames a packet");
    let received = received.snapshot();
    assert_eq!(received.packets_lost, 0);
    let mut samples = Vec::new();
    while let Ok(frame) = played.try_recv() {
        assert_eq!(frame.len(), FRAME_SAMPLES, "played in 20 ms frames");
        samples.extend(frame);
    }
    assert_eq!(
        samples.len() as u64,
        received.packets_received * 2 * FRAME_SAMPLES as u64
    );
    assert!(received.packets_received >= frames / 2 - 1, "{received:?}");
    let marks = MarkDetector::new().push(&samples);
    assert!(marks.len() >= 9, "{marks:?}");
    for pair in marks.windows(2) {
        assert_eq!(
            pair[1].counter,
            pair[0].counter.wrapping_add(1),
            "{marks:?}"
        );
        let period = pair[1].sample - pair[0].sample;
        assert!(period.abs_diff(MARK_PERIOD) <= 336, "{marks:?}");
    }
}

/// Hands each frame played on.
struct Collect(mpsc::UnboundedSender<Vec<i16>>);

impl AudioSink for Collect {
    fn play(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        let _ = self.0.send(frame.samples.clone());
        Ok(())
    }
}

/// A call from one peer to another built with `setup`, with one track of `kind`: the
/// two peers, the caller's track and its payload type, and the callee's remote track if
/// already announced.
struct Connected {
    caller: Peer,
    callee: Peer,
    track: Arc<TrackLocalStaticSample>,
    payload_type: u8,
    remote: Option<Arc<dyn TrackRemote>>,
}

impl Connected {
    /// The callee's remote track: announced with its first packet, so wait for it once
    /// sending has begun.
    async fn remote_track(&mut self) -> Arc<dyn TrackRemote> {
        if let Some(track) = self.remote.take() {
            return track;
        }
        self.callee
            .wait_for("remote track", |e| match e {
                PeerEvent::Track(track) => Some(track),
                _ => None,
            })
            .await
    }

    async fn close(self) {
        self.caller.pc.close().await.unwrap();
        self.callee.pc.close().await.unwrap();
    }
}

async fn connect(setup: &PeerSetup, kind: RtpCodecKind, ssrc: u32) -> Connected {
    let mut caller = peer(setup).await;
    let mut callee = peer(setup).await;
    let track = local_track("peercall", kind, ssrc, VideoCodec::H264).unwrap();
    let sender = caller
        .pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .unwrap();

    // Non-trickle exchange: each side gathers its 127.0.0.1 candidates first.
    let offer = caller.pc.create_offer(None).await.unwrap();
    caller.pc.set_local_description(offer).await.unwrap();
    caller
        .wait_for("caller gathering", |e| {
            matches!(e, PeerEvent::GatheringComplete).then_some(())
        })
        .await;
    let offer = caller.pc.local_description().await.unwrap();
    assert_candidates(&offer.sdp, setup.relay_only);
    callee.pc.set_remote_description(offer).await.unwrap();
    let answer = callee.pc.create_answer(None).await.unwrap();
    callee.pc.set_local_description(answer).await.unwrap();
    callee
        .wait_for("callee gathering", |e| {
            matches!(e, PeerEvent::GatheringComplete).then_some(())
        })
        .await;
    let answer = callee.pc.local_description().await.unwrap();
    assert_candidates(&answer.sdp, setup.relay_only);
    caller.pc.set_remote_description(answer).await.unwrap();
    let connected =
        |e| matches!(e, PeerEvent::State(RTCPeerConnectionState::Connected)).then_some(());
    caller.wait_for("caller connected", connected).await;
    // The callee's track may be announced before or after it reports Connected.
    let mut remote = None;
    callee
        .wait_for("callee connected", |e| match e {
            PeerEvent::Track(track) => {
                remote = Some(track);
                None
            }
            PeerEvent::State(RTCPeerConnectionState::Connected) => Some(()),
            _ => None,
        })
        .await;
    let payload_type = negotiated_payload_type(&sender).await.unwrap();
    Connected {
        caller,
        callee,
        track,
        payload_type,
        remote,
    }
}

/// Calls from one peer to another built with `setup`, sends 60 pattern frames, and
/// asserts they decode in order on the other side.
async fn call_and_read_back(setup: &PeerSetup) {
    let ssrc = 0x5eed_u32;
    let mut call = connect(setup, RtpCodecKind::Video, ssrc).await;
    let (track, payload_type) = (Arc::clone(&call.track), call.payload_type);
    let (w, h) = (320, 240);
    let send = tokio::spawn(async move {
        let g = PatternGenerator::new(w, h);
        let mut encoder = H264Encoder::new(w, h, EncoderSettings::new(500_000, 30.0)).unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        let mut keyframe_requests = 0;
        for n in 0..60u32 {
            // Between frames, answer keyframe requests (PLI/FIR) from the receiver.
            loop {
                tokio::select! {
                    _ = tick.tick() => break,
                    event = track.poll() => {
                        if let Some(TrackLocalEvent::OnRtcpPacket(packets)) = event
                            && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
                        {
                            keyframe_requests += 1;
                            encoder.request_keyframe();
                        }
                    }
                }
            }
            let Encoded::Frame(au) = encoder.encode(&g.frame(n, u64::from(n))).unwrap() else {
                continue;
            };
            track
                .sample_writer(ssrc, payload_type)
                .write_sample(&Sample {
                    data: bytes::Bytes::from(au.data),
                    // Exactly 3000 ticks of the 90 kHz clock per frame, so no drift.
                    duration: Duration::from_nanos(33_333_334),
                    ..Sample::new(Instant::now())
                })
                .await
                .unwrap();
        }
        keyframe_requests
    });

    let remote = call.remote_track().await;
    let mut builder = SampleBuilder::new(64, H264Packet::default(), 90_000);
    let mut decoder = H264Decoder::new().unwrap();
    let mut pli = KeyframeRequestLimiter::new(Duration::from_millis(200));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.last() != Some(&59) && Instant::now() < deadline {
        let event = tokio::time::timeout(Duration::from_secs(2), remote.poll()).await;
        let Ok(Some(TrackRemoteEvent::OnRtpPacket(packet))) = event else {
            if event.is_err() {
                break;
            }
            continue;
        };
        let media_ssrc = packet.header.ssrc;
        builder.push(Instant::now(), packet);
        while let Some(sample) = builder.pop(Instant::now()) {
            match decoder.decode(&sample.data, 0) {
                Ok(Some(picture)) => seen.extend(read_code(&picture).map(|c| c.frame)),
                Ok(None) => {}
                // Cannot decode (a lost reference): ask for a keyframe, rate-limited.
                Err(_) => {
                    if pli.allow(Instant::now()) {
                        let request = PictureLossIndication {
                            sender_ssrc: 0,
                            media_ssrc,
                        };
                        remote.write_rtcp(vec![Box::new(request)]).await.unwrap();
                    }
                }
            }
        }
    }
    let keyframe_requests = send.await.unwrap();
    call.close().await;
    // Through TURN the first frames may be lost before the relay permissions are in
    // place; the receiver's PLI brings a keyframe and decoding resumes from it.
    let least = if setup.relay_only { 45 } else { 55 };
    assert!(
        seen.len() >= least,
        "decoded {} of 60 ({keyframe_requests} keyframe requests answered): {seen:?}",
        seen.len()
    );
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seen:?}"
    );
}
