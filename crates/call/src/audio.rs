//! Audio send and receive pipelines over a webrtc 0.21 track (Opus in 20 ms packets, or
//! 40 ms on a slow link): the two audio specialisations of the one pipeline shape
//! ([`crate::pipeline`]).
//!
//! Sending: the [`AudioSource`] and the Opus encoder run on a [`SendThread`]; packets
//! cross its queue to the task that writes them as samples of their length (960 ticks
//! of the 48 kHz clock per 20 ms). Counted in [`AudioSendCounters`].
//! Receiving: packets go to a decoder on a [`ReceiveThread`] that follows the RTP
//! sequence numbers: a single lost packet is recovered from the FEC data in the next
//! one, longer gaps are concealed (PLC), so the sink always gets a packet's length of
//! 20 ms frames per packet time. Counted in [`AudioReceiveCounters`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use media::AudioFrame;
use media::opus_codec::{OpusDecoder, OpusEncoder};
use media::source::{AudioSink, AudioSource};
use rtc::media::Sample;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::CallError;
use crate::pipeline::{ReceiveThread, SendParams, SendThread, codec_error};
use crate::sequence::{Arrival, SequenceUnwrapper};
use crate::stats::{Rates, counters};

counters! {
    /// What an audio sender has done so far.
    pub struct AudioSendCounters;
    /// [`AudioSendCounters`] at one moment.
    pub struct AudioSendSnapshot {
        /// Packets encoded and written.
        packets_sent,
        /// Opus payload bytes written.
        bytes,
    }
}

impl AudioSendSnapshot {
    /// Packets and bitrate per second since `previous`, taken `elapsed` earlier.
    pub fn delta(&self, previous: &Self, elapsed: Duration) -> Rates {
        Rates::between(
            (previous.packets_sent, self.packets_sent),
            (previous.bytes, self.bytes),
            elapsed,
        )
    }
}

counters! {
    /// What an audio receiver has done so far.
    pub struct AudioReceiveCounters;
    /// [`AudioReceiveCounters`] at one moment.
    pub struct AudioReceiveSnapshot {
        /// Packets received.
        packets_received,
        /// Packets that never arrived (or found the decoder's queue full).
        packets_lost,
        /// Lost packets rebuilt from the next packet's FEC data.
        recovered_fec,
        /// Lost packets concealed (PLC).
        concealed,
        /// Opus payload bytes received.
        bytes,
        /// Energy of the audio played (`totalAudioEnergy`), in billionths.
        energy_nano,
    }
}

impl AudioReceiveSnapshot {
    /// Packets received and bitrate per second since `previous`, taken `elapsed`
    /// earlier.
    pub fn delta(&self, previous: &Self, elapsed: Duration) -> Rates {
        Rates::between(
            (previous.packets_received, self.packets_received),
            (previous.bytes, self.bytes),
            elapsed,
        )
    }
}

/// The audio each frame from the source carries; a packet carries one or two.
const FRAME_TIME: Duration = Duration::from_millis(20);

/// Packets waiting to be written to the track: 320 ms of audio or more, so a busy
/// moment of the runtime does not hold up capture (whose device keeps its own time).
const PACKET_QUEUE: usize = 16;

/// Packets waiting for the decoder: 1.28 s of audio, room for a sink that is slow for
/// a moment; beyond it packets are dropped and counted lost.
const DECODER_QUEUE: usize = 64;

/// Live controls of an audio sender, shared by the call engine and the capture thread.
#[derive(Debug, Default)]
pub struct AudioControl {
    stop: AtomicBool,
    expected_loss: AtomicU8,
    long_packets: AtomicBool,
}

impl AudioControl {
    /// Sends 40 ms packets instead of 20 ms ones, or back: half the packets, and so
    /// half their headers, for 20 ms more delay.
    pub fn set_long_packets(&self, on: bool) {
        self.long_packets.store(on, Ordering::Relaxed);
    }

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
/// `send.frames` (if given) 20 ms frames are sent, in packets of one frame, or two
/// while `control` says long packets.
pub async fn send_audio(
    mut source: Box<dyn AudioSource>,
    track: Arc<TrackLocalStaticSample>,
    send: SendParams,
    control: Arc<AudioControl>,
    counters: Arc<AudioSendCounters>,
) -> Result<(), CallError> {
    let mut encoder = OpusEncoder::new(source.channels(), send.bitrate_bps).map_err(codec_error)?;
    let mut packets = SendThread::spawn("audio-capture", PACKET_QUEUE, |out| {
        Ok(move || {
            let mut n = 0u64;
            let mut expected_loss = 0;
            let mut frames = Vec::with_capacity(2);
            while send.frames.is_none_or(|max| n < max) && !control.stop.load(Ordering::Relaxed) {
                let wanted = control.expected_loss.load(Ordering::Relaxed);
                if wanted != expected_loss && encoder.set_expected_loss(wanted).is_ok() {
                    expected_loss = wanted;
                }
                match source.next_frame() {
                    Ok(frame) => frames.push(frame),
                    Err(err) => {
                        tracing::warn!(%err, "audio source stopped");
                        break;
                    }
                }
                n += 1;
                let per_packet = if control.long_packets.load(Ordering::Relaxed) {
                    2
                } else {
                    1
                };
                if frames.len() < per_packet && send.frames.is_none_or(|max| n < max) {
                    continue;
                }
                let duration = FRAME_TIME * frames.len() as u32;
                match encoder.encode_frames(&frames) {
                    Ok(packet) => {
                        if !out.send((packet, duration)) {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "audio encoder stopped");
                        break;
                    }
                }
                frames.clear();
            }
        })
    })?;
    while let Some((packet, duration)) = packets.recv().await {
        let bytes = packet.len() as u64;
        let sample = Sample {
            data: packet.into(),
            duration,
            ..Sample::new(Instant::now())
        };
        track
            .sample_writer(send.ssrc, send.payload_type)
            .write_sample(&sample)
            .await
            .map_err(CallError::webrtc)?;
        counters.packets_sent.bump();
        counters.bytes.add(bytes);
    }
    packets.join().await;
    Ok(())
}

/// Longest gap concealed packet by packet; beyond it the sink just hears the next packet.
const MAX_CONCEALED: u64 = 10;

/// The receive side of one Opus stream, in RTP sequence order: a plain type (no track,
/// no thread) that the decoder thread drives and the fuzz targets drive the same way.
#[derive(Debug)]
pub struct OpusPlayout {
    decoder: OpusDecoder,
    sequence: SequenceUnwrapper,
}

/// What one received packet led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Played {
    /// Packets missing just before it.
    pub lost: u64,
    /// Whether the one just before it was rebuilt from its FEC data.
    pub recovered: bool,
    /// Packets before it concealed (PLC).
    pub concealed: u64,
    /// Whether it decoded (else its sound was not played).
    pub decoded: bool,
}

impl OpusPlayout {
    /// A playout of `channels` channels.
    pub fn new(channels: u16) -> Result<Self, media::MediaError> {
        Ok(Self {
            decoder: OpusDecoder::new(channels)?,
            sequence: SequenceUnwrapper::default(),
        })
    }

    /// Plays packet `seq`: first what its gap lost (the one just before it from its FEC
    /// data, earlier ones concealed, at most [`MAX_CONCEALED`]), then itself, in 20 ms
    /// frames handed to `play`. `None` for a packet that came too late (after a later
    /// one) or twice: it is dropped.
    pub fn receive(
        &mut self,
        seq: u16,
        payload: &[u8],
        mut play: impl FnMut(&AudioFrame),
    ) -> Option<Played> {
        let Arrival::InOrder { lost } = self.sequence.arrive(u64::from(seq)) else {
            return None;
        };
        let mut played = Played {
            lost,
            ..Played::default()
        };
        let repaired = lost.min(MAX_CONCEALED);
        for gap in 0..repaired {
            let rebuilt = if gap + 1 == repaired {
                played.recovered = true;
                self.decoder.recover(payload)
            } else {
                played.concealed += 1;
                self.decoder.conceal()
            };
            for frame in rebuilt.iter().flatten() {
                play(frame);
            }
        }
        match self.decoder.decode(payload) {
            Ok(frames) => {
                played.decoded = true;
                frames.iter().for_each(&mut play);
            }
            Err(err) => tracing::debug!(%err, "undecodable Opus packet"),
        }
        Some(played)
    }
}

/// Receives Opus from `track` until it goes quiet for `idle`, decoding `channels`
/// channels on its own thread into `sink`.
pub async fn receive_audio(
    track: Arc<dyn TrackRemote>,
    idle: Duration,
    counters: Arc<AudioReceiveCounters>,
    channels: u16,
    mut sink: Box<dyn AudioSink>,
) -> Result<(), CallError> {
    let mut playout = OpusPlayout::new(channels).map_err(codec_error)?;
    let stats = Arc::clone(&counters);
    let decoder = ReceiveThread::spawn(
        "opus-decoder",
        DECODER_QUEUE,
        move |(seq, payload): (u16, Vec<u8>)| {
            let played = playout.receive(seq, &payload, |frame| {
                stats.energy_nano.add((frame.energy() * 1e9) as u64);
                let _ = sink.play(frame);
            });
            if let Some(played) = played {
                stats.packets_received.bump();
                stats.packets_lost.add(played.lost);
                stats.recovered_fec.add(u64::from(played.recovered));
                stats.concealed.add(played.concealed);
            }
        },
    )?;
    while let Ok(Some(event)) = tokio::time::timeout(idle, track.poll()).await {
        if let TrackRemoteEvent::OnRtpPacket(packet) = event {
            counters.bytes.add(packet.payload.len() as u64);
            let unit = (packet.header.sequence_number, packet.payload.to_vec());
            if !decoder.submit(unit) {
                counters.packets_lost.bump();
            }
        }
    }
    decoder.join().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playout_fills_gaps_drops_late_packets_and_survives_garbage() {
        let mut encoder = OpusEncoder::new(1, 32_000).unwrap();
        let mut tone = media::tone::ToneGenerator::new();
        let packets: Vec<Vec<u8>> = (0..8)
            .map(|_| encoder.encode(&tone.next_frame(0)).unwrap())
            .collect();
        let mut playout = OpusPlayout::new(1).unwrap();
        let mut frames = 0;
        let mut receive = |playout: &mut OpusPlayout, seq: u16, payload: &[u8]| {
            playout.receive(seq, payload, |_| frames += 1)
        };
        let first = receive(&mut playout, 100, &packets[0]).unwrap();
        assert_eq!((first.lost, first.decoded), (0, true));
        // 101 lost: rebuilt from 102's FEC data.
        let fec = receive(&mut playout, 102, &packets[2]).unwrap();
        assert_eq!((fec.lost, fec.recovered, fec.concealed), (1, true, 0));
        // 103..=105 lost: two concealed, the last rebuilt.
        let gap = receive(&mut playout, 106, &packets[6]).unwrap();
        assert_eq!((gap.lost, gap.recovered, gap.concealed), (3, true, 2));
        assert_eq!(receive(&mut playout, 101, &packets[1]), None, "late");
        assert_eq!(receive(&mut playout, 106, &packets[6]), None, "twice");
        let garbage = receive(&mut playout, 107, &[0xff; 7]).unwrap();
        assert!(!garbage.decoded);
        assert_eq!(frames, 1 + 2 + 4);
    }

    #[test]
    fn send_and_receive_snapshots_give_their_own_rates() {
        let sent = AudioSendCounters::default();
        for _ in 0..50 {
            sent.packets_sent.bump();
            sent.bytes.add(80);
        }
        let rates = sent
            .snapshot()
            .delta(&AudioSendSnapshot::default(), Duration::from_secs(1));
        assert_eq!(
            rates,
            Rates {
                per_second: 50,
                kbps: 32
            }
        );

        let received = AudioReceiveCounters::default();
        received.packets_received.add(100);
        received.bytes.add(8_000);
        received.packets_lost.add(3);
        let before = AudioReceiveSnapshot {
            packets_received: 50,
            bytes: 4_000,
            ..AudioReceiveSnapshot::default()
        };
        let now = received.snapshot();
        assert_eq!(now.packets_lost, 3);
        assert_eq!(
            now.delta(&before, Duration::from_secs(1)),
            Rates {
                per_second: 50,
                kbps: 32
            }
        );
    }
}
