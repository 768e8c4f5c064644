//! Two native peers meet through the real signaling server on 127.0.0.1, negotiate by
//! the "Who offers" rules with trickle ICE, and send each other the H.264 test pattern:
//! both directions, frame numbers in order, whichever peer joins first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use call::peer::{PeerSetup, build_peer, h264_codec};
use call::session::negotiate;
use call::{SignalingClient, SignalingConfig, SignalingEvent};
use clap::Parser;
use media::h264::{Encoded, EncoderSettings, H264Decoder, H264Encoder};
use media::pattern::{PatternGenerator, read_code};
use rtc::media::Sample;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use signaling_proto::RoomId;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

async fn signaling_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = signaling_server::Config::parse_from(["signaling-server"]);
    tokio::spawn(signaling_server::serve(
        listener,
        config,
        std::future::pending(),
    ));
    addr
}

/// Joins `room`, negotiates, sends 45 pattern frames and returns the frame numbers
/// decoded from the other peer.
async fn peer(server: SocketAddr, room: String, label: u32) -> Vec<u32> {
    let config = SignalingConfig::new(
        format!("ws://{server}/ws"),
        RoomId::new(room.as_str()).unwrap(),
    );
    let mut signaling = SignalingClient::connect(config).await.unwrap();
    let Some(SignalingEvent::Joined(joined)) = signaling.next_event().await else {
        panic!("no welcome")
    };
    let setup = PeerSetup {
        bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    let (pc, mut events) = build_peer(&setup).await.unwrap();
    let ssrc = 0x1000 + label;
    let track = Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                format!("peer{label}"),
                "video".into(),
                "video".into(),
                RtpCodecKind::Video,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: h264_codec(),
                    ..Default::default()
                }],
            ),
        )
        .unwrap(),
    );
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .unwrap();
    let connected = negotiate(
        &pc,
        &mut events,
        &mut signaling,
        &joined,
        Duration::from_secs(15),
    )
    .await
    .unwrap();
    let payload_type = sender.get_parameters().await.unwrap().rtp_parameters.codecs[0].payload_type;

    let send = tokio::spawn(async move {
        let g = PatternGenerator::new(320, 240);
        let mut encoder = H264Encoder::new(320, 240, EncoderSettings::new(400_000, 30.0)).unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for n in 0..45u32 {
            tick.tick().await;
            if let Encoded::Frame(au) = encoder.encode(&g.frame(n, u64::from(n))).unwrap() {
                let sample = Sample {
                    data: bytes::Bytes::from(au.data),
                    duration: Duration::from_nanos(33_333_334),
                    ..Sample::new(Instant::now())
                };
                track
                    .sample_writer(ssrc, payload_type)
                    .write_sample(&sample)
                    .await
                    .unwrap();
            }
        }
    });

    let remote: Arc<dyn TrackRemote> = match connected.tracks.into_iter().next() {
        Some(track) => track,
        None => loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(call::peer::PeerEvent::Track(track))) => break track,
                Ok(Some(_)) => continue,
                other => panic!("no remote track: {other:?}"),
            }
        },
    };
    let mut builder = SampleBuilder::new(64, H264Packet::default(), 90_000);
    let mut decoder = H264Decoder::new().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.last() != Some(&44) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), remote.poll()).await {
            Ok(Some(TrackRemoteEvent::OnRtpPacket(packet))) => {
                builder.push(Instant::now(), packet);
                while let Some(sample) = builder.pop(Instant::now()) {
                    if let Ok(Some(picture)) = decoder.decode(&sample.data, 0)
                        && let Some(code) = read_code(&picture)
                    {
                        seen.push(code.frame);
                    }
                }
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    send.await.unwrap();
    // Let the other side finish reading before this connection goes away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    pc.close().await.unwrap();
    signaling.close().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_native_peers_call_each_other_through_the_signaling_server() {
    let server = signaling_server().await;
    for (round, delay) in [(1u32, 0u64), (2, 300)] {
        let room = format!("native-{round}");
        // The first peer joins alone and offers; the second, `delay` ms later, answers.
        let first = tokio::spawn(peer(server, room.clone(), round * 10 + 1));
        tokio::time::sleep(Duration::from_millis(100 + delay)).await;
        let second = tokio::spawn(peer(server, room, round * 10 + 2));
        let (a, b) = (first.await.unwrap(), second.await.unwrap());
        for (who, seen) in [("first", &a), ("second", &b)] {
            assert!(
                seen.len() >= 40,
                "round {round}: {who} decoded {} of 45: {seen:?}",
                seen.len()
            );
            assert!(
                seen.windows(2).all(|w| w[0] < w[1]),
                "round {round}: {who} out of order: {seen:?}"
            );
        }
    }
}
