//! Opus at 48 kHz, VoIP mode, in packets of one to three 20 ms frames: in-band FEC with
//! a settable expected loss, optional DTX, bitrate settable at run time; a decoder of
//! packets of any length into 20 ms frames, with loss concealment (PLC) and FEC
//! recovery of a lost packet from the one after it.

use opus::{Application, Bitrate, Channels};

use crate::MediaError;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};

/// Largest Opus packet of up to [`MAX_FRAMES`] frames (RFC 6716: 1275 bytes a frame).
const MAX_PACKET: usize = 1275 * MAX_FRAMES;

/// Most 20 ms frames in one packet the encoder makes (60 ms, Opus's longest frame).
pub const MAX_FRAMES: usize = 3;

/// Longest audio one packet may carry (RFC 6716: 120 ms), samples a channel.
const MAX_PACKET_SAMPLES: usize = 6 * FRAME_SAMPLES;

fn codec_err(err: opus::Error) -> MediaError {
    MediaError::Codec {
        codec: "Opus",
        reason: err.to_string(),
    }
}

fn channels(n: u16) -> Result<Channels, MediaError> {
    match n {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        _ => Err(MediaError::Unsupported(format!(
            "Opus takes 1 or 2 channels, not {n}"
        ))),
    }
}

/// An Opus encoder of 20 ms frames, one to [`MAX_FRAMES`] to a packet.
pub struct OpusEncoder {
    encoder: opus::Encoder,
    channels: u16,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("channels", &self.channels)
            .finish()
    }
}

impl OpusEncoder {
    /// A VoIP encoder at `bitrate_bps` with in-band FEC on, planning for 10% loss.
    pub fn new(channel_count: u16, bitrate_bps: u32) -> Result<Self, MediaError> {
        let mut encoder =
            opus::Encoder::new(SAMPLE_RATE, channels(channel_count)?, Application::Voip)
                .map_err(codec_err)?;
        encoder.set_inband_fec(true).map_err(codec_err)?;
        encoder.set_packet_loss_perc(10).map_err(codec_err)?;
        let mut this = Self {
            encoder,
            channels: channel_count,
        };
        this.set_bitrate(bitrate_bps)?;
        Ok(this)
    }

    /// Changes the bitrate (6 kbit/s to 510 kbit/s).
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), MediaError> {
        let bps = i32::try_from(bps.clamp(6_000, 510_000)).unwrap_or(510_000);
        self.encoder
            .set_bitrate(Bitrate::Bits(bps))
            .map_err(codec_err)
    }

    /// Tells the encoder how much loss to protect against with FEC (0–100 %).
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<(), MediaError> {
        self.encoder
            .set_packet_loss_perc(i32::from(percent.min(100)))
            .map_err(codec_err)
    }

    /// Turns discontinuous transmission (tiny packets in silence) on or off.
    pub fn set_dtx(&mut self, on: bool) -> Result<(), MediaError> {
        self.encoder.set_dtx(on).map_err(codec_err)
    }

    /// Encodes one 20 ms frame into a packet.
    pub fn encode(&mut self, frame: &AudioFrame) -> Result<Vec<u8>, MediaError> {
        self.encode_frames(std::slice::from_ref(frame))
    }

    /// Encodes consecutive 20 ms frames (one to [`MAX_FRAMES`]) into one packet: fewer
    /// packets, and so fewer headers, for the same sound.
    pub fn encode_frames(&mut self, frames: &[AudioFrame]) -> Result<Vec<u8>, MediaError> {
        let wanted = FRAME_SAMPLES * usize::from(self.channels);
        if let Some(bad) = frames
            .iter()
            .find(|f| f.channels != self.channels || f.samples.len() != wanted)
        {
            return Err(MediaError::Unsupported(format!(
                "Opus encoder wants 20 ms frames of {} channel(s), got {} samples of {}",
                self.channels,
                bad.samples.len(),
                bad.channels
            )));
        }
        if frames.is_empty() || frames.len() > MAX_FRAMES {
            return Err(MediaError::Unsupported(format!(
                "Opus encoder packs 1 to {MAX_FRAMES} frames, not {}",
                frames.len()
            )));
        }
        // One frame (the usual packet) goes as it is; more are joined.
        let joined: Vec<i16>;
        let samples = match frames {
            [one] => &one.samples[..],
            _ => {
                joined = frames
                    .iter()
                    .flat_map(|f| f.samples.iter().copied())
                    .collect();
                &joined
            }
        };
        self.encoder
            .encode_vec(samples, MAX_PACKET)
            .map_err(codec_err)
    }
}

/// An Opus decoder producing 20 ms frames.
pub struct OpusDecoder {
    decoder: opus::Decoder,
    channels: u16,
    /// Samples a channel of the last packet decoded, in whole 20 ms frames: how long a
    /// lost one is taken to have been.
    packet_samples: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("channels", &self.channels)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder for `channel_count` channels at 48 kHz.
    pub fn new(channel_count: u16) -> Result<Self, MediaError> {
        let decoder =
            opus::Decoder::new(SAMPLE_RATE, channels(channel_count)?).map_err(codec_err)?;
        Ok(Self {
            decoder,
            channels: channel_count,
            packet_samples: FRAME_SAMPLES,
        })
    }

    /// Decodes `samples` a channel of `packet` (empty: concealed) into 20 ms frames,
    /// the last one padded.
    fn run(
        &mut self,
        packet: &[u8],
        fec: bool,
        samples: usize,
    ) -> Result<Vec<AudioFrame>, MediaError> {
        let channels = usize::from(self.channels);
        let mut out = vec![0; samples * channels];
        let n = self
            .decoder
            .decode(packet, &mut out, fec)
            .map_err(codec_err)?;
        out.truncate(n * channels);
        out.resize(
            n.div_ceil(FRAME_SAMPLES).max(1) * FRAME_SAMPLES * channels,
            0,
        );
        Ok(out
            .chunks_exact(FRAME_SAMPLES * channels)
            .map(|chunk| AudioFrame {
                samples: chunk.to_vec(),
                channels: self.channels,
                capture_us: 0,
            })
            .collect())
    }

    /// Decodes a received packet into its 20 ms frames (a shorter one padded to 20 ms).
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<AudioFrame>, MediaError> {
        if packet.is_empty() {
            return self.conceal();
        }
        let samples = self.decoder.get_nb_samples(packet).map_err(codec_err)?;
        if samples == 0 || samples > MAX_PACKET_SAMPLES {
            return Err(MediaError::Codec {
                codec: "Opus",
                reason: format!("a packet of {samples} samples"),
            });
        }
        let frames = self.run(packet, false, samples)?;
        self.packet_samples = frames.len() * FRAME_SAMPLES;
        Ok(frames)
    }

    /// Conceals one lost packet (PLC), as long as the last one received: frames that
    /// continue the sound smoothly.
    pub fn conceal(&mut self) -> Result<Vec<AudioFrame>, MediaError> {
        self.run(&[], false, self.packet_samples)
    }

    /// Recovers a lost packet, as long as the last one received, from the FEC data in
    /// the packet that followed it; call this for the lost one, then
    /// [`OpusDecoder::decode`] for `next` itself.
    pub fn recover(&mut self, next: &[u8]) -> Result<Vec<AudioFrame>, MediaError> {
        self.run(next, true, self.packet_samples)
    }
}
