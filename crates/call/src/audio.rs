//! Audio send and receive pipelines over a webrtc 0.21 track (Opus, 20 ms packets).
//!
//! Sending: the [`AudioSource`] and the Opus encoder run on their own thread; packets
//! cross to an async task that writes them as 20 ms samples (exactly 960 ticks of the
//! 48 kHz clock). Receiving: packets go to a decoder thread that follows the RTP
//! sequence numbers: a single lost packet is recovered from the FEC data in the next
//! one, longer gaps are concealed (PLC), so the sink always gets 20 ms per packet time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use media::AudioFrame;
use media::opus_codec::{OpusDecoder, OpusEncoder};
use media::source::{AudioSink, AudioSource};
use media::worker::Worker;
use rtc::media::Sample;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::CallError;
use crate::sequence::{Arrival, SequenceUnwrapper};

/// What an audio pipeline has done so far.
#[derive(Debug, Default)]
pub struct AudioCounters {
    /// Packets encoded and written.
    pub packets_sent: AtomicU64,
    /// Packets received.
    pub packets_received: AtomicU64,
    /// Packets that never arrived.
    pub packets_lost: AtomicU64,
    /// Lost packets rebuilt from the next packet's FEC data.
    pub recovered_fec: AtomicU64,
    /// Lost packets concealed (PLC).
    pub concealed: AtomicU64,
    /// Opus payload bytes sent or received.
    pub bytes: AtomicU64,
    /// Energy of the audio played (`totalAudioEnergy`), in billionths.
    pub energy_nano: AtomicU64,
}

impl AudioCounters {
    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Live controls of an audio sender, shared by the call engine and the capture thread.
#[derive(Debug, Default)]
pub struct AudioControl {
    stop: AtomicBool,
    expected_loss: AtomicU8,
}

impl AudioControl {
    /// Stops the sender after the current frame.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Tells Opus FEC how much loss to expect, percent (0–100).
    pub fn set_expected_loss(&self, percent: u8) {
        self.expected_loss
            .store(percent.min(100), Ordering::Relaxed);
    }
}

/// Sends `source` on `track` as Opus until the source fails, `control` says stop, or
/// `frames` (if given) 20 ms frames are sent.
pub async fn send_audio(
    mut source: Box<dyn AudioSource>,
    track: Arc<TrackLocalStaticSample>,
    (ssrc, payload_type): (u32, u8),
    bitrate_bps: u32,
    frames: Option<u64>,
    control: Arc<AudioControl>,
    counters: Arc<AudioCounters>,
) -> Result<(), CallError> {
    let mut encoder = OpusEncoder::new(source.channels(), bitrate_bps)
        .map_err(|e| CallError::WebRtc(e.to_string()))?;
    let (packets_tx, mut packets) = mpsc::channel::<Vec<u8>>(16);
    let capture = std::thread::Builder::new()
        .name("audio-capture".into())
        .spawn(move || {
            let mut n = 0u64;
            let mut expected_loss = 0;
            while frames.is_none_or(|max| n < max) && !control.stop.load(Ordering::Relaxed) {
                let wanted = control.expected_loss.load(Ordering::Relaxed);
                if wanted != expected_loss && encoder.set_expected_loss(wanted).is_ok() {
                    expected_loss = wanted;
                }
                let packet = source.next_frame().and_then(|frame| encoder.encode(&frame));
                match packet {
                    Ok(packet) => {
                        if packets_tx.blocking_send(packet).is_err() {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "audio source stopped");
                        break;
                    }
                }
                n += 1;
            }
        })
        .map_err(CallError::webrtc)?;
    while let Some(packet) = packets.recv().await {
        let bytes = packet.len() as u64;
        let sample = Sample {
            data: packet.into(),
            duration: Duration::from_millis(20),
            ..Sample::new(Instant::now())
        };
        track
            .sample_writer(ssrc, payload_type)
            .write_sample(&sample)
            .await
            .map_err(CallError::webrtc)?;
        AudioCounters::add(&counters.packets_sent, 1);
        AudioCounters::add(&counters.bytes, bytes);
    }
    // Joining is blocking: do it off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || capture.join()).await;
    Ok(())
}

/// Longest gap concealed packet by packet; beyond it the sink just hears the next packet.
const MAX_CONCEALED: u64 = 10;

/// Receives Opus from `track` until it goes quiet for `idle`, decoding on its own
/// thread into `sink`.
pub async fn receive_audio(
    track: Arc<dyn TrackRemote>,
    channels: u16,
    idle: Duration,
    counters: Arc<AudioCounters>,
    mut sink: Box<dyn AudioSink>,
) -> Result<(), CallError> {
    let mut decoder = OpusDecoder::new(channels).map_err(|e| CallError::WebRtc(e.to_string()))?;
    let stats = Arc::clone(&counters);
    let mut sequence = SequenceUnwrapper::default();
    let worker = Worker::spawn("opus-decoder", 64, move |(seq, payload): (u16, Vec<u8>)| {
        let mut play = |frame: &AudioFrame| {
            AudioCounters::add(&stats.energy_nano, (frame.energy() * 1e9) as u64);
            let _ = sink.play(frame);
        };
        let Arrival::InOrder { lost } = sequence.arrive(u64::from(seq)) else {
            return;
        };
        AudioCounters::add(&stats.packets_received, 1);
        AudioCounters::add(&stats.packets_lost, lost);
        let repaired = lost.min(MAX_CONCEALED);
        for gap in 0..repaired {
            // The packet just before this one can come back from this one's FEC data.
            let rebuilt = if gap + 1 == repaired {
                AudioCounters::add(&stats.recovered_fec, 1);
                decoder.recover(&payload)
            } else {
                AudioCounters::add(&stats.concealed, 1);
                decoder.conceal()
            };
            if let Ok(frame) = rebuilt {
                play(&frame);
            }
        }
        match decoder.decode(&payload) {
            Ok(frame) => play(&frame),
            Err(err) => tracing::debug!(%err, "undecodable Opus packet"),
        }
    })
    .map_err(|e| CallError::WebRtc(e.to_string()))?;
    while let Ok(Some(event)) = tokio::time::timeout(idle, track.poll()).await {
        if let TrackRemoteEvent::OnRtpPacket(packet) = event {
            AudioCounters::add(&counters.bytes, packet.payload.len() as u64);
            let job = (packet.header.sequence_number, packet.payload.to_vec());
            if !worker.submit(job) {
                AudioCounters::add(&counters.packets_lost, 1);
            }
        }
    }
    // Dropping the worker joins its thread (after the queued packets): off the runtime.
    let _ = tokio::task::spawn_blocking(move || drop(worker)).await;
    Ok(())
}
