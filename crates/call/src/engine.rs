//! One headless call from join to hang-up: signaling, negotiation, the test sources
//! sent, the other peer's media received and measured, stats once a second.
//!
//! This is the engine entry point that `peercall loopback` drives; the desktop app and
//! `peercall call` will drive the same one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::VideoFormat;
use media::frame::now_us;
use media::pattern::{TestPattern, read_code};
use media::tone::{MarkDetector, TestTone};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde::Serialize;
use signaling_proto::RoomId;
use webrtc::media_stream::track_local::TrackLocal;

use crate::audio::{AudioCounters, receive_audio, send_audio};
use crate::peer::{PeerEvent, PeerSetup, build_peer, local_track, negotiated_payload_type};
use crate::session::negotiate;
use crate::video::{VideoCounters, receive_video, send_video};
use crate::{CallError, SignalingClient, SignalingConfig, SignalingEvent};

/// What a headless call needs.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// Signaling server URL (`ws://…/ws`).
    pub server: String,
    /// Room to join.
    pub room: RoomId,
    /// UDP addresses to gather on.
    pub bind: Vec<SocketAddr>,
    /// Size and rate of the test pattern sent.
    pub video: VideoFormat,
    /// Video bitrate, bits per second.
    pub video_bitrate: u32,
    /// How long to stay connected.
    pub duration: Duration,
}

/// Once-a-second statistics of one peer.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StatsLine {
    /// Seconds since connecting.
    pub t: u64,
    /// Video pictures sent so far.
    pub video_frames_sent: u64,
    /// Video pictures decoded so far.
    pub video_frames_decoded: u64,
    /// Pictures decoded in the last second.
    pub video_fps: u64,
    /// Keyframe requests received (as sender) plus sent (as receiver).
    pub keyframe_requests: u64,
    /// Audio packets received so far.
    pub audio_packets_received: u64,
    /// Audio packets lost so far.
    pub audio_packets_lost: u64,
    /// Test-tone timing marks heard so far.
    pub audio_marks: u64,
    /// Glass-to-glass latency of the pictures decoded in the last second (ms): p50.
    pub latency_ms_p50: Option<f64>,
    /// … p95.
    pub latency_ms_p95: Option<f64>,
    /// … max.
    pub latency_ms_max: Option<f64>,
}

/// How a call went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Milliseconds from joining to connected.
    pub connect_ms: u64,
    /// The last statistics line.
    pub last: StatsLine,
    /// Video frame numbers that arrived out of order (should be 0).
    pub video_out_of_order: u64,
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let i = ((sorted.len().checked_sub(1)?) as f64 * q).round() as usize;
    Some((sorted[i] * 10.0).round() / 10.0)
}

/// Runs one call with the test sources; `on_stats` gets a line every second.
pub async fn run_call(
    options: CallOptions,
    mut on_stats: impl FnMut(&StatsLine),
) -> Result<Summary, CallError> {
    let started = Instant::now();
    let mut signaling = SignalingClient::connect(SignalingConfig::new(
        options.server.clone(),
        options.room.clone(),
    ))
    .await?;
    let joined = loop {
        match signaling.next_event().await.ok_or(CallError::Closed)? {
            SignalingEvent::Joined(joined) => break joined,
            _ => continue,
        }
    };
    let setup = PeerSetup {
        bind: options.bind.clone(),
        ice_servers: joined.ice_servers.clone(),
        relay_only: false,
    };
    let (pc, mut events) = build_peer(&setup).await?;
    let ssrc = rand_ssrc();
    let stream = format!("peercall-{ssrc:x}");
    let (video, audio) = (
        local_track(&stream, RtpCodecKind::Video, ssrc)?,
        local_track(&stream, RtpCodecKind::Audio, ssrc.wrapping_add(1))?,
    );
    let video_sender = pc
        .add_track(Arc::clone(&video) as Arc<dyn TrackLocal>)
        .await
        .map_err(CallError::webrtc)?;
    let audio_sender = pc
        .add_track(Arc::clone(&audio) as Arc<dyn TrackLocal>)
        .await
        .map_err(CallError::webrtc)?;
    let connected = negotiate(
        &pc,
        &mut events,
        &mut signaling,
        &joined,
        Duration::from_secs(30),
    )
    .await?;
    let connect_ms = started.elapsed().as_millis() as u64;
    let video_pt = negotiated_payload_type(&video_sender).await?;
    let audio_pt = negotiated_payload_type(&audio_sender).await?;

    let frames = |seconds: f64, rate: f64| Some((seconds * rate) as u64);
    let secs = options.duration.as_secs_f64();
    let (video_out, audio_out) = (
        Arc::new(VideoCounters::default()),
        Arc::new(AudioCounters::default()),
    );
    let (video_in, audio_in) = (
        Arc::new(VideoCounters::default()),
        Arc::new(AudioCounters::default()),
    );
    let sending = tokio::spawn(send_video(
        Box::new(TestPattern::new(options.video)),
        video,
        ssrc,
        video_pt,
        options.video_bitrate,
        frames(secs, f64::from(options.video.fps)),
        Arc::clone(&video_out),
    ));
    let sending_audio = tokio::spawn(send_audio(
        Box::new(TestTone::new()),
        audio,
        ssrc.wrapping_add(1),
        audio_pt,
        32_000,
        frames(secs, 50.0),
        Arc::clone(&audio_out),
    ));

    // What arrives: frame numbers and latencies from the pattern, marks from the tone.
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let order = Arc::new(Mutex::new((None::<u32>, 0u64)));
    let marks = Arc::new(Mutex::new(0u64));
    let mut receivers = Vec::new();
    let mut pending = connected.tracks;
    let deadline = Instant::now() + options.duration + Duration::from_secs(5);
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    let mut last_decoded = 0;
    let mut t = 0;
    let last = loop {
        for remote in pending.drain(..) {
            if remote.kind().await == RtpCodecKind::Video {
                let (latencies, order) = (Arc::clone(&latencies), Arc::clone(&order));
                receivers.push(tokio::spawn(receive_video(
                    remote,
                    Duration::from_secs(2),
                    Arc::clone(&video_in),
                    move |picture| {
                        if let Some(code) = read_code(&picture) {
                            let ms = now_us().saturating_sub(code.capture_us) as f64 / 1000.0;
                            latencies.lock().map(|mut l| l.push(ms)).ok();
                            if let Ok(mut o) = order.lock() {
                                if o.0.is_some_and(|prev| code.frame <= prev) {
                                    o.1 += 1;
                                }
                                o.0 = Some(code.frame);
                            }
                        }
                    },
                )));
            } else {
                let sink = MarkCounter {
                    detector: MarkDetector::new(),
                    marks: Arc::clone(&marks),
                };
                receivers.push(tokio::spawn(receive_audio(
                    remote,
                    1,
                    Duration::from_secs(2),
                    Arc::clone(&audio_in),
                    Box::new(sink),
                )));
            }
        }
        let wait = tokio::time::sleep_until(next_tick.into());
        tokio::select! {
            () = wait => {
                t += 1;
                next_tick += Duration::from_secs(1);
                let mut window = std::mem::take(&mut *latencies.lock().map_err(|_| CallError::Closed)?);
                window.sort_by(f64::total_cmp);
                let decoded = VideoCounters::get(&video_in.frames_decoded);
                let line = StatsLine {
                    t,
                    video_frames_sent: VideoCounters::get(&video_out.frames_sent),
                    video_frames_decoded: decoded,
                    video_fps: decoded - last_decoded,
                    keyframe_requests: VideoCounters::get(&video_out.keyframe_requests) + VideoCounters::get(&video_in.keyframe_requests),
                    audio_packets_received: AudioCounters::get(&audio_in.packets_received),
                    audio_packets_lost: AudioCounters::get(&audio_in.packets_lost),
                    audio_marks: *marks.lock().map_err(|_| CallError::Closed)?,
                    latency_ms_p50: percentile(&window, 0.5),
                    latency_ms_p95: percentile(&window, 0.95),
                    latency_ms_max: window.last().copied(),
                };
                last_decoded = decoded;
                on_stats(&line);
                if t >= options.duration.as_secs() || Instant::now() > deadline {
                    break line;
                }
            }
            event = events.recv() => match event {
                Some(PeerEvent::Track(remote)) => pending.push(remote),
                Some(PeerEvent::State(webrtc::peer_connection::RTCPeerConnectionState::Failed)) => {
                    return Err(CallError::IceFailed);
                }
                Some(_) => {}
                None => return Err(CallError::Closed),
            },
        }
    };
    let _ = sending.await;
    let _ = sending_audio.await;
    pc.close().await.map_err(CallError::webrtc)?;
    for receiver in receivers {
        let _ = receiver.await;
    }
    signaling.close().await;
    let video_out_of_order = order.lock().map(|o| o.1).unwrap_or(0);
    Ok(Summary {
        connect_ms,
        last,
        video_out_of_order,
    })
}

/// Counts the test tone's timing marks in what it plays.
struct MarkCounter {
    detector: MarkDetector,
    marks: Arc<Mutex<u64>>,
}

impl media::AudioSink for MarkCounter {
    fn play(&mut self, frame: &media::AudioFrame) -> Result<(), media::MediaError> {
        let found = self.detector.push(&frame.samples).len() as u64;
        if let Ok(mut marks) = self.marks.lock() {
            *marks += found;
        }
        Ok(())
    }
}

/// An SSRC that differs between peers in one process and between runs.
fn rand_ssrc() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    (nanos ^ std::process::id().rotate_left(16)).wrapping_add(n << 20) & !1
}
