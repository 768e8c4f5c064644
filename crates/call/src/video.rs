//! Video send and receive pipelines over a webrtc 0.21 track: the two video
//! specialisations of the one pipeline shape ([`crate::pipeline`]).
//!
//! Sending: a [`VideoSource`] is read on a capture thread that feeds the encoder's
//! thread (H.264, VP8 or VP9, whichever was negotiated; never the async runtime);
//! encoded pictures cross the [`SendThread`] queue to the task that packetizes them with
//! that codec's payloader and writes the packets, whose RTP timestamps follow the
//! capture times exactly; keyframe requests (PLI/FIR) from the receiver
//! reach the encoder, paced; the first picture is an IDR. Counted in
//! [`VideoSendCounters`].
//! Receiving: RTP from the remote track is assembled into pictures of the codec its
//! payload type was negotiated for, decoded on a [`ReceiveThread`] and handed to a frame sink; a picture that cannot be decoded
//! triggers a rate-limited PLI, and packets still missing are NACKed again. Counted in
//! [`VideoReceiveCounters`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use media::VideoFrame;
use media::codec::{VideoCodec, VideoDecoder, VideoEncoder};
use media::h264::{AccessUnit, Content, Encoded, EncoderSettings};
use media::source::{VideoFormat, VideoSource};
use media::worker::{DecodeJob, EncoderJob, Worker, decoder_thread, encoder_thread};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};
use rtc::rtp::packetizer::Packetizer;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::CallError;
use crate::adapt::{LADDER, Pushback, Step, comfortable_bps};
use crate::feedback::Feedback;
use crate::jitter::{Assembled, AssemblerConfig, FrameAssembler, RtpIn};
use crate::keyframe::{
    ANSWER_INTERVAL, KeyframeRequestLimiter, REQUEST_INTERVAL, is_keyframe_request,
};
use crate::pipeline::{ReceiveThread, SendParams, SendThread, UnitSender, codec_error};
use crate::stats::{Rates, counters};

/// RTP clock rate of video.
pub const VIDEO_CLOCK: u64 = 90_000;

/// Largest RTP payload a picture is cut into (what webrtc's sample tracks use).
const RTP_MTU: usize = 1200;

/// The video codec a pipeline runs, for the statistics: set by the pipeline, read by
/// the statistics line.
#[derive(Debug, Default)]
pub struct CodecInUse(AtomicU8);

impl CodecInUse {
    /// Records `codec`.
    pub fn set(&self, codec: VideoCodec) {
        let index = VideoCodec::ALL
            .iter()
            .position(|&c| c == codec)
            .unwrap_or(0);
        self.0.store(index as u8 + 1, Ordering::Relaxed);
    }

    /// The codec recorded last, if any.
    pub fn get(&self) -> Option<VideoCodec> {
        let stored = self.0.load(Ordering::Relaxed);
        VideoCodec::ALL
            .get(usize::from(stored.checked_sub(1)?))
            .copied()
    }
}

/// A sample duration that the track turns into exactly `ticks` of `clock`: webrtc 0.21
/// truncates `duration * clock`, so round the duration up by less than one tick.
pub fn duration_for_ticks(ticks: u64, clock: u64) -> Duration {
    Duration::from_nanos((ticks * 1_000_000_000).div_ceil(clock))
}

/// Sample durations that keep RTP timestamps on the capture clock.
///
/// webrtc 0.21 stamps a sample with the sum of the durations written before it, so a
/// sample's duration sets the *next* sample's timestamp. The clock predicts the next
/// capture time one nominal interval ahead and corrects every step against the true
/// capture times, so timestamps never drift and are off by at most one interval's
/// deviation from nominal.
#[derive(Debug, Clone, Copy)]
pub struct TickClock {
    nominal: u64,
    first_us: Option<u64>,
    /// The timestamp (ticks since the first sample) the next sample will get.
    assigned: u64,
}

impl TickClock {
    /// A clock for a source running at about `fps`.
    pub fn new(fps: f32) -> Self {
        Self {
            nominal: (VIDEO_CLOCK as f64 / f64::from(fps.max(1.0))).round() as u64,
            first_us: None,
            assigned: 0,
        }
    }

    /// The duration, in ticks, to write with the sample captured at `capture_us`.
    pub fn ticks_for(&mut self, capture_us: u64) -> u64 {
        let first = *self.first_us.get_or_insert(capture_us);
        let target = capture_us.saturating_sub(first) * VIDEO_CLOCK / 1_000_000;
        let ticks = (target + self.nominal).saturating_sub(self.assigned).max(1);
        self.assigned += ticks;
        ticks
    }
}

counters! {
    /// What a video sender has done so far.
    pub struct VideoSendCounters;
    /// [`VideoSendCounters`] at one moment.
    pub struct VideoSendSnapshot {
        /// Pictures encoded and written to the track.
        frames_sent,
        /// Of those, keyframes.
        keyframes_sent,
        /// Pictures the encoder skipped or the queue dropped.
        frames_dropped,
        /// Pictures held back while transport feedback came late (a queue on the path).
        frames_held,
        /// Keyframe requests (PLI/FIR) received.
        keyframe_requests,
        /// Encoded bytes written.
        bytes,
        /// Width of the last picture given to the encoder.
        width,
        /// … its height.
        height,
    }
}

impl VideoSendSnapshot {
    /// Pictures and bitrate per second since `previous`, taken `elapsed` earlier.
    pub fn delta(&self, previous: &Self, elapsed: Duration) -> Rates {
        Rates::between(
            (previous.frames_sent, self.frames_sent),
            (previous.bytes, self.bytes),
            elapsed,
        )
    }
}

counters! {
    /// What a video receiver has done so far.
    pub struct VideoReceiveCounters;
    /// [`VideoReceiveCounters`] at one moment.
    pub struct VideoReceiveSnapshot {
        /// Pictures decoded.
        frames_decoded,
        /// Frames dropped (waiting for a keyframe, or the decoder queue full).
        frames_dropped,
        /// Keyframe requests (PLI) sent.
        keyframe_requests,
        /// Access units that failed to decode.
        decode_errors,
        /// Frames given up because packets never arrived.
        frames_lost,
        /// Gaps between decoded pictures longer than [`FREEZE_GAP`].
        freezes,
        /// Time spent in those gaps, ms (each freeze counted whole).
        freeze_ms,
        /// The longest gap between decoded pictures, ms.
        longest_gap_ms,
        /// The delay the jitter buffer adds now, µs.
        jitter_buffer_us,
        /// Packets asked for (NACK), the first time.
        nacks,
        /// Packets asked for a second time (their first retransmission did not come).
        nacks_again,
        /// Payload bytes received.
        bytes,
        /// Width of the last picture decoded.
        width,
        /// … its height.
        height,
    }
}

impl VideoReceiveCounters {
    fn record_gap(&self, gap: Duration) {
        if gap > FREEZE_GAP {
            self.freezes.bump();
            self.freeze_ms.add(gap.as_millis() as u64);
        }
        self.longest_gap_ms.raise_to(gap.as_millis() as u64);
    }
}

impl VideoReceiveSnapshot {
    /// Pictures decoded and bitrate per second since `previous`, taken `elapsed`
    /// earlier.
    pub fn delta(&self, previous: &Self, elapsed: Duration) -> Rates {
        Rates::between(
            (previous.frames_decoded, self.frames_decoded),
            (previous.bytes, self.bytes),
            elapsed,
        )
    }
}

/// Pictures waiting for the encoder: at most this many behind the one being encoded,
/// so a slow encoder drops pictures (counted) instead of falling behind the camera.
const ENCODER_QUEUE: usize = 2;

/// Access units waiting to be written to the track: writing is quick, and a few units
/// (a quarter second at 30 fps) ride out a busy moment of the runtime before the
/// encoder thread waits.
const UNIT_QUEUE: usize = 8;

/// Access units waiting for the decoder: half a second at 30 fps, room for a slow
/// keyframe decode; beyond it units are dropped and decoding restarts at a keyframe.
const DECODER_QUEUE: usize = 16;

/// Live controls of a video sender, shared by the call engine and the capture thread.
#[derive(Debug)]
pub struct VideoControl {
    keyframe: AtomicBool,
    stop: AtomicBool,
    bitrate_bps: AtomicU32,
    /// `scale << 8 | fps_divisor`, 0 for full size and rate.
    step: AtomicU32,
    /// The transport feedback the sender pushes back on when it comes late.
    feedback: Arc<Feedback>,
    /// Whether the sender steps a full-size picture down itself while feedback is late
    /// ([`crate::adapt::Push::shrink`]): a camera's, whose adaptation follows; not a
    /// screen share's, whose text must stay sharp.
    shrinks: bool,
}

impl VideoControl {
    /// Controls of a sender that holds pictures back, and lowers its bitrate, while
    /// `feedback` comes late ([`Pushback`]).
    pub fn new(feedback: Arc<Feedback>) -> Self {
        Self {
            keyframe: AtomicBool::default(),
            stop: AtomicBool::default(),
            bitrate_bps: AtomicU32::default(),
            step: AtomicU32::default(),
            feedback,
            shrinks: false,
        }
    }

    /// The same, for a sender that steps a full-size picture down itself while
    /// feedback is late, and lets a small one through now and then.
    pub fn shrinking(feedback: Arc<Feedback>) -> Self {
        Self {
            shrinks: true,
            ..Self::new(feedback)
        }
    }

    /// Makes the next picture a keyframe.
    pub fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Relaxed);
    }

    /// Stops the sender after the current picture.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Changes the encoder's target bitrate.
    pub fn set_bitrate(&self, bps: u32) {
        self.bitrate_bps.store(bps, Ordering::Relaxed);
    }

    /// Moves to a step of the adaptation ladder (size and rate divisors).
    pub fn set_step(&self, step: Step) {
        self.step
            .store(step.scale << 8 | step.fps_divisor, Ordering::Relaxed);
    }

    fn step(&self) -> Step {
        let packed = self.step.load(Ordering::Relaxed);
        Step {
            scale: (packed >> 8).max(1),
            fps_divisor: (packed & 0xff).max(1),
        }
    }
}

/// Sends `source` in `codec` on `track` until the source fails, the track closes,
/// `control` says stop, or `send.frames` pictures are taken. Returns when done.
///
/// Pictures are packetized here with `codec`'s payloader and written as RTP, whatever
/// codec the track was made with (the negotiation may have chosen another one after the
/// track was added; see [`crate::media_session`]).
pub async fn send_video(
    source: Box<dyn VideoSource>,
    track: Arc<TrackLocalStaticSample>,
    send: SendParams,
    codec: VideoCodec,
    control: Arc<VideoControl>,
    counters: Arc<VideoSendCounters>,
) -> Result<(), CallError> {
    send_video_of(
        Content::Camera,
        source,
        track,
        send,
        codec,
        control,
        counters,
    )
    .await
}

/// [`send_video`] for pictures of `content`: a screen share is coded in openh264's
/// screen-content mode, at the source's full size (the adaptation steps only the
/// camera's size and rate).
pub async fn send_video_of(
    content: Content,
    mut source: Box<dyn VideoSource>,
    track: Arc<TrackLocalStaticSample>,
    send: SendParams,
    codec: VideoCodec,
    control: Arc<VideoControl>,
    counters: Arc<VideoSendCounters>,
) -> Result<(), CallError> {
    let format = source.format();
    let settings = EncoderSettings {
        content,
        ..EncoderSettings::new(send.bitrate_bps, format.fps)
    };
    // H.264 frame skipping stays off: with it, openh264 drops pictures whenever the
    // target tightens (after every keyframe, under random loss), and the adaptation
    // ladder already lowers size and rate when the target is far below what they need.
    // libvpx's frame dropping is off for the same reason.
    let encoder =
        VideoEncoder::new(codec, format.width, format.height, settings).map_err(codec_error)?;
    let payloader = crate::peer::video_codec(codec)
        .payloader()
        .map_err(CallError::webrtc)?;
    let mut packetizer = rtc::rtp::packetizer::new_packetizer(
        Instant::now(),
        RTP_MTU,
        send.payload_type,
        send.ssrc,
        payloader,
        Box::new(rtc::rtp::sequence::new_random_sequencer()),
        VIDEO_CLOCK as u32,
    );
    // The capture thread owns the encoder's thread: when the source ends, the encoder
    // thread finishes and the queue closes behind the last picture. Controls reach it
    // through atomics, so the async side never holds (or joins) a codec thread.
    let capture = Capture {
        send,
        format,
        control: Arc::clone(&control),
        counters: Arc::clone(&counters),
    };
    let mut units = SendThread::spawn("video-capture", UNIT_QUEUE, |out| {
        let encoder = start_encoder(encoder, out, Arc::clone(&counters))?;
        Ok(move || capture.run(source.as_mut(), &encoder))
    })?;

    let mut clock = TickClock::new(format.fps);
    // Keyframes are big: answer requests at most every ANSWER_INTERVAL (a request in
    // between is answered when that time is up), so a lossy link is not flooded with them.
    let mut keyframes = KeyframeRequestLimiter::new(ANSWER_INTERVAL);
    let mut keyframe_pending = false;
    loop {
        if keyframe_pending && keyframes.allow(Instant::now()) {
            keyframe_pending = false;
            control.request_keyframe();
        }
        tokio::select! {
            unit = units.recv() => {
                let Some(au) = unit else { break };
                let ticks = clock.ticks_for(au.capture_us);
                let bytes = au.data.len() as u64;
                let packets = packetizer
                    .packetize(Instant::now(), &Bytes::from(au.data), ticks as u32)
                    .map_err(CallError::webrtc)?;
                for packet in packets {
                    track.write_rtp(packet).await.map_err(CallError::webrtc)?;
                }
                counters.frames_sent.bump();
                counters.bytes.add(bytes);
                if au.keyframe {
                    counters.keyframes_sent.bump();
                    // An IDR answers every request made before it. (It does not count
                    // against the limit: the first one, sent unasked, is often lost in
                    // webrtc's start-up, and the receiver's request must get through.)
                    keyframe_pending = false;
                }
            }
            event = track.poll() => {
                if let Some(TrackLocalEvent::OnRtcpPacket(packets)) = event
                    && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
                {
                    counters.keyframe_requests.bump();
                    keyframe_pending = true;
                }
            }
        }
    }
    units.join().await;
    Ok(())
}

/// Starts the encoder's thread; its access units go to `out`.
fn start_encoder(
    encoder: VideoEncoder,
    out: UnitSender<AccessUnit>,
    counters: Arc<VideoSendCounters>,
) -> Result<Worker<EncoderJob>, CallError> {
    encoder_thread(encoder, ENCODER_QUEUE, move |result| match result {
        Ok(Encoded::Frame(au)) => {
            if !out.send(au) {
                tracing::debug!("video send task gone");
            }
        }
        Ok(Encoded::Skipped { .. }) => counters.frames_dropped.bump(),
        Err(err) => tracing::warn!(%err, "encoding failed"),
    })
    .map_err(codec_error)
}

/// Block sizes the first pictures after a step down are coarsened to, one a picture
/// (see [`SoftStart`]).
const SOFT_START: [u32; 8] = [16, 16, 8, 8, 4, 4, 2, 2];

/// A step down while a queue stands starts softly: its first pictures are coarsened
/// ([`VideoFrame::coarsened`]), luma in squares of 16 pixels sharpening to 2 over
/// eight pictures (~270 ms at 30 fps), then sharp.
///
/// A smaller picture needs a keyframe, and behind a queue the link is slow: a sharp
/// keyframe of the 320x240 test pattern is 7.4 KB at openh264's coarsest first-keyframe
/// quantizer, 250 ms behind a 240 kbit/s link, and the picture froze for it. Coarse,
/// the keyframe is ~1.5–2 KB and each sharpening picture at most ~4 KB, so pictures
/// keep coming less than 200 ms apart; the detail costs about the same in all, spread
/// over the eight pictures. Not without a queue: small errors the coarse keyframe
/// leaves in still areas outlast the sharpening (later pictures at a coarse quantizer
/// skip them), and a link without a queue carries a sharp keyframe.
#[derive(Debug, Default)]
struct SoftStart {
    /// The last picture's [`Step::scale`] (none before the first).
    scale: Option<u32>,
    /// How many of [`SOFT_START`]'s pictures are still to come.
    left: usize,
}

impl SoftStart {
    /// The block size to coarsen the next picture, taken at `scale` while a queue stands
    /// (`queued`) or not, to (1: sharp).
    fn block(&mut self, scale: u32, queued: bool) -> u32 {
        if queued && self.scale.is_some_and(|last| scale > last) {
            self.left = SOFT_START.len();
        }
        self.scale = Some(scale);
        let block = match self.left {
            0 => 1,
            left => SOFT_START[SOFT_START.len() - left],
        };
        self.left = self.left.saturating_sub(1);
        block
    }
}

/// The capture thread of a video sender: takes pictures from the source, applies the
/// controls (size and rate step, bitrate, keyframe) and hands pictures to the encoder.
struct Capture {
    send: SendParams,
    format: VideoFormat,
    control: Arc<VideoControl>,
    counters: Arc<VideoSendCounters>,
}

impl Capture {
    /// Runs until the source fails, `send.frames` pictures are taken or the control
    /// says stop.
    fn run(self, source: &mut dyn VideoSource, encoder: &Worker<EncoderJob>) {
        let Capture {
            send,
            format,
            control,
            counters,
        } = self;
        let mut bitrate = send.bitrate_bps;
        let mut step = Step {
            scale: 1,
            fps_divisor: 1,
        };
        let mut n = 0u64;
        let (started, mut pushback) = (Instant::now(), Pushback::default());
        let mut soft = SoftStart::default();
        while send.frames.is_none_or(|max| n < max) && !control.stop.load(Ordering::Relaxed) {
            let picture = match source.next_frame() {
                Ok(picture) => picture,
                Err(err) => {
                    tracing::warn!(%err, "video source stopped");
                    break;
                }
            };
            n += 1;
            let wanted = control.step();
            if wanted != step {
                tracing::info!(?wanted, "video steps to a new size/rate");
                step = wanted;
                encoder.submit(EncoderJob::FrameRate(format.fps / step.fps_divisor as f32));
            }
            if n % u64::from(step.fps_divisor) != 0 {
                continue;
            }
            let late = control.feedback.late_ms(Instant::now());
            let full = !control.shrinks || step.scale == 1;
            let push = pushback.update(started.elapsed().as_millis() as u64, late, full);
            if push.shrink && control.shrinks {
                // The step the adaptation takes for the same lateness, a second later.
                step = LADDER[1];
                tracing::info!(?step, "video steps down at once: a queue stands");
                control.set_step(step);
            }
            if push.hold {
                counters.frames_held.bump();
                continue;
            }
            let target = f64::from(control.bitrate_bps.load(Ordering::Relaxed));
            let need = control.shrinks.then(|| comfortable_bps(format, step));
            let wanted = push.bitrate(target, need) as u32;
            if wanted != 0 && wanted != bitrate {
                bitrate = wanted;
                encoder.submit(EncoderJob::Bitrate(bitrate));
            }
            let picture = match step.scale {
                1 => picture,
                2 => picture.halved(),
                _ => picture.halved().halved(),
            };
            let picture = match soft.block(step.scale, push.queued) {
                1 => picture,
                block => picture.coarsened(block),
            };
            counters.width.set(u64::from(picture.width()));
            counters.height.set(u64::from(picture.height()));
            if control.keyframe.swap(false, Ordering::Relaxed) {
                encoder.submit(EncoderJob::Keyframe);
            }
            if !encoder.submit(EncoderJob::Encode(picture)) {
                counters.frames_dropped.bump();
            }
        }
    }
}

/// The least time a repair is given after its NACK, however short the round trip
/// measured: on loopback the RTT reads as zero, but a retransmission still takes the
/// stack's pacing and the receiving task's turn.
const MIN_REPAIR_TIME: Duration = Duration::from_millis(40);

/// What a retransmission is given beyond one round trip before it is asked for again:
/// the sender's turn to send it. Under 5% loss on a 40 ms round trip, retransmissions
/// came 36–50 ms after their ask, and the freezes left were repairs that took three
/// asks, each ms here counting twice in them.
const RENACK_MARGIN: Duration = Duration::from_millis(5);

/// The least wait for repairs: the default [`AssemblerConfig::max_wait_us`], two tries on
/// a short path.
const MIN_REPAIR_WAIT: Duration = Duration::from_millis(120);

/// The most a frame waits for repairs alone: beyond a second, a keyframe comes sooner
/// than a frozen picture thaws.
const MAX_REPAIR_WAIT: Duration = Duration::from_secs(1);

/// The round-trip time of the path, as the call engine last measured it: the
/// receiver waits for repairs in proportion to it.
#[derive(Debug, Default)]
pub struct PathRtt(AtomicU64);

impl PathRtt {
    /// Records a measurement.
    pub fn set(&self, rtt: Duration) {
        self.0.store(rtt.as_micros() as u64, Ordering::Relaxed);
    }

    /// How long after the last ask a still-missing packet is asked for again: its
    /// answer takes a round trip and [`RENACK_MARGIN`] (at least [`MIN_REPAIR_TIME`]).
    /// Asked any later, a lost retransmission (one loss in twenty at 5% loss) made the
    /// picture wait over 200 ms on a 40 ms round trip: a freeze, where Chromium asks
    /// again after about a round trip. Asked a little early, the cost is a duplicate
    /// packet now and then.
    pub fn renack_after(&self) -> Duration {
        (self.rtt() + RENACK_MARGIN).max(MIN_REPAIR_TIME)
    }

    /// [`PathRtt::renack_after`] in µs.
    fn renack_after_us(&self) -> u64 {
        self.renack_after().as_micros() as u64
    }

    /// How long a frame with a hole waits for repairs alone (two tries, the second with
    /// time to spare) before a keyframe is asked for as well; between
    /// [`MIN_REPAIR_WAIT`] and [`MAX_REPAIR_WAIT`].
    pub fn max_wait(&self) -> Duration {
        (self.renack_after() + self.rtt().mul_f64(2.5)).clamp(MIN_REPAIR_WAIT, MAX_REPAIR_WAIT)
    }

    fn rtt(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

/// A gap between decoded pictures longer than this is a freeze.
pub const FREEZE_GAP: Duration = Duration::from_millis(200);

/// What a video receiver knows of the negotiation: which of our codecs each payload
/// type stands for, and where to note the codec it receives.
#[derive(Debug, Clone, Default)]
pub struct ReceiveCodecs {
    /// Payload type → codec, from the session descriptions.
    pub payload_types: Vec<(u8, VideoCodec)>,
    /// Set to the codec of the packets arriving.
    pub in_use: Arc<CodecInUse>,
}

impl ReceiveCodecs {
    fn codec_of(&self, payload_type: u8) -> Option<VideoCodec> {
        self.payload_types
            .iter()
            .find(|(pt, _)| *pt == payload_type)
            .map(|&(_, codec)| codec)
    }
}

/// Receives video from `track` until it goes quiet for `idle`, handing every decoded
/// picture to `sink` (on the decoder thread).
///
/// Each packet's payload type says its codec (`codecs`); packets of a payload type that
/// is none of ours are dropped. Frames are assembled on the marker bit by a
/// [`FrameAssembler`] of that codec (a new codec starts a new one, waiting for a
/// keyframe); after a loss, or a picture that fails to decode, pictures are skipped
/// until the next keyframe and a keyframe request goes out (rate-limited, repeated until
/// one arrives).
pub async fn receive_video(
    track: Arc<dyn TrackRemote>,
    idle: Duration,
    counters: Arc<VideoReceiveCounters>,
    rtt: Arc<PathRtt>,
    codecs: ReceiveCodecs,
    mut sink: impl FnMut(VideoFrame) + Send + 'static,
) -> Result<(), CallError> {
    let (errors_tx, mut errors) = mpsc::unbounded_channel::<()>();
    let decoded = Arc::clone(&counters);
    let mut last_picture: Option<Instant> = None;
    let first_codec = codecs
        .payload_types
        .first()
        .map_or(VideoCodec::H264, |&(_, c)| c);
    let decoder = decoder_thread(
        VideoDecoder::new(first_codec).map_err(codec_error)?,
        DECODER_QUEUE,
        move |result| match result {
            Ok(Some(picture)) => {
                let now = Instant::now();
                if let Some(gap) = last_picture.map(|last| now - last) {
                    decoded.record_gap(gap);
                }
                last_picture = Some(now);
                decoded.frames_decoded.bump();
                decoded.width.set(u64::from(picture.width()));
                decoded.height.set(u64::from(picture.height()));
                sink(picture);
            }
            Ok(None) => {}
            Err(_) => {
                decoded.decode_errors.bump();
                let _ = errors_tx.send(());
            }
        },
    )
    .map(ReceiveThread::from)
    .map_err(codec_error)?;
    let epoch = Instant::now();
    let micros = |at: Instant| at.saturating_duration_since(epoch).as_micros() as u64;
    let mut assembler = FrameAssembler::new(first_codec, AssemblerConfig::default());
    let mut unknown_payload_types = 0u64;
    let mut pli = KeyframeRequestLimiter::new(REQUEST_INTERVAL);
    let mut media_ssrc = 0;
    // Decoding starts at a keyframe; a stream joined later asks for one at once.
    let mut need_keyframe = true;
    let mut idle_since = Instant::now();
    loop {
        let now_us = micros(Instant::now());
        let wake = [
            assembler.next_event_us(now_us),
            assembler.next_ask_us(rtt.renack_after_us()),
        ]
        .into_iter()
        .flatten()
        .min()
        .map_or(idle_since + idle, |us| epoch + Duration::from_micros(us));
        let mut request_keyframe = false;
        tokio::select! {
            event = track.poll() => {
                let Some(event) = event else { break };
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                idle_since = Instant::now();
                let Some(codec) = codecs.codec_of(packet.header.payload_type) else {
                    unknown_payload_types += 1;
                    if unknown_payload_types == 1 {
                        tracing::warn!(
                            payload_type = packet.header.payload_type,
                            "video of a payload type we did not negotiate: dropped"
                        );
                    }
                    continue;
                };
                if codecs.in_use.get() != Some(codec) {
                    tracing::info!(%codec, "receiving video");
                    codecs.in_use.set(codec);
                }
                if codec != assembler.codec() {
                    assembler = FrameAssembler::new(codec, AssemblerConfig::default());
                    need_keyframe = true;
                }
                media_ssrc = packet.header.ssrc;
                counters.bytes.add(packet.payload.len() as u64);
                assembler.push(micros(idle_since), RtpIn {
                    seq: packet.header.sequence_number,
                    timestamp: packet.header.timestamp,
                    marker: packet.header.marker,
                    payload: packet.payload,
                });
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if idle_since.elapsed() >= idle {
                    break;
                }
            }
            Some(()) = errors.recv() => {
                need_keyframe = true;
                request_keyframe = true;
            }
        }
        while let Some(out) = assembler.pop(micros(Instant::now())) {
            match out {
                Assembled::Frame { data, keyframe, .. } => {
                    if need_keyframe && !keyframe {
                        counters.frames_dropped.bump();
                        request_keyframe = true;
                        continue;
                    }
                    need_keyframe = false;
                    request_keyframe &= !keyframe;
                    if !decoder.submit(DecodeJob {
                        codec: assembler.codec(),
                        data,
                        capture_us: 0,
                        keyframe,
                    }) {
                        counters.frames_dropped.bump();
                        need_keyframe = true;
                    }
                }
                Assembled::Lost => {
                    counters.frames_lost.bump();
                    need_keyframe = true;
                    request_keyframe = true;
                }
            }
        }
        // A hole waited for long enough: a keyframe may come sooner than its repair.
        request_keyframe |= assembler.stalled(micros(Instant::now()));
        // Ask for a lost packet once a later one shows the hole, and again a while
        // later while it stays missing (its retransmission was lost too); and for the
        // packets after the newest while the stream is silent (a burst of loss).
        assembler.set_max_wait_us(rtt.max_wait().as_micros() as u64);
        let asks = assembler.overdue(micros(Instant::now()), rtt.renack_after_us());
        if !asks.seqs.is_empty() && media_ssrc != 0 {
            // (Packets after the newest, asked for in a silence, are not known missing.)
            counters
                .nacks
                .add((asks.seqs.len() - asks.again - asks.ahead) as u64);
            counters.nacks_again.add(asks.again as u64);
            let nack = TransportLayerNack {
                sender_ssrc: 0,
                media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(&asks.seqs),
            };
            track
                .write_rtcp(vec![Box::new(nack)])
                .await
                .map_err(CallError::webrtc)?;
        }
        counters.jitter_buffer_us.set(assembler.delay_us());
        // Behind a queue a keyframe takes longer to come: ask less often.
        pli.set_interval(REQUEST_INTERVAL + Duration::from_micros(2 * assembler.queue_delay_us()));
        if request_keyframe && media_ssrc != 0 && pli.allow(Instant::now()) {
            counters.keyframe_requests.bump();
            let request = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            track
                .write_rtcp(vec![Box::new(request)])
                .await
                .map_err(CallError::webrtc)?;
        }
    }
    decoder.join().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest gap between pictures arriving over a `link_bps` link when the
    /// 640x480 test pattern steps down to 320x240 at `target_bps` (after a second at
    /// full size), each picture sent whole once captured and the link free: ms.
    fn longest_gap_after_a_step_down(soft: bool, target_bps: u32, link_bps: f64) -> f64 {
        use media::h264::H264Encoder;
        use media::pattern::PatternGenerator;
        let g = PatternGenerator::new(640, 480);
        let mut encoder =
            H264Encoder::new(640, 480, EncoderSettings::new(1_500_000, 30.0)).unwrap();
        for n in 0..30 {
            encoder.encode(&g.frame(n, 0)).unwrap();
        }
        encoder.set_bitrate(target_bps).unwrap();
        let mut start = SoftStart::default();
        start.block(1, true);
        let (mut sent, mut last, mut longest) = (0.0f64, -1.0 / 30.0, 0.0f64);
        for n in 0..60u32 {
            let picture = g.frame(30 + n, 0).halved();
            let block = start.block(2, true);
            let picture = if soft {
                picture.coarsened(block)
            } else {
                picture
            };
            let Encoded::Frame(au) = encoder.encode(&picture).unwrap() else {
                panic!("picture {n} skipped");
            };
            let captured = f64::from(n) / 30.0;
            sent = sent.max(captured) + au.data.len() as f64 * 8.0 / link_bps;
            longest = longest.max(sent - last);
            last = sent;
        }
        longest * 1000.0
    }

    #[test]
    fn a_step_down_starting_softly_crosses_a_slow_link_without_a_freeze() {
        let freeze = FREEZE_GAP.as_secs_f64() * 1000.0;
        for (target, link) in [(200_000, 240_000.0), (100_000, 160_000.0)] {
            let sharp = longest_gap_after_a_step_down(false, target, link);
            let soft = longest_gap_after_a_step_down(true, target, link);
            assert!(
                sharp > freeze,
                "{target}: a sharp keyframe froze for only {sharp:.0} ms"
            );
            assert!(soft < freeze, "{target}: soft start froze for {soft:.0} ms");
        }
    }

    #[test]
    fn only_a_step_down_behind_a_queue_starts_softly() {
        // The first picture is sharp, at any size.
        assert_eq!(SoftStart::default().block(2, true), 1);
        let mut start = SoftStart::default();
        assert_eq!(start.block(1, true), 1);
        assert_eq!(start.block(2, true), 16);
        let rest: Vec<u32> = (0..8).map(|_| start.block(2, true)).collect();
        assert_eq!(rest, [16, 8, 8, 4, 4, 2, 2, 1]);
        // A step up is sharp at once; the next step down starts again.
        assert_eq!(start.block(1, true), 1);
        assert_eq!(start.block(4, true), 16);
        assert_eq!(start.block(4, false), 16);
        assert_eq!(start.block(4, false), 8);
        // A step down without a queue is sharp.
        let mut start = SoftStart::default();
        assert_eq!(start.block(1, false), 1);
        assert_eq!(start.block(2, false), 1);
        assert_eq!(start.block(2, true), 1);
    }

    #[test]
    fn send_and_receive_snapshots_give_their_own_rates() {
        let sent = VideoSendCounters::default();
        let before = sent.snapshot();
        for _ in 0..30 {
            sent.frames_sent.bump();
            sent.bytes.add(1_000);
        }
        sent.width.set(640);
        let now = sent.snapshot();
        assert_eq!((now.frames_sent, now.bytes, now.width), (30, 30_000, 640));
        assert_eq!(
            now.delta(&before, Duration::from_secs(1)),
            Rates {
                per_second: 30,
                kbps: 240
            }
        );

        let received = VideoReceiveCounters::default();
        received.frames_decoded.add(15);
        received.bytes.add(62_500);
        let rates = received
            .snapshot()
            .delta(&VideoReceiveSnapshot::default(), Duration::from_millis(500));
        assert_eq!((rates.per_second, rates.kbps), (30, 1_000));
    }

    #[test]
    fn gaps_over_the_freeze_gap_are_freezes_and_the_longest_is_kept() {
        let c = VideoReceiveCounters::default();
        c.record_gap(Duration::from_millis(33));
        c.record_gap(Duration::from_millis(450));
        c.record_gap(FREEZE_GAP);
        c.record_gap(Duration::from_millis(210));
        let s = c.snapshot();
        assert_eq!((s.freezes, s.longest_gap_ms), (2, 450));
        assert_eq!(s.freeze_ms, 660, "the two freezes, whole");
    }

    #[test]
    fn repair_waits_follow_the_round_trip() {
        let rtt = PathRtt::default();
        assert_eq!(rtt.renack_after(), Duration::from_millis(40));
        assert_eq!(rtt.max_wait(), Duration::from_millis(120));
        // On a 40 ms round trip a packet is asked for when the hole shows, a lost
        // retransmission again 45 ms later, and again 45 ms after that: the third try
        // is in ~130 ms after the hole, inside a 200 ms gap.
        rtt.set(Duration::from_millis(40));
        assert_eq!(rtt.renack_after(), Duration::from_millis(45));
        assert!(rtt.renack_after() * 2 + Duration::from_millis(40) < Duration::from_millis(140));
        assert_eq!(rtt.max_wait(), Duration::from_millis(145));
        rtt.set(Duration::from_millis(500));
        assert_eq!(rtt.renack_after(), Duration::from_millis(505));
        assert_eq!(rtt.max_wait(), Duration::from_secs(1));
    }

    #[test]
    fn a_duration_for_ticks_truncates_back_to_exactly_those_ticks() {
        for ticks in [1u64, 2999, 3000, 3001, 1500, 90_000, 123_456] {
            let d = duration_for_ticks(ticks, VIDEO_CLOCK);
            assert_eq!(
                (d.as_secs_f64() * VIDEO_CLOCK as f64) as u64,
                ticks,
                "{ticks}"
            );
        }
    }

    #[test]
    fn timestamps_follow_capture_times_without_drift() {
        // Ten minutes at 30 fps and at 29.97 fps (a camera's NTSC rate), with ±2 ms jitter.
        for fps in [30.0f64, 29.97] {
            check_clock(fps);
        }
    }

    fn check_clock(fps: f64) {
        let mut clock = TickClock::new(30.0);
        let mut stamp = 0u64; // what webrtc gives each sample: the sum of earlier durations
        let start = 1_000_000u64;
        for n in 0..18_000u64 {
            let jitter = [0i64, 2_000, -1_500, 1_000][(n % 4) as usize];
            let capture = (start as i64 + (n as f64 * 1e6 / fps) as i64 + jitter) as u64;
            let target = capture.saturating_sub(start) * VIDEO_CLOCK / 1_000_000;
            if n > 0 {
                // Off by at most one step's deviation from 1/30 s (here 3.5 ms = 315 ticks).
                assert!(
                    stamp.abs_diff(target) <= 320,
                    "frame {n}: {stamp} vs {target}"
                );
            }
            stamp += clock.ticks_for(capture);
        }
    }
}
