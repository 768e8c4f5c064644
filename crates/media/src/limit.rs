//! How large a picture from the network may be, and the size a picture's own headers
//! announce, read before any decoder sees it.
//!
//! A remote peer picks the picture size: one H.264 sequence parameter set, VP8 key
//! frame header or VP9 frame header can ask the decoder for a picture of gigabytes.
//! [`PictureLimit`] bounds it (by default 4096x2304, either way round), and
//! [`announced_size`] reads the size from the headers that set it — every SPS of an
//! H.264 access unit, a VP8 key frame's header, a VP9 frame's uncompressed header (each
//! frame of a superframe) — so a picture over the limit is refused before it is decoded.

use h264_reader::nal::sps::{FrameMbsFlags, SeqParameterSet};
use h264_reader::rbsp::{BitReader, decode_nal};

use crate::codec::VideoCodec;

/// The largest picture accepted from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureLimit {
    /// Most pixels in a picture.
    pub max_pixels: u64,
    /// Longest side, pixels.
    pub max_side: u32,
}

impl Default for PictureLimit {
    /// 4096x2304 (or 2304x4096): beyond any camera or screen we send or expect.
    fn default() -> Self {
        Self {
            max_pixels: 4096 * 2304,
            max_side: 4096,
        }
    }
}

impl PictureLimit {
    /// Whether a `width` x `height` picture is within the limit.
    pub fn allows(&self, width: u32, height: u32) -> bool {
        width.max(height) <= self.max_side
            && u64::from(width) * u64::from(height) <= self.max_pixels
    }
}

impl std::fmt::Display for PictureLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} pixels, {} a side", self.max_pixels, self.max_side)
    }
}

/// Headers that cannot be read, so the size they set is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable {0}")]
pub struct Unreadable(&'static str);

/// The largest picture size `frame`'s headers set (`None`: it sets none, e.g. an H.264
/// access unit without an SPS or a VP8 inter frame, which keep the size before). Sizes
/// are coded sizes (before cropping), what a decoder allocates.
pub fn announced_size(codec: VideoCodec, frame: &[u8]) -> Result<Option<(u32, u32)>, Unreadable> {
    match codec {
        VideoCodec::H264 => h264_size(frame),
        VideoCodec::Vp8 => Ok(vp8_size(frame)),
        VideoCodec::Vp9 => vp9_size(frame),
    }
}

fn largest(a: Option<(u32, u32)>, b: (u32, u32)) -> Option<(u32, u32)> {
    Some(match a {
        Some(a) if u64::from(a.0) * u64::from(a.1) >= u64::from(b.0) * u64::from(b.1) => a,
        _ => b,
    })
}

/// The NAL units of an Annex-B access unit: what follows each `00 00 01` (the extra
/// zero of a 4-byte start code stays on the unit before, a trailing zero of its RBSP).
fn nal_units(frame: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= frame.len() {
        if frame[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends = starts.iter().skip(1).map(|&s| s - 3).chain([frame.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&s, e)| &frame[s..e])
        .filter(|nal| !nal.is_empty())
        .collect()
}

/// H.264: every SPS (NAL type 7) in the access unit.
fn h264_size(frame: &[u8]) -> Result<Option<(u32, u32)>, Unreadable> {
    let mut size = None;
    for nal in nal_units(frame) {
        if nal[0] & 0x1f != 7 {
            continue;
        }
        let rbsp = decode_nal(nal).map_err(|_| Unreadable("H.264 sequence parameter set"))?;
        let sps = SeqParameterSet::from_bits(BitReader::new(&rbsp[..]))
            .map_err(|_| Unreadable("H.264 sequence parameter set"))?;
        let width = u64::from(sps.pic_width_in_mbs_minus1) + 1;
        let rows = match sps.frame_mbs_flags {
            FrameMbsFlags::Frames => 1,
            FrameMbsFlags::Fields { .. } => 2,
        };
        let height = (u64::from(sps.pic_height_in_map_units_minus1) + 1) * rows;
        let clamp = |mbs: u64| u32::try_from(mbs * 16).unwrap_or(u32::MAX);
        size = largest(size, (clamp(width), clamp(height)));
    }
    Ok(size)
}

/// VP8 (RFC 6386 §9.1): a key frame's tag is followed by the start code and two 16-bit
/// little-endian fields, 14 bits of size and 2 of scaling each.
fn vp8_size(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let field = |i: usize| u32::from(u16::from_le_bytes([frame[i], frame[i + 1]]) & 0x3fff);
    Some((field(6), field(8)))
}

/// VP9: each frame of a superframe (Annex B: an index at the end lists the frames'
/// sizes), by its uncompressed header.
fn vp9_size(data: &[u8]) -> Result<Option<(u32, u32)>, Unreadable> {
    let mut size = None;
    for frame in vp9_frames(data) {
        if let Some(s) = vp9_frame_size(frame)? {
            size = largest(size, s);
        }
    }
    Ok(size)
}

/// The frames of a VP9 superframe, or the one frame if there is no index.
fn vp9_frames(data: &[u8]) -> Vec<&[u8]> {
    let whole = vec![data];
    let Some(&marker) = data.last() else {
        return whole;
    };
    if marker & 0xe0 != 0xc0 {
        return whole;
    }
    let count = usize::from(marker & 7) + 1;
    let width = usize::from((marker >> 3) & 3) + 1;
    let index_len = 2 + width * count;
    if data.len() < index_len || data[data.len() - index_len] != marker {
        return whole;
    }
    let index = &data[data.len() - index_len + 1..data.len() - 1];
    let mut frames = Vec::with_capacity(count);
    let mut at = 0usize;
    for entry in index.chunks_exact(width) {
        let len = entry
            .iter()
            .rev()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        let Some(frame) = data.get(at..at.saturating_add(len)) else {
            break;
        };
        frames.push(frame);
        at += len;
    }
    frames
}

/// Reads bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> Result<u32, Unreadable> {
        let mut value = 0;
        for _ in 0..n {
            let byte = self
                .data
                .get(self.at / 8)
                .ok_or(Unreadable("VP9 frame header"))?;
            value = (value << 1) | u32::from((byte >> (7 - self.at % 8)) & 1);
            self.at += 1;
        }
        Ok(value)
    }
}

/// VP9 bitstream §6.2 (uncompressed header) as far as the frame size: key frames and
/// intra-only frames state it; inter frames either take a reference's (already
/// checked) or state their own.
fn vp9_frame_size(frame: &[u8]) -> Result<Option<(u32, u32)>, Unreadable> {
    let mut r = Bits { data: frame, at: 0 };
    if r.read(2)? != 2 {
        return Err(Unreadable("VP9 frame marker"));
    }
    let low = r.read(1)?;
    let profile = low | r.read(1)? << 1;
    if profile == 3 {
        r.read(1)?;
    }
    if r.read(1)? == 1 {
        return Ok(None); // show_existing_frame
    }
    let key_frame = r.read(1)? == 0;
    let show_frame = r.read(1)? == 1;
    let error_resilient = r.read(1)? == 1;
    let frame_size = |r: &mut Bits<'_>| -> Result<Option<(u32, u32)>, Unreadable> {
        Ok(Some((r.read(16)? + 1, r.read(16)? + 1)))
    };
    let sync_code = |r: &mut Bits<'_>| -> Result<(), Unreadable> {
        match r.read(24)? {
            0x49_83_42 => Ok(()),
            _ => Err(Unreadable("VP9 sync code")),
        }
    };
    if key_frame {
        sync_code(&mut r)?;
        vp9_color_config(&mut r, profile)?;
        return frame_size(&mut r);
    }
    let intra_only = !show_frame && r.read(1)? == 1;
    if !error_resilient {
        r.read(2)?; // reset_frame_context
    }
    if intra_only {
        sync_code(&mut r)?;
        if profile > 0 {
            vp9_color_config(&mut r, profile)?;
        }
        r.read(8)?; // refresh_frame_flags
        return frame_size(&mut r);
    }
    r.read(8)?; // refresh_frame_flags
    r.read(3 * 4)?; // ref_frame_idx and sign bias, three times
    for _ in 0..3 {
        if r.read(1)? == 1 {
            return Ok(None); // found_ref: a reference's size
        }
    }
    frame_size(&mut r)
}

/// VP9 §6.2.2 color_config, skipped.
fn vp9_color_config(r: &mut Bits<'_>, profile: u32) -> Result<(), Unreadable> {
    if profile >= 2 {
        r.read(1)?; // ten_or_twelve_bit
    }
    let rgb = r.read(3)? == 7;
    let odd_profile = profile == 1 || profile == 3;
    if !rgb {
        r.read(1)?; // color_range
        if odd_profile {
            r.read(3)?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if odd_profile {
        r.read(1)?; // reserved_zero
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::VideoEncoder;
    use crate::h264::{Encoded, EncoderSettings};
    use crate::pattern::PatternGenerator;

    fn keyframe(codec: VideoCodec, width: u32, height: u32) -> Vec<u8> {
        let mut encoder =
            VideoEncoder::new(codec, width, height, EncoderSettings::new(500_000, 30.0)).unwrap();
        let Encoded::Frame(unit) = encoder
            .encode(&PatternGenerator::new(width, height).frame(0, 0))
            .unwrap()
        else {
            panic!("{codec}: no first picture")
        };
        unit.data
    }

    #[test]
    fn keyframes_of_every_codec_announce_their_coded_size() {
        for codec in VideoCodec::ALL {
            let size = announced_size(codec, &keyframe(codec, 320, 240)).unwrap();
            assert_eq!(size, Some((320, 240)), "{codec}");
        }
        // H.264 codes whole macroblocks: 180 rows take 12 of them.
        let size = announced_size(VideoCodec::H264, &keyframe(VideoCodec::H264, 320, 180));
        assert_eq!(size.unwrap(), Some((320, 192)));
    }

    #[test]
    fn pictures_without_size_headers_announce_none_and_garbage_is_unreadable_or_none() {
        assert_eq!(
            announced_size(VideoCodec::H264, &[0, 0, 1, 0x41, 1, 2]),
            Ok(None)
        );
        assert_eq!(announced_size(VideoCodec::Vp8, &[1, 2, 3]), Ok(None));
        assert!(announced_size(VideoCodec::H264, &[0, 0, 1, 0x67, 0xff]).is_err());
        assert!(announced_size(VideoCodec::Vp9, &[0xff]).is_err());
    }

    #[test]
    fn an_oversized_vp8_header_is_seen_before_decoding() {
        let mut frame = keyframe(VideoCodec::Vp8, 320, 240);
        frame[6..8].copy_from_slice(&16_000u16.to_le_bytes());
        frame[8..10].copy_from_slice(&16_000u16.to_le_bytes());
        let size = announced_size(VideoCodec::Vp8, &frame).unwrap().unwrap();
        assert_eq!(size, (16_000, 16_000));
        assert!(!PictureLimit::default().allows(size.0, size.1));
    }

    #[test]
    fn the_default_limit_takes_4k_either_way_round_and_nothing_bigger() {
        let limit = PictureLimit::default();
        assert!(limit.allows(4096, 2304) && limit.allows(2304, 4096));
        assert!(limit.allows(1920, 1080));
        assert!(!limit.allows(4097, 16) && !limit.allows(4096, 2305));
    }

    #[test]
    fn a_vp9_superframe_is_read_frame_by_frame() {
        let first = keyframe(VideoCodec::Vp9, 320, 240);
        let second = keyframe(VideoCodec::Vp9, 640, 480);
        let mut data = [first.as_slice(), second.as_slice()].concat();
        // Index: marker (2 frames, 4-byte sizes), the sizes, the marker again.
        let marker = 0xc0 | (3 << 3) | 1;
        data.push(marker);
        for frame in [&first, &second] {
            data.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        }
        data.push(marker);
        assert_eq!(announced_size(VideoCodec::Vp9, &data), Ok(Some((640, 480))));
    }
}
