//! Video send and receive pipelines over a webrtc 0.21 track.
//!
//! Sending: a [`VideoSource`] and the H.264 encoder run on their own thread (never on
//! the async runtime); access units cross to an async task that writes them as
//! samples, whose RTP timestamps follow the capture times exactly; keyframe requests
//! (PLI/FIR) from the receiver reach the encoder; the first picture is an IDR.
//! Receiving: RTP from the remote track is assembled into access units, decoded on a
//! decoder thread and handed to a frame sink; a picture that cannot be decoded
//! triggers a rate-limited PLI. Both sides count what they do in [`VideoCounters`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use media::VideoFrame;
use media::h264::{AccessUnit, Encoded, EncoderSettings, H264Decoder, H264Encoder};
use media::source::VideoSource;
use media::worker::{DecodeJob, EncoderJob, decoder_thread, encoder_thread};
use rtc::media::Sample;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::adapt::Step;
use crate::jitter::{Assembled, AssemblerConfig, FrameAssembler, RtpIn};
use crate::keyframe::{
    ANSWER_INTERVAL, KeyframeRequestLimiter, REQUEST_INTERVAL, is_keyframe_request,
};

/// RTP clock rate of video.
pub const VIDEO_CLOCK: u64 = 90_000;

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

/// What a video pipeline has done so far.
#[derive(Debug, Default)]
pub struct VideoCounters {
    /// Pictures encoded and written to the track.
    pub frames_sent: AtomicU64,
    /// Of those, keyframes.
    pub keyframes_sent: AtomicU64,
    /// Pictures the encoder skipped or the queue dropped.
    pub frames_dropped: AtomicU64,
    /// PLI/FIR received (sender) or sent (receiver).
    pub keyframe_requests: AtomicU64,
    /// Pictures decoded.
    pub frames_decoded: AtomicU64,
    /// Access units that failed to decode.
    pub decode_errors: AtomicU64,
    /// Frames given up because packets never arrived.
    pub frames_lost: AtomicU64,
    /// Gaps between decoded pictures longer than [`FREEZE_GAP`].
    pub freezes: AtomicU64,
    /// The longest gap between decoded pictures, ms.
    pub longest_gap_ms: AtomicU64,
    /// The delay the receive jitter buffer adds now, µs.
    pub jitter_buffer_us: AtomicU64,
    /// Packets asked for a second time (their first retransmission did not come).
    pub nacks_again: AtomicU64,
    /// Encoded bytes sent or received.
    pub bytes: AtomicU64,
    /// Size of the last picture encoded or decoded.
    pub width: AtomicU64,
    /// … its height.
    pub height: AtomicU64,
}

impl VideoCounters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn record_gap(&self, gap: Duration) {
        if gap > FREEZE_GAP {
            Self::bump(&self.freezes);
        }
        self.longest_gap_ms
            .fetch_max(gap.as_millis() as u64, Ordering::Relaxed);
    }
}

/// Live controls of a video sender, shared by the call engine and the capture thread.
#[derive(Debug, Default)]
pub struct VideoControl {
    keyframe: AtomicBool,
    stop: AtomicBool,
    bitrate_bps: AtomicU32,
    /// `scale << 8 | fps_divisor`, 0 for full size and rate.
    step: AtomicU32,
}

impl VideoControl {
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

/// What a video sender sends with.
#[derive(Debug, Clone, Copy)]
pub struct VideoSend {
    /// Our SSRC.
    pub ssrc: u32,
    /// The negotiated payload type.
    pub payload_type: u8,
    /// Starting target bitrate, bits per second.
    pub bitrate_bps: u32,
    /// Stop after this many source pictures (`None`: until stopped).
    pub frames: Option<u64>,
}

/// Sends `source` on `track` until the source fails, the track closes, `control`
/// says stop, or `send.frames` pictures are taken. Returns when done.
pub async fn send_video(
    mut source: Box<dyn VideoSource>,
    track: Arc<TrackLocalStaticSample>,
    send: VideoSend,
    control: Arc<VideoControl>,
    counters: Arc<VideoCounters>,
) -> Result<(), crate::CallError> {
    let format = source.format();
    let settings = EncoderSettings::new(send.bitrate_bps, format.fps);
    // Frame skipping stays off: with it, openh264 drops pictures whenever the target
    // tightens (after every keyframe, under random loss), and the adaptation ladder
    // already lowers size and rate when the target is far below what they need.
    let encoder = H264Encoder::new(format.width, format.height, settings)
        .map_err(|e| crate::CallError::WebRtc(e.to_string()))?;
    let (units_tx, mut units) = mpsc::channel::<AccessUnit>(8);
    let skipped = Arc::clone(&counters);
    let encoder = encoder_thread(encoder, 2, move |result| match result {
        Ok(Encoded::Frame(au)) => {
            if units_tx.blocking_send(au).is_err() {
                tracing::debug!("video send task gone");
            }
        }
        Ok(Encoded::Skipped { .. }) => VideoCounters::bump(&skipped.frames_dropped),
        Err(err) => tracing::warn!(%err, "encoding failed"),
    })
    .map_err(|e| crate::CallError::WebRtc(e.to_string()))?;
    // The capture thread owns the encoder: when the source ends, the encoder thread
    // finishes and `units` closes behind the last picture. Controls reach it through
    // atomics, so the async side never holds (or joins) a codec thread.
    let capture_control = Arc::clone(&control);
    let capture_counters = Arc::clone(&counters);
    let capture = std::thread::Builder::new()
        .name("video-capture".into())
        .spawn(move || {
            let (control, counters) = (capture_control, capture_counters);
            let mut bitrate = send.bitrate_bps;
            let mut step = Step {
                scale: 1,
                fps_divisor: 1,
            };
            let mut n = 0u64;
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
                let wanted = control.bitrate_bps.load(Ordering::Relaxed);
                if wanted != 0 && wanted != bitrate {
                    bitrate = wanted;
                    encoder.submit(EncoderJob::Bitrate(bitrate));
                }
                let picture = match step.scale {
                    1 => picture,
                    2 => picture.halved(),
                    _ => picture.halved().halved(),
                };
                counters
                    .width
                    .store(u64::from(picture.width()), Ordering::Relaxed);
                counters
                    .height
                    .store(u64::from(picture.height()), Ordering::Relaxed);
                if control.keyframe.swap(false, Ordering::Relaxed) {
                    encoder.submit(EncoderJob::Keyframe);
                }
                if !encoder.submit(EncoderJob::Encode(picture)) {
                    VideoCounters::bump(&counters.frames_dropped);
                }
            }
        })
        .map_err(|e| crate::CallError::WebRtc(e.to_string()))?;

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
                let sample = Sample {
                    data: au.data.into(),
                    duration: duration_for_ticks(ticks, VIDEO_CLOCK),
                    ..Sample::new(Instant::now())
                };
                track
                    .sample_writer(send.ssrc, send.payload_type)
                    .write_sample(&sample)
                    .await
                    .map_err(crate::CallError::webrtc)?;
                VideoCounters::bump(&counters.frames_sent);
                counters.bytes.fetch_add(bytes, Ordering::Relaxed);
                if au.keyframe {
                    VideoCounters::bump(&counters.keyframes_sent);
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
                    VideoCounters::bump(&counters.keyframe_requests);
                    keyframe_pending = true;
                }
            }
        }
    }
    // Joining is blocking: do it off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || capture.join()).await;
    Ok(())
}

/// The round-trip time of the path, as the call engine last measured it: the
/// receiver waits for repairs in proportion to it.
#[derive(Debug, Default)]
pub struct PathRtt(AtomicU64);

impl PathRtt {
    /// Records a measurement.
    pub fn set(&self, rtt: Duration) {
        self.0.store(rtt.as_micros() as u64, Ordering::Relaxed);
    }

    /// How long after a hole shows a still-missing packet is asked for again: the
    /// stack's NACK goes out within 20 ms, its answer takes a round trip (and some).
    pub fn renack_after(&self) -> Duration {
        Duration::from_millis(20) + self.rtt().mul_f64(1.5).max(Duration::from_millis(40))
    }

    /// How long a frame with a hole waits for repairs (two tries, the second with time
    /// to spare) before it is given up and a keyframe asked for; 120 ms to a second.
    pub fn max_wait(&self) -> Duration {
        (self.renack_after() + self.rtt().mul_f64(2.5))
            .clamp(Duration::from_millis(120), Duration::from_secs(1))
    }

    fn rtt(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

/// A gap between decoded pictures longer than this is a freeze.
pub const FREEZE_GAP: Duration = Duration::from_millis(200);

/// Receives video from `track` until it goes quiet for `idle`, handing every decoded
/// picture to `sink` (on the decoder thread).
///
/// Frames are assembled on the marker bit by a [`FrameAssembler`]; after a loss, or a
/// picture that fails to decode, pictures are skipped until the next keyframe and a
/// keyframe request goes out (rate-limited, repeated until one arrives).
pub async fn receive_video(
    track: Arc<dyn TrackRemote>,
    idle: Duration,
    counters: Arc<VideoCounters>,
    rtt: Arc<PathRtt>,
    mut sink: impl FnMut(VideoFrame) + Send + 'static,
) -> Result<(), crate::CallError> {
    let (errors_tx, mut errors) = mpsc::unbounded_channel::<()>();
    let decoded = Arc::clone(&counters);
    let mut last_picture: Option<Instant> = None;
    let decoder = decoder_thread(
        H264Decoder::new().map_err(|e| crate::CallError::WebRtc(e.to_string()))?,
        16,
        move |result| match result {
            Ok(Some(picture)) => {
                let now = Instant::now();
                if let Some(gap) = last_picture.map(|last| now - last) {
                    decoded.record_gap(gap);
                }
                last_picture = Some(now);
                VideoCounters::bump(&decoded.frames_decoded);
                decoded
                    .width
                    .store(u64::from(picture.width()), Ordering::Relaxed);
                decoded
                    .height
                    .store(u64::from(picture.height()), Ordering::Relaxed);
                sink(picture);
            }
            Ok(None) => {}
            Err(_) => {
                VideoCounters::bump(&decoded.decode_errors);
                let _ = errors_tx.send(());
            }
        },
    )
    .map_err(|e| crate::CallError::WebRtc(e.to_string()))?;
    let epoch = Instant::now();
    let micros = |at: Instant| at.saturating_duration_since(epoch).as_micros() as u64;
    let mut assembler = FrameAssembler::new(AssemblerConfig::default());
    let mut pli = KeyframeRequestLimiter::new(REQUEST_INTERVAL);
    let mut media_ssrc = 0;
    // Decoding starts at a keyframe; a stream joined later asks for one at once.
    let mut need_keyframe = true;
    let mut idle_since = Instant::now();
    loop {
        let wake = assembler
            .next_event_us()
            .map_or(idle_since + idle, |us| epoch + Duration::from_micros(us));
        let mut request_keyframe = false;
        tokio::select! {
            event = track.poll() => {
                let Some(event) = event else { break };
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                idle_since = Instant::now();
                media_ssrc = packet.header.ssrc;
                counters.bytes.fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
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
                        VideoCounters::bump(&counters.frames_dropped);
                        request_keyframe = true;
                        continue;
                    }
                    need_keyframe = false;
                    if !decoder.submit(DecodeJob {
                        data,
                        capture_us: 0,
                    }) {
                        VideoCounters::bump(&counters.frames_dropped);
                        need_keyframe = true;
                    }
                }
                Assembled::Lost => {
                    VideoCounters::bump(&counters.frames_lost);
                    need_keyframe = true;
                    request_keyframe = true;
                }
            }
        }
        // The stack asks for a lost packet once; ask again for what is still missing a
        // while later (its retransmission was lost too), before the frame is given up.
        assembler.set_max_wait_us(rtt.max_wait().as_micros() as u64);
        let again = assembler.overdue(
            micros(Instant::now()),
            rtt.renack_after().as_micros() as u64,
        );
        if !again.is_empty() && media_ssrc != 0 {
            counters
                .nacks_again
                .fetch_add(again.len() as u64, Ordering::Relaxed);
            let nack = TransportLayerNack {
                sender_ssrc: 0,
                media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(&again),
            };
            track
                .write_rtcp(vec![Box::new(nack)])
                .await
                .map_err(crate::CallError::webrtc)?;
        }
        counters
            .jitter_buffer_us
            .store(assembler.delay_us(), Ordering::Relaxed);
        // Behind a queue a keyframe takes longer to come: ask less often.
        pli.set_interval(REQUEST_INTERVAL + Duration::from_micros(2 * assembler.queue_delay_us()));
        if request_keyframe && media_ssrc != 0 && pli.allow(Instant::now()) {
            VideoCounters::bump(&counters.keyframe_requests);
            let request = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            track
                .write_rtcp(vec![Box::new(request)])
                .await
                .map_err(crate::CallError::webrtc)?;
        }
    }
    // Dropping the worker joins its thread (after the queued pictures): off the runtime.
    let _ = tokio::task::spawn_blocking(move || drop(decoder)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_waits_follow_the_round_trip() {
        let rtt = PathRtt::default();
        assert_eq!(rtt.renack_after(), Duration::from_millis(60));
        assert_eq!(rtt.max_wait(), Duration::from_millis(120));
        rtt.set(Duration::from_millis(40));
        assert_eq!(rtt.renack_after(), Duration::from_millis(80));
        assert_eq!(rtt.max_wait(), Duration::from_millis(180));
        rtt.set(Duration::from_millis(500));
        assert_eq!(rtt.renack_after(), Duration::from_millis(770));
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
