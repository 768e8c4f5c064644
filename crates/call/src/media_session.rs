//! One connected call's media: the local tracks added to the peer connection, the send
//! and receive pipelines started on them, adaptation every second, the statistics line,
//! and the teardown that stops and joins every pipeline.
//!
//! The video codec: the video transceiver's codec preferences list H.264, VP8 and VP9
//! (each with its RTX) in our order of preference, so an offer says what we would like;
//! answering, we follow the offer's order unless a codec was asked for
//! ([`CallOptions::video_codec`]). The first codec of the answer is the one both sides
//! send. The local track must carry that codec before the description that completes
//! the negotiation is applied (webrtc binds its NACK/RTX/TWCC streams to it then), so
//! [`LocalTracks::before_answer`] and [`LocalTracks::before_applying_answer`] swap the
//! sender's track description for one with the chosen codec; the send pipeline
//! packetizes with that codec itself ([`send_video`]).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use media::AudioSink;
use media::apm::{ProcessedAudio, ProcessingStats};
use media::codec::VideoCodec;
use media::echo::{EchoTap, echo_reference};
use media::frame::now_us;
use media::pattern::read_code;
use media::tone::MarkDetector;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::transport::RTCIceCandidateType;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RtpCodecKind};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, StatsSelector};
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

use crate::CallError;
use crate::adapt::{AUDIO_PACKETS_PER_SECOND, AUDIO_RTP_HEADER_BYTES, Adaptation, Signals};
use crate::audio::{
    AudioControl, AudioReceiveCounters, AudioReceiveSnapshot, AudioSendCounters, AudioSendSnapshot,
    receive_audio, send_audio,
};
use crate::feedback::Feedback;
use crate::options::{AudioInput, CallOptions, VideoInput, open_audio, open_speaker, open_video};
use crate::peer::{
    local_track, negotiated_payload_type, negotiated_video_payload_type, selected_pair,
    video_codec, video_codec_preferences,
};
use crate::pipeline::SendParams;
use crate::sdp;
use crate::stats::{
    AudioIn, AudioOut, IceStats, Latency, Liveness, ProcessingLine, ScreenLine, StatsLine, VideoIn,
    VideoOut,
};
use crate::turn_stream::RelayRegistry;
use crate::verify;
use crate::video::{
    CodecInUse, PathRtt, ReceiveCodecs, VideoControl, VideoReceiveCounters, VideoReceiveSnapshot,
    VideoSendCounters, VideoSendSnapshot, receive_video, send_video, send_video_of,
};

/// Opus bitrate, bits per second.
const AUDIO_BITRATE: u32 = 32_000;
/// What audio takes of the rates the adaptation reads (the congestion estimate, what
/// the receiver gets, the link's rate): Opus plus 50 packets a second of RTP header
/// with its extensions. Those rates count RTP packets as they are marshalled, without
/// SRTP's tag or UDP and IP headers; counting audio with those (~70 bytes a packet)
/// took 20 kbit/s more from video than audio uses: behind 300 kbit/s, ~9% of what the
/// link left video.
const AUDIO_RTP_BITRATE: u32 =
    AUDIO_BITRATE + AUDIO_PACKETS_PER_SECOND * AUDIO_RTP_HEADER_BYTES * 8;

/// How long a remote track may stay silent before its receive pipeline gives up. A
/// track ends when the peer connection closes (every exit closes it), and a muted or
/// camera-off peer may send nothing for long: an hour is "until the call ends".
const RECEIVE_IDLE: Duration = Duration::from_secs(3600);

/// Channels the remote audio is decoded to: mono, whatever the sender encoded (Opus
/// downmixes), which is what the playout path and the tone's mark detector take.
const RECEIVE_CHANNELS: u16 = 1;

/// Opus FEC is told to expect this many times the loss last reported: it protects a
/// lost packet with the next one, so a link with some loss gets redundancy to spare.
const FEC_LOSS_FACTOR: u8 = 2;

/// The most loss Opus FEC is told to expect, percent: beyond it the redundancy costs
/// more of the bitrate than it saves.
const MAX_EXPECTED_LOSS_PCT: u8 = 30;

/// Every pipeline's counters at one moment: what rates are measured from.
#[derive(Debug, Clone, Copy)]
struct Snapshots {
    /// When they were taken.
    at: Instant,
    video_out: VideoSendSnapshot,
    video_in: VideoReceiveSnapshot,
    audio_out: AudioSendSnapshot,
    audio_in: AudioReceiveSnapshot,
}

/// A local track: the track, its sender, its SSRC.
type LocalTrack = (Arc<TrackLocalStaticSample>, Arc<dyn RtpSender>, u32);

/// The share of the congestion estimate a screen share gets while it runs; the camera
/// adapts within the rest.
const SCREEN_SHARE_OF_ESTIMATE: f64 = 0.6;

/// The least a screen share is given, bits per second: text stays readable at 5 fps.
const MIN_SCREEN_BITRATE: u32 = 300_000;

/// The most a screen share is given, bits per second (1080p at 15 fps of desktop
/// content needs less).
const MAX_SCREEN_BITRATE: u32 = 2_500_000;

/// Our screen share: its track (stream [`sdp::SCREEN_STREAM_ID`]), and its send
/// pipeline once the other peer has answered for it.
struct Share {
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    /// The capture, until its pipeline starts with it (behind a lock only so that the
    /// session may be shared across threads; only `&mut` reaches it).
    source: Mutex<Option<Box<dyn media::VideoSource>>>,
    /// Whether its pipeline runs.
    started: bool,
    control: Arc<VideoControl>,
    counters: Arc<VideoSendCounters>,
    previous: (Instant, VideoSendSnapshot),
}

/// Our local tracks, added to a peer connection.
pub(crate) struct LocalTracks {
    video: Option<LocalTrack>,
    audio: Option<LocalTrack>,
    /// The video transceiver (sending or receive-only), whose codec order we set.
    video_transceiver: Option<Arc<dyn RtpTransceiver>>,
    /// The video codec the track carries now: after negotiation, the one sent.
    video_codec: VideoCodec,
    /// The codec asked for, if any.
    preferred: Option<VideoCodec>,
}

impl LocalTracks {
    /// Adds a track for each source the options name (a receive-only transceiver
    /// where there is none), with fresh random SSRCs, and puts the video codecs in our
    /// order of preference.
    pub(crate) async fn add(
        pc: &Arc<dyn PeerConnection>,
        options: &CallOptions,
    ) -> Result<Self, CallError> {
        let ssrc = random_ssrc();
        let stream = format!("peercall-{ssrc:x}");
        let first = options.video_codec.unwrap_or_default();
        let mut tracks = LocalTracks {
            video: None,
            audio: None,
            video_transceiver: None,
            video_codec: first,
            preferred: options.video_codec,
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
                let transceiver = pc
                    .add_transceiver_from_kind(kind, None)
                    .await
                    .map_err(CallError::webrtc)?;
                if kind == RtpCodecKind::Video {
                    tracks.video_transceiver = Some(transceiver);
                }
                continue;
            }
            let track = local_track(&stream, kind, ssrc, first)?;
            let sender = pc
                .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
                .await
                .map_err(CallError::webrtc)?;
            if kind == RtpCodecKind::Video {
                tracks.video_transceiver = transceiver_of(pc, &sender).await;
            }
            let slot = Some((track, sender, ssrc));
            if kind == RtpCodecKind::Video {
                tracks.video = slot;
            } else {
                tracks.audio = slot;
            }
        }
        // Adding a track narrows the transceiver's codecs to the track's own: list all.
        tracks.set_order(&VideoCodec::preferring(first)).await?;
        Ok(tracks)
    }

    /// The video codec the track carries (after negotiation, the one sent).
    pub(crate) fn video_codec(&self) -> VideoCodec {
        self.video_codec
    }

    /// Lists our video codecs in `order` (each with its RTX) in what we offer or answer.
    async fn set_order(&self, order: &[VideoCodec]) -> Result<(), CallError> {
        if let Some(transceiver) = &self.video_transceiver {
            transceiver
                .set_codec_preferences(video_codec_preferences(order))
                .await
                .map_err(CallError::webrtc)?;
        }
        Ok(())
    }

    /// Answering `offer` (already set as the remote description): picks the video codec
    /// (the one asked for if offered, else the offer's first of ours), puts it first in
    /// the answer (keeping the offer's payload types) and on the track.
    pub(crate) async fn before_answer(&mut self, offer: &str) -> Result<(), CallError> {
        let offered = sdp::video_codecs(offer);
        let Some(&first) = offered.first() else {
            return Ok(());
        };
        let chosen = self
            .preferred
            .filter(|c| offered.contains(c))
            .unwrap_or(first);
        if chosen != first
            && let Some(transceiver) = &self.video_transceiver
        {
            // The transceiver lists the offer's codecs with the offer's payload types
            // now: move the chosen one (and its RTX) to the front.
            let current = match &self.video {
                Some((_, sender, _)) => {
                    sender
                        .get_parameters()
                        .await
                        .map_err(CallError::webrtc)?
                        .rtp_parameters
                        .codecs
                }
                None => match transceiver.receiver().await.map_err(CallError::webrtc)? {
                    Some(receiver) => {
                        receiver
                            .get_parameters()
                            .await
                            .map_err(CallError::webrtc)?
                            .rtp_parameters
                            .codecs
                    }
                    None => Vec::new(),
                },
            };
            let reordered = put_first(current, chosen);
            if !reordered.is_empty() {
                transceiver
                    .set_codec_preferences(reordered)
                    .await
                    .map_err(CallError::webrtc)?;
            }
        }
        self.carry(chosen).await
    }

    /// Before applying `answer`: the track carries the answer's first video codec.
    pub(crate) async fn before_applying_answer(&mut self, answer: &str) -> Result<(), CallError> {
        match sdp::video_codecs(answer).first() {
            Some(&chosen) => self.carry(chosen).await,
            None => Ok(()),
        }
    }

    /// Gives the video sender a track description with `codec` (same ids and SSRCs).
    async fn carry(&mut self, codec: VideoCodec) -> Result<(), CallError> {
        if codec == self.video_codec {
            return Ok(());
        }
        tracing::debug!(from = %self.video_codec, to = %codec, "video codec negotiated");
        self.video_codec = codec;
        let Some((track, sender, _)) = &self.video else {
            return Ok(());
        };
        let current = track.track().await;
        let mut encodings = sender
            .get_parameters()
            .await
            .map_err(CallError::webrtc)?
            .encodings;
        for encoding in &mut encodings {
            encoding.codec = video_codec(codec);
        }
        let description = MediaStreamTrack::new(
            current.stream_id().clone(),
            current.track_id().clone(),
            current.label().clone(),
            RtpCodecKind::Video,
            encodings,
        );
        let replacement =
            TrackLocalStaticSample::new(Instant::now(), description).map_err(CallError::webrtc)?;
        sender
            .replace_track(Arc::new(replacement))
            .await
            .map_err(CallError::webrtc)
    }
}

/// `codecs` with the first of `chosen`'s entries and its RTX (`apt=` its payload type)
/// moved to the front, the rest in their order.
fn put_first(codecs: Vec<RTCRtpCodecParameters>, chosen: VideoCodec) -> Vec<RTCRtpCodecParameters> {
    let Some(pt) = codecs
        .iter()
        .find(|c| VideoCodec::from_sdp_name(&c.rtp_codec.mime_type) == Some(chosen))
        .map(|c| c.payload_type)
    else {
        return codecs;
    };
    let apt = format!("apt={pt}");
    let (front, rest): (Vec<_>, Vec<_>) = codecs
        .into_iter()
        .partition(|c| c.payload_type == pt || c.rtp_codec.sdp_fmtp_line == apt);
    front.into_iter().chain(rest).collect()
}

/// The transceiver `sender` belongs to.
async fn transceiver_of(
    pc: &Arc<dyn PeerConnection>,
    sender: &Arc<dyn RtpSender>,
) -> Option<Arc<dyn RtpTransceiver>> {
    for transceiver in pc.get_transceivers().await {
        if let Ok(Some(candidate)) = transceiver.sender().await
            && candidate.id() == sender.id()
        {
            return Some(transceiver);
        }
    }
    None
}

/// A session dropped without [`MediaSession::stop_and_join`] (its call was cancelled)
/// still stops its capture threads.
impl Drop for MediaSession {
    fn drop(&mut self) {
        self.video_control.stop();
        self.audio_control.stop();
        if let Some(share) = &self.share {
            share.control.stop();
        }
    }
}

/// What the receive side has measured from the test sources.
#[derive(Debug, Default)]
struct Measured {
    latencies: Vec<f64>,
    liveness: Liveness,
    last_frame: Option<u32>,
    out_of_order: u64,
    marks: u64,
}

/// One connected call's media: the pipelines running on the peer connection's tracks,
/// the counters they keep, and the adaptation that steers them.
///
/// Pipelines are added as they start; [`MediaSession::stop_and_join`] stops and joins
/// every one of them, whatever else failed on the way, so no media thread outlives the
/// call.
pub(crate) struct MediaSession {
    options: CallOptions,
    pc: Arc<dyn PeerConnection>,
    feedback: Arc<Feedback>,
    tracks: LocalTracks,
    /// How our relay candidates reach their TURN servers.
    relays: RelayRegistry,
    rtt: Arc<PathRtt>,
    /// When the first remote picture was decoded.
    first_frame: Arc<OnceLock<Instant>>,
    video_control: Arc<VideoControl>,
    audio_control: Arc<AudioControl>,
    video_out: Arc<VideoSendCounters>,
    video_in: Arc<VideoReceiveCounters>,
    /// The codec we send video in, once sending.
    video_out_codec: CodecInUse,
    /// The codec the remote video arrives in, once it does.
    video_in_codec: Arc<CodecInUse>,
    audio_out: Arc<AudioSendCounters>,
    audio_in: Arc<AudioReceiveCounters>,
    measured: Arc<Mutex<Measured>>,
    adaptation: Adaptation,
    /// Pictures held back so far at the last adaptation.
    held_before: u64,
    /// The counters at the last statistics line (at the start, all zero).
    previous: Snapshots,
    started: Instant,
    senders: Vec<Pipeline>,
    receivers: Vec<Pipeline>,
    /// Where the speaker hands what it plays, when echo cancellation runs.
    echo_tap: Option<EchoTap>,
    /// The microphone path's processing figures, once audio is sent.
    processing: Option<Arc<Mutex<ProcessingStats>>>,
    /// Our screen share, while it runs.
    share: Option<Share>,
    /// The other peer's screen share, as received.
    screen_in: Arc<VideoReceiveCounters>,
    /// `screen_in` at the last statistics line, and whether a share ever arrived.
    screen_previous: (Instant, VideoReceiveSnapshot),
    screen_received: bool,
}

/// A running pipeline's task.
type Pipeline = tokio::task::JoinHandle<Result<(), CallError>>;

impl MediaSession {
    /// A session on `pc` with no pipeline running yet.
    pub(crate) fn new(
        options: &CallOptions,
        pc: Arc<dyn PeerConnection>,
        feedback: Arc<Feedback>,
        tracks: LocalTracks,
        relays: RelayRegistry,
    ) -> Self {
        let started = Instant::now();
        let adaptation = Adaptation::new(
            options.format,
            options.bitrate.min,
            options.bitrate.max,
            AUDIO_RTP_BITRATE,
        )
        .starting_at(options.bitrate.start);
        let video_control = VideoControl::shrinking(Arc::clone(&feedback));
        video_control.set_step(adaptation.step());
        Self {
            adaptation,
            held_before: 0,
            options: options.clone(),
            pc,
            video_control: Arc::new(video_control),
            feedback,
            tracks,
            relays,
            rtt: Arc::new(PathRtt::default()),
            first_frame: Arc::new(OnceLock::new()),
            audio_control: Arc::new(AudioControl::default()),
            video_out: Arc::default(),
            video_in: Arc::default(),
            video_out_codec: CodecInUse::default(),
            video_in_codec: Arc::default(),
            audio_out: Arc::default(),
            audio_in: Arc::default(),
            measured: Arc::default(),
            previous: Snapshots {
                at: started,
                video_out: VideoSendSnapshot::default(),
                video_in: VideoReceiveSnapshot::default(),
                audio_out: AudioSendSnapshot::default(),
                audio_in: AudioReceiveSnapshot::default(),
            },
            started,
            senders: Vec::new(),
            receivers: Vec::new(),
            echo_tap: None,
            processing: None,
            share: None,
            screen_in: Arc::default(),
            screen_previous: (started, VideoReceiveSnapshot::default()),
            screen_received: false,
        }
    }

    /// Whether we share our screen.
    pub(crate) fn sharing(&self) -> bool {
        self.share.is_some()
    }

    /// Adds a screen-share track fed by `source` (its pipeline starts once the other
    /// peer has answered for it: see [`MediaSession::negotiated`]). The caller then
    /// renegotiates.
    pub(crate) async fn start_share(
        &mut self,
        source: Box<dyn media::VideoSource>,
    ) -> Result<(), CallError> {
        if self.share.is_some() {
            return Ok(());
        }
        let ssrc = random_ssrc();
        let codec = self.tracks.video_codec();
        let track = local_track(sdp::SCREEN_STREAM_ID, RtpCodecKind::Video, ssrc, codec)?;
        let sender = self
            .pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(CallError::webrtc)?;
        if let Some(transceiver) = transceiver_of(&self.pc, &sender).await {
            transceiver
                .set_codec_preferences(video_codec_preferences(&VideoCodec::preferring(codec)))
                .await
                .map_err(CallError::webrtc)?;
        }
        self.share = Some(Share {
            track,
            sender,
            ssrc,
            source: Mutex::new(Some(source)),
            started: false,
            control: Arc::new(VideoControl::new(Arc::clone(&self.feedback))),
            counters: Arc::default(),
            previous: (Instant::now(), VideoSendSnapshot::default()),
        });
        Ok(())
    }

    /// Stops our screen share and takes its track off the connection (the caller then
    /// renegotiates); its pipeline is joined with the others at the end.
    pub(crate) async fn stop_share(&mut self) -> Result<(), CallError> {
        let Some(share) = self.share.take() else {
            return Ok(());
        };
        share.control.stop();
        self.pc
            .remove_track(&share.sender)
            .await
            .map_err(CallError::webrtc)
    }

    /// A negotiation completed: starts the screen share's pipeline once its section is
    /// negotiated to send, in the codec the answer put first for it.
    pub(crate) async fn negotiated(&mut self) -> Result<(), CallError> {
        let Some(share) = &mut self.share else {
            return Ok(());
        };
        if share.started {
            return Ok(());
        }
        let Some(transceiver) = transceiver_of(&self.pc, &share.sender).await else {
            return Ok(());
        };
        let direction = transceiver
            .current_direction()
            .await
            .map_err(CallError::webrtc)?;
        if !direction.has_send() {
            return Ok(());
        }
        let parameters = share
            .sender
            .get_parameters()
            .await
            .map_err(CallError::webrtc)?;
        let Some((codec, payload_type)) = parameters.rtp_parameters.codecs.iter().find_map(|c| {
            VideoCodec::from_sdp_name(&c.rtp_codec.mime_type).map(|codec| (codec, c.payload_type))
        }) else {
            return Err(CallError::webrtc(
                "the screen share has no negotiated codec",
            ));
        };
        let Some(source) = share
            .source
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Ok(());
        };
        share.started = true;
        tracing::info!(%codec, "screen share negotiated: sending");
        share.previous = (Instant::now(), share.counters.snapshot());
        let bitrate = (self.feedback.estimate_bps() * SCREEN_SHARE_OF_ESTIMATE) as u32;
        self.senders.push(tokio::spawn(send_video_of(
            media::h264::Content::Screen,
            source,
            Arc::clone(&share.track),
            SendParams {
                ssrc: share.ssrc,
                payload_type,
                bitrate_bps: bitrate.clamp(MIN_SCREEN_BITRATE, MAX_SCREEN_BITRATE),
                frames: None,
            },
            codec,
            Arc::clone(&share.control),
            Arc::clone(&share.counters),
        )));
        Ok(())
    }

    /// When the first remote picture was decoded, if one was.
    pub(crate) fn first_frame(&self) -> Option<Instant> {
        self.first_frame.get().copied()
    }

    /// Starts sending on our local tracks: the devices the options name (or the ones
    /// the UI parked in the switches).
    pub(crate) async fn start_senders(&mut self) -> Result<(), CallError> {
        let options = &self.options;
        let switches = &options.switches;
        if let Some((track, sender, ssrc)) = &self.tracks.video {
            let codec = self.tracks.video_codec();
            let payload_type = negotiated_video_payload_type(sender, codec).await?;
            self.video_out_codec.set(codec);
            let source = match switches.video.take_pending() {
                Some(parked) => parked,
                None => open_video(&options.video, options.format)?,
            };
            self.senders.push(tokio::spawn(send_video(
                Box::new(switches.video.wrap(source)),
                Arc::clone(track),
                SendParams {
                    ssrc: *ssrc,
                    payload_type,
                    bitrate_bps: self.adaptation.target_bps(),
                    frames: None,
                },
                codec,
                Arc::clone(&self.video_control),
                Arc::clone(&self.video_out),
            )));
        }
        if let Some((track, sender, ssrc)) = &self.tracks.audio {
            let payload_type = negotiated_payload_type(sender).await?;
            let source = match switches.audio.take_pending() {
                Some(parked) => parked,
                None => open_audio(&options.audio)?,
            };
            // Always behind its processing, so the UI can turn a stage on mid-call; with
            // none on, audio passes as it is.
            let processing = options.processing.resolve(&options.audio, &options.speaker);
            let (tap, reference) = echo_reference();
            self.echo_tap = Some(tap);
            let processed = ProcessedAudio::new(
                Box::new(switches.audio.wrap(source)),
                processing,
                Some(reference),
            )
            .with_switch(Arc::clone(&switches.processing));
            self.processing = Some(processed.stats());
            self.senders.push(tokio::spawn(send_audio(
                Box::new(processed),
                Arc::clone(track),
                SendParams {
                    ssrc: *ssrc,
                    payload_type,
                    bitrate_bps: AUDIO_BITRATE,
                    frames: None,
                },
                Arc::clone(&self.audio_control),
                Arc::clone(&self.audio_out),
            )));
        }
        Ok(())
    }

    /// One second has passed: the statistics line for it, with the encoders adapted
    /// to what the network allows.
    pub(crate) async fn tick(&mut self) -> StatsLine {
        let mut line = self.stats_line().await;
        let now_ms = self.started.elapsed().as_millis() as u64;
        self.adapt(now_ms, &mut line);
        line
    }

    /// Stops every pipeline and waits for each to finish; the peer connection is
    /// closed between the senders and the receivers, so the receivers' tracks end.
    pub(crate) async fn stop_and_join(mut self) {
        self.video_control.stop();
        self.audio_control.stop();
        if let Some(share) = &self.share {
            share.control.stop();
        }
        for sender in std::mem::take(&mut self.senders) {
            if let Ok(Err(err)) = sender.await {
                tracing::debug!(%err, "a send pipeline ended with an error");
            }
        }
        let _ = self.pc.close().await;
        for receiver in std::mem::take(&mut self.receivers) {
            if let Ok(Err(err)) = receiver.await {
                tracing::debug!(%err, "a receive pipeline ended with an error");
            }
        }
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
    fn adapt(&mut self, now_ms: u64, line: &mut StatsLine) {
        let (video_loss, audio_loss) = (
            self.reported_loss(&self.tracks.video),
            self.reported_loss(&self.tracks.audio),
        );
        let rtt_ms = line.ice.rtt_ms.unwrap_or(0.0);
        self.rtt.set(Duration::from_secs_f64(rtt_ms / 1000.0));
        let mut estimate_bps = self.feedback.estimate_bps();
        if let Some(share) = self.share.as_ref().filter(|s| s.started) {
            let screen = ((estimate_bps * SCREEN_SHARE_OF_ESTIMATE) as u32)
                .clamp(MIN_SCREEN_BITRATE, MAX_SCREEN_BITRATE);
            share.control.set_bitrate(screen);
            estimate_bps = (estimate_bps - f64::from(screen)).max(0.0);
        }
        let decision = self.adaptation.update(
            now_ms,
            Signals {
                estimate_bps,
                loss: video_loss,
                rtt_ms,
                sent_bps: line.video_out.kbps as f64 * 1000.0,
                queue_ms: self.feedback.queue_ms(),
                delivered_bps: self.feedback.delivered_bps(),
                link_bps: self.feedback.link_bps(),
                late_ms: self.feedback.late_ms(Instant::now()).unwrap_or(0.0),
                held: line.video_out.held > self.held_before,
            },
        );
        self.held_before = line.video_out.held;
        self.video_control.set_bitrate(decision.video_bps);
        self.video_control.set_step(decision.step);
        // Opus FEC protects a lost packet with the next: say a bit more than what was
        // seen, so a lossy link gets the redundancy.
        let expected_loss = ((audio_loss * 100.0).ceil() as u8)
            .saturating_mul(FEC_LOSS_FACTOR)
            .min(MAX_EXPECTED_LOSS_PCT);
        self.audio_control.set_expected_loss(expected_loss);
        self.audio_control
            .set_long_packets(decision.long_audio_packets);
        line.video_out.target_kbps = u64::from(decision.video_bps) / 1000;
        line.audio_out.expected_loss_pct = expected_loss;
    }

    /// Starts receiving one remote track.
    pub(crate) async fn receive(&mut self, track: Arc<dyn TrackRemote>) -> Result<(), CallError> {
        let pipeline = self.receive_pipeline(track).await?;
        self.receivers.push(pipeline);
        Ok(())
    }

    async fn receive_pipeline(&self, track: Arc<dyn TrackRemote>) -> Result<Pipeline, CallError> {
        let measured = Arc::clone(&self.measured);
        if track.kind().await == RtpCodecKind::Video && self.is_screen(&track).await {
            tracing::info!("the other peer's screen share arrived");
            let sink = self.options.remote_screen.clone();
            let codecs = ReceiveCodecs {
                payload_types: self.video_payload_types().await,
                in_use: Arc::new(CodecInUse::default()),
            };
            return Ok(tokio::spawn(receive_video(
                track,
                RECEIVE_IDLE,
                Arc::clone(&self.screen_in),
                Arc::clone(&self.rtt),
                codecs,
                move |picture| {
                    if let Some(sink) = &sink {
                        (sink.0)(&picture);
                    }
                },
            )));
        }
        if track.kind().await == RtpCodecKind::Video {
            let first_frame = Arc::clone(&self.first_frame);
            let remote_video = self.options.remote_video.clone();
            let codecs = ReceiveCodecs {
                payload_types: self.video_payload_types().await,
                in_use: Arc::clone(&self.video_in_codec),
            };
            return Ok(tokio::spawn(receive_video(
                track,
                RECEIVE_IDLE,
                Arc::clone(&self.video_in),
                Arc::clone(&self.rtt),
                codecs,
                move |picture| {
                    let _ = first_frame.set(Instant::now());
                    if let Some(sink) = &remote_video {
                        (sink.0)(&picture);
                    }
                    let Some(code) = read_code(&picture) else {
                        return;
                    };
                    let now = now_us();
                    let ms = now.saturating_sub(code.capture_us) as f64 / 1000.0;
                    if let Ok(mut m) = measured.lock() {
                        m.latencies.push(ms);
                        m.liveness.observe(now as f64 / 1000.0, ms);
                        if m.last_frame.is_some_and(|prev| code.frame <= prev) {
                            m.out_of_order += 1;
                        }
                        m.last_frame = Some(code.frame);
                    }
                },
            )));
        }
        let mut speaker = self.options.switches.speaker.wrap(
            match self.options.switches.speaker.take_pending() {
                Some(parked) => parked,
                None => open_speaker(&self.options.speaker)?,
            },
        );
        if let Some(tap) = &self.echo_tap {
            speaker.set_echo_tap(tap.clone());
        }
        let sink = MarkCounter {
            detector: MarkDetector::new(),
            measured,
            inner: Box::new(speaker),
        };
        Ok(tokio::spawn(receive_audio(
            track,
            RECEIVE_IDLE,
            Arc::clone(&self.audio_in),
            RECEIVE_CHANNELS,
            Box::new(sink),
        )))
    }

    /// Whether a remote video track is the other peer's screen share: our stream id for
    /// it, or the track of a video section after the first (a browser's).
    async fn is_screen(&self, track: &Arc<dyn TrackRemote>) -> bool {
        if track.stream_id().await.as_str() == sdp::SCREEN_STREAM_ID {
            return true;
        }
        let Some(remote) = self.pc.remote_description().await else {
            return false;
        };
        let id = track.track_id().await;
        sdp::screen_sections(&remote.sdp)
            .iter()
            .any(|(track, _)| track.as_deref() == Some(id.as_str()))
    }

    /// Which of our video codecs each payload type stands for: from our description
    /// first, then the remote's for payload types ours does not name.
    async fn video_payload_types(&self) -> Vec<(u8, VideoCodec)> {
        let mut types = Vec::new();
        for description in [
            self.pc.local_description().await,
            self.pc.remote_description().await,
        ]
        .into_iter()
        .flatten()
        {
            for (pt, codec) in sdp::video_payload_types(&description.sdp) {
                if !types.iter().any(|&(known, _)| known == pt) {
                    types.push((pt, codec));
                }
            }
        }
        types
    }

    /// Every pipeline's counters now.
    fn snapshots(&self) -> Snapshots {
        Snapshots {
            at: Instant::now(),
            video_out: self.video_out.snapshot(),
            video_in: self.video_in.snapshot(),
            audio_out: self.audio_out.snapshot(),
            audio_in: self.audio_in.snapshot(),
        }
    }

    async fn stats_line(&mut self) -> StatsLine {
        let now = self.snapshots();
        let before = std::mem::replace(&mut self.previous, now);
        let elapsed = now.at.saturating_duration_since(before.at);
        let (vo, vi, ao, ai) = (now.video_out, now.video_in, now.audio_out, now.audio_in);
        let vo_rates = vo.delta(&before.video_out, elapsed);
        let vi_rates = vi.delta(&before.video_in, elapsed);
        let ao_rates = ao.delta(&before.audio_out, elapsed);
        let ai_rates = ai.delta(&before.audio_in, elapsed);
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
        if let Some(pair) = selected_pair(&self.pc).await {
            let local = pair.local();
            ice.local = Some(local.typ.to_string());
            ice.remote = Some(pair.remote().typ.to_string());
            if local.typ == RTCIceCandidateType::Relay {
                ice.relay_protocol = self.relays.protocol_of(&local.address, local.port);
            }
        }
        let mut packets_lost = 0;
        for inbound in report.inbound_rtp_streams() {
            if inbound.received_rtp_stream_stats.rtp_stream_stats.kind == RtpCodecKind::Video {
                packets_lost += inbound.received_rtp_stream_stats.packets_lost;
            }
        }
        let loss = |slot| (self.reported_loss(slot) * 1000.0).round() / 10.0;
        let (latency, live_gap, out_of_order, marks) = match self.measured.lock() {
            Ok(mut m) => (
                Latency::of(std::mem::take(&mut m.latencies)),
                m.liveness.longest_gap_ms(),
                m.out_of_order,
                m.marks,
            ),
            Err(_) => (None, None, 0, 0),
        };
        let verification = match (
            self.pc.local_description().await,
            self.pc.remote_description().await,
        ) {
            (Some(local), Some(remote)) => verify::code(&local.sdp, &remote.sdp),
            _ => None,
        };
        StatsLine {
            verification,
            ice,
            video_out: VideoOut {
                fps: vo_rates.per_second,
                width: vo.width,
                height: vo.height,
                kbps: vo_rates.kbps,
                frames: vo.frames_sent,
                keyframes: vo.keyframes_sent,
                dropped: vo.frames_dropped,
                held: vo.frames_held,
                keyframe_requests: vo.keyframe_requests,
                nacked: self.feedback.nacked_packets(),
                loss_pct: loss(&self.tracks.video),
                estimate_kbps: (self.feedback.estimate_bps() / 1000.0) as u64,
                codec: self.video_out_codec.get().map(|c| c.sdp_name().to_owned()),
                ..VideoOut::default()
            },
            video_in: VideoIn {
                fps: vi_rates.per_second,
                width: vi.width,
                height: vi.height,
                kbps: vi_rates.kbps,
                decoded: vi.frames_decoded,
                dropped: vi.frames_dropped,
                lost_frames: vi.frames_lost,
                decode_errors: vi.decode_errors,
                packets_lost,
                nacks: vi.nacks,
                renacked: vi.nacks_again,
                keyframe_requests: vi.keyframe_requests,
                freezes: vi.freezes,
                freeze_ms: vi.freeze_ms,
                longest_gap_ms: vi.longest_gap_ms,
                longest_live_gap_ms: live_gap.map(|ms| ms.round() as u64),
                jitter_buffer_ms: vi.jitter_buffer_us as f64 / 1000.0,
                latency_ms: latency,
                codec: self.video_in_codec.get().map(|c| c.sdp_name().to_owned()),
                out_of_order,
            },
            audio_out: AudioOut {
                kbps: ao_rates.kbps,
                packets: ao.packets_sent,
                loss_pct: loss(&self.tracks.audio),
                processing: self.processing.as_ref().and_then(|stats| {
                    let stats = *stats.lock().unwrap_or_else(PoisonError::into_inner);
                    let stages = stats.stages;
                    stages.any().then_some(ProcessingLine {
                        aec: stages.echo_cancellation,
                        ns: stages.noise_suppression,
                        agc: stages.gain_control,
                        delay_ms: stats.delay_ms,
                        estimated_delay_ms: stats.estimated_delay_ms,
                        echo_suppression_db: stats
                            .echo_suppression_db
                            .map(|db| (db * 10.0).round() / 10.0),
                    })
                }),
                ..AudioOut::default()
            },
            audio_in: AudioIn {
                kbps: ai_rates.kbps,
                packets: ai.packets_received,
                lost: ai.packets_lost,
                fec_recovered: ai.recovered_fec,
                concealed: ai.concealed,
                marks,
                energy: ai.energy_nano as f64 / 1e9,
            },
            screen_out: self.share_line(),
            screen_in: self.screen_in_line(),
            ..StatsLine::default()
        }
    }

    /// Our share's second, while it runs.
    fn share_line(&mut self) -> Option<ScreenLine> {
        let share = self.share.as_mut()?;
        let now = (Instant::now(), share.counters.snapshot());
        let (at, before) = std::mem::replace(&mut share.previous, now);
        let rates = now.1.delta(&before, now.0.saturating_duration_since(at));
        Some(ScreenLine {
            fps: rates.per_second,
            width: now.1.width,
            height: now.1.height,
            kbps: rates.kbps,
            frames: now.1.frames_sent,
            keyframes: now.1.keyframes_sent,
        })
    }

    /// The other peer's share's second, once one has arrived.
    fn screen_in_line(&mut self) -> Option<ScreenLine> {
        let now = (Instant::now(), self.screen_in.snapshot());
        let (at, before) = std::mem::replace(&mut self.screen_previous, now);
        self.screen_received |= now.1.frames_decoded > 0;
        if !self.screen_received {
            return None;
        }
        let rates = now.1.delta(&before, now.0.saturating_duration_since(at));
        Some(ScreenLine {
            fps: rates.per_second,
            width: now.1.width,
            height: now.1.height,
            kbps: rates.kbps,
            frames: now.1.frames_decoded,
            keyframes: 0,
        })
    }
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

/// A random SSRC (even, so the next one up is free for the audio track).
fn random_ssrc() -> u32 {
    let mut bytes = [0; 4];
    // Without the system's randomness the clock's nanoseconds still make SSRCs that
    // differ between peers and runs.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            .to_le_bytes();
    }
    u32::from_le_bytes(bytes) & !1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

    fn codec(payload_type: u8, mime: &str, fmtp: &str) -> RTCRtpCodecParameters {
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.into(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: fmtp.into(),
                rtcp_feedback: vec![],
            },
            payload_type,
        }
    }

    #[test]
    fn the_chosen_codec_and_its_rtx_go_first_with_the_offers_payload_types() {
        let offered = vec![
            codec(120, "video/VP8", ""),
            codec(124, "video/rtx", "apt=120"),
            codec(121, "video/VP9", "profile-id=0"),
            codec(125, "video/rtx", "apt=121"),
        ];
        let types = |list: Vec<RTCRtpCodecParameters>| -> Vec<u8> {
            list.iter().map(|c| c.payload_type).collect()
        };
        assert_eq!(
            types(put_first(offered.clone(), VideoCodec::Vp9)),
            [121, 125, 120, 124]
        );
        assert_eq!(
            types(put_first(offered.clone(), VideoCodec::H264)),
            [120, 124, 121, 125]
        );
    }
}
