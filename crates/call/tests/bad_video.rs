//! Damaged VP8 and VP9 on a real peer connection (127.0.0.1, ICE, DTLS, SRTP): the
//! sender corrupts the partitions of one frame and truncates another; the call's own
//! receive pipeline (`receive_video`) reports decode errors, asks for a keyframe, and
//! decodes the test pattern again, in order, once the keyframe comes. Nothing panics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use call::keyframe::is_keyframe_request;
use call::peer::{PeerEvent, PeerSetup, build_peer, local_track, negotiated_video_payload_type};
use call::video::{PathRtt, ReceiveCodecs, VideoReceiveCounters, receive_video};
use media::codec::{VideoCodec, VideoEncoder};
use media::h264::{Encoded, EncoderSettings};
use media::pattern::{PatternGenerator, read_code};
use rtc::rtp::packetizer::Packetizer;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

/// The frame whose partitions are garbled, and the one cut to a third.
const CORRUPT: u32 = 20;
const TRUNCATED: u32 = 50;
const FRAMES: u32 = 90;

struct Peer {
    pc: Arc<dyn PeerConnection>,
    events: mpsc::Receiver<PeerEvent>,
}

async fn peer() -> Peer {
    let setup = PeerSetup {
        bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    let peer = build_peer(&setup).await.unwrap();
    Peer {
        pc: peer.pc,
        events: peer.events,
    }
}

impl Peer {
    /// Waits (10 s at most) for the first event `pick` accepts.
    async fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(PeerEvent) -> Option<T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(found) = pick(self.events.recv().await.expect("peer events")) {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} within 10 s"))
    }

    async fn gathered(&mut self) {
        self.wait_for("gathering", |e| {
            matches!(e, PeerEvent::GatheringComplete).then_some(())
        })
        .await;
    }
}

/// What the sender did.
#[derive(Debug, Default)]
struct Sent {
    keyframe_requests: u32,
    keyframes_after_damage: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_partitions_and_a_truncated_frame_bring_a_keyframe_request_and_recovery() {
    for codec in [VideoCodec::Vp8, VideoCodec::Vp9] {
        damaged_stream_recovers(codec).await;
    }
}

async fn damaged_stream_recovers(codec: VideoCodec) {
    let (mut caller, mut callee) = (peer().await, peer().await);
    let ssrc = 0x0bad_5eed_u32;
    let track = local_track("peercall", RtpCodecKind::Video, ssrc, codec).unwrap();
    let sender = caller
        .pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .unwrap();
    let offer = caller.pc.create_offer(None).await.unwrap();
    caller.pc.set_local_description(offer).await.unwrap();
    caller.gathered().await;
    let offer = caller.pc.local_description().await.unwrap();
    callee.pc.set_remote_description(offer).await.unwrap();
    let answer = callee.pc.create_answer(None).await.unwrap();
    callee.pc.set_local_description(answer).await.unwrap();
    callee.gathered().await;
    let answer = callee.pc.local_description().await.unwrap();
    caller.pc.set_remote_description(answer).await.unwrap();
    caller
        .wait_for("caller connected", |e| {
            matches!(e, PeerEvent::State(RTCPeerConnectionState::Connected)).then_some(())
        })
        .await;
    let payload_type = negotiated_video_payload_type(&sender, codec).await.unwrap();

    let send = tokio::spawn(send_damaged(codec, track, ssrc, payload_type));
    let remote: Arc<dyn TrackRemote> = callee
        .wait_for("remote track", |e| match e {
            PeerEvent::Track(track) => Some(track),
            _ => None,
        })
        .await;
    let counters = Arc::new(VideoReceiveCounters::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let frames = Arc::clone(&seen);
    let receive = tokio::spawn(receive_video(
        remote,
        Duration::from_secs(1),
        Arc::clone(&counters),
        Arc::new(PathRtt::default()),
        ReceiveCodecs {
            payload_types: vec![(payload_type, codec)],
            ..Default::default()
        },
        move |picture| {
            if let Some(code) = read_code(&picture) {
                frames.lock().unwrap().push(code.frame);
            }
        },
    ));
    let sent = send.await.unwrap();
    // The receive pipeline ends a second after the last packet.
    tokio::time::timeout(Duration::from_secs(10), receive)
        .await
        .expect("the receiver ends once the stream stops")
        .unwrap()
        .unwrap();
    caller.pc.close().await.unwrap();
    callee.pc.close().await.unwrap();

    let counters = counters.snapshot();
    let seen = seen.lock().unwrap().clone();
    let who = format!("{codec}: {counters:?}, sent {sent:?}, decoded {seen:?}");
    assert!(counters.decode_errors >= 2, "{who}");
    assert!(counters.keyframe_requests >= 2, "{who}");
    assert!(sent.keyframe_requests >= 2, "{who}");
    assert!(sent.keyframes_after_damage >= 2, "{who}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "out of order: {who}");
    // Pictures before the damage, between the two, and to the end all came back.
    for range in [0..CORRUPT, CORRUPT + 10..TRUNCATED, TRUNCATED + 10..FRAMES] {
        let decoded = seen.iter().filter(|n| range.contains(n)).count();
        assert!(
            decoded * 10 >= range.len() * 8,
            "{codec}: {decoded} of frames {range:?}: {who}"
        );
    }
}

/// Sends [`FRAMES`] pictures of the pattern at 30 fps in `codec`, garbling frame
/// [`CORRUPT`] past its header and cutting frame [`TRUNCATED`] to a third; answers
/// keyframe requests.
async fn send_damaged(
    codec: VideoCodec,
    track: Arc<webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample>,
    ssrc: u32,
    payload_type: u8,
) -> Sent {
    let (w, h) = (640, 480);
    let pattern = PatternGenerator::new(w, h);
    let mut encoder = VideoEncoder::new(codec, w, h, EncoderSettings::new(800_000, 30.0)).unwrap();
    let mut packetizer = rtc::rtp::packetizer::new_packetizer(
        Instant::now(),
        1200,
        payload_type,
        ssrc,
        call::peer::video_codec(codec).payloader().unwrap(),
        Box::new(rtc::rtp::sequence::new_random_sequencer()),
        90_000,
    );
    let mut tick = tokio::time::interval(Duration::from_millis(33));
    let mut sent = Sent::default();
    for n in 0..FRAMES {
        loop {
            tokio::select! {
                _ = tick.tick() => break,
                event = track.poll() => {
                    if let Some(TrackLocalEvent::OnRtcpPacket(packets)) = event
                        && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
                    {
                        sent.keyframe_requests += 1;
                        encoder.request_keyframe();
                    }
                }
            }
        }
        let Encoded::Frame(unit) = encoder.encode(&pattern.frame(n, 0)).unwrap() else {
            continue;
        };
        if unit.keyframe && n > CORRUPT {
            sent.keyframes_after_damage += 1;
        }
        let mut data = unit.data;
        if n == CORRUPT {
            for (i, byte) in data.iter_mut().enumerate().skip(12) {
                *byte ^= (i as u8).wrapping_mul(37) | 1;
            }
        }
        if n == TRUNCATED {
            data.truncate(data.len() / 3);
        }
        for packet in packetizer
            .packetize(Instant::now(), &Bytes::from(data), 3000)
            .unwrap()
        {
            track.write_rtp(packet).await.unwrap();
        }
    }
    sent
}
