//! Opus at 48 kHz in 20 ms frames, VoIP mode: in-band FEC with a settable expected loss,
//! optional DTX, bitrate settable at run time; a decoder with loss concealment (PLC)
//! and FEC recovery of a lost packet from the one after it.

use opus::{Application, Bitrate, Channels};

use crate::MediaError;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};

/// Largest Opus packet (RFC 6716: 1275 bytes per frame).
const MAX_PACKET: usize = 1275;

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

/// An Opus encoder for 20 ms frames.
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
        if frame.channels != self.channels
            || frame.samples.len() != FRAME_SAMPLES * usize::from(self.channels)
        {
            return Err(MediaError::Unsupported(format!(
                "Opus encoder wants 20 ms of {} channel(s), got {} samples of {}",
                self.channels,
                frame.samples.len(),
                frame.channels
            )));
        }
        self.encoder
            .encode_vec(&frame.samples, MAX_PACKET)
            .map_err(codec_err)
    }
}

/// An Opus decoder producing 20 ms frames.
pub struct OpusDecoder {
    decoder: opus::Decoder,
    channels: u16,
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
        })
    }

    fn run(&mut self, packet: &[u8], fec: bool) -> Result<AudioFrame, MediaError> {
        let mut frame = AudioFrame::silence(self.channels);
        let n = self
            .decoder
            .decode(packet, &mut frame.samples, fec)
            .map_err(codec_err)?;
        frame.samples.truncate(n * usize::from(self.channels));
        // Always 20 ms out, whatever the packet held: pad or cut.
        frame
            .samples
            .resize(FRAME_SAMPLES * usize::from(self.channels), 0);
        Ok(frame)
    }

    /// Decodes a received packet.
    pub fn decode(&mut self, packet: &[u8]) -> Result<AudioFrame, MediaError> {
        if packet.is_empty() {
            return self.conceal();
        }
        self.run(packet, false)
    }

    /// Conceals one lost packet (PLC): 20 ms that continue the sound smoothly.
    pub fn conceal(&mut self) -> Result<AudioFrame, MediaError> {
        self.run(&[], false)
    }

    /// Recovers a lost packet from the FEC data in the packet that followed it; call
    /// this for the lost one, then [`OpusDecoder::decode`] for `next` itself.
    pub fn recover(&mut self, next: &[u8]) -> Result<AudioFrame, MediaError> {
        self.run(next, true)
    }
}
