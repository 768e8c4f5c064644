//! One call from join to hang-up: the engine that `peercall call`, `peercall loopback`
//! and the desktop app drive.
//!
//! [`run_call`] joins the room, negotiates by the protocol's rules, sends the chosen
//! sources and receives the other peer's media, adapts the video to the congestion
//! estimate, and reports [`CallEvent`]s: state changes the user can see, and a
//! [`StatsLine`] every second. It ends on hang-up, after the set duration, when the
//! other peer leaves (or, with [`CallOptions::stay`], goes back to waiting for the next
//! one), or with a failure whose reason a person understands.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use media::frame::now_us;
use media::pattern::{TestPattern, read_code};
use media::switch::{AudioSwitch, SpeakerSwitch, VideoSwitch};
use media::tone::{MarkDetector, TestTone};
use media::{AudioSink, AudioSource, VideoFormat, VideoFrame, VideoSource};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde::Serialize;
use signaling_proto::{IceServer, PeerId, PeerName, RoomId, Signal};
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState, StatsSelector};
use webrtc::rtp_transceiver::RtpSender;

use crate::adapt::{Adaptation, Signals};
use crate::audio::{AudioControl, AudioCounters, receive_audio, send_audio};
use crate::feedback::Feedback;
use crate::peer::{
    BitrateRange, Peer, PeerEvent, PeerSetup, build_peer, local_track, negotiated_payload_type,
    selected_pair,
};
use crate::session::{Connected, NegotiateOptions, Negotiated, Progress, negotiate};
use crate::stats::{AudioIn, AudioOut, IceStats, Latency, Rates, StatsLine, VideoIn, VideoOut};
use crate::video::{PathRtt, VideoControl, VideoCounters, VideoSend, receive_video, send_video};
use crate::{CallError, SignalingClient, SignalingConfig, SignalingEvent, signaling::Joined};

/// Opus bitrate, bits per second.
const AUDIO_BITRATE: u32 = 32_000;
/// What audio costs on the wire: Opus plus 50 packets a second of RTP, SRTP, UDP and
/// IP headers (about 70 bytes each).
const AUDIO_WIRE_BITRATE: u32 = AUDIO_BITRATE + 50 * 70 * 8;

/// Where the video we send comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoInput {
    /// The moving test pattern (carries frame numbers and capture times).
    Test,
    /// A camera (its index; `None`: the first).
    Camera(Option<u32>),
    /// Send no video.
    None,
}

/// Where the audio we send comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioInput {
    /// The test tone (440 Hz with timing marks).
    Test,
    /// A microphone (its id; `None`: the default).
    Microphone(Option<String>),
    /// Send no audio.
    None,
}

/// Where received audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioOutput {
    /// Nowhere (headless).
    Null,
    /// A speaker (its id; `None`: the default).
    Speaker(Option<String>),
}

/// A TURN server given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// `turn:HOST:PORT`.
    pub url: String,
    /// Username.
    pub username: String,
    /// Credential.
    pub credential: String,
}

/// ICE settings that override what the server's `welcome` hands out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceOptions {
    /// STUN URLs.
    pub stun: Vec<String>,
    /// A TURN server.
    pub turn: Option<TurnServer>,
    /// Use relayed candidates only.
    pub relay_only: bool,
}

impl IceOptions {
    /// The servers to use: ours if any were given, else the `welcome`'s.
    pub fn servers(&self, welcome: &[IceServer]) -> Vec<IceServer> {
        if self.stun.is_empty() && self.turn.is_none() {
            return welcome.to_vec();
        }
        let mut servers: Vec<IceServer> = self
            .stun
            .iter()
            .map(|url| IceServer {
                urls: vec![url.clone()],
                username: None,
                credential: None,
            })
            .collect();
        if let Some(turn) = &self.turn {
            servers.push(IceServer {
                urls: vec![turn.url.clone()],
                username: Some(turn.username.clone()),
                credential: Some(turn.credential.clone()),
            });
        }
        servers
    }
}

/// What a call needs.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// Signaling server URL (`ws://…/ws` or `wss://…/ws`).
    pub server: String,
    /// Room to join.
    pub room: RoomId,
    /// Name shown to the other peer.
    pub name: Option<PeerName>,
    /// UDP addresses to gather on.
    pub bind: Vec<SocketAddr>,
    /// Video to send.
    pub video: VideoInput,
    /// Audio to send.
    pub audio: AudioInput,
    /// Where received audio plays.
    pub speaker: AudioOutput,
    /// Size and rate of the video sent.
    pub format: VideoFormat,
    /// Video bitrate bounds (and start), bits per second.
    pub bitrate: BitrateRange,
    /// STUN/TURN overrides.
    pub ice: IceOptions,
    /// How long to stay connected (`None`: until hang-up).
    pub duration: Option<Duration>,
    /// How long connecting may take once a peer is there.
    pub connect_timeout: Duration,
    /// After the other peer leaves, wait for the next one instead of ending.
    pub stay: bool,
    /// Gets every decoded remote picture (on the decoder thread; keep it quick): the
    /// UI's frame slot, or a measurement.
    pub remote_video: Option<FrameSink>,
    /// Handles to change camera, microphone and speaker while the call runs, mute, turn
    /// the camera off, set the volume, and see the local preview.
    pub switches: MediaSwitches,
}

/// The running call's devices, as the UI changes them (shared: clones are the same).
#[derive(Clone, Default)]
pub struct MediaSwitches {
    /// The video sent: replace the camera, blank it, tap it for the preview.
    pub video: Arc<VideoSwitch>,
    /// The audio sent: replace the microphone, mute it.
    pub audio: Arc<AudioSwitch>,
    /// Playout: replace the speaker, set the volume.
    pub speaker: Arc<SpeakerSwitch>,
}

impl std::fmt::Debug for MediaSwitches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaSwitches(..)")
    }
}

/// A receiver of decoded pictures.
#[derive(Clone)]
pub struct FrameSink(pub Arc<dyn Fn(&VideoFrame) + Send + Sync>);

impl std::fmt::Debug for FrameSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameSink(..)")
    }
}

impl CallOptions {
    /// Test sources, 640x480@30, default bitrates and ICE, no time limit.
    pub fn new(server: impl Into<String>, room: RoomId) -> Self {
        Self {
            server: server.into(),
            room,
            name: None,
            bind: Vec::new(),
            video: VideoInput::Test,
            audio: AudioInput::Test,
            speaker: AudioOutput::Null,
            format: VideoFormat {
                width: 640,
                height: 480,
                fps: 30.0,
            },
            bitrate: BitrateRange::default(),
            ice: IceOptions::default(),
            duration: None,
            connect_timeout: Duration::from_secs(30),
            stay: false,
            remote_video: None,
            switches: MediaSwitches::default(),
        }
    }
}

/// Where a call is, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum CallState {
    /// Connecting to the signaling server and joining the room.
    Joining,
    /// In the room, alone: waiting for someone to call.
    Waiting,
    /// Someone is there: negotiating and connecting.
    Connecting,
    /// Media flows.
    Connected,
    /// The connection dropped; ICE is trying to get it back.
    Reconnecting,
    /// The call ended normally (why).
    Ended(String),
    /// The call failed (why, and what to do).
    Failed(String),
}

impl CallState {
    /// The state's name (`joining`, `connected`...).
    pub fn name(&self) -> &'static str {
        match self {
            CallState::Joining => "joining",
            CallState::Waiting => "waiting",
            CallState::Connecting => "connecting",
            CallState::Connected => "connected",
            CallState::Reconnecting => "reconnecting",
            CallState::Ended(_) => "ended",
            CallState::Failed(_) => "failed",
        }
    }
}

/// What the engine reports while a call runs.
#[derive(Debug, Clone)]
pub enum CallEvent {
    /// The state changed.
    State(CallState),
    /// One second's statistics.
    Stats(Box<StatsLine>),
}

/// How a call went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Whether a call connected at all.
    pub connected: bool,
    /// Milliseconds from joining (or from the peer's arrival, for later calls) to
    /// connected, for the last call.
    pub connect_ms: Option<u64>,
    /// Milliseconds from joining (or from the peer's arrival, for later calls) to the
    /// first decoded remote picture, for the last call.
    pub first_frame_ms: Option<u64>,
    /// Calls that connected (more than one with `stay`).
    pub calls: u32,
    /// The final state.
    pub outcome: CallState,
    /// The last statistics line.
    pub last: Option<StatsLine>,
}

impl Summary {
    /// Whether video and audio flowed both ways (as far as this side can tell) and
    /// the call ended normally.
    pub fn media_flowed_both_ways(&self) -> bool {
        let Some(last) = &self.last else {
            return false;
        };
        matches!(self.outcome, CallState::Ended(_))
            && last.video_out.frames > 0
            && last.video_in.decoded > 0
            && last.audio_out.packets > 0
            && last.audio_in.packets > 0
            && last.video_in.out_of_order == 0
    }
}

/// Runs a call until `hangup` resolves, the duration passes, the other peer leaves or
/// the call fails; every state change and statistics line goes to `on_event`.
pub async fn run_call(
    options: CallOptions,
    mut on_event: impl FnMut(CallEvent) + Send,
    hangup: impl Future<Output = ()>,
) -> Summary {
    let mut summary = Summary {
        connected: false,
        connect_ms: None,
        first_frame_ms: None,
        calls: 0,
        outcome: CallState::Joining,
        last: None,
    };
    on_event(CallEvent::State(CallState::Joining));
    // Hanging up is a signal, not a drop: the call still closes its connection and
    // joins its media threads.
    let (stop, stopped) = watch::channel(false);
    let result = {
        let calls = calls(&options, &mut on_event, &mut summary, stopped);
        tokio::pin!(calls, hangup);
        tokio::select! {
            result = &mut calls => result,
            () = &mut hangup => {
                let _ = stop.send(true);
                calls.await
            }
        }
    };
    let outcome = match result {
        Ok(reason) => CallState::Ended(reason),
        Err(err) => CallState::Failed(err.to_string()),
    };
    on_event(CallEvent::State(outcome.clone()));
    summary.outcome = outcome;
    summary
}

/// Resolves once hang-up is signalled (or the signal is gone).
async fn hung_up(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not `Send`).
    let _ = stopped.wait_for(|stop| *stop).await.is_ok();
}

/// Why a call ends when the user hangs up.
const HUNG_UP: &str = "hung up";

/// What ended one call.
enum CallEnd {
    /// The call is over for good (why).
    Done(String),
    /// The other peer left; with `stay`, wait for the next.
    PeerLeft,
    /// The other peer started over with a fresh offer: answer it.
    Restarted(PeerId, Signal),
}

/// Joins and runs calls until one ends the session. Returns the reason it ended.
async fn calls(
    options: &CallOptions,
    on_event: &mut (impl FnMut(CallEvent) + Send),
    summary: &mut Summary,
    mut stopped: watch::Receiver<bool>,
) -> Result<String, CallError> {
    // A missing camera, microphone or speaker is said before joining, not after the
    // other peer has answered.
    for device in [
        matches!(options.video, VideoInput::Camera(_))
            .then(|| open_video(&options.video, options.format).map(drop)),
        matches!(options.audio, AudioInput::Microphone(_))
            .then(|| open_audio(&options.audio).map(drop)),
        matches!(options.speaker, AudioOutput::Speaker(_))
            .then(|| open_speaker(&options.speaker).map(drop)),
    ]
    .into_iter()
    .flatten()
    {
        device?;
    }
    let mut config = SignalingConfig::new(options.server.clone(), options.room.clone());
    config.name = options.name.clone();
    let mut signaling = tokio::select! {
        connected = SignalingClient::connect(config) => connected?,
        () = hung_up(&mut stopped) => return Ok(HUNG_UP.into()),
    };
    let mut joined = loop {
        match signaling.next_event().await {
            Some(SignalingEvent::Joined(joined)) => break joined,
            Some(_) => continue,
            None => return Err(CallError::Closed),
        }
    };
    let mut backlog = Vec::new();
    let result = loop {
        let started = Instant::now();
        let peer = build_peer(&PeerSetup {
            bind: options.bind.clone(),
            ice_servers: options.ice.servers(&joined.ice_servers),
            relay_only: options.ice.relay_only,
            bitrate: options.bitrate,
        })
        .await?;
        let Peer {
            pc,
            mut events,
            feedback,
        } = peer;
        let tracks = match LocalTracks::add(&pc, options).await {
            Ok(tracks) => tracks,
            Err(err) => {
                let _ = pc.close().await;
                break Err(err);
            }
        };
        let negotiated = tokio::select! {
            negotiated = negotiate(
                &pc,
                &mut events,
                &mut signaling,
                &joined,
                NegotiateOptions {
                    limit: options.connect_timeout,
                    relay_only: options.ice.relay_only,
                    backlog: std::mem::take(&mut backlog),
                },
                |progress| {
                    on_event(CallEvent::State(match progress {
                        Progress::Waiting => CallState::Waiting,
                        Progress::Connecting => CallState::Connecting,
                    }))
                },
            ) => negotiated,
            () = hung_up(&mut stopped) => {
                let _ = pc.close().await;
                break Ok(HUNG_UP.into());
            }
        };
        let connected = match negotiated {
            Ok(Negotiated::Connected(connected)) => connected,
            Ok(Negotiated::Restart(rejoined)) => {
                let _ = pc.close().await;
                if let Some(rejoined) = rejoined {
                    joined = rejoined;
                } else {
                    joined.peers.clear();
                }
                continue;
            }
            Err(err) => {
                let _ = pc.close().await;
                break Err(err);
            }
        };
        summary.connected = true;
        summary.calls += 1;
        summary.connect_ms = Some(started.elapsed().as_millis() as u64);
        on_event(CallEvent::State(CallState::Connected));
        let first_frame = Arc::new(OnceLock::new());
        let media = MediaCall {
            options,
            pc: &pc,
            feedback,
            tracks,
            rtt: Arc::new(PathRtt::default()),
            first_frame: Arc::clone(&first_frame),
        };
        let end = media
            .run(
                connected,
                (&mut events, &mut signaling, &mut stopped),
                on_event,
                summary,
            )
            .await;
        summary.first_frame_ms = first_frame
            .get()
            .map(|at: &Instant| at.saturating_duration_since(started).as_millis() as u64);
        let _ = pc.close().await;
        match end {
            Ok(CallEnd::PeerLeft) if options.stay => {
                on_event(CallEvent::State(CallState::Ended(
                    "the other peer left".into(),
                )));
                joined.peers.clear();
            }
            Ok(CallEnd::PeerLeft) => break Ok("the other peer left".into()),
            Ok(CallEnd::Restarted(from, offer)) => {
                on_event(CallEvent::State(CallState::Ended(
                    "the other peer started a new call".into(),
                )));
                joined.peers.clear();
                backlog.push((from, offer));
            }
            Ok(CallEnd::Done(reason)) => break Ok(reason),
            Err(err) => break Err(err),
        }
    };
    signaling.close().await;
    result
}

/// A local track: the track, its sender, its SSRC.
type LocalTrack = (Arc<TrackLocalStaticSample>, Arc<dyn RtpSender>, u32);

/// Our local tracks, added to a peer connection.
struct LocalTracks {
    video: Option<LocalTrack>,
    audio: Option<LocalTrack>,
}

impl LocalTracks {
    async fn add(pc: &Arc<dyn PeerConnection>, options: &CallOptions) -> Result<Self, CallError> {
        let ssrc = rand_ssrc();
        let stream = format!("peercall-{ssrc:x}");
        let mut tracks = LocalTracks {
            video: None,
            audio: None,
        };
        for (kind, wanted, ssrc) in [
            (RtpCodecKind::Video, options.video != VideoInput::None, ssrc),
            (
                RtpCodecKind::Audio,
                options.audio != AudioInput::None,
                ssrc.wrapping_add(1),
            ),
        ] {
            if !wanted {
                // Still receive what the other side sends.
                pc.add_transceiver_from_kind(kind, None)
                    .await
                    .map_err(CallError::webrtc)?;
                continue;
            }
            let track = local_track(&stream, kind, ssrc)?;
            let sender = pc
                .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
                .await
                .map_err(CallError::webrtc)?;
            let slot = Some((track, sender, ssrc));
            if kind == RtpCodecKind::Video {
                tracks.video = slot;
            } else {
                tracks.audio = slot;
            }
        }
        Ok(tracks)
    }
}

/// Opens the video source `input` names, in `format` (the nearest the camera has);
/// the test pattern for [`VideoInput::Test`] (and `None`).
pub fn open_video(
    input: &VideoInput,
    format: VideoFormat,
) -> Result<Box<dyn VideoSource>, CallError> {
    Ok(match input {
        VideoInput::Camera(index) => Box::new(media::camera::Camera::open(*index, format)?),
        _ => Box::new(TestPattern::new(format)),
    })
}

/// Opens the audio source `input` names; the test tone for [`AudioInput::Test`].
pub fn open_audio(input: &AudioInput) -> Result<Box<dyn AudioSource>, CallError> {
    Ok(match input {
        AudioInput::Microphone(id) => Box::new(media::audio::Microphone::open(id.as_deref())?),
        _ => Box::new(TestTone::new()),
    })
}

/// Opens the playout `output` names.
pub fn open_speaker(output: &AudioOutput) -> Result<Box<dyn AudioSink>, CallError> {
    Ok(match output {
        AudioOutput::Speaker(id) => Box::new(media::audio::Speaker::open(id.as_deref())?),
        AudioOutput::Null => Box::new(media::audio::NullSink::default()),
    })
}

/// What the receive side has measured from the test sources.
#[derive(Debug, Default)]
struct Measured {
    latencies: Vec<f64>,
    last_frame: Option<u32>,
    out_of_order: u64,
    marks: u64,
}

/// One connected call's media.
struct MediaCall<'a> {
    options: &'a CallOptions,
    pc: &'a Arc<dyn PeerConnection>,
    feedback: Arc<Feedback>,
    tracks: LocalTracks,
    rtt: Arc<PathRtt>,
    /// When the first remote picture was decoded.
    first_frame: Arc<OnceLock<Instant>>,
}

impl MediaCall<'_> {
    async fn run(
        self,
        connected: Connected,
        (events, signaling, stopped): (
            &mut tokio::sync::mpsc::Receiver<PeerEvent>,
            &mut SignalingClient,
            &mut watch::Receiver<bool>,
        ),
        on_event: &mut (impl FnMut(CallEvent) + Send),
        summary: &mut Summary,
    ) -> Result<CallEnd, CallError> {
        let options = self.options;
        let switches = &options.switches;
        let video_control = Arc::new(VideoControl::default());
        let audio_control = Arc::new(AudioControl::default());
        // However this ends (an error included), the capture threads stop.
        let _stop = StopOnDrop(Arc::clone(&video_control), Arc::clone(&audio_control));
        let (video_out, audio_out) = (
            Arc::new(VideoCounters::default()),
            Arc::new(AudioCounters::default()),
        );
        let (video_in, audio_in) = (
            Arc::new(VideoCounters::default()),
            Arc::new(AudioCounters::default()),
        );
        let mut senders = Vec::new();
        if let Some((track, sender, ssrc)) = &self.tracks.video {
            let payload_type = negotiated_payload_type(sender).await?;
            senders.push(tokio::spawn(send_video(
                Box::new(switches.video.wrap(match switches.video.take_pending() {
                    Some(parked) => parked,
                    None => open_video(&options.video, options.format)?,
                })),
                Arc::clone(track),
                VideoSend {
                    ssrc: *ssrc,
                    payload_type,
                    bitrate_bps: options.bitrate.start.min(options.bitrate.max),
                    frames: None,
                },
                Arc::clone(&video_control),
                Arc::clone(&video_out),
            )));
        }
        if let Some((track, sender, ssrc)) = &self.tracks.audio {
            let payload_type = negotiated_payload_type(sender).await?;
            senders.push(tokio::spawn(send_audio(
                Box::new(switches.audio.wrap(match switches.audio.take_pending() {
                    Some(parked) => parked,
                    None => open_audio(&options.audio)?,
                })),
                Arc::clone(track),
                (*ssrc, payload_type),
                AUDIO_BITRATE,
                None,
                Arc::clone(&audio_control),
                Arc::clone(&audio_out),
            )));
        }

        let measured = Arc::new(Mutex::new(Measured::default()));
        let mut receivers = Vec::new();
        let mut pending = connected.tracks;
        let mut remote = Some(connected.remote);
        let mut adaptation = Adaptation::new(
            options.format,
            options.bitrate.min,
            options.bitrate.max,
            AUDIO_WIRE_BITRATE,
        );
        let mut rates = Rates::default();
        let call_start = Instant::now();
        let deadline = options.duration.map(|d| call_start + d);
        let mut next_tick = call_start + Duration::from_secs(1);
        let mut t = 0;
        let mut state = CallState::Connected;
        let mut signaling_up = true;
        let end = loop {
            for track in pending.drain(..) {
                receivers.push(self.receive(track, &video_in, &audio_in, &measured).await?);
            }
            let until = deadline.map_or(next_tick, |d| d.min(next_tick));
            tokio::select! {
                () = tokio::time::sleep_until(until.into()) => {
                    if Instant::now() < next_tick {
                        break CallEnd::Done("the set duration passed".into());
                    }
                    t += 1;
                    next_tick += Duration::from_secs(1);
                    let mut line = self.stats_line(&StatsInputs {
                        video_out: &video_out,
                        video_in: &video_in,
                        audio_out: &audio_out,
                        audio_in: &audio_in,
                        measured: &measured,
                    }, &mut rates).await;
                    let now_ms = call_start.elapsed().as_millis() as u64;
                    self.adapt(&mut adaptation, now_ms, &mut line, &video_control, &audio_control);
                    line.t = t;
                    line.state = state.name().into();
                    line.signaling = signaling_up;
                    summary.last = Some(line.clone());
                    on_event(CallEvent::Stats(Box::new(line)));
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break CallEnd::Done("the set duration passed".into());
                    }
                }
                () = hung_up(stopped) => break CallEnd::Done(HUNG_UP.into()),
                event = events.recv() => match event {
                    Some(PeerEvent::Track(track)) => pending.push(track),
                    Some(PeerEvent::State(RTCPeerConnectionState::Failed)) => {
                        return Err(CallError::ConnectionLost);
                    }
                    Some(PeerEvent::State(RTCPeerConnectionState::Disconnected)) => {
                        state = CallState::Reconnecting;
                        on_event(CallEvent::State(state.clone()));
                    }
                    Some(PeerEvent::State(RTCPeerConnectionState::Connected)) if state != CallState::Connected => {
                        state = CallState::Connected;
                        on_event(CallEvent::State(state.clone()));
                    }
                    Some(_) => {}
                    None => return Err(CallError::Closed),
                },
                event = signaling.next_event() => match event {
                    Some(SignalingEvent::PeerLeft { id }) if remote.as_ref().is_none_or(|r| *r == id) => {
                        break CallEnd::PeerLeft;
                    }
                    Some(SignalingEvent::Joined(Joined { peers, .. })) => {
                        // Back after an outage, with new ids: whoever is there is the
                        // other peer.
                        signaling_up = true;
                        remote = (peers.len() == 1).then(|| peers[0].id.clone());
                    }
                    Some(SignalingEvent::PeerJoined { id, .. }) if remote.is_none() => remote = Some(id),
                    Some(SignalingEvent::Disconnected { .. }) => {
                        signaling_up = false;
                        tracing::warn!("signaling connection lost; the call goes on");
                    }
                    Some(SignalingEvent::Signal { from, signal: Signal::Offer(sdp) }) => {
                        break CallEnd::Restarted(from, Signal::Offer(sdp));
                    }
                    Some(SignalingEvent::Signal { signal: Signal::Candidate(Some(c)), .. }) => {
                        let _ = self.pc.add_ice_candidate(crate::peer::to_rtc(c)).await;
                    }
                    Some(other) => tracing::debug!(?other, "signaling event during the call"),
                    None => return Err(CallError::Closed),
                },
            }
        };
        video_control.stop();
        audio_control.stop();
        for sender in senders {
            let _ = sender.await;
        }
        let _ = self.pc.close().await;
        for receiver in receivers {
            let _ = receiver.await;
        }
        Ok(end)
    }

    /// The loss the remote last reported for our stream in `slot` (0..=1; 0 before
    /// any report, or without the stream).
    fn reported_loss(&self, slot: &Option<LocalTrack>) -> f64 {
        slot.as_ref()
            .and_then(|(_, _, ssrc)| self.feedback.report(*ssrc))
            .map_or(0.0, |r| r.fraction_lost)
    }

    /// Turns the congestion estimate, the receiver's loss reports and the round-trip
    /// time into the encoders' settings, and notes them in `line`.
    fn adapt(
        &self,
        adaptation: &mut Adaptation,
        now_ms: u64,
        line: &mut StatsLine,
        video: &VideoControl,
        audio: &AudioControl,
    ) {
        let loss = |slot| self.reported_loss(slot);
        let rtt_ms = line.ice.rtt_ms.unwrap_or(0.0);
        self.rtt.set(Duration::from_secs_f64(rtt_ms / 1000.0));
        let decision = adaptation.update(
            now_ms,
            Signals {
                estimate_bps: self.feedback.estimate_bps(),
                loss: loss(&self.tracks.video),
                rtt_ms,
                sent_bps: line.video_out.kbps as f64 * 1000.0,
            },
        );
        video.set_bitrate(decision.video_bps);
        video.set_step(decision.step);
        // Opus FEC protects a lost packet with the next: say a bit more than what was
        // seen, so a lossy link gets the redundancy.
        let expected_loss = ((loss(&self.tracks.audio) * 100.0).ceil() as u8)
            .saturating_mul(2)
            .min(30);
        audio.set_expected_loss(expected_loss);
        line.video_out.target_kbps = u64::from(decision.video_bps) / 1000;
        line.audio_out.expected_loss_pct = expected_loss;
    }

    /// Starts receiving one remote track.
    async fn receive(
        &self,
        track: Arc<dyn TrackRemote>,
        video_in: &Arc<VideoCounters>,
        audio_in: &Arc<AudioCounters>,
        measured: &Arc<Mutex<Measured>>,
    ) -> Result<tokio::task::JoinHandle<Result<(), CallError>>, CallError> {
        let measured = Arc::clone(measured);
        if track.kind().await == RtpCodecKind::Video {
            let first_frame = Arc::clone(&self.first_frame);
            let remote_video = self.options.remote_video.clone();
            return Ok(tokio::spawn(receive_video(
                track,
                Duration::from_secs(3600),
                Arc::clone(video_in),
                Arc::clone(&self.rtt),
                move |picture| {
                    let _ = first_frame.set(Instant::now());
                    if let Some(sink) = &remote_video {
                        (sink.0)(&picture);
                    }
                    let Some(code) = read_code(&picture) else {
                        return;
                    };
                    let ms = now_us().saturating_sub(code.capture_us) as f64 / 1000.0;
                    if let Ok(mut m) = measured.lock() {
                        m.latencies.push(ms);
                        if m.last_frame.is_some_and(|prev| code.frame <= prev) {
                            m.out_of_order += 1;
                        }
                        m.last_frame = Some(code.frame);
                    }
                },
            )));
        }
        let sink = MarkCounter {
            detector: MarkDetector::new(),
            measured,
            inner: Box::new(self.options.switches.speaker.wrap(
                match self.options.switches.speaker.take_pending() {
                    Some(parked) => parked,
                    None => open_speaker(&self.options.speaker)?,
                },
            )),
        };
        Ok(tokio::spawn(receive_audio(
            track,
            1,
            Duration::from_secs(3600),
            Arc::clone(audio_in),
            Box::new(sink),
        )))
    }

    async fn stats_line(&self, inputs: &StatsInputs<'_>, rates: &mut Rates) -> StatsLine {
        let get = VideoCounters::get;
        let aget = AudioCounters::get;
        let (vo, vi, ao, ai) = (
            inputs.video_out,
            inputs.video_in,
            inputs.audio_out,
            inputs.audio_in,
        );
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let mut ice = IceStats::default();
        if let Some(transport) = report.transport() {
            ice.state = transport.ice_state.to_string();
            if let Some(webrtc::peer_connection::RTCStatsReportEntry::IceCandidatePair(pair)) =
                report.get(&transport.selected_candidate_pair_id)
            {
                ice.rtt_ms = Some((pair.current_round_trip_time * 10_000.0).round() / 10.0);
            }
        }
        if let Some(pair) = selected_pair(self.pc).await {
            ice.local = Some(pair.local().typ.to_string());
            ice.remote = Some(pair.remote().typ.to_string());
        }
        let (mut packets_lost, mut nacks) = (0, 0);
        for inbound in report.inbound_rtp_streams() {
            if inbound.received_rtp_stream_stats.rtp_stream_stats.kind == RtpCodecKind::Video {
                packets_lost += inbound.received_rtp_stream_stats.packets_lost;
                nacks += u64::from(inbound.nack_count);
            }
        }
        let loss = |slot| (self.reported_loss(slot) * 1000.0).round() / 10.0;
        let (latency, out_of_order, marks) = match inputs.measured.lock() {
            Ok(mut m) => (
                Latency::of(std::mem::take(&mut m.latencies)),
                m.out_of_order,
                m.marks,
            ),
            Err(_) => (None, 0, 0),
        };
        StatsLine {
            ice,
            video_out: VideoOut {
                fps: rates.delta("vo.frames", get(&vo.frames_sent)),
                width: get(&vo.width),
                height: get(&vo.height),
                kbps: rates.kbps("vo.bytes", get(&vo.bytes)),
                frames: get(&vo.frames_sent),
                keyframes: get(&vo.keyframes_sent),
                dropped: get(&vo.frames_dropped),
                keyframe_requests: get(&vo.keyframe_requests),
                nacked: self.feedback.nacked_packets(),
                loss_pct: loss(&self.tracks.video),
                estimate_kbps: (self.feedback.estimate_bps() / 1000.0) as u64,
                ..VideoOut::default()
            },
            video_in: VideoIn {
                fps: rates.delta("vi.frames", get(&vi.frames_decoded)),
                width: get(&vi.width),
                height: get(&vi.height),
                kbps: rates.kbps("vi.bytes", get(&vi.bytes)),
                decoded: get(&vi.frames_decoded),
                dropped: get(&vi.frames_dropped),
                lost_frames: get(&vi.frames_lost),
                decode_errors: get(&vi.decode_errors),
                packets_lost,
                nacks,
                renacked: get(&vi.nacks_again),
                keyframe_requests: get(&vi.keyframe_requests),
                freezes: get(&vi.freezes),
                longest_gap_ms: get(&vi.longest_gap_ms),
                jitter_buffer_ms: get(&vi.jitter_buffer_us) as f64 / 1000.0,
                latency_ms: latency,
                out_of_order,
            },
            audio_out: AudioOut {
                kbps: rates.kbps("ao.bytes", aget(&ao.bytes)),
                packets: aget(&ao.packets_sent),
                loss_pct: loss(&self.tracks.audio),
                ..AudioOut::default()
            },
            audio_in: AudioIn {
                kbps: rates.kbps("ai.bytes", aget(&ai.bytes)),
                packets: aget(&ai.packets_received),
                lost: aget(&ai.packets_lost),
                fec_recovered: aget(&ai.recovered_fec),
                concealed: aget(&ai.concealed),
                marks,
                energy: aget(&ai.energy_nano) as f64 / 1e9,
            },
            ..StatsLine::default()
        }
    }
}

/// Stops the senders' capture threads when dropped.
struct StopOnDrop(Arc<VideoControl>, Arc<AudioControl>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
        self.1.stop();
    }
}

/// The counters one statistics line is made from.
struct StatsInputs<'a> {
    video_out: &'a VideoCounters,
    video_in: &'a VideoCounters,
    audio_out: &'a AudioCounters,
    audio_in: &'a AudioCounters,
    measured: &'a Mutex<Measured>,
}

/// Counts the test tone's timing marks in what it plays, then plays it on.
struct MarkCounter {
    detector: MarkDetector,
    measured: Arc<Mutex<Measured>>,
    inner: Box<dyn AudioSink>,
}

impl AudioSink for MarkCounter {
    fn play(&mut self, frame: &media::AudioFrame) -> Result<(), media::MediaError> {
        let found = self.detector.push(&frame.samples).len() as u64;
        if let Ok(mut m) = self.measured.lock() {
            m.marks += found;
        }
        self.inner.play(frame)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_servers_from_flags_replace_the_welcome_ones() {
        let welcome = vec![IceServer {
            urls: vec!["stun:welcome:3478".into()],
            username: None,
            credential: None,
        }];
        assert_eq!(IceOptions::default().servers(&welcome), welcome);
        let ours = IceOptions {
            stun: vec!["stun:a:3478".into()],
            turn: Some(TurnServer {
                url: "turn:b:3478".into(),
                username: "u".into(),
                credential: "c".into(),
            }),
            relay_only: true,
        };
        let servers = ours.servers(&welcome);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:a:3478"]);
        assert_eq!(servers[1].username.as_deref(), Some("u"));
    }

    #[test]
    fn states_serialize_with_their_reason() {
        let failed = serde_json::to_value(CallState::Failed("room full".into())).expect("json");
        assert_eq!(
            failed,
            serde_json::json!({"state": "failed", "reason": "room full"})
        );
        let waiting = serde_json::to_value(CallState::Waiting).expect("json");
        assert_eq!(waiting, serde_json::json!({"state": "waiting"}));
    }
}
