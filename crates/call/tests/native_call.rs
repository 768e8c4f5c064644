//! Two native peers meet through the real signaling server on 127.0.0.1, negotiate by
//! the "Who offers" rules with trickle ICE, and send each other the H.264 test pattern
//! and the Opus test tone: both directions, frame numbers in order, timing marks in
//! order, whichever peer joins first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use call::audio::{AudioCounters, receive_audio, send_audio};
use call::peer::{PeerEvent, PeerSetup, build_peer, local_track, negotiated_payload_type};
use call::session::negotiate;
use call::video::{VideoCounters, receive_video, send_video};
use call::{SignalingClient, SignalingConfig, SignalingEvent};
use clap::Parser;
use media::pattern::{TestPattern, read_code};
use media::tone::{MarkDetector, TestTone};
use media::{AudioSink, VideoFormat};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use signaling_proto::RoomId;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemote;

/// An audio sink that listens for the test tone's timing marks.
struct MarkSink {
    detector: MarkDetector,
    marks: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl AudioSink for MarkSink {
    fn play(&mut self, frame: &media::AudioFrame) -> Result<(), media::MediaError> {
        let found = self.detector.push(&frame.samples);
        self.marks
            .lock()
            .unwrap()
            .extend(found.iter().map(|m| m.counter));
        Ok(())
    }
}

/// What one peer received: video frame numbers and audio mark counters.
#[derive(Debug, Default)]
struct Received {
    frames: Vec<u32>,
    marks: Vec<u8>,
}

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

/// Joins `room`, negotiates, sends 1.5 s of pattern and tone, and returns what it
/// received from the other peer.
async fn peer(server: SocketAddr, room: String, label: u32) -> Received {
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
    let stream = format!("peer{label}");
    let (video_ssrc, audio_ssrc) = (0x1000 + label, 0x2000 + label);
    let video = local_track(&stream, RtpCodecKind::Video, video_ssrc).unwrap();
    let audio = local_track(&stream, RtpCodecKind::Audio, audio_ssrc).unwrap();
    let video_sender = pc
        .add_track(Arc::clone(&video) as Arc<dyn TrackLocal>)
        .await
        .unwrap();
    let audio_sender = pc
        .add_track(Arc::clone(&audio) as Arc<dyn TrackLocal>)
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
    let video_pt = negotiated_payload_type(&video_sender).await.unwrap();
    let audio_pt = negotiated_payload_type(&audio_sender).await.unwrap();

    // Video goes through the library pipeline: test pattern -> encoder thread -> track.
    let sent = Arc::new(VideoCounters::default());
    let send_video = tokio::spawn(send_video(
        Box::new(TestPattern::new(VideoFormat {
            width: 320,
            height: 240,
            fps: 30.0,
        })),
        video,
        video_ssrc,
        video_pt,
        400_000,
        Some(45),
        Arc::clone(&sent),
    ));
    let audio_sent = Arc::new(AudioCounters::default());
    let send_audio = tokio::spawn(send_audio(
        Box::new(TestTone::new()),
        audio,
        audio_ssrc,
        audio_pt,
        32_000,
        Some(75),
        Arc::clone(&audio_sent),
    ));

    // Both remote tracks: some may have arrived during negotiation, the rest come now.
    let mut tracks = connected.tracks;
    while tracks.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(PeerEvent::Track(track))) => tracks.push(track),
            Ok(Some(_)) => continue,
            other => panic!("remote tracks missing: {other:?}"),
        }
    }
    let mut received = Received::default();
    let readers: Vec<_> = tracks
        .into_iter()
        .map(|track| tokio::spawn(read_track(track)))
        .collect();
    for reader in readers {
        let got = reader.await.unwrap();
        received.frames.extend(got.frames);
        received.marks.extend(got.marks);
    }
    send_video.await.unwrap().unwrap();
    assert_eq!(VideoCounters::get(&sent.frames_sent), 45);
    assert!(VideoCounters::get(&sent.keyframes_sent) >= 1);
    send_audio.await.unwrap().unwrap();
    assert_eq!(AudioCounters::get(&audio_sent.packets_sent), 75);
    pc.close().await.unwrap();
    signaling.close().await;
    received
}

/// Reads one remote track until it goes quiet: decodes video to frame numbers, audio to
/// timing-mark counters.
async fn read_track(track: Arc<dyn TrackRemote>) -> Received {
    let mut received = Received::default();
    if track.kind().await == RtpCodecKind::Video {
        // Video through the library pipeline: track -> assembly -> decoder thread -> sink.
        let frames = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&frames);
        let counters = Arc::new(VideoCounters::default());
        receive_video(
            track,
            Duration::from_secs(1),
            Arc::clone(&counters),
            move |picture| {
                if let Some(code) = read_code(&picture) {
                    sink.lock().unwrap().push(code.frame);
                }
            },
        )
        .await
        .unwrap();
        received.frames = frames.lock().unwrap().clone();
        assert_eq!(
            VideoCounters::get(&counters.frames_decoded) as usize,
            received.frames.len()
        );
        return received;
    }
    // Audio through the library pipeline: track -> decoder thread (FEC/PLC) -> sink.
    let marks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let counters = Arc::new(AudioCounters::default());
    let sink = MarkSink {
        detector: MarkDetector::new(),
        marks: Arc::clone(&marks),
    };
    receive_audio(
        track,
        1,
        Duration::from_secs(1),
        Arc::clone(&counters),
        Box::new(sink),
    )
    .await
    .unwrap();
    received.marks = marks.lock().unwrap().clone();
    assert!(AudioCounters::get(&counters.packets_received) >= 70);
    received
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
        for (who, got) in [("first", &a), ("second", &b)] {
            let frames = &got.frames;
            assert!(
                frames.len() >= 40,
                "round {round}: {who} decoded {} of 45: {frames:?}",
                frames.len()
            );
            assert!(
                frames.windows(2).all(|w| w[0] < w[1]),
                "round {round}: {who} frames out of order: {frames:?}"
            );
            // 1.5 s of tone carries 8 marks (0..=7); the first may be cut by the stream's start.
            let marks = &got.marks;
            assert!(
                marks.len() >= 6,
                "round {round}: {who} heard marks {marks:?}"
            );
            assert!(
                marks.windows(2).all(|w| w[1] == w[0] + 1),
                "round {round}: {who} marks out of order: {marks:?}"
            );
        }
    }
}
