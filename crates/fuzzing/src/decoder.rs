//! Encoded pictures straight into the video decoders (openh264 for H.264, libvpx for VP8
//! and VP9): any bytes either decode, decode to nothing yet, or fail with an error, and
//! no picture larger than the decoder's limit comes out.
//!
//! Input: a first byte picking the codec (H.264, VP8, VP9 by its value mod 3), then
//! records (see [`crate::records`]), each one encoded picture.

use media::codec::{VideoCodec, VideoDecoder};

use crate::records::records;

/// The codec a selector byte picks.
pub fn codec(selector: u8) -> VideoCodec {
    match selector % 3 {
        0 => VideoCodec::H264,
        1 => VideoCodec::Vp8,
        _ => VideoCodec::Vp9,
    }
}

/// Decodes every picture in `data`.
pub fn run(data: &[u8]) {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let mut decoder = VideoDecoder::new(codec(selector)).expect("a decoder");
    for picture in records(data) {
        if let Ok(Some(frame)) = decoder.decode(picture, 0) {
            assert!(decoder.limit().allows(frame.width(), frame.height()));
        }
    }
}
