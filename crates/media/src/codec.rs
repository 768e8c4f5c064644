//! The video codecs a call can use (H.264, VP8, VP9), one encoder and one decoder type
//! over all of them, and telling a keyframe from its first bytes.
//!
//! [`VideoEncoder`] and [`VideoDecoder`] hold whichever codec was negotiated and have
//! the same calls for every codec, so the pipelines, codec threads and benchmarks need
//! not know which one runs. An encoded picture is an [`AccessUnit`] for every codec: for
//! H.264 Annex-B NAL units, for VP8 and VP9 one frame as libvpx wrote it (no NAL ranges).
//!
//! [`AccessUnit`]: crate::h264::AccessUnit

use std::fmt;
use std::str::FromStr;

use crate::MediaError;
use crate::frame::VideoFrame;
use crate::h264::{Encoded, EncoderSettings, H264Decoder, H264Encoder};
use crate::limit::{PictureLimit, announced_size};
use crate::vpx::{VpxDecoder, VpxEncoder};

/// A video codec peercall encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VideoCodec {
    /// H.264 constrained baseline (openh264).
    #[default]
    H264,
    /// VP8 (libvpx).
    Vp8,
    /// VP9 profile 0 (libvpx).
    Vp9,
}

impl VideoCodec {
    /// Every codec, in peercall's default order of preference.
    pub const ALL: [VideoCodec; 3] = [VideoCodec::H264, VideoCodec::Vp8, VideoCodec::Vp9];

    /// The codec's name as SDP writes it (`H264`, `VP8`, `VP9`).
    pub fn sdp_name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H264",
            VideoCodec::Vp8 => "VP8",
            VideoCodec::Vp9 => "VP9",
        }
    }

    /// The codec whose SDP name (or `video/` MIME type) is `name`, any case.
    pub fn from_sdp_name(name: &str) -> Option<Self> {
        let name = name.strip_prefix("video/").unwrap_or(name);
        Self::ALL
            .into_iter()
            .find(|c| c.sdp_name().eq_ignore_ascii_case(name))
    }

    /// `codecs` in order with `first` moved to the front.
    pub fn preferring(first: VideoCodec) -> Vec<VideoCodec> {
        let mut order = vec![first];
        order.extend(Self::ALL.into_iter().filter(|&c| c != first));
        order
    }
}

impl VideoCodec {
    /// Its name for people: "H.264", "VP8" or "VP9".
    pub fn label(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H.264",
            VideoCodec::Vp8 => "VP8",
            VideoCodec::Vp9 => "VP9",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A codec name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown video codec {0:?} (h264, vp8 or vp9)")]
pub struct UnknownCodec(pub String);

impl FromStr for VideoCodec {
    type Err = UnknownCodec;

    /// `h264` (or `H.264`), `vp8`, `vp9`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('.', "").as_str() {
            "h264" => Ok(VideoCodec::H264),
            "vp8" => Ok(VideoCodec::Vp8),
            "vp9" => Ok(VideoCodec::Vp9),
            _ => Err(UnknownCodec(s.to_owned())),
        }
    }
}

/// Whether `frame` (one encoded picture of `codec`) is a keyframe, decodable on its own:
/// an H.264 access unit with an IDR slice, a VP8 frame whose header says key frame, a
/// VP9 frame whose uncompressed header says key frame. Garbage is not a keyframe.
pub fn is_keyframe(codec: VideoCodec, frame: &[u8]) -> bool {
    match codec {
        VideoCodec::H264 => frame
            .windows(4)
            .any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 5),
        // RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame, and a key frame's
        // tag is followed by the start code 9d 01 2a.
        VideoCodec::Vp8 => {
            frame.len() >= 6 && frame[0] & 1 == 0 && frame[3..6] == [0x9d, 0x01, 0x2a]
        }
        VideoCodec::Vp9 => vp9_is_keyframe(frame),
    }
}

/// VP9 bitstream §6.2: frame_marker (2 bits, 0b10), profile (2 bits, then a reserved bit
/// for profile 3), show_existing_frame (1 bit), frame_type (1 bit, 0 = key frame). A
/// superframe starts with its first frame, which is what decides.
fn vp9_is_keyframe(frame: &[u8]) -> bool {
    let Some(&byte) = frame.first() else {
        return false;
    };
    let bit = |i: u32| (byte >> (7 - i)) & 1;
    if bit(0) != 1 || bit(1) != 0 {
        return false;
    }
    let profile = bit(2) | bit(3) << 1;
    let next = if profile == 3 { 5 } else { 4 };
    if bit(next) == 1 {
        return false; // show_existing_frame
    }
    bit(next + 1) == 0
}

/// A real-time encoder of any [`VideoCodec`]; see [`H264Encoder`] and [`VpxEncoder`].
#[derive(Debug)]
pub enum VideoEncoder {
    /// H.264 through openh264.
    H264(Box<H264Encoder>),
    /// VP8 or VP9 through libvpx.
    Vpx(Box<VpxEncoder>),
}

impl VideoEncoder {
    /// An encoder of `codec` for `width` x `height` pictures with `settings`.
    pub fn new(
        codec: VideoCodec,
        width: u32,
        height: u32,
        settings: EncoderSettings,
    ) -> Result<Self, MediaError> {
        Ok(match codec {
            VideoCodec::H264 => {
                VideoEncoder::H264(Box::new(H264Encoder::new(width, height, settings)?))
            }
            VideoCodec::Vp8 | VideoCodec::Vp9 => {
                VideoEncoder::Vpx(Box::new(VpxEncoder::new(codec, width, height, settings)?))
            }
        })
    }

    /// Which codec this is.
    pub fn codec(&self) -> VideoCodec {
        match self {
            VideoEncoder::H264(_) => VideoCodec::H264,
            VideoEncoder::Vpx(e) => e.codec(),
        }
    }

    /// Encodes one picture; a new size comes out as a keyframe.
    pub fn encode(&mut self, picture: &VideoFrame) -> Result<Encoded, MediaError> {
        match self {
            VideoEncoder::H264(e) => e.encode(picture),
            VideoEncoder::Vpx(e) => e.encode(picture),
        }
    }

    /// Makes the next picture a keyframe.
    pub fn request_keyframe(&mut self) {
        match self {
            VideoEncoder::H264(e) => e.request_keyframe(),
            VideoEncoder::Vpx(e) => e.request_keyframe(),
        }
    }

    /// Changes the target bitrate in place.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), MediaError> {
        match self {
            VideoEncoder::H264(e) => e.set_bitrate(bps),
            VideoEncoder::Vpx(e) => e.set_bitrate(bps),
        }
    }

    /// Changes the frame rate the rate control plans for, in place.
    pub fn set_frame_rate(&mut self, fps: f32) -> Result<(), MediaError> {
        match self {
            VideoEncoder::H264(e) => e.set_frame_rate(fps),
            VideoEncoder::Vpx(e) => e.set_frame_rate(fps),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> EncoderSettings {
        match self {
            VideoEncoder::H264(e) => e.settings(),
            VideoEncoder::Vpx(e) => e.settings(),
        }
    }
}

impl From<H264Encoder> for VideoEncoder {
    fn from(encoder: H264Encoder) -> Self {
        VideoEncoder::H264(Box::new(encoder))
    }
}

/// A decoder of any [`VideoCodec`]; errors mean "ask for a keyframe". A picture whose
/// headers announce a size over its [`PictureLimit`] is refused before decoding.
#[derive(Debug)]
pub struct VideoDecoder {
    inner: Decoder,
    limit: PictureLimit,
}

#[derive(Debug)]
enum Decoder {
    H264(H264Decoder),
    Vpx(VpxDecoder),
}

impl VideoDecoder {
    /// A fresh decoder of `codec`, with the default [`PictureLimit`].
    pub fn new(codec: VideoCodec) -> Result<Self, MediaError> {
        Self::with_limit(codec, PictureLimit::default())
    }

    /// A fresh decoder of `codec` that refuses pictures over `limit`.
    pub fn with_limit(codec: VideoCodec, limit: PictureLimit) -> Result<Self, MediaError> {
        let inner = match codec {
            VideoCodec::H264 => Decoder::H264(H264Decoder::new()?),
            VideoCodec::Vp8 | VideoCodec::Vp9 => Decoder::Vpx(VpxDecoder::new(codec)?),
        };
        Ok(Self { inner, limit })
    }

    /// Which codec this is.
    pub fn codec(&self) -> VideoCodec {
        match &self.inner {
            Decoder::H264(_) => VideoCodec::H264,
            Decoder::Vpx(d) => d.codec(),
        }
    }

    /// The largest picture it decodes.
    pub fn limit(&self) -> PictureLimit {
        self.limit
    }

    /// Decodes one encoded picture; `Ok(None)` when it completes none.
    pub fn decode(
        &mut self,
        data: &[u8],
        capture_us: u64,
    ) -> Result<Option<VideoFrame>, MediaError> {
        let codec = self.codec();
        let refuse = |reason: String| MediaError::Codec {
            codec: codec.label(),
            reason,
        };
        match announced_size(codec, data) {
            Ok(Some((width, height))) if !self.limit.allows(width, height) => {
                return Err(refuse(format!(
                    "a picture of {width}x{height} is over the limit ({})",
                    self.limit
                )));
            }
            Ok(_) => {}
            Err(unreadable) => return Err(refuse(unreadable.to_string())),
        }
        let picture = match &mut self.inner {
            Decoder::H264(d) => d.decode(data, capture_us)?,
            Decoder::Vpx(d) => d.decode(data, capture_us)?,
        };
        match picture {
            Some(p) if !self.limit.allows(p.width(), p.height()) => Err(refuse(format!(
                "decoded a picture of {}x{}, over the limit ({})",
                p.width(),
                p.height(),
                self.limit
            ))),
            picture => Ok(picture),
        }
    }
}

impl From<H264Decoder> for VideoDecoder {
    fn from(decoder: H264Decoder) -> Self {
        Self {
            inner: Decoder::H264(decoder),
            limit: PictureLimit::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{PatternGenerator, read_code};

    #[test]
    fn pictures_over_the_limit_are_refused_before_decoding() {
        use crate::limit::PictureLimit;
        let small = PictureLimit {
            max_pixels: 200 * 200,
            max_side: 200,
        };
        for codec in VideoCodec::ALL {
            let mut encoder =
                VideoEncoder::new(codec, 320, 240, EncoderSettings::new(500_000, 30.0)).unwrap();
            let mut big = VideoDecoder::with_limit(codec, small).unwrap();
            let mut fine = VideoDecoder::new(codec).unwrap();
            let pattern = PatternGenerator::new(320, 240);
            let Encoded::Frame(unit) = encoder.encode(&pattern.frame(0, 0)).unwrap() else {
                panic!("{codec}: no picture")
            };
            let err = big.decode(&unit.data, 0).unwrap_err().to_string();
            assert!(err.contains("320x240 is over the limit"), "{codec}: {err}");
            let picture = fine.decode(&unit.data, 0).unwrap().unwrap();
            assert_eq!(read_code(&picture).unwrap().frame, 0, "{codec}");
        }
    }

    #[test]
    fn names_parse_both_ways_and_any_case() {
        for codec in VideoCodec::ALL {
            assert_eq!(VideoCodec::from_sdp_name(codec.sdp_name()), Some(codec));
            assert_eq!(codec.sdp_name().to_lowercase().parse(), Ok(codec));
        }
        assert_eq!("H.264".parse(), Ok(VideoCodec::H264));
        assert_eq!(
            VideoCodec::from_sdp_name("video/vp9"),
            Some(VideoCodec::Vp9)
        );
        assert_eq!(VideoCodec::from_sdp_name("AV1"), None);
        assert!(
            "av1"
                .parse::<VideoCodec>()
                .unwrap_err()
                .to_string()
                .contains("av1")
        );
        assert_eq!(
            VideoCodec::preferring(VideoCodec::Vp9),
            [VideoCodec::Vp9, VideoCodec::H264, VideoCodec::Vp8]
        );
    }

    #[test]
    fn every_codec_encodes_and_decodes_through_the_one_type() {
        for codec in VideoCodec::ALL {
            let mut encoder =
                VideoEncoder::new(codec, 320, 240, EncoderSettings::new(400_000, 30.0)).unwrap();
            let mut decoder = VideoDecoder::new(codec).unwrap();
            assert_eq!((encoder.codec(), decoder.codec()), (codec, codec));
            let pattern = PatternGenerator::new(320, 240);
            for n in 0..10u32 {
                let Encoded::Frame(unit) = encoder.encode(&pattern.frame(n, 0)).unwrap() else {
                    panic!("{codec} skipped picture {n}")
                };
                assert_eq!(
                    is_keyframe(codec, &unit.data),
                    n == 0,
                    "{codec} picture {n}"
                );
                let picture = decoder.decode(&unit.data, 0).unwrap().unwrap();
                assert_eq!(read_code(&picture).map(|c| c.frame), Some(n), "{codec}");
            }
        }
    }

    #[test]
    fn garbage_and_empty_frames_are_not_keyframes() {
        for codec in VideoCodec::ALL {
            assert!(!is_keyframe(codec, &[]));
            assert!(!is_keyframe(codec, &[0xff; 3]));
        }
        // A VP9 header with show_existing_frame set is no keyframe, whatever follows.
        assert!(!is_keyframe(VideoCodec::Vp9, &[0b1000_1000]));
        assert!(is_keyframe(VideoCodec::Vp9, &[0b1000_0000]));
    }
}
